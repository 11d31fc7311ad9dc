package dev.lens4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lens4j.analysis.Patching;
import dev.lens4j.hooks.ActivationCache;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metric;
import dev.lens4j.model.Metrics;
import dev.lens4j.report.BarChart;
import dev.lens4j.report.Heatmap;
import dev.lens4j.report.Report;
import dev.lens4j.report.Table;
import dev.lens4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "patch", description = {
        "Activation patching as TransformerLens's patching module: each slice of the clean run's activation is patched into "
                + "the corrupted run in turn, and the metric logit(answer) - logit(wrong) at the last position is normalised as in "
                + "TL's tutorials, (patched - corrupted) / (clean - corrupted): 0 = no effect, 1 = the clean behaviour restored.",
        "--what resid_pre|resid_mid|resid_post|attn_out|mlp_out: [layer, pos]; head: every head over all positions "
                + "(hook_z) [layer, head]; head_by_pos: [layer, pos, head]; neurons: every neuron of mlp.hook_post of --layer "
                + "(default the last) at --pos positions [d_mlp]. Clean and corrupt must have the same token length.",
        "Patched runs are batched (--batch variants per forward) and start from the corrupted residual stream at the "
                + "patched layer. Writes DIR/patch.safetensors, DIR/summary.json and DIR/report.html."})
final class PatchCommand implements Callable<Integer> {
    @Mixin ModelOptions m;

    @Option(names = "--clean", required = true, paramLabel = "TEXT") String clean;
    @Option(names = "--corrupt", required = true, paramLabel = "TEXT") String corrupt;
    @Option(names = "--answer", required = true, paramLabel = "TEXT", description = "the clean run's answer (one token after the clean prompt)") String answer;
    @Option(names = "--wrong", required = true, paramLabel = "TEXT", description = "the corrupted run's answer (one token)") String wrong;
    @Option(names = "--what", required = true, paramLabel = "WHAT",
            description = "resid_pre, resid_mid, resid_post, attn_out, mlp_out, head, head_by_pos or neurons") String what;
    @Option(names = "--layer", paramLabel = "L", description = "the layer whose neurons are patched (--what neurons; default the last)") Integer layer;
    @Option(names = "--pos", defaultValue = "all", paramLabel = "POS",
            description = "positions where neurons are patched: all (default), last, or a comma list such as 3,5") String pos;
    @Option(names = "--batch", defaultValue = "" + Patching.DEFAULT_BATCH, paramLabel = "B",
            description = "patched variants per batched forward (default " + Patching.DEFAULT_BATCH + ")") int batch;
    @Option(names = "--json", description = "print the summary as JSON") boolean json;
    @Option(names = "--out", required = true, paramLabel = "DIR") Path out;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final List<String> WHATS = List.of("resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out", "head", "head_by_pos", "neurons");
    private static final List<String> FILES = List.of("patch.safetensors", "summary.json", "report.html");

