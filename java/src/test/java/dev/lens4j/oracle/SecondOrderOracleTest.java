package dev.lens4j.oracle;

import dev.lens4j.analysis.SecondOrderEffects;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.load.WeightProcessing;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Weights;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Seed 002's second-order effect, written here from the seed's equation and evaluated neuron by neuron and head by
 * head in libtorch, on activations from the libtorch forward (TorchOracle), against SecondOrderEffects' GEMMs:
 *
 * φⁿₗ = Σ_{l'>l} Σ_h Σ_{i≤T} pⁿᵢ · a^{(l',h)}_{T→i} / s^{(l')}_i · d · ((w̃ⁿ ⊙ g^{(l')}) W_V^{(l',h)} W_O^{(l',h)}),
 * w̃ⁿ = W_out[n] minus its mean for LayerNorm models, g the ln1 weight (1 when folded), s the frozen ln1 scale.
 */
class SecondOrderOracleTest {
    static final int B = 2, S = 7;

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "gpt2-processed", "llama", "neox-parallel", "gpt2-relu"})
    void effectsEqualTheDirectFormulaNeuronByNeuronHeadByHead(String label) {
        boolean processed = label.endsWith("-processed");
        TinyModels.Tiny t = TinyModels.build(processed ? label.replace("-processed", "") : label, 77 + label.hashCode());
        Config cfg = t.cfg();
        if (processed) WeightProcessing.process(cfg, t.weights(), LoadOptions.defaults());
        int[][] tokens = TinyModels.tokens(5, B, S, cfg.dVocab);
        double[] dir = new double[cfg.dModel];
        Random r = new Random(3);
        for (int j = 0; j < dir.length; j++) dir[j] = r.nextGaussian();
        try (HookedTransformer model = new HookedTransformer(cfg, t.weights());
             SecondOrderEffects so = new SecondOrderEffects(model, dir)) {
            TorchOracle.Result ref = TorchOracle.run(cfg, model.weights(), tokens);
            try (var out = model.run(tokens, new HookedTransformer.RunOptions().cacheNames(so.hookNames().toArray(String[]::new)))) {
                double worst = 0, scale = 0;
                for (int query : new int[] {S - 1, 3})
                    for (int l = 0; l < cfg.nLayers - 1; l++) {
                        float[] got = so.effects(out.cache(), l, query);
                        double[][] want = direct(cfg, model.weights(), ref, dir, l, query);
                        for (int b = 0; b < B; b++)
                            for (int n = 0; n < cfg.dMlp; n++) {
                                worst = Math.max(worst, Math.abs(got[b * cfg.dMlp + n] - want[b][n]));
                                scale = Math.max(scale, Math.abs(want[b][n]));
                            }
                        vectorEffectsProjectOntoPhi(model, so, out.cache(), l, query, got);
                    }
                assertTrue(scale > 1e-3, "the effects are not trivially zero: " + scale);
                if (cfg.normalizationType != null) {
                    // negative control: the same formula without the frozen ln1 scale does not match
                    float[] got = so.effects(out.cache(), 0, S - 1);
                    double[][] unscaled = direct(cfg, model.weights(), withoutScales(ref, cfg), dir, 0, S - 1);
                    double off = 0;
                    for (int b = 0; b < B; b++) for (int n = 0; n < cfg.dMlp; n++) off = Math.max(off, Math.abs(got[b * cfg.dMlp + n] - unscaled[b][n]));
                    assertTrue(off > 1e-2 * scale, label + ": dropping the ln1 scale must change phi, max change " + off);
                }
                assertTrue(worst <= 1e-4 * Math.max(1, scale), label + ": max |error| " + worst + " (max |phi| " + scale + ")");
            }
        }
    }

    /** The direct formula: libtorch W_V W_O per head, the neuron's row, the dot with d, then the sum over positions. */
    static double[][] direct(Config cfg, Weights w, TorchOracle.Result ref, double[] dir, int layer, int query) {
        int dm = cfg.dModel, dMlp = cfg.dMlp, H = cfg.nHeads, group = H / cfg.nKvHeads();
        boolean centre = "LN".equals(cfg.normalizationType) || "LNPre".equals(cfg.normalizationType);
        TorchOracle.Act post = ref.acts().get("blocks." + layer + ".mlp.hook_post");
        double[][] phi = new double[B][dMlp];
        try (PointerScope ignored = new PointerScope()) {
            org.bytedeco.pytorch.Tensor d = TorchOracle.tensor(dir, dm);
            org.bytedeco.pytorch.Tensor wOut = torchOf(w, "blocks." + layer + ".mlp.W_out");
            for (int lp = layer + 1; lp < cfg.nLayers; lp++) {
                TorchOracle.Act pattern = ref.acts().get("blocks." + lp + ".attn.hook_pattern");
                TorchOracle.Act scale = ref.acts().get("blocks." + lp + ".ln1.hook_scale");
                org.bytedeco.pytorch.Tensor g = w.has("blocks." + lp + ".ln1.w") ? torchOf(w, "blocks." + lp + ".ln1.w") : null;
                String vName = w.has("blocks." + lp + ".attn._W_V") ? "blocks." + lp + ".attn._W_V" : "blocks." + lp + ".attn.W_V";
                org.bytedeco.pytorch.Tensor wv = torchOf(w, vName), wo = torchOf(w, "blocks." + lp + ".attn.W_O");
                for (int h = 0; h < H; h++) {
                    org.bytedeco.pytorch.Tensor ov = wv.select(0, h / group).matmul(wo.select(0, h));   // [d_model, d_model]
                    for (int n = 0; n < dMlp; n++) {
                        org.bytedeco.pytorch.Tensor wn = wOut.select(0, n);
                        if (centre) wn = wn.sub(wn.mean());
                        if (g != null) wn = wn.mul(g);
                        double c = TorchOracle.data(wn.matmul(ov).dot(d))[0];
                        for (int b = 0; b < B; b++)
                            for (int i = 0; i <= query; i++) {
                                double p = post.data()[(b * S + i) * dMlp + n];
                                double a = pattern.data()[((b * H + h) * S + query) * S + i];
                                double s = scale == null ? 1 : scale.data()[b * S + i];
                                phi[b][n] += p * a / s * c;
                            }
                    }
                }
            }
        }
        return phi;
    }

    static TorchOracle.Result withoutScales(TorchOracle.Result ref, Config cfg) {
        java.util.Map<String, TorchOracle.Act> acts = new java.util.LinkedHashMap<>(ref.acts());
        for (int l = 0; l < cfg.nLayers; l++) acts.remove("blocks." + l + ".ln1.hook_scale");
        return new TorchOracle.Result(acts, ref.logits());
    }

    static org.bytedeco.pytorch.Tensor torchOf(Weights w, String name) {
        dev.lens4j.tensor.Tensor t = w.get(name);
        float[] f = t.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return TorchOracle.tensor(d, t.shape());
    }

    /** Σ_k m[b, n, k] · R[n][k] (the vector effect) dotted with d is φ: the rank-1 analysis reads the same effect. */
    static void vectorEffectsProjectOntoPhi(HookedTransformer model, SecondOrderEffects so, dev.lens4j.hooks.ActivationCache cache,
                                            int layer, int query, float[] phi) {
        int dMlp = model.cfg().dMlp, k = so.laterHeads(layer);
        int[] neurons = {0, dMlp / 2, dMlp - 1};
        float[] m = so.mixing(cache, layer, query, neurons);
        double[][][] r = so.headVectors(model, layer, neurons);
        double[] d = so.direction();
        for (int b = 0; b < B; b++)
            for (int s = 0; s < neurons.length; s++) {
                double v = 0;
                for (int c = 0; c < k; c++) {
                    double dot = 0;
                    for (int e = 0; e < d.length; e++) dot += r[s][c][e] * d[e];
                    v += m[(b * neurons.length + s) * k + c] * dot;
                }
                double want = phi[b * dMlp + neurons[s]];
                assertEquals(want, v, 1e-4 * Math.max(1, Math.abs(want)), "vector effect of neuron " + neurons[s] + " projected on d");
            }
    }
}
