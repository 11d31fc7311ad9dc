package dev.lens4j.studies.numeric;

import dev.lens4j.analysis.NeuronScoring.Prompt;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One pass over the prompts keeping only what the analyses need: blocks.{l}.hook_resid_post at each prompt's last
 * token for every layer, the forced-choice margin logit(yes) - logit(no) of the last position, the last block's
 * input (so patches and ablations rerun only that block) and its neurons at the last token.
 */
final class Collected {
    final List<Prompt> prompts;
    final List<String> groups;
    final int[] group;        // index into groups, per prompt
    final boolean[] truth;
    final int layers, dModel;
    final float[][] resid;    // [layer][prompt * d_model]
    final double[] margin;    // raw logit(yes) - logit(no)

    private Collected(List<Prompt> prompts, List<String> groups, int layers, int dModel) {
        this.prompts = prompts;
        this.groups = groups;
        this.layers = layers;
        this.dModel = dModel;
        int n = prompts.size();
        group = new int[n];
        truth = new boolean[n];
        for (int i = 0; i < n; i++) { group[i] = groups.indexOf(prompts.get(i).group()); truth[i] = prompts.get(i).truthYes(); }
        resid = new float[layers][n * dModel];
        margin = new double[n];
    }

    /** Given activations (a planted-structure test builds them by hand). */
    static Collected of(List<Prompt> prompts, List<String> groups, float[][] resid, double[] margin) {
        Collected c = new Collected(prompts, groups, resid.length, resid[0].length / prompts.size());
        for (int l = 0; l < resid.length; l++) System.arraycopy(resid[l], 0, c.resid[l], 0, resid[l].length);
        System.arraycopy(margin, 0, c.margin, 0, margin.length);
        return c;
    }

    int size() { return prompts.size(); }
    boolean predictedYes(int i) { return margin[i] > 0; }

    /** Rows of one layer for the prompts in idx, as doubles. */
    double[][] rows(int layer, int[] idx) {
        double[][] x = new double[idx.length][dModel];
        for (int r = 0; r < idx.length; r++)
            for (int d = 0; d < dModel; d++) x[r][d] = resid[layer][idx[r] * dModel + d];
        return x;
    }

    int[] ofGroup(int g) { return java.util.stream.IntStream.range(0, size()).filter(i -> group[i] == g).toArray(); }
    int[] all() { return java.util.stream.IntStream.range(0, size()).toArray(); }

    boolean[] truthOf(int[] idx) {
        boolean[] y = new boolean[idx.length];
        for (int r = 0; r < idx.length; r++) y[r] = truth[idx[r]];
        return y;
    }

    /** Prompt indices of each rectangular batch (one token length each), in run order. */
    final List<int[]> batches = new ArrayList<>();
    /** blocks.{L-1}.hook_resid_pre at every position of each batch, [B * S * d_model]: later runs start from it. */
    final List<float[]> lastResidPre = new ArrayList<>();
    /** blocks.{L-1}.mlp.hook_post at each prompt's last token, [prompt * d_mlp] (empty for attention-only models). */
    float[] lastMlpPost;
    /** Per patched hook (the seed's label): raw margins after patching block L-2's activation into block L-1. */
    final Map<String, double[]> patched = new LinkedHashMap<>();
    final List<String> skippedHooks = new ArrayList<>();
    /** The margins' two unembedding columns (set by run). */
    YesNoMargin yesNo;

