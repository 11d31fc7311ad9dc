package dev.lens4j.load;

import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;

import java.util.Random;

/**
 * Seeded random models in TransformerLens's canonical layout, for tests and benchmarks. Norm weights and (for GPT-2)
 * biases are non-trivial, so a loader or kernel that drops or mis-orders one gives a visibly different result. The same
 * seed gives the same weights on every JVM (java.util.Random's algorithm is specified).
 */
public final class RandomWeights {
    private RandomWeights() {}

    /** A GPT-2-shaped config, set up as {@link HfCheckpoint} sets up a Hugging Face GPT-2 (d_mlp = 4 d_model). */
    public static Config gpt2Config(int nLayers, int dModel, int nHeads, int dVocab, int nCtx) {
        return Config.gpt2Family("random-gpt2", nLayers, dModel, nHeads, dVocab, nCtx);
    }

    /** A Llama-shaped config (RMSNorm, rotate-half rotary, SwiGLU), set up as {@link HfCheckpoint} sets up a Hugging Face Llama. */
    public static Config llamaConfig(int nLayers, int dModel, int nHeads, int nKvHeads, int dMlp, int dVocab, int nCtx) {
        return Config.llamaFamily("random-llama", nLayers, dModel, nHeads, nKvHeads, dMlp, dVocab, nCtx, false);
    }

    /** GPT-2 weights: every bias and LayerNorm parameter random; W_U = W_E^T and b_U = 0 as in GPT-2's tied head. */
    public static Weights gpt2(Config cfg, long seed) {
        Random r = new Random(seed);
        Weights w = new Weights();
        try {
            int d = cfg.dModel, n = cfg.nHeads, dh = cfg.dHead;
            w.put("embed.W_E", randn(r, 0.5, 0, cfg.dVocab, d));
            w.put("pos_embed.W_pos", randn(r, 0.2, 0, cfg.nCtx, d));
            for (int l = 0; l < cfg.nLayers; l++) {
                w.put(Weights.ln(l, 1, "w"), randn(r, 0.2, 1, d));
                w.put(Weights.ln(l, 1, "b"), randn(r, 0.1, 0, d));
                for (String m : new String[] {"W_Q", "W_K", "W_V"}) w.put(Weights.attn(l, m), randn(r, 1 / Math.sqrt(d), 0, n, d, dh));
                w.put(Weights.attn(l, "W_O"), randn(r, 1 / Math.sqrt(n * dh), 0, n, dh, d));
                for (String b : new String[] {"b_Q", "b_K", "b_V"}) w.put(Weights.attn(l, b), randn(r, 0.1, 0, n, dh));
                w.put(Weights.attn(l, "b_O"), randn(r, 0.1, 0, d));
                if (cfg.attnOnly) continue;
                w.put(Weights.ln(l, 2, "w"), randn(r, 0.2, 1, d));
                w.put(Weights.ln(l, 2, "b"), randn(r, 0.1, 0, d));
                w.put(Weights.mlp(l, "W_in"), randn(r, 1 / Math.sqrt(d), 0, d, cfg.dMlp));
                w.put(Weights.mlp(l, "b_in"), randn(r, 0.1, 0, cfg.dMlp));
                w.put(Weights.mlp(l, "W_out"), randn(r, 1 / Math.sqrt(cfg.dMlp), 0, cfg.dMlp, d));
                w.put(Weights.mlp(l, "b_out"), randn(r, 0.1, 0, d));
            }
            w.put("ln_final.w", randn(r, 0.2, 1, d));
            w.put("ln_final.b", randn(r, 0.1, 0, d));
            w.put("unembed.W_U", HostMemory.transpose(w.W_E()));
            w.put("unembed.b_U", Tensor.zeros(cfg.dVocabOut()));
            return w;
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    /** Llama weights: random RMSNorm weights around 1, an untied W_U, zero biases (Llama has none). */
    public static Weights llama(Config cfg, long seed) {
        Random r = new Random(seed);
        Weights w = new Weights();
        try {
            int d = cfg.dModel, n = cfg.nHeads, kv = cfg.nKvHeads(), dh = cfg.dHead;
            w.put("embed.W_E", randn(r, 0.5, 0, cfg.dVocab, d));
            for (int l = 0; l < cfg.nLayers; l++) {
                w.put(Weights.ln(l, 1, "w"), randn(r, 0.2, 1, d));
                w.put(Weights.attn(l, "W_Q"), randn(r, 1 / Math.sqrt(d), 0, n, d, dh));
                w.put(Weights.kvName(cfg, l, "W_K"), randn(r, 1 / Math.sqrt(d), 0, kv, d, dh));
                w.put(Weights.kvName(cfg, l, "W_V"), randn(r, 1 / Math.sqrt(d), 0, kv, d, dh));
                w.put(Weights.attn(l, "W_O"), randn(r, 1 / Math.sqrt(n * dh), 0, n, dh, d));
                w.put(Weights.attn(l, "b_Q"), Tensor.zeros(n, dh));
                w.put(Weights.kvName(cfg, l, "b_K"), Tensor.zeros(kv, dh));
                w.put(Weights.kvName(cfg, l, "b_V"), Tensor.zeros(kv, dh));
                w.put(Weights.attn(l, "b_O"), Tensor.zeros(d));
                if (cfg.attnOnly) continue;
                w.put(Weights.ln(l, 2, "w"), randn(r, 0.2, 1, d));
                w.put(Weights.mlp(l, "W_in"), randn(r, 1 / Math.sqrt(d), 0, d, cfg.dMlp));
                w.put(Weights.mlp(l, "W_gate"), randn(r, 1 / Math.sqrt(d), 0, d, cfg.dMlp));
                w.put(Weights.mlp(l, "b_in"), Tensor.zeros(cfg.dMlp));
                w.put(Weights.mlp(l, "W_out"), randn(r, 1 / Math.sqrt(cfg.dMlp), 0, cfg.dMlp, d));
                w.put(Weights.mlp(l, "b_out"), Tensor.zeros(d));
            }
            w.put("ln_final.w", randn(r, 0.2, 1, d));
            w.put("unembed.W_U", randn(r, 1 / Math.sqrt(d), 0, d, cfg.dVocabOut()));
            w.put("unembed.b_U", Tensor.zeros(cfg.dVocabOut()));
            return w;
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    private static Tensor randn(Random r, double std, double mean, long... shape) {
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = (float) (mean + std * r.nextGaussian());
        return Tensor.of(v, shape);
    }
}
