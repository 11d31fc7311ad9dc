package dev.lens4j.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/** Shared input handling of the gradient commands: one prompt or a --prompts file, metadata. */
final class Inputs {
    private Inputs() {}

    /** Exactly one of --prompt TEXT (as a one-line file) or --prompts FILE. */
    static List<PromptLines.Line> lines(String text, Path file, String key, String option, Set<String> fields) {
        if ((text == null) == (file == null))
            throw new IllegalArgumentException("give either " + option + " TEXT or --prompts FILE");
        if (file != null) return PromptLines.read(file, key, fields);
        Map<String, String> f = new LinkedHashMap<>();
        f.put(key, text);
        return List.of(new PromptLines.Line(0, f));
    }

    /** Every prompt has the first one's token length. */
    static void oneLength(int[][] tokens, List<PromptLines.Line> lines, String why) {
        for (int i = 1; i < tokens.length; i++)
            if (tokens[i].length != tokens[0].length)
                throw new IllegalArgumentException("line " + lines.get(i).number() + " is " + tokens[i].length + " tokens, line "
                        + lines.get(0).number() + " is " + tokens[0].length + ": " + why + ", so all prompts must have one token length");
    }

    /** A hook-name regex option, compiled with an error that names the option. */
    static Pattern hookRegex(String regex, String option) {
        try {
            return Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException(option + " '" + regex + "' is not a valid regular expression: " + e.getDescription()
                    + (e.getIndex() >= 0 ? " at index " + e.getIndex() : ""));
        }
    }

    static Map<String, String> meta(ModelOptions m) {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("model", m.model.toString());
        meta.put("process_weights", Boolean.toString(!m.noProcessWeights));
        meta.put("dtype", m.dtype);
        meta.put("device", m.device);
        meta.put("tf32", Boolean.toString(m.tf32));
        meta.put("producer", "lens4j 0.1.0");
        return meta;
    }

    /** Doubles as floats, for tensors written to safetensors. */
    static float[] floats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }
}
