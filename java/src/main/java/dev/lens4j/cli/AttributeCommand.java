package dev.lens4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lens4j.analysis.AttributionPatching;
import dev.lens4j.load.RegularFiles;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metrics;
import dev.lens4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

@Command(name = "attribute", description = {
        "Attribution patching: (a_corrupt - a_clean) . d metric / d a at the clean run, metric = logit(answer) - logit(wrong) "
                + "at the last position. Writes mlp_neurons [n_layers, d_mlp] and heads [n_layers, n_heads] (summed over positions) "
                + "and resid_pre [n_layers, pos] (summed over d_model). Clean and corrupt must have the same token length.",
        "With --prompts FILE (JSON lines {\"clean\":..., \"corrupt\":..., \"answer\":..., \"wrong\":...}; --answer/--wrong "
                + "are the defaults) the attributions are summed over all pairs, which must share one token length."})
final class AttributeCommand implements Callable<Integer> {
    @Mixin ModelOptions m;

    @Option(names = "--clean", paramLabel = "TEXT") String clean;
    @Option(names = "--corrupt", paramLabel = "TEXT") String corrupt;
    @Option(names = "--prompts", paramLabel = "FILE") Path prompts;
    @Option(names = "--answer", paramLabel = "TEXT") String answer;
    @Option(names = "--wrong", paramLabel = "TEXT") String wrong;
    @Option(names = "--batch", defaultValue = "8", description = "pairs per forward/backward (default 8)") int batch;
    @Option(names = "--top-k", defaultValue = "10", description = "neurons and heads listed in the summary") int topK;
    @Option(names = "--summary", paramLabel = "FILE.json", description = "also write a JSON summary (metrics, largest attributions)") Path summary;
    @Option(names = "--out", required = true, paramLabel = "FILE.safetensors") Path out;

    @Override public Integer call() {
        RegularFiles.checkOutput(out); // before the model loads and runs
        if (summary != null) RegularFiles.checkOutput(summary);
        if (batch <= 0) throw new IllegalArgumentException("--batch must be > 0");
        if (prompts != null && (clean != null || corrupt != null)) throw new IllegalArgumentException("give --clean/--corrupt or --prompts, not both");
        if (prompts == null && (clean == null || corrupt == null)) throw new IllegalArgumentException("give --clean TEXT and --corrupt TEXT, or --prompts FILE");
        List<PromptLines.Line> lines = prompts != null ? PromptLines.read(prompts, "clean", Set.of("clean", "corrupt", "answer", "wrong"))
                : List.of(new PromptLines.Line(0, Map.of("clean", clean, "corrupt", corrupt)));
        try (HookedTransformer model = m.load()) {
            int n = lines.size();
            AttributePairs p = AttributePairs.tokenize(model, lines, answer, wrong);
            int[][] c = p.clean(), k = p.corrupt();
            int[] a = p.answer(), w = p.wrong();
            AttributionPatching.Result r = null;
            for (int s = 0; s < n; s += batch) {
                int e = Math.min(n, s + batch);
                var part = AttributionPatching.run(model, Arrays.copyOfRange(c, s, e), Arrays.copyOfRange(k, s, e),
                        Metrics.logitDiff(Arrays.copyOfRange(a, s, e), Arrays.copyOfRange(w, s, e)));
                r = r == null ? part : r.plus(part);
            }
            write(out, r, n, Inputs.meta(m));
            if (summary != null) writeSummary(r, n);
        }
        return 0;
    }

    /** The summed attributions as `attribute` writes them (also `sweep`'s sums.safetensors). */
    static void write(Path out, AttributionPatching.Result r, int n, Map<String, String> meta) {
        Map<String, Tensor> tensors = r.toTensors();
        try {
            meta.put("metric", "logit(answer) - logit(wrong) at the last position, summed over " + n + " pair(s)");
            meta.put("clean_metric", Double.toString(r.cleanMetric()));
            meta.put("corrupt_metric", Double.toString(r.corruptMetric()));
            SafeTensors.write(out, tensors, meta);
        } finally {
            tensors.values().forEach(Tensor::close);
        }
        System.out.printf("metric clean %.6f, corrupt %.6f; wrote mlp_neurons [%d, %d], heads [%d, %d], resid_pre [%d, %d] for %d pair(s) to %s%n",
                r.cleanMetric(), r.corruptMetric(), r.nLayers, r.dMlp, r.nLayers, r.nHeads, r.nLayers, r.pos, n, out);
    }

    private void writeSummary(AttributionPatching.Result r, int n) {
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("model", m.model.toString());
        j.put("pairs", n);
        j.put("clean_metric", r.cleanMetric());
        j.put("corrupt_metric", r.corruptMetric());
        j.put("top_neurons", top(r.mlpNeurons(), "neuron"));
        j.put("top_heads", top(r.heads(), "head"));
        try {
            RegularFiles.writeBytes(summary, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(j));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + summary + ": " + e.getMessage(), e);
        }
    }

    /** The topK entries by |attribution|. */
    private List<Map<String, Object>> top(double[][] v, String what) {
        List<Map<String, Object>> all = new ArrayList<>();
        for (int l = 0; l < v.length; l++)
            for (int i = 0; i < v[l].length; i++) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("layer", l);
                e.put(what, i);
                e.put("attribution", v[l][i]);
                all.add(e);
            }
        all.sort(Comparator.comparingDouble(e -> -Math.abs((double) e.get("attribution"))));
        return all.subList(0, Math.min(topK, all.size()));
    }
}
