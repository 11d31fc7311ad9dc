package dev.lens4j.oracle;

import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;

/**
 * Tiny configs with random canonical TL weights, deterministic from a seed. Norm weights 1 + 0.1*randn,
 * biases 0.1*randn, matrices 0.2*randn/sqrt(fan_in), embeddings 0.5*randn: nothing trivial to hide a bug.
 * Self-contained on purpose (independent of the main code's loaders / RandomWeights).
 */
public final class TinyModels {
    private TinyModels() {}

    public record Tiny(String label, Config cfg, Weights weights) {}

    /** GPT-2 shape: LayerNorm, learned positions, gelu_new, tied-free W_U. */
    public static Config gpt2Config() {
        Config c = new Config();
        c.modelName = "tiny-gpt2";
        c.originalArchitecture = "GPT2LMHeadModel";
        c.nLayers = 3; c.dModel = 48; c.nHeads = 4; c.dHead = 12; c.dMlp = 96; c.dVocab = 97; c.nCtx = 32;
        c.actFn = "gelu_new"; c.normalizationType = "LN"; c.positionalEmbeddingType = "standard";
        return c.validate();
    }

    /** Llama shape: RMSNorm, rotary rotate-half, GQA 4 query / 2 kv heads, SwiGLU, untied. */
    public static Config llamaConfig() {
        Config c = new Config();
        c.modelName = "tiny-llama";
        c.originalArchitecture = "LlamaForCausalLM";
        c.nLayers = 3; c.dModel = 48; c.nHeads = 4; c.nKeyValueHeads = 2; c.dHead = 12; c.dMlp = 80; c.dVocab = 97; c.nCtx = 32;
        c.actFn = "silu"; c.normalizationType = "RMS"; c.positionalEmbeddingType = "rotary";
        c.rotaryBase = 10000; c.gatedMlp = true; c.eps = 1e-6; c.finalRms = true;
        return c.validate();
    }

    /** The configs the oracle tests run, by label. */
    public static Map<String, Supplier<Config>> configs() {
        Map<String, Supplier<Config>> m = new LinkedHashMap<>();
        m.put("gpt2", TinyModels::gpt2Config);
        m.put("gpt2-relu", () -> { Config c = gpt2Config(); c.actFn = "relu"; return c; });
        m.put("gpt2-gelu-lnpre", () -> { Config c = gpt2Config(); c.actFn = "gelu"; c.normalizationType = "LNPre"; return c; });
        m.put("llama", TinyModels::llamaConfig);
        m.put("llama-adjacent", () -> { Config c = llamaConfig(); c.rotaryAdjacentPairs = true; return c; });
        m.put("llama-rmspre-nogqa", () -> { Config c = llamaConfig(); c.normalizationType = "RMSPre"; c.nKeyValueHeads = null; return c; });
        m.put("neox-partial-rotary", () -> {
            // NeoX-like: LayerNorm, rotary on the first 4 of 12 dims (rotate-half), gelu, no gating
            Config c = gpt2Config();
            c.modelName = "tiny-neox"; c.originalArchitecture = "GPTNeoXForCausalLM";
            c.positionalEmbeddingType = "rotary"; c.rotaryDim = 4; c.actFn = "gelu";
            return c;
        });
        m.put("neox-parallel", () -> {
            // Pythia-like: parallel attention and MLP, partial rotate-half rotary, LayerNorm with biases
            Config c = gpt2Config();
            c.modelName = "tiny-pythia"; c.originalArchitecture = "GPTNeoXForCausalLM";
            c.positionalEmbeddingType = "rotary"; c.rotaryDim = 6; c.actFn = "gelu"; c.parallelAttnMlp = true;
            return c;
        });
        m.put("gemma2-like", () -> {
            // Gemma 2's block: post norms, soft-capped scores and logits, sliding window on layers 0 and 2, GeGLU
            Config c = llamaConfig();
            c.modelName = "tiny-gemma2"; c.originalArchitecture = "Gemma2ForCausalLM";
            c.actFn = "gelu_pytorch_tanh"; c.attnScale = 3.5; c.useNormalizationBeforeAndAfter = true;
            c.attnScoresSoftCap = 1.5; c.outputLogitsSoftCap = 2.5;
            c.useLocalAttn = true; c.windowSize = 3; c.attnTypes = java.util.List.of("local", "global", "local");
            return c;
        });
        m.put("gptj-adjacent-partial", () -> {
            Config c = gpt2Config();
            c.modelName = "tiny-gptj"; c.positionalEmbeddingType = "rotary"; c.rotaryDim = 6;
            c.rotaryAdjacentPairs = true; c.actFn = "gelu_pytorch_tanh";
            return c;
        });
        m.put("attn-only", () -> { Config c = gpt2Config(); c.attnOnly = true; c.nLayers = 2; return c; });
        return m;
    }

