package dev.lens4j.studies.sizeneuron;

import dev.lens4j.analysis.CacheDecomposition;
import dev.lens4j.analysis.Patching;
import dev.lens4j.analysis.ResidualStack;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.hooks.Positions;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metric;
import dev.lens4j.model.Metrics;
import dev.lens4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One prompt family tokenised and checked, with its analyses: the metric on clean and corrupt prompts, the logit lens
 * of the logit difference, activation patching of resid_pre / attn_out / mlp_out over layers x positions, per-neuron
 * patching of chosen layers and ablations. Metric values are means over the family's pairs; patching values are
 * normalised, (patched - corrupted) / (clean - corrupted).
 */
final class FamilyRun {
    final SizeFamily family;
    final int[][] clean, corrupt;
    final int[] answers, wrongs;
    final Metric metric;
    final int pairs, seqLen;
    double cleanMetric, corruptMetric;
    List<String> lensLabels;
    double[] lens;
    final Map<String, double[][]> blocks = new LinkedHashMap<>();   // resid_pre, attn_out, mlp_out -> [layer][pos]
    final Map<Integer, double[]> neurons = new LinkedHashMap<>();   // layer -> [d_mlp]

    /**
     * Tokenises and checks the family. Answers are scored by their first token after the clean prompt (TL's
     * logit-difference convention); the answer and the wrong answer must start with different tokens.
     */
    FamilyRun(HookedTransformer model, SizeFamily family) {
        this.family = family;
        pairs = family.pairs().size();
        clean = new int[pairs][];
        corrupt = new int[pairs][];
        answers = new int[pairs];
        wrongs = new int[pairs];
        int nCtx = model.cfg().nCtx;
        for (int i = 0; i < pairs; i++) {
            SizeFamily.Pair p = family.pairs().get(i);
            int[] c = model.toTokens(p.clean()), k = model.toTokens(p.corrupt());
            if (c.length != k.length)
                throw new IllegalArgumentException(family.where(p) + ": the clean prompt is " + c.length + " tokens " + model.toStrTokens(c)
                        + ", the corrupt prompt " + k.length + " tokens " + model.toStrTokens(k)
                        + ": patching pairs positions, so they must have the same token length");
            if (i > 0 && c.length != clean[0].length)
                throw new IllegalArgumentException(family.where(p) + ": " + c.length + " tokens, but " + family.where(family.pairs().get(0)) + " has "
                        + clean[0].length + ": the pairs of one family run as one batch and must have one token length");
            if (c.length > nCtx) throw new IllegalArgumentException(family.where(p) + ": " + c.length + " tokens is more than n_ctx " + nCtx);
            int[] a = model.answerTokens(p.clean(), p.answer()), w = model.answerTokens(p.clean(), p.wrong());
            if (a.length == 0 || w.length == 0)
                throw new IllegalArgumentException(family.where(p) + ": the " + (a.length == 0 ? "answer '" + p.answer() : "wrong answer '" + p.wrong())
                        + "' has no tokens");
            if (a[0] == w[0])
                throw new IllegalArgumentException(family.where(p) + ": answer '" + p.answer() + "' " + model.toStrTokens(a) + " and wrong '" + p.wrong()
                        + "' " + model.toStrTokens(w) + " start with the same token, and answers are scored by their first token");
            clean[i] = c;
            corrupt[i] = k;
            answers[i] = a[0];
            wrongs[i] = w[0];
        }
        seqLen = clean[0].length;
        metric = Metrics.logitDiff(answers, wrongs);
    }

    /** Clean and corrupted metric; fails when the corruption does not move it (nothing to normalise by). */
    void baselines(HookedTransformer model) {
        cleanMetric = Patching.baseline(model, clean, metric) / pairs;
        corruptMetric = Patching.baseline(model, corrupt, metric) / pairs;
        if (!(Math.abs(cleanMetric - corruptMetric) > 1e-6))
            throw new IllegalArgumentException("family '" + family.name() + "': the logit difference is " + cleanMetric + " on the clean and "
                    + corruptMetric + " on the corrupt prompts: the corruption does not change it, so patching has nothing to normalise by");
    }

