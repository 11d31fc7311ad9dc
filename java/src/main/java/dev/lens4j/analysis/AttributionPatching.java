package dev.lens4j.analysis;

import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metric;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Attribution patching (Nanda's "attribution patching", TL demo): the first-order estimate of what patching each
 * component from the corrupt run into the clean run does to a metric, (a_corrupt - a_clean) . d metric / d a at the
 * clean activations, for every MLP neuron (mlp.hook_post), attention head (attn.hook_z, summed over d_head) and
 * residual position (hook_resid_pre, summed over d_model). Neurons and heads are summed over positions; everything
 * is summed over the batch. Costs one corrupt forward and one clean forward + backward, whatever the model size.
 */
public final class AttributionPatching {
    private AttributionPatching() {}

    /** Scores of one attribution run; plain Java arrays (no native memory), summable across batches. */
    public static final class Result {
        public final int nLayers, dMlp, nHeads, pos;
        final double[] mlp, heads, resid;   // [L, d_mlp], [L, n_heads], [L, pos], flattened
        double clean, corrupt;

        Result(int L, int F, int H, int S) {
            nLayers = L; dMlp = F; nHeads = H; pos = S;
            mlp = new double[L * F]; heads = new double[L * H]; resid = new double[L * S];
        }

        /** Scores computed elsewhere (flattened [L, d_mlp], [L, n_heads], [L, pos]), e.g. sums over a Spark job's pairs. */
        public static Result of(int L, int F, int H, int S, double[] mlp, double[] heads, double[] resid, double clean, double corrupt) {
            Result r = new Result(L, F, H, S);
            if (mlp.length != r.mlp.length || heads.length != r.heads.length || resid.length != r.resid.length)
                throw new IllegalArgumentException("attribution arrays do not match [" + L + ", " + F + "], [" + L + ", " + H + "], [" + L + ", " + S + "]");
            System.arraycopy(mlp, 0, r.mlp, 0, mlp.length);
            System.arraycopy(heads, 0, r.heads, 0, heads.length);
            System.arraycopy(resid, 0, r.resid, 0, resid.length);
            r.clean = clean;
            r.corrupt = corrupt;
            return r;
        }

        /** The metric on the clean and on the corrupt prompts (summed over the batch as the metric sums). */
        public double cleanMetric() { return clean; }
        public double corruptMetric() { return corrupt; }

        public double mlpNeuron(int layer, int neuron) { return mlp[layer * dMlp + neuron]; }
        public double head(int layer, int head) { return heads[layer * nHeads + head]; }
        public double residPre(int layer, int position) { return resid[layer * pos + position]; }

        /** [n_layers][d_mlp] (empty rows for attention-only models). */
        public double[][] mlpNeurons() { return rows(mlp, nLayers, dMlp); }
        public double[][] heads() { return rows(heads, nLayers, nHeads); }
        public double[][] residPre() { return rows(resid, nLayers, pos); }

        /** Adds another batch's scores (same model and, for resid_pre, the same length). */
        public Result plus(Result o) {
            if (o.nLayers != nLayers || o.dMlp != dMlp || o.nHeads != nHeads || o.pos != pos)
                throw new IllegalArgumentException("cannot add attributions of " + o.pos + " positions to " + pos + " positions");
            Result r = new Result(nLayers, dMlp, nHeads, pos);
            for (int i = 0; i < mlp.length; i++) r.mlp[i] = mlp[i] + o.mlp[i];
            for (int i = 0; i < heads.length; i++) r.heads[i] = heads[i] + o.heads[i];
            for (int i = 0; i < resid.length; i++) r.resid[i] = resid[i] + o.resid[i];
            r.clean = clean + o.clean;
            r.corrupt = corrupt + o.corrupt;
            return r;
        }

        /** Tensors mlp_neurons [n_layers, d_mlp], heads [n_layers, n_heads], resid_pre [n_layers, pos]; the caller closes them. */
        public Map<String, Tensor> toTensors() {
            Map<String, Tensor> m = new LinkedHashMap<>();
            m.put("mlp_neurons", Tensor.of(floats(mlp), nLayers, dMlp));
            m.put("heads", Tensor.of(floats(heads), nLayers, nHeads));
            m.put("resid_pre", Tensor.of(floats(resid), nLayers, pos));
            return m;
        }

        private static double[][] rows(double[] flat, int r, int c) {
            double[][] out = new double[r][c];
            for (int i = 0; i < r; i++) System.arraycopy(flat, i * c, out[i], 0, c);
            return out;
        }

        private static float[] floats(double[] d) {
            float[] f = new float[d.length];
            for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
            return f;
        }
    }

    public static Result run(HookedTransformer model, int[][] clean, int[][] corrupt, Metric metric) {
        return run(model, clean, corrupt, metric, Hooks.none());
    }

    /**
     * @param corruptHooks forward hooks applied to the corrupt run only (e.g. noise added to the embeddings, or an
     *                     intervention whose effect you want to attribute); Hooks.none() for plain prompts
     */
    public static Result run(HookedTransformer model, int[][] clean, int[][] corrupt, Metric metric, Hooks corruptHooks) {
        if (metric == null) throw new IllegalArgumentException("no metric given");
        checkPairs(clean, corrupt);
        Config cfg = model.cfg();
        int L = cfg.nLayers, S = clean[0].length;
        Result r = new Result(L, cfg.attnOnly ? 0 : cfg.dMlp, cfg.nHeads, S);
        List<String> names = new ArrayList<>();
        for (int l = 0; l < L; l++) {
            names.add(HookNames.residPre(l));
            names.add(HookNames.z(l));
            if (!cfg.attnOnly) names.add(HookNames.mlpPost(l));
        }
        var corruptOpts = new HookedTransformer.RunOptions().hooks(corruptHooks).cacheNames(names.toArray(String[]::new))
                .logitsLastOnly(metric.lastPositionOnly());
        try (var corruptRun = model.run(corrupt, corruptOpts)) {
            Tensor lg = corruptRun.logits();
            float[] l = lg.toFloatArray();
            r.corrupt = metric.evaluate(l, (int) lg.size(0), (int) lg.size(1), (int) lg.size(2), new float[l.length]);
            var cache = corruptRun.cache();
            // the clean forward turns each cached corrupt activation into delta = a_corrupt - a_clean in place (no
            // clean cache kept); the backward hook at the same point then reduces delta * grad
            Set<String> points = new HashSet<>(names);
            Hooks fwd = Hooks.none().add(points::contains, (act, hp) -> {
                Tensor c = cache.get(hp.name());
                float[] d = c.toFloatArray(), a = act.toFloatArray();
                for (int i = 0; i < d.length; i++) d[i] -= a[i];
                c.set(d);
                return null;
            });
            Hooks bwd = Hooks.none().add(points::contains, (grad, hp) -> {
                int layer = hp.layer();
                String n = hp.name();
                if (n.endsWith("mlp.hook_post")) reduce(cache.get(n), grad, 2, r.mlp, layer * r.dMlp);           // [B, S, d_mlp]
                else if (n.endsWith("attn.hook_z")) reduce(cache.get(n), grad, 2, r.heads, layer * r.nHeads);    // [B, S, H, d_head]
                else reduce(cache.get(n), grad, 1, r.resid, layer * S);                                          // [B, S, d_model]
                return null;
            });
            var o = new HookedTransformer.RunOptions().hooks(fwd).bwdHooks(bwd);
            try (var g = model.backward(clean, metric, o)) {
                r.clean = g.value();
            }
        }
        return r;
    }

    /** out[off + j] += sum of delta * grad over every dimension but keepDim (a native kernel, on the tensors' device). */
    private static void reduce(Tensor delta, Tensor grad, int keepDim, double[] out, int off) {
        float[] v;
        try (Tensor sums = Tensor.empty(grad.device(), DType.F32, grad.size(keepDim))) {
            DeviceKernels.attributionReduce(null, delta, grad, keepDim, sums);
            v = sums.toFloatArray();
        }
        for (int j = 0; j < v.length; j++) out[off + j] += v[j];
    }

    /** Clean and corrupt batches pair up position by position: same count, same length. */
    static void checkPairs(int[][] clean, int[][] corrupt) {
        if (clean == null || clean.length == 0) throw new IllegalArgumentException("no clean prompts given");
        if (corrupt == null || corrupt.length != clean.length)
            throw new IllegalArgumentException((corrupt == null ? 0 : corrupt.length) + " corrupt prompts for " + clean.length + " clean prompts: give one corrupt prompt per clean prompt");
        for (int b = 0; b < clean.length; b++)
            if (clean[b].length != corrupt[b].length)
                throw new IllegalArgumentException("pair " + b + ": the clean prompt has " + clean[b].length + " tokens, the corrupt prompt "
                        + corrupt[b].length + ": patching pairs positions, so each clean/corrupt pair must have the same token length");
        Runs.rectangular(clean, "clean");
    }
}
