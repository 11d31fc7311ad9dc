package dev.lens4j.analysis;

import dev.lens4j.hooks.ActivationCache;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Second-order effects of MLP neurons (Gandelsman et al., "Interpreting the second-order effects of neurons in
 * CLIP", adapted to causal LMs as in seed 002): the part of neuron n of layer l that reaches the final position T
 * through every later attention head (l', h), projected on a residual direction d,
 *
 * <pre>  φⁿₗ(x) = Σ_{l'>l} Σ_h Σ_{i≤T} pⁿᵢ(x) · a^{(l',h)}_{T→i}(x) / s^{(l')}_i(x) · [d · (w̃ⁿ W_V^{(l',h)} W_O^{(l',h)})]</pre>
 *
 * where pⁿᵢ is hook_post at position i, a the attention pattern from T, w̃ⁿ = W_out[n] as the head's input norm
 * sees it, and s the cached ln1.hook_scale of block l'.
 *
 * <p>Norm approximation: ln1 of block l' is frozen at the clean run (TransformerLens's convention for linear
 * attributions): its scale is the cached hook_scale at position i, so the neuron's write is divided by it; LayerNorm's
 * centring is linear and is applied to W_out's rows (a no-op after center_writing_weights); an unfolded ln1 weight
 * multiplies elementwise (folded weights have it inside W_V). Attention patterns are frozen too (the effect is the
 * linear path through each head's OV circuit). Value biases do not depend on the neuron. Gemma 2's post-attention
 * norms are not linearised here: such models are refused.
 *
 * <p>Cost: the per-head projections c[n, (l',h)] = w̃ⁿ · (g ⊙ W_V (W_O d)) are one GEMM per layer, precomputed;
 * a batch then costs one GEMM per layer, Q = G · cᵀ with G[b, i, (l',h)] = a/s, and φ = Σ_i P ⊙ Q (native ops).
 */
public final class SecondOrderEffects implements AutoCloseable {
    private final Config cfg;
    private final int nLayers, nHeads, dMlp, dModel;
    /** Per source layer l: cᵀ [K_l, d_mlp], K_l = (n_layers - l - 1) * n_heads; null for the last layer. */
    private final Tensor[] projT;
    private final double[] direction;

    public SecondOrderEffects(HookedTransformer model, double[] direction) {
        this.cfg = model.cfg();
        requireSupported(cfg);
        nLayers = cfg.nLayers; nHeads = cfg.nHeads; dMlp = cfg.dMlp; dModel = cfg.dModel;
        if (direction.length != dModel) throw new IllegalArgumentException("direction has " + direction.length + " entries, d_model is " + dModel);
        Mat.requireFinite(new double[][] {direction}, "direction");
        this.direction = direction.clone();
        projT = model.readWeights(this::projections);
    }

    /** Models whose path from a neuron to a later head this class linearises. */
    public static void requireSupported(Config cfg) {
        if (cfg.attnOnly) throw new IllegalArgumentException("second-order effects need MLP neurons; model '" + cfg.modelName + "' is attention-only");
        if (cfg.useNormalizationBeforeAndAfter)
            throw new IllegalArgumentException("second-order effects: post-attention norms (Gemma 2) are not linearised; model '" + cfg.modelName + "' is not supported");
        if (cfg.nLayers < 2) throw new IllegalArgumentException("second-order effects need at least 2 layers (a later head), model has " + cfg.nLayers);
    }

    /** Heads after layer l, in order (l', h) with l' ascending. */
    public int laterHeads(int layer) { return (nLayers - layer - 1) * nHeads; }

    /** The hook points a run must cache (every position): hook_post of every layer, ln1 scale and pattern of layers ≥ 1. */
    public List<String> hookNames() {
        List<String> names = new ArrayList<>();
        for (int l = 0; l < nLayers; l++) {
            names.add("blocks." + l + ".mlp.hook_post");
            if (l >= 1) {
                names.add("blocks." + l + ".attn.hook_pattern");
                if (hasScale()) names.add("blocks." + l + ".ln1.hook_scale");
            }
        }
        return names;
    }

    private boolean hasScale() { return cfg.normalizationType != null; }

    private boolean centred() { return "LN".equals(cfg.normalizationType) || "LNPre".equals(cfg.normalizationType); }

    /** The neuron output rows as the later norm sees them (centred for LayerNorm), [d_mlp][d_model]. */
    double[][] effectiveOut(Weights w, int layer) {
        double[][] out = Mat.fromFlat(w.get("blocks." + layer + ".mlp.W_out").toFloatArray(), dMlp, dModel);
        if (centred()) for (double[] row : out) {
            double m = 0;
            for (double v : row) m += v;
            m /= dModel;
            for (int j = 0; j < dModel; j++) row[j] -= m;
        }
        return out;
    }

    /** ln1 weight of block l' (unfolded checkpoints), or null when folded / absent. */
    private double[] lnWeight(Weights w, int layer) {
        Tensor g = w.getOrNull("blocks." + layer + ".ln1.w");
        return g == null ? null : Mat.toDouble(g.toFloatArray());
    }

    /** W_V of head h (the kv head of its group for grouped-query attention), [d_model][d_head]. */
    double[][] wV(Weights w, int layer, int head) {
        String name = w.has("blocks." + layer + ".attn._W_V") ? "blocks." + layer + ".attn._W_V" : "blocks." + layer + ".attn.W_V";
        Tensor t = w.get(name);
        int kv = (int) t.size(0), dHead = (int) t.size(2);
        int group = nHeads / kv;
        try (Tensor one = t.select(0, head / group)) {
            return Mat.fromFlat(one.toFloatArray(), dModel, dHead);
        }
    }

    double[][] wO(Weights w, int layer, int head) {
        try (Tensor one = w.get("blocks." + layer + ".attn.W_O").select(0, head)) {
            return Mat.fromFlat(one.toFloatArray(), (int) one.size(0), dModel);
        }
    }

    private Tensor[] projections(Weights w) {
        // u[(l',h)] = g ⊙ W_V (W_O d): the residual-space vector whose dot with a neuron's write gives its head term
        int total = (nLayers - 1) * nHeads;
        float[] u = new float[total * dModel];
        for (int l = 1; l < nLayers; l++) {
            double[] g = lnWeight(w, l);
            for (int h = 0; h < nHeads; h++) {
                double[][] wo = wO(w, l, h), wv = wV(w, l, h);
                double[] od = new double[wo.length];
                for (int e = 0; e < wo.length; e++) od[e] = Mat.dot(wo[e], direction);
                int k = (l - 1) * nHeads + h;
                for (int j = 0; j < dModel; j++) {
                    double v = Mat.dot(wv[j], od);
                    u[k * dModel + j] = (float) (g == null ? v : g[j] * v);
                }
            }
        }
        Tensor[] proj = new Tensor[nLayers];
        try (Tensor all = Tensor.of(u, total, dModel)) {
            for (int l = 0; l < nLayers - 1; l++) {
                double[][] out = effectiveOut(w, l);
                float[] flat = new float[dMlp * dModel];
                for (int n = 0; n < dMlp; n++) for (int j = 0; j < dModel; j++) flat[j * dMlp + n] = (float) out[n][j];
                try (Tensor outT = Tensor.of(flat, dModel, dMlp);
                     Tensor ul = all.slice(0, (long) (l) * nHeads, total)) {
                    proj[l] = ul.matmul(outT); // [K_l, d_mlp]
                }
            }
        } catch (RuntimeException e) {
            for (Tensor t : proj) if (t != null) t.close();
            throw e;
        }
        return proj;
    }

    /** c[n, (l',h)] = d · (w̃ⁿ W_V W_O) for a layer, [d_mlp][K_l] (for reports and tests). */
    public double[][] headProjections(int layer) {
        checkLayer(layer);
        double[][] t = Mat.fromFlat(projT[layer].toFloatArray(), laterHeads(layer), dMlp);
        return Mat.transpose(t);
    }

    private void checkLayer(int layer) {
        if (layer < 0 || layer >= nLayers - 1)
            throw new IllegalArgumentException("layer " + layer + " has no later heads (layers with second-order effects: 0.." + (nLayers - 2) + ")");
    }

    /**
     * G[b, i, (l',h)] = a^{(l',h)}_{T→i} / s^{(l')}_i for the heads after {@code layer}, [batch, query+1, K_l], from a
     * cache of {@link #hookNames()} filled at every position.
     */
    public Tensor headWeights(ActivationCache cache, int layer, int query) {
        checkLayer(layer);
        int k = laterHeads(layer);
        Tensor first = cache.get("blocks." + (layer + 1) + ".attn.hook_pattern");
        int batch = (int) first.size(0), pos = (int) first.size(2), t = query + 1;
        if (query < 0 || query >= pos) throw new IllegalArgumentException("query position " + query + " is outside the cached " + pos + " positions");
        float[] g = new float[batch * t * k];
        for (int l = layer + 1; l < nLayers; l++) {
            float[] pat = cache.get("blocks." + l + ".attn.hook_pattern").toFloatArray();  // [b, h, q, k]
            float[] scale = hasScale() ? cache.get("blocks." + l + ".ln1.hook_scale").toFloatArray() : null; // [b, pos, 1]
            for (int b = 0; b < batch; b++)
                for (int h = 0; h < nHeads; h++) {
                    int col = (l - layer - 1) * nHeads + h;
                    int base = ((b * nHeads + h) * pos + query) * pos;
                    for (int i = 0; i < t; i++) {
                        float s = scale == null ? 1f : scale[b * pos + i];
                        g[(b * t + i) * k + col] = pat[base + i] / s;
                    }
                }
        }
        return Tensor.of(g, batch, t, k);
    }

    /** φ for every neuron of a layer: [batch, d_mlp] (row-major), at the query position. */
    public float[] effects(ActivationCache cache, int layer, int query) {
        try (Tensor g = headWeights(cache, layer, query);
             Tensor post = cache.get("blocks." + layer + ".mlp.hook_post").slice(1, 0, query + 1);
             Tensor q = g.reshape(g.size(0) * g.size(1), g.size(2)).matmul(projT[layer]); // one GEMM: [b*T, K] x [K, d_mlp]
             Tensor pq = post.mul(q.reshape(post.shape()));
             Tensor phi = pq.sum(1)) {
            return phi.toFloatArray();
        }
    }

    /**
     * The per-head weights of selected neurons, m[b, s, (l',h)] = Σ_i pⁿᵢ a/s, [batch, |neurons|, K_l]: the vector
     * effect of neuron n in residual space is Σ_k m[b, n, k] · w̃ⁿ W_V^k W_O^k (see {@link #headVectors}).
     */
    public float[] mixing(ActivationCache cache, int layer, int query, int[] neurons) {
        try (Tensor g = headWeights(cache, layer, query);
             Tensor post = cache.get("blocks." + layer + ".mlp.hook_post").slice(1, 0, query + 1);
             Tensor sel = post.indexSelect(2, neurons);
             Tensor selT = sel.transpose(1, 2);
             Tensor m = selT.matmul(g)) {
            return m.toFloatArray();
        }
    }

    /** R[s][(l',h)] = (w̃ⁿ ⊙ g) W_V W_O ∈ R^{d_model} for selected neurons of a layer: [|neurons|][K_l][d_model]. */
    public double[][][] headVectors(HookedTransformer model, int layer, int[] neurons) {
        checkLayer(layer);
        return model.readWeights(w -> {
            double[][] out = effectiveOut(w, layer);
            int k = laterHeads(layer);
            double[][][] r = new double[neurons.length][k][];
            for (int l = layer + 1; l < nLayers; l++) {
                double[] g = lnWeight(w, l);
                for (int h = 0; h < nHeads; h++) {
                    double[][] ov = Mat.multiply(wV(w, l, h), wO(w, l, h));
                    int col = (l - layer - 1) * nHeads + h;
                    for (int s = 0; s < neurons.length; s++) {
                        double[] x = out[neurons[s]].clone();
                        if (g != null) for (int j = 0; j < dModel; j++) x[j] *= g[j];
                        double[] y = new double[dModel];
                        for (int j = 0; j < dModel; j++) {
                            double xj = x[j];
                            if (xj == 0) continue;
                            double[] row = ov[j];
                            for (int e = 0; e < dModel; e++) y[e] += xj * row[e];
                        }
                        r[s][col] = y;
                    }
                }
            }
            return r;
        });
    }

    public double[] direction() { return direction.clone(); }

    @Override public void close() {
        for (Tensor t : projT) if (t != null) t.close();
    }
}
