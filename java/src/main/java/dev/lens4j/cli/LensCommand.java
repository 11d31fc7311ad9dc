package dev.lens4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lens4j.analysis.CacheDecomposition;
import dev.lens4j.analysis.ResidualStack;
import dev.lens4j.hooks.ActivationCache;
import dev.lens4j.hooks.Positions;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.report.BarChart;
import dev.lens4j.report.Heatmap;
import dev.lens4j.report.LineChart;
import dev.lens4j.report.Report;
import dev.lens4j.report.Table;
import dev.lens4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "lens", description = {
        "Logit lens and direct logit attribution at the prompt's last position, for the metric logit(answer) - logit(wrong) "
                + "(or the summed logits of an answer set minus a wrong set). As TransformerLens's tutorials: the accumulated "
                + "residual (labels 0_pre, 0_mid, ..., final_post) and the decomposed residual (embed, pos_embed, L_attn_out, "
                + "L_mlp_out), every head and every neuron of --layer, each scaled by the cached ln_final scale and projected "
                + "on the answer direction (cache.logit_attrs).",
        "Writes DIR/lens.safetensors, DIR/summary.json and DIR/report.html; --json also prints the summary."})
final class LensCommand implements Callable<Integer> {
    @Mixin ModelOptions m;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT") String prompt;
    @Option(names = "--answer", paramLabel = "TEXT", description = "the answer (one token after the prompt)") String answer;
    @Option(names = "--wrong", paramLabel = "TEXT", description = "the wrong answer (optional)") String wrong;
    @Option(names = "--answer-set", paramLabel = "FILE", description = "answers, one per line (instead of --answer)") Path answerSet;
    @Option(names = "--wrong-set", paramLabel = "FILE", description = "wrong answers, one per line (instead of --wrong)") Path wrongSet;
    @Option(names = "--layer", paramLabel = "L", description = "layer whose neurons are attributed (default: the last)") Integer layer;
    @Option(names = "--top-k", defaultValue = "20", paramLabel = "K", description = "heads and neurons listed (default 20)") int topK;
    @Option(names = "--json", description = "print the summary as JSON") boolean json;
    @Option(names = "--out", required = true, paramLabel = "DIR") Path out;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @Override public Integer call() throws IOException {
        if (topK <= 0) throw new IllegalArgumentException("--top-k must be > 0");
        if ((answer == null) == (answerSet == null)) throw new IllegalArgumentException("give --answer TEXT or --answer-set FILE");
        if (wrong != null && wrongSet != null) throw new IllegalArgumentException("give --wrong or --wrong-set, not both");
        OutDir.check(out, "lens.safetensors", "summary.json", "report.html"); // before the model loads
        List<String> answers = answerSet != null ? readSet(answerSet, "--answer-set") : List.of(answer);
        List<String> wrongs = wrongSet != null ? readSet(wrongSet, "--wrong-set") : wrong != null ? List.of(wrong) : List.of();
        try (HookedTransformer model = m.load()) {
            int L = model.cfg().nLayers;
            int neuronLayer = layer == null ? L - 1 : layer;
            if (neuronLayer < 0 || neuronLayer >= L) throw new IllegalArgumentException("--layer " + neuronLayer + " is outside 0.." + (L - 1));
            if (model.cfg().attnOnly) throw new IllegalArgumentException("this model has no MLP neurons");
            int[] tokens = model.toTokens(prompt);
            int[] ans = ids(model, answers), wr = ids(model, wrongs);
            try (var run = model.run(new int[][] {tokens}, new HookedTransformer.RunOptions().cacheAll().cachePositions(Positions.last()))) {
                ActivationCache cache = run.cache();
                CacheDecomposition cd = cache.analyses();
                float[] dir = cd.tokenSetDirection(ans, wr);
                float[] logits = run.logits().toFloatArray();
                int V = model.cfg().dVocabOut(), last = (tokens.length - 1) * V;
                double metric = 0;
                for (int a : ans) metric += logits[last + a];
                for (int w : wr) metric -= logits[last + w];
                Results r = new Results();
                r.metric = metric;
                try (ResidualStack acc = cd.accumulatedResid(-1, true, false, null, false);
                     ResidualStack dec = cd.decomposeResid(-1, false, CacheDecomposition.Mode.ALL, false, null, true);
                     ResidualStack heads = cd.stackHeadResults(-1, false, null, false);
                     Tensor neuronsT = cd.neuronResults(neuronLayer, null, null)) {
                    r.lensLabels = acc.labels();
                    r.lens = values(cd.directionAttrs(acc, dir, null));
                    r.lensTop = topTokens(model, cd, acc, ans);
                    r.componentLabels = dec.labels();
                    r.components = values(cd.directionAttrs(dec, dir, null));
                    r.heads = values(cd.directionAttrs(heads, dir, null));
                    int F = (int) neuronsT.size(2);
                    List<String> nl = new ArrayList<>();
                    for (int n = 0; n < F; n++) nl.add("L" + neuronLayer + "N" + n);
                    // [1, 1, F, d_model] has the memory layout of a [F, 1, 1, d_model] stack
                    try (ResidualStack ns = new ResidualStack(Tensor.of(neuronsT.toFloatArray(), F, 1, 1, model.cfg().dModel), nl)) {
                        r.neurons = values(cd.directionAttrs(ns, dir, null));
                    }
                }
                write(model, r, tokens, answers, wrongs, neuronLayer);
            }
        }
        return 0;
    }

