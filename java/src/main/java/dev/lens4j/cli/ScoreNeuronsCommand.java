package dev.lens4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lens4j.analysis.NeuronScoring;
import dev.lens4j.load.RegularFiles;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

@Command(name = "score-neurons", description = {
        "Seed 000's gradient-weighted neuron scoring of one block: c_j = h_j * (W_out[j] . g), g = d margin / d resid_post "
                + "of block L at the last position, margin = logit(yes) - logit(no) through the rest of the model, times +1 when "
                + "the truth is yes and -1 when no (positive c helps the true answer, negative harms it).",
        "Writes c [d_mlp] and g [d_model] summed over prompts, c_per_prompt [n, d_mlp] and margin [n] (aligned).",
        "With --prompts FILE (one prompt per line, or JSON lines {\"prompt\":..., \"truth\":\"yes\"|\"no\", \"group\":...}; "
                + "--yes/--no/--truth are the defaults) c and g are summed over all prompts (any lengths); the summary ranks "
                + "the most harmful neurons globally and per group."})
final class ScoreNeuronsCommand implements Callable<Integer> {
    @Mixin ModelOptions m;

    @Option(names = "--prompt", paramLabel = "TEXT") String prompt;
    @Option(names = "--prompts", paramLabel = "FILE") Path prompts;
    @Option(names = "--yes", required = true, paramLabel = "TEXT", description = "the yes answer, one token after the prompt (e.g. ' Yes')") String yes;
    @Option(names = "--no", required = true, paramLabel = "TEXT", description = "the no answer, one token after the prompt") String no;
    @Option(names = "--truth", paramLabel = "yes|no", description = "the true answer (per line in a --prompts file)") String truth;
    @Option(names = "--layer", paramLabel = "L", description = "block to score (default: the last)") Integer layer;
    @Option(names = "--top-k", defaultValue = "20", description = "harmful neurons listed in the summary") int topK;
    @Option(names = "--summary", paramLabel = "FILE.json", description = "also write a JSON summary (accuracy, most harmful neurons)") Path summary;
    @Option(names = "--out", required = true, paramLabel = "FILE.safetensors") Path out;

    @Override public Integer call() {
        RegularFiles.checkOutput(out); // before the model loads and runs
        if (summary != null) RegularFiles.checkOutput(summary);
        List<PromptLines.Line> lines = Inputs.lines(prompt, prompts, "prompt", "--prompt", Set.of("prompt", "truth", "yes", "no", "group"));
        try (HookedTransformer model = m.load()) {
            int L = layer(model, layer);
            List<NeuronScoring.Prompt> ps = prompts(model, lines, yes, no, truth);
            NeuronScoring.Scores s = NeuronScoring.score(model, L, ps);
            Map<String, Tensor> tensors = NeuronScoring.toTensors(s);
            try {
                Map<String, String> meta = Inputs.meta(m);
                meta.put("layer", Integer.toString(L));
                meta.put("prompts", Integer.toString(ps.size()));
                meta.put("c", "h_j * (W_out[j] . g), truth-aligned, summed over prompts");
                SafeTensors.write(out, tensors, meta);
            } finally {
                tensors.values().forEach(Tensor::close);
            }
            int[] top = s.mostHarmful(Math.min(topK, model.cfg().dMlp));
            System.out.printf("block %d, %d prompt(s), forced-choice accuracy %.3f; most harmful: %s; wrote c, g, c_per_prompt, margin to %s%n",
                    L, ps.size(), s.accuracy(), java.util.Arrays.toString(java.util.Arrays.copyOf(top, Math.min(10, top.length))), out);
            if (summary != null) writeSummary(s, L, top);
        }
        return 0;
    }

    /** --layer, or the last block, checked against the model. */
    static int layer(HookedTransformer model, Integer layer) {
        int L = layer == null ? model.cfg().nLayers - 1 : layer;
        if (L < 0 || L >= model.cfg().nLayers)
            throw new IllegalArgumentException("--layer " + L + " is out of range: the model has " + model.cfg().nLayers
                    + " blocks (0.." + (model.cfg().nLayers - 1) + ")");
        return L;
    }

    /** The lines as forced-choice prompts (fields "yes", "no", "truth", "group" override the options). */
    static List<NeuronScoring.Prompt> prompts(HookedTransformer model, List<PromptLines.Line> lines, String yes, String no, String truth) {
        List<NeuronScoring.Prompt> ps = new ArrayList<>();
        for (PromptLines.Line l : lines) {
            String p = l.require("prompt", null, "--prompt");
            String where = lines.size() > 1 ? "line " + l.number() : "--truth";
            boolean t = PromptLines.truth(l.require("truth", truth, "--truth"), where);
            ps.add(NeuronScoring.Prompt.of(model, p, l.require("yes", yes, "--yes"), l.require("no", no, "--no"), t, l.get("group", "all")));
        }
        return ps;
    }

    private void writeSummary(NeuronScoring.Scores s, int L, int[] top) {
        double[] total = s.totalC();
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("model", m.model.toString());
        j.put("layer", L);
        j.put("prompts", s.size());
        j.put("accuracy", s.accuracy());
        List<Map<String, Object>> harmful = new ArrayList<>();
        for (int n : top) harmful.add(Map.of("neuron", n, "c", total[n]));
        j.put("most_harmful", harmful);
        Map<String, Object> groups = new LinkedHashMap<>();
        s.mostHarmfulByGroup(Math.min(topK, total.length)).forEach(groups::put);
        j.put("most_harmful_by_group", groups);
        double[] margins = new double[s.size()];
        for (int i = 0; i < margins.length; i++) margins[i] = s.margin(i);
        j.put("margins", margins);
        try {
            RegularFiles.writeBytes(summary, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(j));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + summary + ": " + e.getMessage(), e);
        }
    }
}
