package dev.lens4j.studies.numeric;

import dev.lens4j.analysis.NeuronScoring;
import dev.lens4j.analysis.NeuronScoring.Prompt;
import dev.lens4j.load.RegularFiles;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Seed 000 ("Debugging numeric comparisons"): forced choice between the Yes and No tokens on six categories of
 * "is a > b" prompts, then the geometry of the last-token residual, the readout along the Yes–No unembedding
 * direction, patching the second-to-last block into the last, and the last block's harmful neurons. Writes
 * results.json, report.html, dataset.csv and numeric.safetensors.
 */
public final class NumericCompareStudy {
    private NumericCompareStudy() {}

    /** What the run produced. */
    public record Summary(NumericOptions options, Analysis analysis, Path outDir, Path resultsJson, Path report, Path dataset,
                          Path tensors, int plots, double seconds) {}

    /** Everything the analyses found (the report and results.json read it). */
    public static final class Analysis {
        public final String modelName;
        public final String template;
        public final List<NumericDataset.Item> items;
        final Collected collected;
        final Geometry geometry;
        final Readout readout;
        final Causal causal;
        final Map<String, Double> seconds;
        EmbeddedModel.Trained embedded;

        Analysis(String modelName, String template, List<NumericDataset.Item> items, Collected collected, Geometry geometry,
                 Readout readout, Causal causal, Map<String, Double> seconds) {
            this.modelName = modelName; this.template = template; this.items = items; this.collected = collected;
            this.geometry = geometry; this.readout = readout; this.causal = causal; this.seconds = seconds;
        }

        public List<String> groups() { return collected.groups; }
        public int layers() { return collected.layers; }
        /** Baseline forced-choice accuracy of a group (null: all) and truth (null: both). */
        public double baselineAccuracy(String group, Boolean truth) { return accuracy(collected, collected.margin, group, truth, false); }
        /** Readout forced-choice accuracy of a group at a layer. */
        public double readoutAccuracy(int layer, String group) { return readout.accuracy[layer][groups().indexOf(group)]; }
        public double separation(int layer, String group) { return geometry.separation[layer][groups().indexOf(group)]; }
        public double probeAccuracy(int layer, String group) { return geometry.probePerGroup[layer][groups().indexOf(group)]; }
        public double alignment(int layer, String a, String b) { return geometry.alignment[layer][groups().indexOf(a)][groups().indexOf(b)]; }
        /** Accuracy after patching (seed label, e.g. "resid_post") over a group (null: all). */
        public double patchedAccuracy(String hook, String group) { return accuracy(collected, causal.patched.get(hook), group, null, false); }
        public double[] readoutGap(int layer) { return readout.gap[layer].clone(); }
        public double[] margins() { return collected.margin.clone(); }
        public double[] patchedMargins(String hook) { return causal.patched.get(hook).clone(); }
        public Map<String, double[]> ablatedMargins() { return causal.ablated; }
        public int[] topHarmful() { return causal.topGlobal == null ? null : causal.topGlobal.clone(); }
        public double[] axis(int layer, String group) { return geometry.axes[layer][groups().indexOf(group)].clone(); }
        public EmbeddedModel.Trained embedded() { return embedded; }
    }

    /**
     * Accuracy over the prompts of a group / truth cell. Margins are raw (yes - no) unless aligned (x +1 for Yes,
     * -1 for No, as NeuronScoring returns them). NaN for an empty cell.
     */
    static double accuracy(Collected c, double[] margins, String group, Boolean truth, boolean aligned) {
        int g = group == null ? -1 : c.groups.indexOf(group);
        int cnt = 0, hit = 0;
        for (int i = 0; i < c.size(); i++) {
            if (g >= 0 && c.group[i] != g || truth != null && c.truth[i] != truth) continue;
            cnt++;
            if (aligned ? margins[i] > 0 : (margins[i] > 0) == c.truth[i]) hit++;
        }
        return cnt == 0 ? Double.NaN : (double) hit / cnt;
    }

    /** The items of the run: the CSV's, or n generated per category. */
    public static List<NumericDataset.Item> items(NumericOptions o) throws IOException {
        return o.csv != null ? NumericDataset.readCsv(o.csv) : NumericDataset.generate(o.n, o.seed);
    }

    /** The prompts (answers tokenised in context; a multi-token answer is an error naming its tokens). */
    static List<Prompt> prompts(HookedTransformer model, List<NumericDataset.Item> items, String template, NumericOptions o) {
        List<Prompt> out = new ArrayList<>(items.size());
        for (NumericDataset.Item it : items) {
            String text = it.prompt(template);
            if (o.chat) text = ChatTemplate.gemma(text);
            out.add(Prompt.of(model, text, o.yes(), o.no(), it.truthYes(), it.group()));
        }
        return out;
    }