    @Override public Integer call() throws IOException {
        if (!WHATS.contains(what)) throw new IllegalArgumentException("--what '" + what + "' is not one of " + String.join(", ", WHATS));
        if (batch < 1 || batch > 4096) throw new IllegalArgumentException("--batch " + batch + " is outside 1..4096");
        if (layer != null && !what.equals("neurons")) throw new IllegalArgumentException("--layer applies to --what neurons only (the other sweeps cover every layer)");
        if (!pos.equals("all") && !what.equals("neurons")) throw new IllegalArgumentException("--pos applies to --what neurons only");
        checkOut();
        try (HookedTransformer model = m.load()) {
            Config cfg = model.cfg();
            if (cfg.attnOnly && List.of("resid_mid", "mlp_out", "neurons").contains(what))
                throw new IllegalArgumentException("--what " + what + ": this model is attention-only (no MLP, no resid_mid)");
            int[] c = model.toTokens(clean), k = model.toTokens(corrupt);
            if (c.length != k.length)
                throw new IllegalArgumentException("the clean prompt is " + c.length + " tokens " + model.toStrTokens(c) + ", the corrupt prompt "
                        + k.length + " tokens " + model.toStrTokens(k) + ": patching pairs positions, so they must have the same token length");
            int L = cfg.nLayers;
            int neuronLayer = layer == null ? L - 1 : layer;
            if (neuronLayer < 0 || neuronLayer >= L) throw new IllegalArgumentException("--layer " + neuronLayer + " is outside 0.." + (L - 1));
            int[] positions = what.equals("neurons") ? positions(pos, c.length) : null;
            Metric metric = Metrics.logitDiff(model.answerToken(clean, answer), model.answerToken(clean, wrong));
            int[][] cleanTokens = {c}, corruptTokens = {k};
            double cleanValue = Patching.baseline(model, cleanTokens, metric), corruptValue = Patching.baseline(model, corruptTokens, metric);
            if (!(Math.abs(cleanValue - corruptValue) > 1e-6))
                throw new IllegalArgumentException("the metric is " + cleanValue + " on both prompts: the corruption does not change it, so there is nothing to normalise by");
            long t0 = System.nanoTime();
            Patching.Grid raw;
            var opts = new HookedTransformer.RunOptions().noLogits(true).cacheNames(hooks(cfg, neuronLayer));
            try (var run = model.run(cleanTokens, opts)) {
                ActivationCache cache = run.cache();
                raw = switch (what) {
                    case "resid_pre" -> Patching.residPre(model, corruptTokens, cache, metric, batch);
                    case "resid_mid" -> Patching.residMid(model, corruptTokens, cache, metric, batch);
                    case "resid_post" -> Patching.residPost(model, corruptTokens, cache, metric, batch);
                    case "attn_out" -> Patching.attnOut(model, corruptTokens, cache, metric, batch);
                    case "mlp_out" -> Patching.mlpOut(model, corruptTokens, cache, metric, batch);
                    case "head" -> Patching.attnHeadOutAllPos(model, corruptTokens, cache, metric, batch);
                    case "head_by_pos" -> Patching.attnHeadOutByPos(model, corruptTokens, cache, metric, batch);
                    default -> Patching.mlpNeurons(model, corruptTokens, cache, metric, neuronLayer, positions, batch);
                };
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            Patching.Grid norm = raw.normalised(cleanValue, corruptValue);
            write(model, c, k, raw, norm, cleanValue, corruptValue, neuronLayer, positions, seconds);
        }
        return 0;
    }

    /** Nothing is written over a non-regular file. */
    private void checkOut() {
        if (Files.exists(out, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(out, LinkOption.NOFOLLOW_LINKS))
            throw new IllegalArgumentException("--out " + out + " exists and is not a directory");
        for (String f : FILES) {
            Path p = out.resolve(f);
            if (Files.exists(p, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
                throw new IllegalArgumentException(p + " exists and is not a regular file: not overwriting it");
        }
    }

    /** The clean activations the sweep reads: only its hook, every layer (one layer for neurons). */
    private String[] hooks(Config cfg, int neuronLayer) {
        if (what.equals("neurons")) return new String[] {HookNames.mlpPost(neuronLayer)};
        String shortName = what.startsWith("head") ? "z" : what;
        String[] names = new String[cfg.nLayers];
        for (int l = 0; l < names.length; l++) names[l] = HookNames.actName(shortName, l);
        return names;
    }

    private static int[] positions(String spec, int S) {
        if (spec.equals("all")) return null;
        if (spec.equals("last")) return new int[] {S - 1};
        String[] parts = spec.split(",", -1);
        int[] p = new int[parts.length];
        for (int i = 0; i < p.length; i++) {
            try {
                p[i] = Integer.parseInt(parts[i].strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--pos '" + spec + "': '" + parts[i] + "' is not a position (all, last, or numbers such as 3,5)");
            }
            if (p[i] < 0 || p[i] >= S) throw new IllegalArgumentException("--pos " + p[i] + " is outside the prompt's positions 0.." + (S - 1));
        }
        return p;
    }

    private void write(HookedTransformer model, int[] c, int[] k, Patching.Grid raw, Patching.Grid norm, double cleanValue,
                       double corruptValue, int neuronLayer, int[] positions, double seconds) throws IOException {
        Files.createDirectories(out);
        List<String> posLabels = positionLabels(model, c, k);
        List<String> labels = labels(model.cfg(), norm, neuronLayer);
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("model", m.model.toString());
        s.put("clean", clean);
        s.put("corrupt", corrupt);
        s.put("clean_str_tokens", model.toStrTokens(c));
        s.put("corrupt_str_tokens", model.toStrTokens(k));
        s.put("answer", answer);
        s.put("wrong", wrong);
        s.put("what", what);
        s.put("hook", hookDescription(neuronLayer));
        if (what.equals("neurons")) {
            s.put("layer", neuronLayer);
            s.put("positions", positions == null ? "all" : positions);
        }
        s.put("axes", norm.axes());
        s.put("shape", norm.shape());
        s.put("metric", "logit(answer) - logit(wrong) at the last position; normalised = (patched - corrupted) / (clean - corrupted)");
        s.put("clean_metric", cleanValue);
        s.put("corrupted_metric", corruptValue);
        s.put("top", top(labels, norm.values(), raw.values(), 20));
        s.put("patched_runs", raw.values().length);
        s.put("batch", batch);
        s.put("seconds", seconds);
        s.put("versions", Map.of("lens4j", "0.1.0", "java", System.getProperty("java.version")));
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try {
            long[] shape = new long[norm.shape().length];
            for (int i = 0; i < shape.length; i++) shape[i] = norm.shape()[i];
            tensors.put("patch", Tensor.of(Inputs.floats(norm.values()), shape));
            tensors.put("patch_raw", Tensor.of(Inputs.floats(raw.values()), shape));
            Map<String, String> meta = Inputs.meta(m);
            meta.put("what", what);
            meta.put("axes", JSON.writeValueAsString(norm.axes()));
            meta.put("clean_metric", Double.toString(cleanValue));
            meta.put("corrupted_metric", Double.toString(corruptValue));
            meta.put("position_labels", JSON.writeValueAsString(posLabels));
            if (what.equals("neurons")) meta.put("layer", Integer.toString(neuronLayer));
            SafeTensors.write(out.resolve("patch.safetensors"), tensors, meta);
        } finally {
            tensors.values().forEach(Tensor::close);
        }
        String summaryJson = JSON.writeValueAsString(s);
        Files.writeString(out.resolve("summary.json"), summaryJson);
        report(model, norm, labels, posLabels, cleanValue, corruptValue, neuronLayer).write(out.resolve("report.html"));
        if (json) System.out.println(summaryJson);
        else System.out.printf("metric clean %.4f, corrupted %.4f; %d patched runs in %.2f s; wrote patch.safetensors %s, summary.json, report.html to %s%n",
                cleanValue, corruptValue, raw.values().length, seconds, java.util.Arrays.toString(norm.shape()), out);
    }

    private String hookDescription(int neuronLayer) {
        return switch (what) {
            case "neurons" -> HookNames.mlpPost(neuronLayer);
            case "head", "head_by_pos" -> "blocks.{layer}.attn.hook_z";
            default -> "blocks.{layer}.hook_" + what;
        };
    }

    /** "3: ' cat'", or "3: ' cat' / ' dog'" where the prompts differ. */
    private static List<String> positionLabels(HookedTransformer model, int[] c, int[] k) {
        List<String> cs = model.toStrTokens(c), ks = model.toStrTokens(k), out = new ArrayList<>();
        for (int p = 0; p < c.length; p++)
            out.add(p + ": '" + cs.get(p) + "'" + (c[p] == k[p] ? "" : " / '" + ks.get(p) + "'"));
        return out;
    }

    /** One label per grid entry, row-major: L3P5, L3H2, L3P5H2, N17. */
    private static List<String> labels(Config cfg, Patching.Grid g, int neuronLayer) {
        List<String> out = new ArrayList<>();
        int[] sh = g.shape();
        switch (g.axes().toString()) {
            case "[layer, pos]" -> { for (int l = 0; l < sh[0]; l++) for (int p = 0; p < sh[1]; p++) out.add("L" + l + "P" + p); }
            case "[layer, head]" -> { for (int l = 0; l < sh[0]; l++) for (int h = 0; h < sh[1]; h++) out.add("L" + l + "H" + h); }
            case "[layer, pos, head]" -> {
                for (int l = 0; l < sh[0]; l++) for (int p = 0; p < sh[1]; p++) for (int h = 0; h < sh[2]; h++) out.add("L" + l + "P" + p + "H" + h);
            }
            default -> { for (int n = 0; n < sh[0]; n++) out.add("L" + neuronLayer + "N" + n); }
        }
        return out;
    }

    private Report report(HookedTransformer model, Patching.Grid g, List<String> labels, List<String> posLabels,
                          double cleanValue, double corruptValue, int neuronLayer) {
        Report rep = new Report("Activation patching: " + what).description("Clean '" + clean + "', corrupt '" + corrupt
                        + "'; metric logit('" + answer + "') - logit('" + wrong + "') at the last position: clean "
                        + String.format("%.4f", cleanValue) + ", corrupted " + String.format("%.4f", corruptValue)
                        + ". Each cell: the clean activation patched into the corrupted run, normalised (0 = corrupted, 1 = clean).")
                .meta("model", m.model.toString()).meta("config", model.cfg().toJson()).meta("command", "patch");
        int[] sh = g.shape();
        double[] v = g.values();
        String[] pos = posLabels.toArray(String[]::new);
        switch (what) {
            case "neurons" -> rep.section("Neurons of layer " + neuronLayer)
                    .bar(BarChart.of("Every neuron of blocks." + neuronLayer + ".mlp.hook_post, sorted").axes("rank", "normalised metric")
                            .sortedStems("neurons", v))
                    .table(topTable(labels, v, 20));
            case "head" -> rep.section("Heads (all positions)").heatmap(Heatmap.of("attn.hook_z by head").matrix(rows(v, sh[0], sh[1]))
                    .diverging().xLabels(prefixed("H", sh[1])).yLabels(prefixed("L", sh[0])).axes("head", "layer").colorLabel("normalised metric"))
                    .table(topTable(labels, v, 20));
            case "head_by_pos" -> {
                // rows layer x head, columns positions
                double[][] z = new double[sh[0] * sh[2]][sh[1]];
                String[] ys = new String[sh[0] * sh[2]];
                for (int l = 0; l < sh[0]; l++)
                    for (int h = 0; h < sh[2]; h++) {
                        ys[l * sh[2] + h] = "L" + l + "H" + h;
                        for (int p = 0; p < sh[1]; p++) z[l * sh[2] + h][p] = v[(l * sh[1] + p) * sh[2] + h];
                    }
                rep.section("Heads by position").heatmap(Heatmap.of("attn.hook_z by head and position").matrix(z).diverging()
                        .xLabels(pos).yLabels(ys).axes("position", "layer, head").colorLabel("normalised metric")).table(topTable(labels, v, 20));
            }
            default -> rep.section(what + " by layer and position").heatmap(Heatmap.of("hook_" + what).matrix(rows(v, sh[0], sh[1]))
                    .diverging().xLabels(pos).yLabels(prefixed("L", sh[0])).axes("position", "layer").colorLabel("normalised metric"));
        }
        return rep;
    }

    private static double[][] rows(double[] v, int r, int c) {
        double[][] z = new double[r][c];
        for (int i = 0; i < r; i++) System.arraycopy(v, i * c, z[i], 0, c);
        return z;
    }

    private static String[] prefixed(String p, int n) {
        String[] out = new String[n];
        for (int i = 0; i < n; i++) out[i] = p + i;
        return out;
    }

    private static Table topTable(List<String> labels, double[] v, int k) {
        Table t = Table.of("component", "normalised metric").caption("Largest effects by |normalised metric|");
        for (Map<String, Object> e : top(labels, v, null, k)) t.row(e.get("label"), String.format("%.4f", (double) e.get("normalised")));
        return t;
    }

    private static List<Map<String, Object>> top(List<String> labels, double[] norm, double[] raw, int k) {
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < norm.length; i++) idx.add(i);
        idx.sort(Comparator.comparingDouble(i -> -Math.abs(norm[i])));
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i : idx.subList(0, Math.min(k, idx.size()))) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("label", labels.get(i));
            e.put("normalised", norm[i]);
            if (raw != null) e.put("metric", raw[i]);
            out.add(e);
        }
        return out;
    }
}