    public static Tiny build(String label, long seed) {
        Config cfg = configs().get(label).get().validate();
        return new Tiny(label, cfg, randomWeights(cfg, seed));
    }

    /** Random canonical weights for cfg (every name HookedTransformer needs). */
    public static Weights randomWeights(Config cfg, long seed) {
        Random r = new Random(seed);
        Weights w = new Weights();
        int D = cfg.dModel, H = cfg.dHead, nH = cfg.nHeads, nKv = cfg.nKvHeads(), F = cfg.dMlp, V = cfg.dVocab;
        w.put("embed.W_E", randn(r, 0.5, V, D));
        if (!cfg.isRotary()) w.put("pos_embed.W_pos", randn(r, 0.3, cfg.nCtx, D));
        for (int l = 0; l < cfg.nLayers; l++) {
            norm(w, r, cfg, "blocks." + l + ".ln1.");
            double sd = 0.2 / Math.sqrt(D);
            w.put(Weights.attn(l, "W_Q"), randn(r, sd * 3, nH, D, H)); // larger q so patterns are not flat
            w.put(Weights.attn(l, "b_Q"), randn(r, 0.1, nH, H));
            w.put(Weights.kvName(cfg, l, "W_K"), randn(r, sd * 3, nKv, D, H));
            w.put(Weights.kvName(cfg, l, "b_K"), randn(r, 0.1, nKv, H));
            w.put(Weights.kvName(cfg, l, "W_V"), randn(r, sd, nKv, D, H));
            w.put(Weights.kvName(cfg, l, "b_V"), randn(r, 0.1, nKv, H));
            w.put(Weights.attn(l, "W_O"), randn(r, 0.2 / Math.sqrt((double) nH * H), nH, H, D));
            w.put(Weights.attn(l, "b_O"), randn(r, 0.1, D));
            if (cfg.useNormalizationBeforeAndAfter) postNorm(w, r, cfg, "blocks." + l + ".ln1_post.");
            if (cfg.attnOnly) continue;
            if (cfg.useNormalizationBeforeAndAfter) postNorm(w, r, cfg, "blocks." + l + ".ln2_post.");
            norm(w, r, cfg, "blocks." + l + ".ln2.");
            w.put(Weights.mlp(l, "W_in"), randn(r, 0.2 / Math.sqrt(D) * 3, D, F));
            if (cfg.gatedMlp) w.put(Weights.mlp(l, "W_gate"), randn(r, 0.2 / Math.sqrt(D) * 3, D, F));
            w.put(Weights.mlp(l, "b_in"), randn(r, 0.1, F));
            w.put(Weights.mlp(l, "W_out"), randn(r, 0.2 / Math.sqrt(F), F, D));
            w.put(Weights.mlp(l, "b_out"), randn(r, 0.1, D));
        }
        norm(w, r, cfg, "ln_final.");
        w.put("unembed.W_U", randn(r, 1.0 / Math.sqrt(D), D, cfg.dVocabOut()));
        w.put("unembed.b_U", randn(r, 0.1, cfg.dVocabOut()));
        return w;
    }

    private static void norm(Weights w, Random r, Config cfg, String prefix) {
        if (!cfg.hasNormWeights()) return;
        float[] g = new float[cfg.dModel];
        for (int i = 0; i < g.length; i++) g[i] = (float) (1 + 0.1 * r.nextGaussian());
        w.put(prefix + "w", Tensor.of(g, cfg.dModel));
        if (cfg.isLayerNorm()) w.put(prefix + "b", randn(r, 0.1, cfg.dModel));
    }

    /** ln1_post / ln2_post: weights always (TL never folds them), a bias for LayerNorm models. */
    private static void postNorm(Weights w, Random r, Config cfg, String prefix) {
        float[] g = new float[cfg.dModel];
        for (int i = 0; i < g.length; i++) g[i] = (float) (1 + 0.1 * r.nextGaussian());
        w.put(prefix + "w", Tensor.of(g, cfg.dModel));
        if (cfg.isLayerNorm()) w.put(prefix + "b", randn(r, 0.1, cfg.dModel));
    }

    static Tensor randn(Random r, double sd, long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (sd * r.nextGaussian());
        return Tensor.of(v, shape);
    }

    /** batch x seq random token ids in [0, vocab). */
    public static int[][] tokens(long seed, int batch, int seq, int vocab) {
        Random r = new Random(seed);
        int[][] t = new int[batch][seq];
        for (int[] row : t) for (int i = 0; i < seq; i++) row[i] = r.nextInt(vocab);
        return t;
    }
}
