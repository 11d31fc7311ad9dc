package dev.lens4j.train;

import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;

import java.util.SplittableRandom;

/**
 * Weights of a config-built model initialised as TransformerLens's default ("gpt2" init): every W_* matrix
 * ~ N(0, initializer_range) with initializer_range = 0.8 / sqrt(d_model), biases 0, norm weights 1.
 * The same distribution as TL, from lens4j's own seeded generator (TL's torch RNG stream is not reproduced).
 */
public final class Init {
    private Init() {}

    public static Weights initWeights(Config cfg) {
        cfg.validate();
        SplittableRandom rng = new SplittableRandom(cfg.seed);
        double std = 0.8 / Math.sqrt(cfg.dModel);
        long D = cfg.dModel, H = cfg.dHead, nH = cfg.nHeads, nKv = cfg.nKvHeads(), F = cfg.dMlp, V = cfg.dVocabOut();
        Weights w = new Weights();
        w.put("embed.W_E", normal(rng, std, cfg.dVocab, D));
        if (!cfg.isRotary()) w.put("pos_embed.W_pos", normal(rng, std, cfg.nCtx, D));
        for (int l = 0; l < cfg.nLayers; l++) {
            norm(w, cfg, "blocks." + l + ".ln1.");
            w.put(Weights.attn(l, "W_Q"), normal(rng, std, nH, D, H));
            w.put(Weights.kvName(cfg, l, "W_K"), normal(rng, std, nKv, D, H));
            w.put(Weights.kvName(cfg, l, "W_V"), normal(rng, std, nKv, D, H));
            w.put(Weights.attn(l, "W_O"), normal(rng, std, nH, H, D));
            w.put(Weights.attn(l, "b_Q"), Tensor.zeros(nH, H));
            w.put(Weights.kvName(cfg, l, "b_K"), Tensor.zeros(nKv, H));
            w.put(Weights.kvName(cfg, l, "b_V"), Tensor.zeros(nKv, H));
            w.put(Weights.attn(l, "b_O"), Tensor.zeros(D));
            if (cfg.useNormalizationBeforeAndAfter) postNorm(w, cfg, "blocks." + l + ".ln1_post.");
            if (cfg.attnOnly) continue;
            if (cfg.useNormalizationBeforeAndAfter) postNorm(w, cfg, "blocks." + l + ".ln2_post.");
            norm(w, cfg, "blocks." + l + ".ln2.");
            w.put(Weights.mlp(l, "W_in"), normal(rng, std, D, F));
            if (cfg.gatedMlp) w.put(Weights.mlp(l, "W_gate"), normal(rng, std, D, F));
            w.put(Weights.mlp(l, "b_in"), Tensor.zeros(F));
            w.put(Weights.mlp(l, "W_out"), normal(rng, std, F, D));
            w.put(Weights.mlp(l, "b_out"), Tensor.zeros(D));
        }
        norm(w, cfg, "ln_final.");
        w.put("unembed.W_U", normal(rng, std, D, V));
        w.put("unembed.b_U", Tensor.zeros(V));
        return w;
    }

    /** ln1_post / ln2_post always have weights (TL's RMSNorm / LayerNorm, never the Pre variants). */
    private static void postNorm(Weights w, Config cfg, String prefix) {
        if (cfg.normalizationType == null) return;
        Config c = cfg.clone();
        c.normalizationType = cfg.isRms() ? "RMS" : "LN";
        norm(w, c, prefix);
    }

    private static void norm(Weights w, Config cfg, String prefix) {
        if ("LN".equals(cfg.normalizationType) || "RMS".equals(cfg.normalizationType)) {
            float[] ones = new float[cfg.dModel];
            java.util.Arrays.fill(ones, 1f);
            w.put(prefix + "w", Tensor.of(ones, cfg.dModel));
        }
        if ("LN".equals(cfg.normalizationType)) w.put(prefix + "b", Tensor.zeros(cfg.dModel));
    }

    private static Tensor normal(SplittableRandom rng, double std, long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (gaussian(rng) * std);
        return Tensor.of(v, shape);
    }

    /** Standard normal by Box-Muller (SplittableRandom has no nextGaussian on JDK 17). */
    static double gaussian(SplittableRandom rng) {
        double u = 1.0 - rng.nextDouble(), v = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