    /** TL's residual_stack_to_logit_diff over the accumulated residual at the last position (0_pre ... final_post). */
    void logitLens(HookedTransformer model) {
        try (var run = model.run(clean, new HookedTransformer.RunOptions().cacheAll().cachePositions(Positions.last()).logitsLastOnly(true))) {
            CacheDecomposition cd = run.cache().analyses();
            try (ResidualStack acc = cd.accumulatedResid(-1, false, false, null, false); Tensor a = cd.logitAttrs(acc, answers, wrongs, null)) {
                float[] x = a.toFloatArray();
                lensLabels = acc.labels();
                lens = new double[acc.size()];
                for (int c = 0; c < lens.length; c++) {
                    double s = 0;
                    for (int b = 0; b < pairs; b++) s += x[c * pairs + b];
                    lens[c] = s / pairs;
                }
            }
        }
    }

    /** Activation patching of resid_pre, attn_out and mlp_out at every (layer, position): TL's get_act_patch_block_every. */
    void blockPatching(HookedTransformer model, int batch) {
        int L = model.cfg().nLayers;
        List<String> names = new ArrayList<>();
        for (int l = 0; l < L; l++) {
            names.add(HookNames.residPre(l));
            names.add(HookNames.actName("attn_out", l));
            if (!model.cfg().attnOnly) names.add(HookNames.actName("mlp_out", l));
        }
        try (var run = model.run(clean, new HookedTransformer.RunOptions().cacheNames(names.toArray(String[]::new)).noLogits(true))) {
            blocks.put("resid_pre", grid(Patching.residPre(model, corrupt, run.cache(), metric, batch)));
            blocks.put("attn_out", grid(Patching.attnOut(model, corrupt, run.cache(), metric, batch)));
            blocks.put("mlp_out", grid(Patching.mlpOut(model, corrupt, run.cache(), metric, batch)));
        }
    }

    /** Every neuron of blocks.layer.mlp.hook_post patched at every position (the batched sweep), normalised. */
    double[] neuronPatching(HookedTransformer model, int layer, int batch) {
        try (var run = model.run(clean, new HookedTransformer.RunOptions().cacheNames(HookNames.mlpPost(layer)).noLogits(true))) {
            double[] v = Patching.mlpNeurons(model, corrupt, run.cache(), metric, layer, null, batch).normalised(cleanSum(), corruptSum()).values();
            neurons.put(layer, v);
            return v;
        }
    }

    /** The mean logit difference on the clean prompts with the given neurons' mlp.hook_post zeroed at every position. */
    double zeroAblated(HookedTransformer model, List<Standouts.Neuron> ablate) {
        Hooks h = Hooks.none();
        Map<Integer, List<Integer>> byLayer = new LinkedHashMap<>();
        for (Standouts.Neuron n : ablate) byLayer.computeIfAbsent(n.layer(), l -> new ArrayList<>()).add(n.neuron());
        byLayer.forEach((layer, ns) -> h.add(HookNames.mlpPost(layer), (act, hook) -> {
            float[] a = act.toFloatArray();
            int F = (int) act.size(-1);
            for (int row = 0; row < a.length / F; row++) for (int n : ns) a[row * F + n] = 0f;
            act.set(a);
            return null;
        }));
        try (var out = model.run(clean, new HookedTransformer.RunOptions().hooks(h).logitsLastOnly(true))) {
            float[] lg = out.logits().toFloatArray();
            int V = lg.length / pairs;
            double s = 0;
            for (int b = 0; b < pairs; b++) s += lg[b * V + answers[b]] - lg[b * V + wrongs[b]];
            return s / pairs;
        }
    }

    private double cleanSum() { return cleanMetric * pairs; }

    private double corruptSum() { return corruptMetric * pairs; }

    private double[][] grid(Patching.Grid g) {
        Patching.Grid n = g.normalised(cleanSum(), corruptSum());
        int L = n.shape()[0], S = n.shape()[1];
        double[][] z = new double[L][];
        for (int l = 0; l < L; l++) z[l] = Arrays.copyOfRange(n.values(), l * S, (l + 1) * S);
        return z;
    }

    /** "3: ' tall'" or "3: ' tall' / ' short'" where the first pair's prompts differ. */
    List<String> positionLabels(HookedTransformer model) {
        List<String> cs = model.toStrTokens(clean[0]), ks = model.toStrTokens(corrupt[0]), out = new ArrayList<>();
        for (int p = 0; p < seqLen; p++) out.add(p + ": '" + cs.get(p) + "'" + (clean[0][p] == corrupt[0][p] ? "" : " / '" + ks.get(p) + "'"));
        return out;
    }
}
