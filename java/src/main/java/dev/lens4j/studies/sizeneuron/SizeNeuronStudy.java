package dev.lens4j.studies.sizeneuron;

import dev.lens4j.analysis.NeuronCongruence;
import dev.lens4j.analysis.Patching;
import dev.lens4j.model.HookedTransformer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Seed 001 end to end: does one neuron (or several) carry "the opposite size word"? For each prompt family: the
 * logit lens of the logit difference and its spike detection, activation patching over layers x positions. Then, for
 * the layers the first family flags, every neuron patched (batched) in every family, the standout neurons by
 * z-score and whether the same ones stand out across families (the seed's neuron 4413 test); neuron-token congruence
 * of every neuron; zero-ablation of the standouts; and, with a corpus, a neuroscope scan of the flagged layers with
 * the standouts' pages and the content words of their top contexts.
 */
public final class SizeNeuronStudy {
    private SizeNeuronStudy() {}

    public static final class Options {
        /** The first family flags the layers and finds the standouts; the others are compared with it. */
        public List<SizeFamily> families = new ArrayList<>(SizeFamily.BUILT_IN.values());
        public String modelName = "";
        public int batch = Patching.DEFAULT_BATCH;
        /** Spike threshold in logits; null: half the largest jump. */
        public Double spikeThreshold;
        public int maxLayers = 3;
        public int topNeurons = 5;
        /** A top neuron "stands out" when its z-score is at least this. */
        public double zThreshold = 3.0;
        public int congruenceK = 10;
        public List<Path> corpus = List.of();
        public long scanMaxTokens = Long.MAX_VALUE;
        public int scanTopK = 20, scanContext = 24, scanBatch = 8;
        public Path out = Path.of("lens4j-out", "size-neuron");
        /** Also pass on the scan's per-batch lines (for a terminal, where they overwrite each other). */
        public boolean detailProgress;

        public void validate() {
            if (families.isEmpty()) throw new IllegalArgumentException("give at least one --family");
            if (batch < 1 || batch > 4096) throw new IllegalArgumentException("--batch " + batch + " is outside 1..4096");
            if (spikeThreshold != null && !Double.isFinite(spikeThreshold)) throw new IllegalArgumentException("--spike-threshold must be finite");
            if (maxLayers < 1) throw new IllegalArgumentException("--max-layers must be >= 1, got " + maxLayers);
            if (topNeurons < 1 || topNeurons > 100) throw new IllegalArgumentException("--top-neurons must be in 1..100, got " + topNeurons);
            if (!Double.isFinite(zThreshold)) throw new IllegalArgumentException("--z-threshold must be finite");
            if (scanMaxTokens < 1) throw new IllegalArgumentException("--max-tokens must be > 0");
            Map<String, Integer> seen = new LinkedHashMap<>();
            for (SizeFamily f : families)
                if (seen.merge(f.name(), 1, Integer::sum) > 1) throw new IllegalArgumentException("family '" + f.name() + "' is given twice");
        }
    }

    /** What the analyses found (the writers and tests read it). */
    static final class Results {
        final List<FamilyRun> runs = new ArrayList<>();
        double threshold;
        List<SpikeDetection.Jump> flagged;
        final Map<Integer, List<Standouts.Neuron>> ranked = new LinkedHashMap<>(); // primary family, per flagged layer
        List<Standouts.Neuron> top;
        final Map<String, Map<Integer, List<Standouts.Neuron>>> rankedByFamily = new LinkedHashMap<>();
        NeuronCongruence.Result congruence;
        List<String> congruenceTokenRoles;
        final Map<String, double[]> ablation = new LinkedHashMap<>();   // family -> [clean, each top neuron..., all together]
        Neuroscope.Result neuroscope;
        final Map<String, Double> seconds = new LinkedHashMap<>();
        FamilyRun primary() { return runs.get(0); }
    }

    public record Summary(Path outDir, Path resultsJson, Path report, int plots, List<Integer> flaggedLayers, List<String> topNeurons,
                          double seconds) {}

    public static Summary run(HookedTransformer model, Options o, Consumer<String> progressLines) throws IOException {
        o.validate();
        if (model.cfg().attnOnly) throw new IllegalArgumentException("this model is attention-only: it has no MLP neurons to study");
        long t0 = System.nanoTime();
        Path out = o.out.toAbsolutePath().normalize();
        Files.createDirectories(out);
        Results r = new Results();
        for (SizeFamily f : o.families) r.runs.add(new FamilyRun(model, f)); // every family checked before any work
        StudyProgress p = new StudyProgress(progressLines, 4 * r.runs.size() + 2 + (o.corpus.isEmpty() ? 0 : 1));

        long a0 = System.nanoTime();
        for (FamilyRun fr : r.runs) {
            fr.baselines(model);
            fr.logitLens(model);
            p.step("logit lens, " + fr.family.name());
        }
        FamilyRun primary = r.primary();
        r.threshold = o.spikeThreshold != null ? o.spikeThreshold : SpikeDetection.defaultThreshold(primary.lens);
        r.flagged = SpikeDetection.detect(primary.lens, r.threshold, o.maxLayers);
        r.seconds.put("logit_lens_s", seconds(a0));

        a0 = System.nanoTime();
        for (FamilyRun fr : r.runs) {
            fr.blockPatching(model, o.batch);
            p.step("patching resid_pre, attn_out, mlp_out, " + fr.family.name());
        }
        r.seconds.put("block_patching_s", seconds(a0));

        a0 = System.nanoTime();
        p.add(r.runs.size() * r.flagged.size() - 2 * r.runs.size()); // the neuron sweeps replace two placeholder steps per family
        for (FamilyRun fr : r.runs) {
            Map<Integer, List<Standouts.Neuron>> ranked = new LinkedHashMap<>();
            for (SpikeDetection.Jump j : r.flagged) {
                ranked.put(j.layer(), Standouts.rank(j.layer(), fr.neuronPatching(model, j.layer(), o.batch)));
                p.step("every neuron of layer " + j.layer() + ", " + fr.family.name());
            }
            r.rankedByFamily.put(fr.family.name(), ranked);
        }
        r.ranked.putAll(r.rankedByFamily.get(primary.family.name()));
        r.top = Standouts.top(new ArrayList<>(r.ranked.values()), o.topNeurons);
        r.seconds.put("neuron_patching_s", seconds(a0));

        a0 = System.nanoTime();
        for (FamilyRun fr : r.runs) {
            double[] v = new double[r.top.size() + 2];
            v[0] = fr.zeroAblated(model, List.of());
            for (int i = 0; i < r.top.size(); i++) v[i + 1] = fr.zeroAblated(model, List.of(r.top.get(i)));
            v[v.length - 1] = fr.zeroAblated(model, r.top);
            r.ablation.put(fr.family.name(), v);
        }
        p.step("zero-ablation of the top neurons");
        r.seconds.put("ablation_s", seconds(a0));

        a0 = System.nanoTime();
        congruence(model, r, o.congruenceK);
        p.step("congruence of every neuron");
        r.seconds.put("congruence_s", seconds(a0));

        if (!o.corpus.isEmpty()) {
            a0 = System.nanoTime();
            List<Integer> layers = r.flagged.stream().map(SpikeDetection.Jump::layer).sorted().toList();
            r.neuroscope = Neuroscope.run(model, o, layers, r.top, out.resolve("scan"), line -> { if (o.detailProgress) p.detail("scan " + line); });
            p.step("neuroscope scan of " + o.corpus.size() + " corpus path(s)");
            r.seconds.put("scan_s", seconds(a0));
        }

        a0 = System.nanoTime();
        SizeNeuronOutputs.writeDataset(out.resolve("dataset.tsv"), model, r);
        SizeNeuronOutputs.writeTensors(out.resolve("size_neuron.safetensors"), model, o, r);
        SizeNeuronReport rep = new SizeNeuronReport(model, o, r);
        Path html = rep.build().write(out.resolve("report.html"));
        r.seconds.put("write_s", seconds(a0));
        r.seconds.put("total_s", seconds(t0));
        Path json = SizeNeuronOutputs.writeResults(out.resolve("results.json"), model, o, r);
        return new Summary(out, json, html, rep.plotCount(), r.flagged.stream().map(SpikeDetection.Jump::layer).toList(),
                r.top.stream().map(Standouts.Neuron::label).toList(), seconds(t0));
    }

    /** Congruence with every family's answer and wrong tokens, then the first family's first clean prompt's tokens. */
    private static void congruence(HookedTransformer model, Results r, int k) {
        LinkedHashSet<Integer> ids = new LinkedHashSet<>();
        Map<Integer, String> role = new LinkedHashMap<>();
        for (FamilyRun fr : r.runs)
            for (int b = 0; b < fr.pairs; b++) {
                if (ids.add(fr.answers[b])) role.put(fr.answers[b], "answer (" + fr.family.name() + ")");
                if (ids.add(fr.wrongs[b])) role.put(fr.wrongs[b], "wrong (" + fr.family.name() + ")");
            }
        for (int t : r.primary().clean[0]) if (ids.add(t)) role.put(t, "input");
        int[] tokens = ids.stream().mapToInt(Integer::intValue).toArray();
        r.congruence = NeuronCongruence.compute(model, tokens, k);
        r.congruenceTokenRoles = new ArrayList<>();
        for (int t : tokens) r.congruenceTokenRoles.add(role.get(t));
    }

    private static double seconds(long t0) { return (System.nanoTime() - t0) / 1e9; }
}