    private static final class Results {
        double metric;
        List<String> lensLabels, componentLabels;
        double[] lens, components, heads, neurons;
        List<Map<String, Object>> lensTop;
    }

    private static List<String> readSet(Path f, String option) {
        if (!Files.isRegularFile(f)) throw new IllegalArgumentException(option + " " + f + ": not a regular file");
        try {
            List<String> out = new ArrayList<>();
            for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) if (!line.isEmpty()) out.add(line);
            if (out.isEmpty()) throw new IllegalArgumentException(option + " " + f + ": no answers in the file");
            return out;
        } catch (java.nio.charset.MalformedInputException e) {
            throw new IllegalArgumentException(option + " " + f + ": not valid UTF-8");
        } catch (IOException e) {
            throw new UncheckedIOException(option + " " + f + ": " + e.getMessage(), e);
        }
    }

    private int[] ids(HookedTransformer model, List<String> texts) {
        int[] out = new int[texts.size()];
        for (int i = 0; i < out.length; i++) out[i] = model.answerToken(prompt, texts.get(i));
        return out;
    }

    private static double[] values(Tensor t) {
        try (t) {
            float[] f = t.toFloatArray();
            double[] d = new double[f.length];
            for (int i = 0; i < f.length; i++) d[i] = f[i];
            return d;
        }
    }

    /** The logit lens's top token and the answers' summed probability at every accumulated-residual label. */
    private static List<Map<String, Object>> topTokens(HookedTransformer model, CacheDecomposition cd, ResidualStack acc, int[] ans) {
        List<Map<String, Object>> out = new ArrayList<>();
        try (Tensor lg = cd.logitLens(acc, null)) {
            float[] x = lg.toFloatArray();
            int V = (int) lg.size(3);
            for (int c = 0; c < acc.size(); c++) {
                int o = c * V, best = 0;
                double max = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < V; v++) if (x[o + v] > max) { max = x[o + v]; best = v; }
                double z = 0;
                for (int v = 0; v < V; v++) z += Math.exp(x[o + v] - max);
                double p = 0;
                for (int a : ans) p += Math.exp(x[o + a] - max) / z;
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("label", acc.labels().get(c));
                e.put("top_token", best);
                e.put("top_token_str", model.hasTokenizer() ? model.tokenizer().tokenString(best) : Integer.toString(best));
                e.put("answer_prob", p);
                out.add(e);
            }
        }
        return out;
    }

    private void write(HookedTransformer model, Results r, int[] tokens, List<String> answers, List<String> wrongs, int neuronLayer) throws IOException {
        int L = model.cfg().nLayers, H = model.cfg().nHeads;
        Files.createDirectories(out);
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("model", m.model.toString());
        s.put("prompt", prompt);
        s.put("str_tokens", model.toStrTokens(tokens));
        s.put("answers", answers);
        s.put("wrong", wrongs);
        s.put("metric", "sum of answer logits - sum of wrong logits at the last position");
        s.put("metric_value", r.metric);
        s.put("logit_lens", labelled(r.lensLabels, r.lens));
        s.put("logit_lens_top_tokens", r.lensTop);
        s.put("dla_components", labelled(r.componentLabels, r.components));
        List<String> headLabels = new ArrayList<>();
        for (int l = 0; l < L; l++) for (int h = 0; h < H; h++) headLabels.add("L" + l + "H" + h);
        s.put("top_heads", top(headLabels, r.heads));
        List<String> neuronLabels = new ArrayList<>();
        for (int n = 0; n < r.neurons.length; n++) neuronLabels.add("L" + neuronLayer + "N" + n);
        s.put("neuron_layer", neuronLayer);
        s.put("top_neurons", top(neuronLabels, r.neurons));
        s.put("versions", Map.of("lens4j", "0.1.0", "java", System.getProperty("java.version")));
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try {
            tensors.put("logit_lens", Tensor.of(Inputs.floats(r.lens), r.lens.length));
            tensors.put("dla_components", Tensor.of(Inputs.floats(r.components), r.components.length));
            tensors.put("dla_heads", Tensor.of(Inputs.floats(r.heads), L, H));
            tensors.put("dla_neurons", Tensor.of(Inputs.floats(r.neurons), r.neurons.length));
            Map<String, String> meta = Inputs.meta(m);
            meta.put("logit_lens_labels", JSON.writeValueAsString(r.lensLabels));
            meta.put("dla_components_labels", JSON.writeValueAsString(r.componentLabels));
            meta.put("neuron_layer", Integer.toString(neuronLayer));
            SafeTensors.write(out.resolve("lens.safetensors"), tensors, meta);
        } finally {
            tensors.values().forEach(Tensor::close);
        }
        String summaryJson = JSON.writeValueAsString(s);
        dev.lens4j.load.RegularFiles.writeString(out.resolve("summary.json"), summaryJson);
        report(model, r, answers, wrongs, headLabels, neuronLayer).write(out.resolve("report.html"));
        if (json) System.out.println(summaryJson);
        else System.out.printf("metric %.4f; wrote lens.safetensors, summary.json, report.html to %s%n", r.metric, out);
    }

    private Report report(HookedTransformer model, Results r, List<String> answers, List<String> wrongs, List<String> headLabels, int neuronLayer) {
        int L = model.cfg().nLayers, H = model.cfg().nHeads;
        String what = String.join(" + ", quoted(answers)) + (wrongs.isEmpty() ? "" : " - (" + String.join(" + ", quoted(wrongs)) + ")");
        Report rep = new Report("Logit lens and direct logit attribution").description("Prompt " + quoted(List.of(prompt)).get(0)
                + "; metric: logit " + what + " at the last position = " + String.format("%.4f", r.metric))
                .meta("model", m.model.toString()).meta("config", model.cfg().toJson()).meta("command", "lens");
        rep.section("Logit lens").text("The accumulated residual stream before each layer (and mid-layer), scaled by the final "
                        + "LayerNorm's cached scale and projected on the answer direction, as TransformerLens's logit lens.")
                .lineChart(LineChart.of("Metric by layer").axes("residual stream", "logit difference")
                        .series("metric", r.lens).markers().xTickLabels(r.lensLabels.toArray(String[]::new)).hline(0, "0"))
                .table(topTable(r));
        rep.section("Direct logit attribution").text("Each component's direct contribution to the metric (cache.logit_attrs).")
                .bar(BarChart.of("By component").axes("component", "logit difference")
                        .categories("attribution", r.componentLabels.toArray(String[]::new), r.components).signColors());
        double[][] grid = new double[L][H];
        for (int l = 0; l < L; l++) for (int h = 0; h < H; h++) grid[l][h] = r.heads[l * H + h];
        String[] ys = new String[L], xs = new String[H];
        for (int l = 0; l < L; l++) ys[l] = "L" + l;
        for (int h = 0; h < H; h++) xs[h] = "H" + h;
        rep.section("Heads").heatmap(Heatmap.of("Direct logit attribution by head").matrix(grid).diverging()
                .xLabels(xs).yLabels(ys).axes("head", "layer").colorLabel("logit difference"));
        rep.section("Neurons of layer " + neuronLayer).bar(BarChart.of("Every neuron, sorted").axes("rank", "logit difference")
                .sortedStems("neurons", r.neurons)).table(neuronTable(r, neuronLayer));
        return rep;
    }

    private static Table topTable(Results r) {
        Table t = Table.of("label", "metric", "top token", "answer probability").caption("Logit lens");
        for (int i = 0; i < r.lensLabels.size(); i++) {
            Map<String, Object> e = r.lensTop.get(i);
            t.row(r.lensLabels.get(i), String.format("%.4f", r.lens[i]), e.get("top_token_str"), String.format("%.4f", (double) e.get("answer_prob")));
        }
        return t;
    }

    private Table neuronTable(Results r, int layer) {
        Table t = Table.of("neuron", "attribution").caption("Neurons of layer " + layer + " by |attribution|");
        List<String> labels = new ArrayList<>();
        for (int n = 0; n < r.neurons.length; n++) labels.add("L" + layer + "N" + n);
        for (Map<String, Object> e : top(labels, r.neurons)) t.row(e.get("label"), String.format("%.5f", (double) e.get("value")));
        return t;
    }

    private static List<String> quoted(List<String> xs) {
        List<String> out = new ArrayList<>();
        for (String x : xs) out.add("'" + x + "'");
        return out;
    }

    private static Map<String, Double> labelled(List<String> labels, double[] v) {
        Map<String, Double> out = new LinkedHashMap<>();
        for (int i = 0; i < v.length; i++) out.put(labels.get(i), v[i]);
        return out;
    }

    private List<Map<String, Object>> top(List<String> labels, double[] v) {
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < v.length; i++) idx.add(i);
        idx.sort(Comparator.comparingDouble(i -> -Math.abs(v[i])));
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i : idx.subList(0, Math.min(topK, idx.size()))) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("label", labels.get(i));
            e.put("value", v[i]);
            out.add(e);
        }
        return out;
    }
}
