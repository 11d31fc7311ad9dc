package dev.lens4j.studies.numeric;

import dev.lens4j.analysis.NeuronScoring;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.model.HookedTransformer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Part III of seed 000: the second-to-last block's activations patched into the last block (all positions) at five
 * hook points, and the last block's neurons scored by Appendix C's gradient-weighted contribution, the most
 * harmful zero- and mean-ablated (on all prompts, and chosen on a train split and measured on the rest).
 */
final class Causal {
    /** Per hook (seed label): raw margins after the patch (filled by the activation pass). */
    final Map<String, double[]> patched;
    /** Hooks the model lacks (parallel blocks have no resid_mid). */
    final List<String> skippedHooks;

    Causal(Collected c) { patched = c.patched; skippedHooks = c.skippedHooks; }

    NeuronScoring.Scores scores;
    int[] topGlobal;
    Map<String, int[]> topPerGroup;
    /** Condition name ("zero top 10", ...) -> aligned margins per prompt (all prompts). */
    final Map<String, double[]> ablated = new LinkedHashMap<>();
    /** The split check: which prompts scored (train), neurons chosen on them, aligned margins on the validation prompts. */
    int[] trainRows, validationRows;
    final Map<String, int[]> splitNeurons = new LinkedHashMap<>();
    final Map<String, double[]> splitValidation = new LinkedHashMap<>();

    void neurons(HookedTransformer model, Collected c, NumericOptions o, StudyProgress progress) {
        int layer = c.layers - 1, F = model.cfg().dMlp;
        progress.start("neuron scores", 1);
        // from the last block's cached input: its forward and backward only, not the whole model's
        scores = NeuronScoring.scoreFromResidPre(model, layer, c.prompts, c.batches, c.lastResidPre);
        progress.update(1);
        topGlobal = scores.mostHarmful(Math.min(o.topGlobal, F));
        topPerGroup = scores.mostHarmfulByGroup(Math.min(o.topPerGroup, F));
        int[] all = c.all();
        float[] mean = meanPost(c, all, F);
        progress.start("neuron ablations", 2 * o.ablateTopK.length);
        int step = 0;
        for (int k : o.ablateTopK) {
            int kk = Math.min(k, F);
            int[] top = scores.mostHarmful(kk);
            ablated.put("zero top " + kk, aligned(c, lastBlock(model, c, NeuronScoring.ablate(layer, top, null)), all));
            progress.update(++step);
            ablated.put("mean top " + kk, aligned(c, lastBlock(model, c, NeuronScoring.ablate(layer, top, mean)), all));
            progress.update(++step);
        }
        // train / validation: neurons and mean values from the train prompts only (a prompt's scores do not depend
        // on the other prompts, so the train sum is a sum of the per-prompt scores), accuracy on the rest
        splitRows(c, o.trainFraction, o.seed);
        if (trainRows.length == 0 || validationRows.length == 0) return;
        double[] trainC = new double[F];
        for (int i : trainRows) { float[] ci = scores.c(i); for (int j = 0; j < F; j++) trainC[j] += ci[j]; }
        float[] trainMean = meanPost(c, trainRows, F);
        splitValidation.put("baseline", aligned(c, c.margin, validationRows));
        for (int k : o.ablateTopK) {
            int kk = Math.min(k, F);
            int[] top = lowest(trainC, kk);
            splitNeurons.put("top " + kk, top);
            splitValidation.put("zero top " + kk, aligned(c, lastBlock(model, c, NeuronScoring.ablate(layer, top, null)), validationRows));
            splitValidation.put("mean top " + kk, aligned(c, lastBlock(model, c, NeuronScoring.ablate(layer, top, trainMean)), validationRows));
        }
    }

    /** Raw margins of every prompt with the hooks on the last block (run from its cached input). */
    static double[] lastBlock(HookedTransformer model, Collected c, Hooks hooks) {
        double[] m = new double[c.size()];
        for (int k = 0; k < c.batches.size(); k++) {
            double[] v = c.fromLastBlock(model, k, hooks);
            int[] b = c.batches.get(k);
            for (int r = 0; r < b.length; r++) m[b[r]] = v[r];
        }
        return m;
    }

    /** Truth-aligned margins of the rows, in row order. */
    static double[] aligned(Collected c, double[] raw, int[] rows) {
        double[] a = new double[rows.length];
        for (int i = 0; i < rows.length; i++) a[i] = c.truth[rows[i]] ? raw[rows[i]] : -raw[rows[i]];
        return a;
    }

    /** Mean of the last block's mlp.hook_post at the last token over the rows (the mean-ablation values). */
    static float[] meanPost(Collected c, int[] rows, int F) {
        double[] s = new double[F];
        for (int i : rows) for (int j = 0; j < F; j++) s[j] += c.lastMlpPost[i * F + j];
        float[] m = new float[F];
        for (int j = 0; j < F; j++) m[j] = (float) (s[j] / rows.length);
        return m;
    }

    /** The k indices with the lowest values, lowest first (ties by index): the most harmful neurons. */
    static int[] lowest(double[] v, int k) {
        return java.util.stream.IntStream.range(0, v.length).boxed()
                .sorted(java.util.Comparator.comparingDouble((Integer i) -> v[i]).thenComparing(i -> i)).limit(k).mapToInt(Integer::intValue).toArray();
    }

    /** Each (group, truth) cell split by the fraction with a seeded shuffle: at least one train row per non-empty cell. */
    void splitRows(Collected c, double fraction, long seed) {
        SplittableRandom r = new SplittableRandom(seed ^ 0x5EED000L);
        List<Integer> tr = new ArrayList<>(), va = new ArrayList<>();
        for (int g = 0; g < c.groups.size(); g++)
            for (boolean t : new boolean[] {true, false}) {
                List<Integer> cell = new ArrayList<>();
                for (int i = 0; i < c.size(); i++) if (c.group[i] == g && c.truth[i] == t) cell.add(i);
                for (int i = cell.size() - 1; i > 0; i--) { int j = r.nextInt(i + 1); Integer x = cell.get(i); cell.set(i, cell.get(j)); cell.set(j, x); }
                int cut = cell.isEmpty() ? 0 : Math.max(1, (int) Math.round(cell.size() * fraction));
                tr.addAll(cell.subList(0, cut));
                va.addAll(cell.subList(cut, cell.size()));
            }
        trainRows = tr.stream().mapToInt(Integer::intValue).sorted().toArray();
        validationRows = va.stream().mapToInt(Integer::intValue).sorted().toArray();
    }

}