    /** Runs every analysis on the model and writes the outputs; log (may be null) gets status lines. */
    public static Summary run(HookedTransformer model, NumericOptions o, String template, EmbeddedModel.Trained embedded,
                              StudyProgress progress, PrintStream log) throws IOException {
        o.validate();
        long t0 = System.nanoTime();
        if (model.cfg().nLayers < 2)
            throw new IllegalArgumentException("the study patches the second-to-last block into the last: the model needs >= 2 layers, has " + model.cfg().nLayers);
        Path out = o.out.toAbsolutePath().normalize();
        List<NumericDataset.Item> items = items(o);
        List<Prompt> prompts = prompts(model, items, template, o);
        List<String> groups = NumericDataset.groups(items);
        Map<String, Double> secs = new LinkedHashMap<>();
        if (log != null) log.printf("numeric-compare: %s, %d prompts in %d groups, template '%s'%s%n", model.cfg().modelName,
                prompts.size(), groups.size(), template, o.chat ? " (chat)" : "");

        secs.put("load_average_1m_at_start", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        Stage st = new Stage(secs);
        Collected c = Collected.run(model, prompts, groups, o.batch, progress);
        st.done("activations_and_patching");
        secs.put("batches", (double) c.batches.size()); // one token length each: the later runs start from their cached input
        Geometry geo = Geometry.run(c, o, progress);
        st.done("geometry_and_probes");
        Readout ro = Readout.run(model, c);
        st.done("readout");
        Causal causal = new Causal(c);
        if (!model.cfg().attnOnly) causal.neurons(model, c, o, progress);
        st.done("neurons");

        Analysis an = new Analysis(model.cfg().modelName, template, items, c, geo, ro, causal, secs);
        an.embedded = embedded;
        Files.createDirectories(out);
        Path csv = out.resolve("dataset.csv");
        RegularFiles.writeString(csv, NumericDataset.toCsv(items));
        st.restart();
        Path tensors = writeTensors(out.resolve("numeric.safetensors"), an, model);
        NumericReport rep = new NumericReport(an, o, model.cfg());
        Path html = rep.build().write(out.resolve("report.html"));
        st.done("report");
        double total = (System.nanoTime() - t0) / 1e9;
        secs.put("total_s", total);
        if (Double.isFinite(st.cpuSinceStart())) secs.put("total_cpu_s", st.cpuSinceStart());
        secs.put("seconds_per_prompt", total / prompts.size());
        Path json = NumericResults.write(out.resolve("results.json"), an, o, model.cfg());
        return new Summary(o, an, out, json, html, csv, tensors, rep.plotCount(), total);
    }

    /** The main tensors: last-token residual per layer, readout gaps, margins, axes, neuron scores, labels. */
    static Path writeTensors(Path file, Analysis an, HookedTransformer model) {
        Collected c = an.collected;
        int L = c.layers, n = c.size(), D = c.dModel, G = c.groups.size();
        Map<String, Tensor> t = new LinkedHashMap<>();
        try {
            float[] resid = new float[L * n * D];
            for (int l = 0; l < L; l++) System.arraycopy(c.resid[l], 0, resid, l * n * D, n * D);
            t.put("resid_post_last", Tensor.of(resid, L, n, D));
            float[] gap = new float[L * n];
            for (int l = 0; l < L; l++) for (int i = 0; i < n; i++) gap[l * n + i] = (float) an.readout.gap[l][i];
            t.put("readout_gap", Tensor.of(gap, L, n));
            t.put("margin", Tensor.of(floats(c.margin), n));
            float[] axes = new float[L * G * D];
            for (int l = 0; l < L; l++) for (int g = 0; g < G; g++) for (int d = 0; d < D; d++) axes[(l * G + g) * D + d] = (float) an.geometry.axes[l][g][d];
            t.put("yes_no_axes", Tensor.of(axes, L, G, D));
            int[] truth = new int[n];
            for (int i = 0; i < n; i++) truth[i] = c.truth[i] ? 1 : 0;
            t.put("truth", Tensor.ofInts(truth, n));
            t.put("group", Tensor.ofInts(c.group.clone(), n));
            for (var e : an.causal.patched.entrySet()) t.put("patched_margin." + e.getKey(), Tensor.of(floats(e.getValue()), n));
            if (an.causal.scores != null) {
                Map<String, Tensor> ns = NeuronScoring.toTensors(an.causal.scores);
                for (var e : ns.entrySet()) t.put("neurons." + e.getKey(), e.getValue());
            }
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("model", an.modelName);
            meta.put("groups", String.join(",", c.groups));
            meta.put("layer_of_neurons", Integer.toString(L - 1));
            SafeTensors.write(file, t, meta);
            return file;
        } finally {
            t.values().forEach(Tensor::close);
        }
    }

    /**
     * Wall and process CPU seconds of each stage: on a shared machine the CPU seconds (all threads, OpenBLAS's too)
     * say what the work costs, the wall seconds what the load made of it.
     */
    static final class Stage {
        private final Map<String, Double> secs;
        private final long cpu0 = cpuNanos();
        private long wall = System.nanoTime(), cpu = cpu0;

        Stage(Map<String, Double> secs) { this.secs = secs; }

        void done(String name) {
            long w = System.nanoTime(), c = cpuNanos();
            secs.put(name + "_s", (w - wall) / 1e9);
            if (c >= 0) secs.put(name + "_cpu_s", (c - cpu) / 1e9);
            wall = w; cpu = c;
        }

        void restart() { wall = System.nanoTime(); cpu = cpuNanos(); }
        double cpuSinceStart() { return cpu0 < 0 ? Double.NaN : (cpuNanos() - cpu0) / 1e9; }

        static long cpuNanos() {
            return ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os ? os.getProcessCpuTime() : -1;
        }
    }

    static float[] floats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }
}
