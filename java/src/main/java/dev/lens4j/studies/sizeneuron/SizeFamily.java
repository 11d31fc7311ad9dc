package dev.lens4j.studies.sizeneuron;

import dev.lens4j.load.RegularFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A prompt family of seed 001: clean/corrupt prompt pairs with the clean run's answer and the corrupted run's answer
 * ("wrong"). The metric is logit(answer) - logit(wrong) at the last position, averaged over the pairs.
 */
public record SizeFamily(String name, String description, List<Pair> pairs) {
    /** One pair; line is the 1-based line of a family FILE (0 for built-in pairs). */
    public record Pair(int line, String clean, String corrupt, String answer, String wrong) {}

    public SizeFamily {
        pairs = List.copyOf(pairs);
        if (pairs.isEmpty()) throw new IllegalArgumentException("family '" + name + "' has no prompt pairs");
    }

    /** The seed's families: tall/short, the in-context big/small and huge/tiny, and the "an" control. */
    public static final Map<String, SizeFamily> BUILT_IN = builtIn();

    private static Map<String, SizeFamily> builtIn() {
        Map<String, SizeFamily> m = new LinkedHashMap<>();
        m.put("tall-short", new SizeFamily("tall-short", "the seed's first prompt: the opposite of tall",
                List.of(new Pair(0, "John is tall. Mary is", "John is short. Mary is", " short", " tall"))));
        m.put("big-small", new SizeFamily("big-small", "in-context opposites (the seed's rewrite so that clean and corrupt have one length)",
                List.of(new Pair(0, "Issac is big. Todd is small. John is big. Mary is", "Issac is small. Todd is big. John is small. Mary is", " small", " big"))));
        m.put("huge-tiny", new SizeFamily("huge-tiny", "in-context opposites with other size words",
                List.of(new Pair(0, "Issac is huge. Todd is tiny. John is huge. Mary is", "Issac is tiny. Todd is huge. John is tiny. Mary is", " tiny", " huge"))));
        m.put("pear-apple", new SizeFamily("pear-apple", "control with nothing about size: the 'an' neuron's prompt (apple -> an, lemon -> a)",
                List.of(new Pair(0, "I climbed up the pear tree and picked a pear. I climbed up the apple tree and picked",
                        "I climbed up the pear tree and picked a pear. I climbed up the lemon tree and picked", " an", " a"))));
        return java.util.Collections.unmodifiableMap(m);
    }

    /** A built-in name, or a family FILE (named by its file name). */
    public static SizeFamily resolve(String nameOrFile) {
        SizeFamily f = BUILT_IN.get(nameOrFile);
        if (f != null) return f;
        Path p = Path.of(nameOrFile);
        if (!Files.exists(p))
            throw new IllegalArgumentException("--family '" + nameOrFile + "' is neither a built-in family (" + String.join(", ", BUILT_IN.keySet())
                    + ") nor an existing file");
        return read(p);
    }

    /**
     * A family FILE: UTF-8, one pair per line as four tab-separated fields clean, corrupt, answer, wrong (kept exactly,
     * so " short" keeps its leading space); blank lines and lines starting with '#' are skipped.
     */
    public static SizeFamily read(Path file) {
        RegularFiles.requireInput(file, problem -> new IllegalArgumentException("--family " + file + ": " + problem));
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("--family " + file + ": not valid UTF-8");
        } catch (IOException e) {
            throw new UncheckedIOException("--family " + file + ": " + e.getMessage(), e);
        }
        List<Pair> pairs = new ArrayList<>();
        String[] lines = text.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            if (line.isBlank() || line.startsWith("#")) continue;
            String[] f = line.split("\t", -1);
            if (f.length != 4)
                throw new IllegalArgumentException(file + " line " + (i + 1) + ": expected 4 tab-separated fields (clean, corrupt, answer, wrong), got "
                        + f.length);
            String[] names = {"clean", "corrupt", "answer", "wrong"};
            for (int k = 0; k < 4; k++)
                if (f[k].isBlank()) throw new IllegalArgumentException(file + " line " + (i + 1) + ": the " + names[k] + " field is empty");
            if (f[2].equals(f[3])) throw new IllegalArgumentException(file + " line " + (i + 1) + ": answer and wrong are the same text '" + f[2] + "'");
            pairs.add(new Pair(i + 1, f[0], f[1], f[2], f[3]));
        }
        if (pairs.isEmpty()) throw new IllegalArgumentException(file + ": no prompt pairs (expected lines of clean, corrupt, answer, wrong separated by tabs)");
        String name = file.getFileName().toString().replaceFirst("\\.[^.]*$", "");
        return new SizeFamily(name, "from " + file, pairs);
    }

    /** Where a pair came from, for error messages. */
    public String where(Pair p) { return "family '" + name + "'" + (p.line() > 0 ? " line " + p.line() : ""); }
}
