package dev.lens4j.analysis;

import dev.lens4j.hooks.ActivationCache;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metric;
import dev.lens4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * TransformerLens's {@code transformer_lens.patching}: sweeps that patch one slice of a clean run's activation into
 * the corrupted run per index and record the metric of the patched logits (TL's direction: clean into corrupted).
 * <p>
 * Unlike TL, which runs one full forward per index, a sweep batches its patched variants (up to {@code batch}
 * patched copies of the corrupted prompts in one forward) and starts each from the corrupted run's residual
 * stream at the patched layer ({@code RunOptions.startAtLayer}), so patching every neuron of layer L costs about
 * d_mlp / batch forwards of blocks L..n_layers-1. The values are TL's: the same patch, the same metric.
 */
public final class Patching {
    private Patching() {}

    /** Default number of patched variants per batched forward. */
    public static final int DEFAULT_BATCH = 16;

    /**
     * TL's patch_setter for one index: copy the indexed slice of the clean activation ({@code clean}, shape
     * {@code shape} = [batch, ...] of one prompt batch) into the corrupted activation, whose copy for this variant
     * starts at {@code offset} of {@code corrupted} (the variants of a batched run are stacked along the batch).
     */
    @FunctionalInterface
    public interface PatchSetter {
        void patch(float[] corrupted, int offset, float[] clean, long[] shape, int[] index);
    }

    /** The sweep's metric values on an index grid (row-major), with TL's axis names. */
    public record Grid(List<String> axes, int[] shape, double[] values) {
        public double get(int... index) {
            int flat = 0;
            for (int i = 0; i < shape.length; i++) {
                if (index[i] < 0 || index[i] >= shape[i])
                    throw new IndexOutOfBoundsException(axes.get(i) + " " + index[i] + " outside [0, " + shape[i] + ")");
                flat = flat * shape[i] + index[i];
            }
            return values[flat];
        }

        /** The same grid with every value v replaced by (v - corrupted) / (clean - corrupted). */
        public Grid normalised(double clean, double corrupted) {
            return new Grid(axes, shape, Patching.normalised(values, clean, corrupted));
        }
    }

    // ------------------------------------------------------------------------------------------ patch setters

    /** TL's layer_pos_patch_setter, index [layer, pos]: activation [batch, pos, ...]. */
    public static final PatchSetter LAYER_POS = (a, off, c, sh, idx) -> {
        int B = (int) sh[0], S = (int) sh[1], rest = inner(sh, 2);
        for (int b = 0; b < B; b++) {
            int o = (b * S + idx[1]) * rest;
            System.arraycopy(c, o, a, off + o, rest);
        }
    };

    /** TL's layer_pos_head_vector_patch_setter, index [layer, pos, head]: activation [batch, pos, head, d_head]. */
    public static final PatchSetter LAYER_POS_HEAD_VECTOR = (a, off, c, sh, idx) -> {
        int B = (int) sh[0], S = (int) sh[1], H = (int) sh[2], dh = inner(sh, 3);
        for (int b = 0; b < B; b++) {
            int o = ((b * S + idx[1]) * H + idx[2]) * dh;
            System.arraycopy(c, o, a, off + o, dh);
        }
    };

    /** TL's layer_head_vector_patch_setter, index [layer, head]: every position of one head. */
    public static final PatchSetter LAYER_HEAD_VECTOR = (a, off, c, sh, idx) -> {
        int rows = (int) (sh[0] * sh[1]), H = (int) sh[2], dh = inner(sh, 3);
        for (int r = 0; r < rows; r++) {
            int o = (r * H + idx[1]) * dh;
            System.arraycopy(c, o, a, off + o, dh);
        }
    };

    /** TL's layer_head_pattern_patch_setter, index [layer, head_index]: activation [batch, head, dest, src]. */
    public static final PatchSetter LAYER_HEAD_PATTERN = (a, off, c, sh, idx) -> {
        int B = (int) sh[0], H = (int) sh[1], block = inner(sh, 2);
        for (int b = 0; b < B; b++) {
            int o = (b * H + idx[1]) * block;
            System.arraycopy(c, o, a, off + o, block);
        }
    };

    /** TL's layer_head_pos_pattern_patch_setter, index [layer, head_index, dest_pos]. */
    public static final PatchSetter LAYER_HEAD_POS_PATTERN = (a, off, c, sh, idx) -> {
        int B = (int) sh[0], H = (int) sh[1], Q = (int) sh[2], K = (int) sh[3];
        for (int b = 0; b < B; b++) {
            int o = ((b * H + idx[1]) * Q + idx[2]) * K;
            System.arraycopy(c, o, a, off + o, K);
        }
    };

    /** TL's layer_head_dest_src_pos_pattern_patch_setter, index [layer, head_index, dest_pos, src_pos]. */
    public static final PatchSetter LAYER_HEAD_DEST_SRC_POS_PATTERN = (a, off, c, sh, idx) -> {
        int B = (int) sh[0], H = (int) sh[1], Q = (int) sh[2], K = (int) sh[3];
        for (int b = 0; b < B; b++) {
            int o = ((b * H + idx[1]) * Q + idx[2]) * K + idx[3];
            a[off + o] = c[o];
        }
    };

    /** Beyond TL: index [layer, neuron] of mlp.hook_post [batch, pos, d_mlp], at the given positions only (null: all). */
    public static PatchSetter neuronAt(int[] positions) {
        return (a, off, c, sh, idx) -> {
            int B = (int) sh[0], S = (int) sh[1], F = (int) sh[2];
            for (int b = 0; b < B; b++) {
                if (positions == null) {
                    for (int p = 0; p < S; p++) { int o = (b * S + p) * F + idx[1]; a[off + o] = c[o]; }
                } else {
                    for (int p : positions) { int o = (b * S + p) * F + idx[1]; a[off + o] = c[o]; }
                }
            }
        };
    }

    private static int inner(long[] shape, int from) {
        long n = 1;
        for (int i = from; i < shape.length; i++) n *= shape[i];
        return Math.toIntExact(n);
    }

    // ------------------------------------------------------------------------------------------ generic sweeps

    /**
     * TL's generic_activation_patch with index_axis_names: every index of the grid the axes span ("layer",
     * "pos", "head" / "head_index", "dest_pos", "src_pos", and "neuron" for d_mlp), the first axis the layer.
     */
    public static Grid genericActivationPatch(HookedTransformer model, int[][] corruptedTokens, ActivationCache cleanCache,
                                              Metric metric, PatchSetter setter, String activationName,
                                              List<String> indexAxisNames, int batch) {
        if (indexAxisNames.isEmpty() || !indexAxisNames.get(0).equals("layer"))
            throw new IllegalArgumentException("the first index axis must be 'layer', got " + indexAxisNames);
        int S = Runs.rectangular(corruptedTokens, "corrupted");
        Config cfg = model.cfg();
        int[] shape = new int[indexAxisNames.size()];
        for (int i = 0; i < shape.length; i++) shape[i] = axisRange(cfg, indexAxisNames.get(i), activationName, S);
        List<int[]> indices = new ArrayList<>();
        int[] idx = new int[shape.length];
        int total = 1;
        for (int n : shape) total = Math.multiplyExact(total, n);
        for (int f = 0; f < total; f++) {
            int rem = f;
            for (int i = shape.length - 1; i >= 0; i--) { idx[i] = rem % shape[i]; rem /= shape[i]; }
            indices.add(idx.clone());
        }
        double[] v = sweep(model, corruptedTokens, cleanCache, metric, setter, activationName, indices, batch);
        return new Grid(List.copyOf(indexAxisNames), shape, v);
    }

    private static int axisRange(Config cfg, String axis, String activationName, int S) {
        return switch (axis) {
            case "layer" -> cfg.nLayers;
            case "pos", "dest_pos", "src_pos" -> S;
            // grouped-query models keep n_key_value_heads heads in k and v
            case "head", "head_index" -> activationName.equals("k") || activationName.equals("v") ? cfg.nKvHeads() : cfg.nHeads;
            case "neuron" -> {
                if (cfg.attnOnly) throw new IllegalArgumentException("an attention-only model has no MLP neurons");
                yield cfg.dMlp;
            }
            default -> throw new IllegalArgumentException("unknown index axis '" + axis + "' (layer, pos, head, head_index, dest_pos, src_pos, neuron)");
        };
    }

    /**
     * TL's generic_activation_patch with an index_df: one metric value per index row, its columns named by
     * {@code indexAxisNames} (the first "layer"; the hook is {@code HookNames.actName(activationName, layer)}).
     * Every index is checked against its axis, so no patch lands outside the slice it names.
     */
    public static double[] genericActivationPatch(HookedTransformer model, int[][] corruptedTokens, ActivationCache cleanCache,
                                                  Metric metric, PatchSetter setter, String activationName,
                                                  List<String> indexAxisNames, List<int[]> indices, int batch) {
        if (indexAxisNames.isEmpty() || !indexAxisNames.get(0).equals("layer"))
            throw new IllegalArgumentException("the first index axis must be 'layer', got " + indexAxisNames);
        int S = Runs.rectangular(corruptedTokens, "corrupted");
        int[] ranges = new int[indexAxisNames.size()];
        for (int i = 0; i < ranges.length; i++) ranges[i] = axisRange(model.cfg(), indexAxisNames.get(i), activationName, S);
        for (int r = 0; r < indices.size(); r++) {
            int[] index = indices.get(r);
            if (index == null || index.length != ranges.length)
                throw new IllegalArgumentException("index " + r + " has " + (index == null ? 0 : index.length) + " entries, the axes are " + indexAxisNames);
            for (int i = 0; i < ranges.length; i++)
                if (index[i] < 0 || index[i] >= ranges[i])
                    throw new IllegalArgumentException("index " + r + ": " + indexAxisNames.get(i) + " " + index[i] + " is outside [0, " + ranges[i] + ")");
        }
        return sweep(model, corruptedTokens, cleanCache, metric, setter, activationName, indices, batch);
    }

    /** Patched variants run {@code batch} at a time, each from the corrupted residual stream at its layer. */
    private static double[] sweep(HookedTransformer model, int[][] corruptedTokens, ActivationCache cleanCache,
                                  Metric metric, PatchSetter setter, String activationName, List<int[]> indices, int batch) {
        if (batch < 1) throw new IllegalArgumentException("batch must be at least 1, got " + batch);
        if (metric == null || setter == null) throw new IllegalArgumentException("a metric and a patch setter are required");
        int B = corruptedTokens.length, S = corruptedTokens[0].length;
        if (!cleanCache.positions().isAll())
            throw new IllegalArgumentException("the clean cache keeps only some positions: patching needs every position");
        // indices by layer, keeping each one's place in the output
        Map<Integer, List<Integer>> byLayer = new LinkedHashMap<>();
        for (int i = 0; i < indices.size(); i++) {
            int[] index = indices.get(i);
            if (index == null || index.length == 0) throw new IllegalArgumentException("index " + i + " is empty");
            Runs.checkLayer(model, index[0]);
            byLayer.computeIfAbsent(index[0], k -> new ArrayList<>()).add(i);
        }
        double[] out = new double[indices.size()];
        if (indices.isEmpty()) return out;
        String[] starts = byLayer.keySet().stream().map(HookNames::residPre).toArray(String[]::new);
        int lastLayer = byLayer.keySet().stream().mapToInt(Integer::intValue).max().getAsInt();
        var corruptOpts = new HookedTransformer.RunOptions().cacheNames(starts).noLogits(true).stopAtLayer(lastLayer + 1);
        try (var corrupted = model.run(corruptedTokens, corruptOpts)) {
            for (var e : byLayer.entrySet()) {
                int layer = e.getKey();
                String name = HookNames.actName(activationName, layer);
                if (!cleanCache.has(name))
                    throw new IllegalArgumentException("the clean cache has no '" + name + "': cache it in the clean run");
                Tensor cleanAct = cleanCache.get(name);
                if (cleanAct.size(0) != B)
                    throw new IllegalArgumentException("clean activation '" + name + "' has batch " + cleanAct.size(0) + ", the corrupted prompts are " + B);
                long cleanPositions = cleanAct.size(name.endsWith("hook_pattern") || name.endsWith("hook_attn_scores") ? 2 : 1);
                if (cleanPositions != S)
                    throw new IllegalArgumentException("the clean prompts have " + cleanPositions + " tokens, the corrupted " + S
                            + ": clean and corrupted prompts must have the same token length");
                sweepLayer(model, corrupted.cache().get(HookNames.residPre(layer)), layer, name, cleanAct, metric, setter,
                        indices, e.getValue(), batch, out);
            }
        }
        return out;
    }

    /** The patched runs of one layer, batch variants per forward, each started from the corrupted residual. */
    private static void sweepLayer(HookedTransformer model, Tensor corruptedResid, int layer, String name, Tensor cleanAct,
                                   Metric metric, PatchSetter setter, List<int[]> indices, List<Integer> which,
                                   int batch, double[] out) {
        long[] shape = cleanAct.shape();
        float[] clean = cleanAct.toFloatArray();
        int per = Math.toIntExact(cleanAct.numel());       // one variant's share of the activation
        int B = (int) shape[0];
        float[] resid = corruptedResid.toFloatArray();
        long S = corruptedResid.size(1), D = corruptedResid.size(2);
        for (int from = 0; from < which.size(); from += batch) {
            int k = Math.min(batch, which.size() - from);
            int[][] chunk = new int[k][];
            for (int v = 0; v < k; v++) chunk[v] = indices.get(which.get(from + v));
            float[] start = new float[Math.multiplyExact(k, resid.length)];
            for (int v = 0; v < k; v++) System.arraycopy(resid, 0, start, v * resid.length, resid.length);
            Hooks patch = Hooks.none().add(name, (act, hp) -> {
                long[] sh = act.shape();
                sh[0] /= k;
                if (act.size(0) != (long) k * B || !Arrays.equals(sh, shape))
                    throw new IllegalStateException(name + " is " + act.describe() + ", the clean activation " + Arrays.toString(shape));
                float[] a = act.toFloatArray();
                for (int v = 0; v < k; v++) setter.patch(a, v * per, clean, shape, chunk[v]);
                act.set(a);
                return null;
            });
            runVariants(model, layer, start, k, B, S, D, patch, metric, which, from, out);
        }
    }

    /** k variants of B prompts each from residual {@code start} at {@code layer}; the metric of each variant's logits. */
    private static void runVariants(HookedTransformer model, int layer, float[] start, int k, int B, long S, long D, Hooks hooks,
                                    Metric metric, List<Integer> which, int from, double[] out) {
        var opts = new HookedTransformer.RunOptions().hooks(hooks).logitsLastOnly(metric.lastPositionOnly());
        try (Tensor startResid = Tensor.of(start, (long) k * B, S, D);
             var run = model.run((int[][]) null, opts.startAtLayer(layer, startResid))) {
            Tensor lg = run.logits();
            int P = (int) lg.size(1), V = (int) lg.size(2);
            float[] all = lg.toFloatArray();
            int slice = B * P * V;
            for (int v = 0; v < k; v++) {
                float[] mine = Arrays.copyOfRange(all, v * slice, (v + 1) * slice);
                out[which.get(from + v)] = metric.evaluate(mine, B, P, V, new float[slice]);
            }
        }
    }

    /**
     * Neuron n of hook_post reaches the residual stream only through mlp_out = post . W_out + b_out, so patching
     * it adds (clean - corrupted) post[n] * W_out[n] to the corrupted resid_post at each patched position: the
     * patched runs start after the layer, from blocks.layer.hook_resid_post (exact up to float rounding).
     */
    private static double[] neuronSweep(HookedTransformer model, int[][] corruptedTokens, ActivationCache cleanCache, Metric metric,
                                        int layer, int[] positions, int batch) {
        if (batch < 1) throw new IllegalArgumentException("batch must be at least 1, got " + batch);
        if (!cleanCache.positions().isAll())
            throw new IllegalArgumentException("the clean cache keeps only some positions: patching needs every position");
        String post = HookNames.mlpPost(layer), residPost = HookNames.residPost(layer);
        if (!cleanCache.has(post)) throw new IllegalArgumentException("the clean cache has no '" + post + "': cache it in the clean run");
        int B = corruptedTokens.length, S = corruptedTokens[0].length;
        Tensor cleanPost = cleanCache.get(post);
        if (cleanPost.size(0) != B)
            throw new IllegalArgumentException("clean activation '" + post + "' has batch " + cleanPost.size(0) + ", the corrupted prompts are " + B);
        if (cleanPost.size(1) != S)
            throw new IllegalArgumentException("the clean prompts have " + cleanPost.size(1) + " tokens, the corrupted " + S
                    + ": clean and corrupted prompts must have the same token length");
        int F = (int) cleanPost.size(2), D = model.cfg().dModel;
        int[] pos = positions;
        if (pos == null) { pos = new int[S]; for (int p = 0; p < S; p++) pos[p] = p; }
        double[] out = new double[F];
        float[] clean = cleanPost.toFloatArray(), wOut = model.weights().get("blocks." + layer + ".mlp.W_out").toFloatArray();
        try (var corrupted = model.run(corruptedTokens, new HookedTransformer.RunOptions().cacheNames(post, residPost).noLogits(true).stopAtLayer(layer + 1))) {
            float[] corr = corrupted.cache().get(post).toFloatArray(), resid = corrupted.cache().get(residPost).toFloatArray();
            List<Integer> which = new ArrayList<>(F);
            for (int n = 0; n < F; n++) which.add(n);
            for (int from = 0; from < F; from += batch) {
                int k = Math.min(batch, F - from);
                float[] start = new float[Math.multiplyExact(k, resid.length)];
                for (int v = 0; v < k; v++) {
                    int n = from + v, base = v * resid.length;
                    System.arraycopy(resid, 0, start, base, resid.length);
                    for (int b = 0; b < B; b++)
                        for (int p : pos) {
                            int a = (b * S + p) * F + n;
                            float delta = clean[a] - corr[a];
                            if (delta == 0) continue;
                            int row = base + (b * S + p) * D, w = n * D;
                            for (int j = 0; j < D; j++) start[row + j] += delta * wOut[w + j];
                        }
                }
                runVariants(model, layer + 1, start, k, B, S, D, Hooks.none(), metric, which, from, out);
            }
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------ TL's functions

    /** TL's get_act_patch_resid_pre: [layer, pos]. */
    public static Grid residPre(HookedTransformer m, int[][] corrupted, ActivationCache clean, Metric metric, int batch) {
        return genericActivationPatch(m, corrupted, clean, metric, LAYER_POS, "resid_pre", List.of("layer", "pos"), batch);
    }

    /** TL's get_act_patch_resid_mid: [layer, pos]. */
    public static Grid residMid(HookedTransformer m, int[][] corrupted, ActivationCache clean, Metric metric, int batch) {
        return genericActivationPatch(m, corrupted, clean, metric, LAYER_POS, "resid_mid", List.of("layer", "pos"), batch);
    }

    /** hook_resid_post by [layer, pos] (TL has no get_act_patch_resid_post; the generic patch with this setter). */
    public static Grid residPost(HookedTransformer m, int[][] corrupted, ActivationCache clean, Metric metric, int batch) {
        return genericActivationPatch(m, corrupted, clean, metric, LAYER_POS, "resid_post", List.of("layer", "pos"), batch);
    }

    /** TL's get_act_patch_attn_out: [layer, pos]. */
    public static Grid attnOut(HookedTransformer m, int[][] corrupted, ActivationCache clean, Metric metric, int batch) {
        return genericActivationPatch(m, corrupted, clean, metric, LAYER_POS, "attn_out", List.of("layer", "pos"), batch);
    }

    /** TL's get_act_patch_mlp_out: [layer, pos]. */
    public static Grid mlpOut(HookedTransformer m, int[][] corrupted, ActivationCache clean, Metric metric, int batch) {
        return genericActivationPatch(m, corrupted, clean, metric, LAYER_POS, "mlp_out", List.of("layer", "pos"), batch);
    }

    /** TL's get_act_patch_attn_head_{out,q,k,v}_by_pos (activation z, q, k or v): [layer, pos, head]. */
    public static Grid attnHeadByPos(String activation, HookedTransformer m, int[][] corrupted, ActivationCache clean, Metric metric, int batch) {
        return genericActivationPatch(m, corrupted, clean, metric, LAYER_POS_HEAD_VECTOR, headVector(activation), List.of("layer", "pos", "head"), batch);
    }

    /** TL's get_act_patch_attn_head_{out,q,k,v}_all_pos (activation z, q, k or v): [layer, head]. */
    public static Grid attnHeadAllPos(String activation, HookedTransformer m, int[][] corrupted, ActivationCache clean, Metric metric, int batch) {
        return genericActivationPatch(m, corrupted, clean, metric, LAYER_HEAD_VECTOR, headVector(activation), List.of("layer", "head"), batch);
    }

    /** TL's get_act_patch_attn_head_out_by_pos: [layer, pos, head]. */
    public static Grid attnHeadOutByPos(HookedTransformer m, int[][] corrupted, ActivationCache clean, Metric metric, int batch) {
        return attnHeadByPos("z", m, corrupted, clean, metric, batch);
    }

    /** TL's get_act_patch_attn_head_out_all_pos: [layer, head]. */
    public static Grid attnHeadOutAllPos(HookedTransformer m, int[][] corrupted, ActivationCache clean, Metric metric, int batch) {
        return attnHeadAllPos("z", m, corrupted, clean, metric, batch);
    }

    /** TL's get_act_patch_attn_head_pattern_all_pos: [layer, head_index]. */
    public static Grid attnHeadPatternAllPos(HookedTransformer m, int[][] corrupted, ActivationCache clean, Metric metric, int batch) {
        return genericActivationPatch(m, corrupted, clean, metric, LAYER_HEAD_PATTERN, "pattern", List.of("layer", "head_index"), batch);
    }

    /** TL's get_act_patch_attn_head_pattern_by_pos: [layer, head_index, dest_pos]. */
    public static Grid attnHeadPatternByPos(HookedTransformer m, int[][] corrupted, ActivationCache clean, Metric metric, int batch) {
        return genericActivationPatch(m, corrupted, clean, metric, LAYER_HEAD_POS_PATTERN, "pattern", List.of("layer", "head_index", "dest_pos"), batch);
    }

    /** TL's get_act_patch_attn_head_pattern_dest_src_pos: [layer, head_index, dest_pos, src_pos]. */
    public static Grid attnHeadPatternDestSrcPos(HookedTransformer m, int[][] corrupted, ActivationCache clean, Metric metric, int batch) {
        return genericActivationPatch(m, corrupted, clean, metric, LAYER_HEAD_DEST_SRC_POS_PATTERN, "pattern",
                List.of("layer", "head_index", "dest_pos", "src_pos"), batch);
    }

    /**
     * Beyond TL: every MLP neuron of one layer, patching neuron n of blocks.layer.mlp.hook_post at the given
     * positions (null: every position): [neuron]. One batched forward of blocks layer+1.. (and the unembedding)
     * per {@code batch} neurons; the same values as {@link #neuronAt} in the generic sweep.
     */
    public static Grid mlpNeurons(HookedTransformer m, int[][] corrupted, ActivationCache clean, Metric metric, int layer,
                                  int[] positions, int batch) {
        Runs.checkLayer(m, layer);
        int S = Runs.rectangular(corrupted, "corrupted");
        if (positions != null)
            for (int p : positions)
                if (p < 0 || p >= S) throw new IllegalArgumentException("position " + p + " is outside the prompt's " + S + " positions");
        int F = axisRange(m.cfg(), "neuron", "post", S);
        double[] v = neuronSweep(m, corrupted, clean, metric, layer, positions, batch);
        return new Grid(List.of("neuron"), new int[] {F}, v);
    }

    /** TL's get_act_patch_block_every: resid_pre, attn_out, mlp_out stacked, [3, layer, pos]. */
    public static Grid blockEvery(HookedTransformer m, int[][] corrupted, ActivationCache clean, Metric metric, int batch) {
        return stack(residPre(m, corrupted, clean, metric, batch), attnOut(m, corrupted, clean, metric, batch), mlpOut(m, corrupted, clean, metric, batch));
    }

    /** TL's get_act_patch_attn_head_all_pos_every: z, q, k, v, pattern stacked, [5, layer, head] (k and v need n_kv_heads = n_heads). */
    public static Grid attnHeadAllPosEvery(HookedTransformer m, int[][] corrupted, ActivationCache clean, Metric metric, int batch) {
        return stack(attnHeadAllPos("z", m, corrupted, clean, metric, batch), attnHeadAllPos("q", m, corrupted, clean, metric, batch),
                attnHeadAllPos("k", m, corrupted, clean, metric, batch), attnHeadAllPos("v", m, corrupted, clean, metric, batch),
                attnHeadPatternAllPos(m, corrupted, clean, metric, batch));
    }

    /** TL's get_act_patch_attn_head_by_pos_every: z, q, k, v, pattern (as [layer, pos, head]) stacked, [5, layer, pos, head]. */
    public static Grid attnHeadByPosEvery(HookedTransformer m, int[][] corrupted, ActivationCache clean, Metric metric, int batch) {
        Grid p = attnHeadPatternByPos(m, corrupted, clean, metric, batch); // [layer, head, dest_pos]
        int L = p.shape()[0], H = p.shape()[1], S = p.shape()[2];
        double[] t = new double[p.values().length];
        for (int l = 0; l < L; l++) for (int h = 0; h < H; h++) for (int q = 0; q < S; q++) t[(l * S + q) * H + h] = p.values()[(l * H + h) * S + q];
        Grid pattern = new Grid(List.of("layer", "pos", "head"), new int[] {L, S, H}, t);
        return stack(attnHeadByPos("z", m, corrupted, clean, metric, batch), attnHeadByPos("q", m, corrupted, clean, metric, batch),
                attnHeadByPos("k", m, corrupted, clean, metric, batch), attnHeadByPos("v", m, corrupted, clean, metric, batch), pattern);
    }

    /** Grids of one shape stacked along a new first axis, "patch_type". */
    private static Grid stack(Grid... grids) {
        int[] shape = grids[0].shape();
        for (Grid g : grids)
            if (!Arrays.equals(g.shape(), shape))
                throw new IllegalArgumentException("cannot stack grids of shapes " + Arrays.toString(shape) + " and " + Arrays.toString(g.shape())
                        + " (grouped-query k/v have n_key_value_heads heads)");
        int n = grids[0].values().length;
        double[] v = new double[grids.length * n];
        for (int i = 0; i < grids.length; i++) System.arraycopy(grids[i].values(), 0, v, i * n, n);
        int[] sh = new int[shape.length + 1];
        sh[0] = grids.length;
        System.arraycopy(shape, 0, sh, 1, shape.length);
        List<String> axes = new ArrayList<>();
        axes.add("patch_type");
        axes.addAll(grids[0].axes());
        return new Grid(axes, sh, v);
    }

    private static String headVector(String activation) {
        return switch (activation) {
            case "z", "q", "k", "v" -> activation;
            default -> throw new IllegalArgumentException("head vector activation must be z, q, k or v, got '" + activation + "'");
        };
    }

    // ------------------------------------------------------------------------------------------ the metric

    /**
     * The normalised metric of TL's tutorials: (patched - corrupted) / (clean - corrupted), 0 where the patch
     * changes nothing and 1 where it restores the clean value.
     */
    public static double[] normalised(double[] patched, double clean, double corrupted) {
        double span = clean - corrupted;
        if (!(Math.abs(span) > 0) || !Double.isFinite(span))
            throw new IllegalArgumentException("the clean and corrupted metrics are equal (" + clean + "): nothing to normalise by; choose prompts that differ in the metric");
        double[] out = new double[patched.length];
        for (int i = 0; i < out.length; i++) out[i] = (patched[i] - corrupted) / span;
        return out;
    }

    /** The metric of an unpatched run (the clean or corrupted baseline). */
    public static double baseline(HookedTransformer model, int[][] tokens, Metric metric) {
        return Runs.metric(model, tokens, metric, Hooks.none());
    }
}