    /**
     * The pass: batches of prompts of one token length (rectangular, so later runs can start at the last block from
     * its cached input), one forward each caching the last token's resid_post of every layer, block L-2's patch
     * sources and block L-1's input; then each patch runs only block L-1.
     */
    static Collected run(HookedTransformer model, List<Prompt> prompts, List<String> groups, int batch, StudyProgress progress) {
        int L = model.cfg().nLayers, D = model.cfg().dModel, F = model.cfg().attnOnly ? 0 : model.cfg().dMlp, n = prompts.size();
        Collected c = new Collected(prompts, groups, L, D);
        c.yesNo = new YesNoMargin(model);
        c.lastMlpPost = new float[n * F];
        int src = L - 2, dst = L - 1;
        List<String> hooks = new ArrayList<>();
        for (String h : PATCH_HOOKS) {
            if (model.hookNames().contains(HookNames.actName(h, dst))) { hooks.add(h); c.patched.put(label(h), new double[n]); }
            else c.skippedHooks.add(label(h));
        }
        String residPre = HookNames.residPre(dst), mlpPost = HookNames.actName("post", dst);
        List<String> names = new ArrayList<>();
        for (int l = 0; l < L; l++) names.add(HookNames.residPost(l));
        for (String h : hooks) names.add(HookNames.actName(h, src));
        names.add(residPre);
        if (F > 0) names.add(mlpPost);
        progress.start("activations + patching", n);
        int done = 0;
        for (int[] b : byExactLength(prompts, batch)) {
            int[][] tokens = new int[b.length][];
            for (int r = 0; r < b.length; r++) tokens[r] = prompts.get(b[r]).tokens();
            int S = tokens[0].length;
            Map<String, float[]> source = new LinkedHashMap<>();
            float[] start;
            // no logits: the margins come from the last resid_post (two W_U columns, not the whole unembedding)
            var o = new HookedTransformer.RunOptions().cacheNames(names.toArray(String[]::new)).noLogits(true);
            try (var out = model.run(tokens, o)) {
                for (int l = 0; l < L; l++) {
                    float[] h = out.cache().get(names.get(l)).toFloatArray(); // [B, S, D]
                    for (int r = 0; r < b.length; r++) System.arraycopy(h, (r * S + S - 1) * D, c.resid[l], b[r] * D, D);
                }
                for (String h : hooks) source.put(h, out.cache().get(HookNames.actName(h, src)).toFloatArray());
                start = out.cache().get(residPre).toFloatArray();
                if (F > 0) {
                    float[] m = out.cache().get(mlpPost).toFloatArray();
                    for (int r = 0; r < b.length; r++) System.arraycopy(m, (r * S + S - 1) * F, c.lastMlpPost, b[r] * F, F);
                }
                for (int r = 0; r < b.length; r++) c.margin[b[r]] = c.margin(c.resid[L - 1], b[r] * D, b[r]);
            }
            c.batches.add(b);
            c.lastResidPre.add(start);
            for (String h : hooks) {
                float[] values = source.get(h);
                Hooks hk = Hooks.none().add(HookNames.actName(h, dst), (act, hp) -> { act.set(values); return null; });
                double[] m = c.fromLastBlock(model, c.batches.size() - 1, hk);
                for (int r = 0; r < b.length; r++) c.patched.get(label(h))[b[r]] = m[r];
            }
            done += b.length;
            progress.update(done);
        }
        return c;
    }

    /** Raw margins of batch k run from block L-1's cached input under hooks (only the last block runs). */
    double[] fromLastBlock(HookedTransformer model, int k, Hooks hooks) {
        int[] b = batches.get(k);
        float[] start = lastResidPre.get(k);
        int S = start.length / (b.length * dModel);
        try (Tensor resid = Tensor.of(start, b.length, S, dModel);
             var out = model.run((int[][]) null, new HookedTransformer.RunOptions().startAtLayer(layers - 1, resid).stopAtLayer(layers).hooks(hooks))) {
            float[] x = out.residual().toFloatArray(); // [B, S, D]: the final residual, margins from its last position
            double[] m = new double[b.length];
            for (int r = 0; r < b.length; r++) m[r] = margin(x, (r * S + S - 1) * dModel, b[r]);
            return m;
        }
    }

    /** Prompt i's raw margin from the final residual at x[off ..]; no logits are computed, so finiteness is checked here. */
    private double margin(float[] x, int off, int i) {
        Prompt p = prompts.get(i);
        double m = yesNo.of(x, off, p.yes(), p.no());
        if (!Double.isFinite(m))
            throw new ArithmeticException("the yes/no margin of prompt " + i + " is " + m + ": the model's final residual is not finite there");
        return m;
    }

    /** Prompt indices grouped by exact token length (shortest first), in chunks of at most `batch`. */
    static List<int[]> byExactLength(List<Prompt> prompts, int batch) {
        java.util.TreeMap<Integer, List<Integer>> byLen = new java.util.TreeMap<>();
        for (int i = 0; i < prompts.size(); i++) byLen.computeIfAbsent(prompts.get(i).tokens().length, k -> new ArrayList<>()).add(i);
        List<int[]> out = new ArrayList<>();
        for (List<Integer> idx : byLen.values())
            for (int s = 0; s < idx.size(); s += batch)
                out.add(idx.subList(s, Math.min(idx.size(), s + batch)).stream().mapToInt(Integer::intValue).toArray());
        return out;
    }

    /** TL's short names of the patched hook points, in the seed's order. */
    static final List<String> PATCH_HOOKS = List.of("resid_post", "post", "resid_pre", "resid_mid", "attn_out");

    /** The seed's label for a short name (TL's "post" is the seed's "mlp_post"). */
    static String label(String hook) { return hook.equals("post") ? "mlp_post" : hook; }
}
