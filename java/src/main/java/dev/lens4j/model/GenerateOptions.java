package dev.lens4j.model;

import dev.lens4j.hooks.Hooks;

/**
 * Options of TL's HookedTransformer.generate. The defaults are TL's: sampling at temperature 1 (doSample), stop at
 * EOS, the KV cache on, left padding for batched prompts. {@link #greedy(int)} gives do_sample=False.
 */
public final class GenerateOptions {
    int maxNewTokens = 10;
    boolean doSample = true;
    double temperature = 1.0;
    int topK;           // 0: off
    double topP;        // 0: off
    long seed;
    boolean seeded;
    boolean stopAtEos = true;
    Integer eosTokenId; // null: the tokenizer's
    boolean useKvCache = true;
    Boolean prependBos; // null: the config's default
    Hooks hooks = Hooks.none();

    public static GenerateOptions sampling(int maxNewTokens) { return new GenerateOptions().maxNewTokens(maxNewTokens); }
    /** TL's do_sample=False: the most likely token each step. */
    public static GenerateOptions greedy(int maxNewTokens) { return new GenerateOptions().maxNewTokens(maxNewTokens).doSample(false); }

    public GenerateOptions maxNewTokens(int n) {
        if (n < 0) throw new IllegalArgumentException("max_new_tokens must be >= 0, got " + n);
        this.maxNewTokens = n; return this;
    }
    public GenerateOptions doSample(boolean b) { this.doSample = b; return this; }
    /** Logits are divided by it before sampling; 0 means greedy (TL's sample_logits). */
    public GenerateOptions temperature(double t) {
        if (!(t >= 0) || Double.isInfinite(t)) throw new IllegalArgumentException("temperature must be finite and >= 0, got " + t);
        this.temperature = t; return this;
    }
    /** Sample among the k most likely tokens (TL's top_k; it takes precedence over top_p, as in TL). */
    public GenerateOptions topK(int k) {
        if (k < 0) throw new IllegalArgumentException("top_k must be > 0 (0: off), got " + k);
        this.topK = k; return this;
    }
    /** Nucleus sampling: the smallest set of most likely tokens whose probability reaches p (TL's top_p), p in (0, 1]. */
    public GenerateOptions topP(double p) {
        if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1] (0: off), got " + p);
        this.topP = p; return this;
    }
    /** The sampler's seed: the same seed, prompts and model give the same tokens. Unseeded runs draw a random seed. */
    public GenerateOptions seed(long s) { this.seed = s; this.seeded = true; return this; }
    public GenerateOptions stopAtEos(boolean b) { this.stopAtEos = b; return this; }
    /** The EOS id to stop at (default: the tokenizer's). */
    public GenerateOptions eosTokenId(int id) { this.eosTokenId = id; return this; }
    /** TL's use_past_kv_cache: run only the new token each step. Off: the whole sequence every step (same tokens, O(n^2)). */
    public GenerateOptions useKvCache(boolean b) { this.useKvCache = b; return this; }
    public GenerateOptions prependBos(boolean b) { this.prependBos = b; return this; }
    /** Forward hooks active during generation (they fire on the positions each step runs). */
    public GenerateOptions hooks(Hooks h) { this.hooks = h == null ? Hooks.none() : h; return this; }
}
