package dev.lens4j.model;

import dev.lens4j.backend.Activation;
import dev.lens4j.backend.Backend;
import dev.lens4j.backend.CpuBackend;
import dev.lens4j.hooks.ActivationCache;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.HookPoint;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.hooks.Positions;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import dev.lens4j.tensor.TensorScope;
import dev.lens4j.tokenize.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * TransformerLens's HookedTransformer over a native {@link Backend}: one config-driven block covers GPT-2
 * (LayerNorm, learned positions, GELU MLP) and Llama (RMSNorm, rotary, grouped-query attention, SwiGLU).
 * Every TL hook point fires once per forward with TL's name and shape (see {@link HookNames#all}).
 * Owns its weights; close() frees them.
 */
public final class HookedTransformer implements AutoCloseable {
    private final Config cfg;
    private final Weights weights;
    private final Backend backend;
    private final Tokenizer tokenizer;
    private final Activation act;
    private final Tensor rotaryCos, rotarySin;
    private final List<String> hookNames;
    // W_Q / W_K / W_V repacked as [d_model, heads * d_head] so each projection is one GEMM, not one per head
    private Tensor[] packedQ, packedK, packedV;
    private volatile boolean closed;

    public HookedTransformer(Config cfg, Weights weights, Tokenizer tokenizer, Backend backend) {
        this.cfg = cfg.validate();
        this.weights = weights;
        this.backend = backend == null ? CpuBackend.get() : backend;
        this.tokenizer = tokenizer;
        this.act = Activation.of(cfg.actFn);
        checkWeights();
        if (cfg.isRotary()) {
            Tensor[] t = rotaryTables(cfg);
            rotaryCos = t[0];
            rotarySin = t[1];
        } else {
            rotaryCos = rotarySin = null;
        }
        this.hookNames = List.copyOf(HookNames.all(cfg));
        weightsChanged();
    }

    /**
     * Rebuild what the forward pass derives from the weights (packed attention projections). Call after editing
     * W_Q, W_K or W_V in place; the other weights are read directly.
     */
    public void weightsChanged() {
        closePacked();
        int L = cfg.nLayers;
        packedQ = new Tensor[L]; packedK = new Tensor[L]; packedV = new Tensor[L];
        for (int l = 0; l < L; l++) {
            packedQ[l] = pack(weights.W_Q(l));
            packedK[l] = pack(weights.W_K(l));
            packedV[l] = pack(weights.W_V(l));
        }
    }

    /** [heads, d_model, d_head] -> [d_model, heads * d_head]. */
    private Tensor pack(Tensor w) {
        int H = (int) w.size(0), D = (int) w.size(1), dh = (int) w.size(2);
        float[] src = w.toFloatArray(), dst = new float[src.length];
        for (int h = 0; h < H; h++)
            for (int d = 0; d < D; d++)
                System.arraycopy(src, (h * D + d) * dh, dst, d * H * dh + h * dh, dh);
        Tensor t = TensorScope.detach(Tensor.of(dst, D, (long) H * dh));
        if (!backend.device().isCpu()) {
            try (t) { return TensorScope.detach(t.to(backend.device())); }
        }
        return t;
    }

    private void closePacked() {
        if (packedQ == null) return;
        for (Tensor[] ts : new Tensor[][] {packedQ, packedK, packedV}) for (Tensor t : ts) if (t != null) t.close();
        packedQ = packedK = packedV = null;
    }

    public HookedTransformer(Config cfg, Weights weights) { this(cfg, weights, null, null); }

    /** TL's from_pretrained (weights processed as TL's defaults) from a local checkpoint. */
    public static HookedTransformer fromPretrained(java.nio.file.Path model) {
        return Pretrained.load(model, null, dev.lens4j.load.LoadOptions.defaults(), null);
    }

    /** TL's HookedTransformer(cfg): a config-built model with TL's default initialisation (seed cfg.seed). */
    public static HookedTransformer fromConfig(Config cfg) {
        return new HookedTransformer(cfg, dev.lens4j.train.Init.initWeights(cfg), null, null);
    }

    /** TL's from_pretrained_no_processing. */
    public static HookedTransformer fromPretrainedNoProcessing(java.nio.file.Path model) {
        return Pretrained.load(model, null, dev.lens4j.load.LoadOptions.noProcessing(), null);
    }

    /** From a local checkpoint with an explicit tokenizer (null: found beside the model), options and backend. */
    public static HookedTransformer fromPretrained(java.nio.file.Path model, java.nio.file.Path tokenizer,
                                                   dev.lens4j.load.LoadOptions options, Backend backend) {
        return Pretrained.load(model, tokenizer, options, backend);
    }

    public Config cfg() { return cfg; }
    public Weights weights() { return weights; }
    public Backend backend() { return backend; }
    public Tokenizer tokenizer() {
        if (tokenizer == null) throw new IllegalStateException("this model has no tokenizer: pass one when loading, or give token ids");
        return tokenizer;
    }
    public boolean hasTokenizer() { return tokenizer != null; }

    /** Every hook point name, in firing order (TL: model.hook_dict.keys()). */
    public List<String> hookNames() { return hookNames; }

    // ------------------------------------------------------------------------------------------ tokens

    /** TL's to_tokens: BOS prepended when the config says so (the default). */
    public int[] toTokens(String text) { return toTokens(text, cfg.defaultPrependBos); }

    public int[] toTokens(String text, boolean prependBos) {
        int[] ids = tokenizer().encode(text);
        if (!prependBos) return ids;
        int bos = tokenizer().bosTokenId().orElseThrow(() -> new IllegalStateException("tokenizer has no BOS token; use prependBos=false"));
        int[] out = new int[ids.length + 1];
        out[0] = bos;
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** TL's to_str_tokens. */
    public List<String> toStrTokens(String text) { return toStrTokens(toTokens(text)); }

    public List<String> toStrTokens(String text, boolean prependBos) { return toStrTokens(toTokens(text, prependBos)); }

    public List<String> toStrTokens(int[] tokens) {
        List<String> out = new ArrayList<>(tokens.length);
        for (int t : tokens) out.add(tokenizer().tokenString(t));
        return out;
    }

    /** TL's to_string. */
    public String toString(int[] tokens) { return tokenizer().decode(tokens); }

    /** TL's to_single_token: the id of a text that must be exactly one token. */
    public int toSingleToken(String text) {
        int[] ids = tokenizer().encode(text);
        if (ids.length != 1)
            throw new IllegalArgumentException("'" + text + "' is " + ids.length + " tokens " + toStrTokens(ids) + ", not a single token");
        return ids[0];
    }

    // ------------------------------------------------------------------------------------------ running

    /** Options of one forward pass. */
    public static final class RunOptions {
        Hooks hooks = Hooks.none();
        Predicate<String> cacheFilter;       // null: no cache
        Positions cachePositions = Positions.all();
        int stopAtLayer = -1;                // -1: run every block
        boolean logitsLastOnly;
        boolean noLogits;

        public RunOptions hooks(Hooks h) { this.hooks = h == null ? Hooks.none() : h; return this; }
        /** Cache the hook points the filter accepts (TL's names_filter). */
        public RunOptions cache(Predicate<String> namesFilter) { this.cacheFilter = namesFilter; return this; }
        public RunOptions cacheAll() { return cache(n -> true); }
        public RunOptions cacheRegex(String regex) { Pattern p = Pattern.compile(regex); return cache(n -> p.matcher(n).find()); }
        public RunOptions cacheNames(String... names) { List<String> l = List.of(names); return cache(l::contains); }
        /** TL's pos_slice: keep only these positions in cached activations. */
        public RunOptions cachePositions(Positions p) { this.cachePositions = p; return this; }
        /** TL's stop_at_layer: run blocks 0..layer-1 and return the residual stream (no logits). */
        public RunOptions stopAtLayer(int layer) { this.stopAtLayer = layer; return this; }
        /** Unembed only the last position: logits [batch, 1, d_vocab_out]. */
        public RunOptions logitsLastOnly(boolean b) { this.logitsLastOnly = b; return this; }
        public RunOptions noLogits(boolean b) { this.noLogits = b; return this; }

        // backward passes (see backward()): TL's bwd_hooks, run_with_cache(incl_bwd=True), parameter gradients
        Hooks bwdHooks = Hooks.none();
        Predicate<String> gradFilter;        // null: no gradient cache
        Predicate<String> weightGradFilter;  // null: no weight gradients (the default)

        /** Backward hooks: read, modify in place, or replace the gradient at a hook point. */
        public RunOptions bwdHooks(Hooks h) { this.bwdHooks = h == null ? Hooks.none() : h; return this; }
        /** Cache the gradient at the hook points the filter accepts. */
        public RunOptions cacheGrads(Predicate<String> namesFilter) { this.gradFilter = namesFilter; return this; }
        public RunOptions cacheAllGrads() { return cacheGrads(n -> true); }
        public RunOptions cacheGradsRegex(String regex) { Pattern p = Pattern.compile(regex); return cacheGrads(n -> p.matcher(n).find()); }
        /** Compute gradients of the weights whose TL names the filter accepts (e.g. all but biases: n -> !n.contains(".b_")). */
        public RunOptions weightGrads(Predicate<String> requiresGrad) { this.weightGradFilter = requiresGrad; return this; }
        public RunOptions allWeightGrads() { return weightGrads(n -> true); }
    }

    /** What a backward pass returns: the metric's value, gradients by hook name, weight gradients; owns its tensors. */
    public static final class Gradients implements AutoCloseable {
        private double value;
        private final ActivationCache cache, grads;
        private final Weights weightGrads;

        Gradients(ActivationCache cache, ActivationCache grads, Weights weightGrads) {
            this.cache = cache; this.grads = grads; this.weightGrads = weightGrads;
        }

        /** The metric's value on this forward pass. */
        public double value() { return value; }
        /** Forward activations, if a cache was asked for. */
        public ActivationCache cache() {
            if (cache == null) throw new IllegalStateException("no forward cache was asked for");
            return cache;
        }
        /** d metric / d activation by hook name (TL's cache[name + "_grad"] of run_with_cache(incl_bwd=True)). */
        public ActivationCache grads() {
            if (grads == null) throw new IllegalStateException("no gradient cache was asked for: use RunOptions.cacheGrads");
            return grads;
        }
        /** d metric / d weight under TL's parameter names, for the weights asked for. */
        public Weights weightGrads() {
            if (weightGrads == null) throw new IllegalStateException("no weight gradients were asked for: use RunOptions.weightGrads");
            return weightGrads;
        }

        @Override public void close() {
            if (cache != null) cache.close();
            if (grads != null) grads.close();
            if (weightGrads != null) weightGrads.close();
        }
    }

    /**
     * Forward, metric, and reverse pass in one call (TL: run_with_cache(incl_bwd=True) then metric.backward()).
     * By default only the gradients named in the options are kept; no weight gradients are computed unless asked.
     */
    public Gradients backward(int[][] tokens, Metric metric, RunOptions o) {
        try (Tensor t = tokenTensor(tokens)) { return backward(t, metric, o); }
    }

    public Gradients backward(Tensor tokens, Metric metric, RunOptions o) {
        if (metric == null) throw new IllegalArgumentException("no metric given");
        checkRunnable(tokens);
        if (o.stopAtLayer != -1) throw new IllegalArgumentException("stop_at_layer is not supported with backward()");
        int B = (int) tokens.size(0), S = (int) tokens.size(1);
        ActivationCache cache = o.cacheFilter == null ? null : new ActivationCache(o.cachePositions);
        if (cache != null) o.cachePositions.resolve(S);
        ActivationCache gradCache = o.gradFilter == null ? null : new ActivationCache(Positions.all());
        Weights wg = null;
        if (o.weightGradFilter != null) {
            wg = new Weights();
            for (var e : weights.asMap().entrySet())
                if (o.weightGradFilter.test(e.getKey())) wg.put(e.getKey(), backend.zeros(e.getValue().shape()));
        }
        Gradients out = new Gradients(cache, gradCache, wg);
        boolean ok = false;
        boolean lastOnly = o.logitsLastOnly;
        try (TensorScope scope = TensorScope.open()) {
            o.logitsLastOnly = metric.lastPositionOnly();
            Tape tape = new Tape(cfg.nLayers);
            tape.tokens = tokens;
            Run r = new Run(o, cache, scope, B, S, tape);
            Tensor x = r.embed(tokens);
            for (int l = 0; l < cfg.nLayers; l++) x = r.block(l, x);
            Tensor logits = r.unembed(x);
            int P = (int) logits.size(1), V = (int) logits.size(2);
            float[] lg = logits.toFloatArray(), dl = new float[lg.length];
            out.value = metric.evaluate(lg, B, P, V, dl);
            if (!Double.isFinite(out.value)) throw new ArithmeticException("the metric's value is " + out.value);
            Tensor dLogits = backend.zeros(logits.shape()).set(dl);
            new Backprop(this, tape, o.bwdHooks, gradCache, o.gradFilter, wg, scope, B, S, packedQ, packedK, packedV).run(dLogits);
            ok = true;
            return out;
        } finally {
            o.logitsLastOnly = lastOnly;
            if (!ok) out.close();
        }
    }

    Activation activation() { return act; }
    Tensor rotaryCos() { return rotaryCos; }
    Tensor rotarySin() { return rotarySin; }

    /** What a forward pass returns; owns its tensors. */
    public static final class Output implements AutoCloseable {
        private Tensor logits;
        private Tensor residual;
        private final ActivationCache cache;

        Output(ActivationCache cache) { this.cache = cache; }

        /** [batch, pos, d_vocab_out] (pos = 1 with logitsLastOnly); null with stopAtLayer or noLogits. */
        public Tensor logits() { return logits; }
        /** The residual stream where the run stopped (stopAtLayer), [batch, pos, d_model]. */
        public Tensor residual() { return residual; }
        public ActivationCache cache() {
            if (cache == null) throw new IllegalStateException("this run cached nothing: ask for a cache in RunOptions");
            return cache;
        }
        /** Hand the logits to the caller (they survive close()). */
        public Tensor takeLogits() { Tensor t = logits; logits = null; return t; }

        @Override public void close() {
            if (logits != null) logits.close();
            if (residual != null) residual.close();
            if (cache != null) cache.close();
        }
    }

    /** TL's model(tokens): logits [batch, pos, d_vocab_out], owned by the caller. */
    public Tensor forward(int[]... tokens) {
        try (Output o = run(tokens, new RunOptions())) { return o.takeLogits(); }
    }

    /** TL's run_with_cache: logits and every hook point. */
    public Output runWithCache(int[]... tokens) { return run(tokens, new RunOptions().cacheAll()); }

    public Output runWithCache(int[][] tokens, RunOptions options) {
        if (options.cacheFilter == null) options.cacheAll();
        return run(tokens, options);
    }

    /** TL's run_with_hooks: hooks live for this run only. Returns the logits, owned by the caller. */
    public Tensor runWithHooks(int[][] tokens, Hooks hooks) {
        try (Output o = run(tokens, new RunOptions().hooks(hooks))) { return o.takeLogits(); }
    }

    public Output run(int[][] tokens, RunOptions options) {
        try (Tensor t = tokenTensor(tokens)) { return run(t, options); }
    }

    /** Tokens as an I32 tensor [batch, pos]; every row must have the same length. */
    public Tensor tokenTensor(int[][] tokens) {
        if (tokens == null || tokens.length == 0) throw new IllegalArgumentException("no token sequences given");
        int seq = tokens[0].length;
        int[] flat = new int[tokens.length * seq];
        for (int b = 0; b < tokens.length; b++) {
            if (tokens[b].length != seq)
                throw new IllegalArgumentException("sequence " + b + " has " + tokens[b].length + " tokens, sequence 0 has " + seq + ": batches must be rectangular");
            System.arraycopy(tokens[b], 0, flat, b * seq, seq);
        }
        return Tensor.ofInts(flat, tokens.length, seq);
    }

    /** The forward pass over tokens [batch, pos] (I32). */
    public Output run(Tensor tokens, RunOptions o) {
        checkRunnable(tokens);
        if (o.stopAtLayer > cfg.nLayers || o.stopAtLayer < -1)
            throw new IllegalArgumentException("stop_at_layer " + o.stopAtLayer + " outside [0, " + cfg.nLayers + "]");
        int B = (int) tokens.size(0), S = (int) tokens.size(1);
        ActivationCache cache = o.cacheFilter == null ? null : new ActivationCache(o.cachePositions);
        if (cache != null) o.cachePositions.resolve(S); // fail early on a bad position
        Output out = new Output(cache);
        boolean ok = false;
        try (TensorScope scope = TensorScope.open()) {
            Run r = new Run(o, cache, scope, B, S, null);
            Tensor x = r.embed(tokens);
            int last = o.stopAtLayer >= 0 ? o.stopAtLayer : cfg.nLayers;
            for (int l = 0; l < last; l++) x = r.block(l, x);
            if (o.stopAtLayer >= 0) {
                out.residual = r.own(x);
            } else if (!o.noLogits) {
                out.logits = r.own(r.unembed(x));
            }
            ok = true;
            return out;
        } finally {
            if (!ok) out.close();
        }
    }

    private void checkRunnable(Tensor tokens) {
        if (closed) throw new IllegalStateException("model '" + cfg.modelName + "' is closed (its weights are freed)");
        // the forward reads packed copies of W_Q/K/V, so check every weight here rather than rely on access
        for (var e : weights.asMap().entrySet())
            if (e.getValue().isClosed()) throw new IllegalStateException("weight '" + e.getKey() + "' is closed");
        validateTokens(tokens);
    }

    private void validateTokens(Tensor tokens) {
        if (tokens.dtype() != DType.I32 || tokens.rank() != 2)
            throw new IllegalArgumentException("tokens must be an I32 tensor [batch, pos], got " + tokens.describe());
        long S = tokens.size(1);
        if (S == 0) throw new IllegalArgumentException("empty prompt: no tokens to run");
        if (S > cfg.nCtx)
            throw new IllegalArgumentException("prompt of " + S + " tokens is longer than the model's context n_ctx = " + cfg.nCtx);
        int[] ids = tokens.toIntArray();
        int V = cfg.dVocab;
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= V)
                throw new IllegalArgumentException("token id " + ids[i] + " (sequence " + i / S + ", position " + i % S + ") is outside the vocabulary [0, " + V + ")");
    }

    /** State of one forward pass: hooks, cache, the scope that owns intermediates. */
    private final class Run {
        final RunOptions o;
        final ActivationCache cache;
        final TensorScope scope;
        final int B, S;
        final long N;
        final Tape tape; // non-null when a backward pass follows

        Run(RunOptions o, ActivationCache cache, TensorScope scope, int B, int S, Tape tape) {
            this.o = o; this.cache = cache; this.scope = scope; this.B = B; this.S = S; this.N = (long) B * S;
            this.tape = tape;
        }

        boolean caching(String name) { return cache != null && o.cacheFilter.test(name); }
        boolean hooked(String name) { return o.hooks.anyMatch(name); }
        boolean wanted(String name) { return caching(name) || hooked(name); }

        /** Runs the hooks at this point, then caches; returns the (possibly replaced) activation. */
        Tensor fire(String name, int layer, Tensor t) {
            Tensor cur = t;
            if (!o.hooks.isEmpty()) {
                HookPoint hp = new HookPoint(name, layer);
                for (Hooks.Entry e : o.hooks.entries()) {
                    if (!e.filter().test(name)) continue;
                    Tensor r = e.fn().apply(cur, hp);
                    if (r != null && r != cur) {
                        if (!Arrays.equals(r.shape(), cur.shape()))
                            throw new IllegalArgumentException("hook at " + name + " returned shape " + Arrays.toString(r.shape())
                                    + ", expected " + Arrays.toString(cur.shape()));
                        if (r.device() != null && !r.device().equals(backend.device()))
                            throw new IllegalArgumentException("hook at " + name + " returned a tensor on " + r.device() + ", model runs on " + backend.device());
                        cur = r;
                    }
                }
            }
            if (caching(name)) cache.put(name, snapshot(cur, name));
            return cur;
        }

        /** The cached copy: the tensor itself when we own it whole (it is never written again), else a copy. */
        private Tensor snapshot(Tensor t, String name) {
            if (!cache.positions().isAll()) {
                int dim = name.endsWith("hook_attn_scores") || name.endsWith("hook_pattern") ? 2 : 1;
                int[] idx = cache.positions().resolve(S);
                long[] shape = t.shape();
                shape[dim] = idx.length;
                Tensor out = Tensor.zeros(backend.device(), DType.F32, shape);
                scope.release(out);
                backend.gather(t, dim, idx, out);
                return out;
            }
            if (!t.isView() && scope.release(t)) return t;
            Tensor c = t.copy();
            scope.release(c);
            return c;
        }

        /** Hand a tensor out of the scope (copying views and tensors the scope no longer owns, e.g. cached ones). */
        Tensor own(Tensor t) {
            if (!t.isView() && scope.release(t)) return t;
            Tensor c = t.copy();
            scope.release(c);
            return c;
        }

        // every forward output below is written entirely by its kernel, so skip zero-filling
        Tensor z(long... shape) { return backend.empty(shape); }

        Tensor embed(Tensor tokens) {
            long D = cfg.dModel;
            Tensor e = z(B, S, D);
            backend.embed(tokens, weights.W_E(), e);
            e = fire(HookNames.EMBED, -1, e);
            if (cfg.isRotary()) return e;
            Tensor p = z(B, S, D);
            backend.posEmbed(B, S, 0, weights.W_pos(), p);
            p = fire(HookNames.POS_EMBED, -1, p);
            Tensor x = z(B, S, D);
            backend.add(e, p, x);
            return x;
        }

        /** TL's LayerNorm / LayerNormPre / RMSNorm / RMSNormPre with hook_scale and hook_normalized. */
        Tensor norm(String prefix, int layer, Tensor x, String wName, String bName) {
            if (cfg.normalizationType == null) return x;
            long D = cfg.dModel;
            String scaleName = prefix + "hook_scale", normName = prefix + "hook_normalized";
            if (hooked(scaleName))
                throw new UnsupportedOperationException("hooks on " + scaleName + " are not supported (read it from the cache instead)");
            Tensor scale = z(B, S, 1);
            Tensor out = z(B, S, D);
            float eps = (float) cfg.eps;
            Tensor w = cfg.hasNormWeights() ? weights.get(wName) : null;
            Tensor result, normalized;
            if (cfg.isLayerNorm()) {
                Tensor b = cfg.hasNormWeights() ? weights.get(bName) : null;
                backend.layerNorm(x, w, b, eps, out, scale);
                fire(scaleName, layer, scale);
                result = normalized = fire(normName, layer, out);
            } else if (w == null) {
                backend.rmsNorm(x, null, eps, out, scale, null);
                fire(scaleName, layer, scale);
                result = normalized = fire(normName, layer, out);
            } else if (wanted(normName) || tape != null) { // TL's RMS hook_normalized is before the weight
                backend.rmsNorm(x, null, eps, out, scale, null);
                fire(scaleName, layer, scale);
                normalized = fire(normName, layer, out);
                result = z(B, S, D);
                backend.scaleCols(normalized, w, result);
            } else {
                backend.rmsNorm(x, w, eps, out, scale, null);
                fire(scaleName, layer, scale);
                result = out;
                normalized = null;
            }
            if (tape != null) tape.norms.put(prefix, new Tape.Norm(x, scale, normalized, result));
            return result;
        }

        /** [B, S, heads, d_head] = x @ W + b with W packed [d_model, heads * d_head] and b [heads, d_head]. */
        Tensor project(Tensor x, Tensor packed, Tensor b, int heads) {
            Tensor out = z(B, S, heads, cfg.dHead);
            backend.linear(x, packed, b, out);
            return out;
        }

        Tensor block(int l, Tensor residPre) {
            long D = cfg.dModel;
            int nH = cfg.nHeads, nKv = cfg.nKvHeads();
            Tensor resid = fire(HookNames.residPre(l), l, residPre);
            Tape.Layer t = tape == null ? null : tape.layers[l];
            if (t != null) t.residPre = resid;

            // attention
            Tensor a = norm("blocks." + l + ".ln1.", l, resid, Weights.ln(l, 1, "w"), Weights.ln(l, 1, "b"));
            Tensor q = fire(HookNames.q(l), l, project(a, packedQ[l], weights.b_Q(l), nH));
            Tensor k = fire(HookNames.k(l), l, project(a, packedK[l], weights.b_K(l), nKv));
            Tensor v = fire(HookNames.v(l), l, project(a, packedV[l], weights.b_V(l), nKv));
            if (cfg.isRotary()) {
                Tensor rq = z(q.shape()), rk = z(k.shape());
                backend.rotary(q, cfg.rotaryDim(), 0, rotaryCos, rotarySin, cfg.rotaryAdjacentPairs, rq);
                backend.rotary(k, cfg.rotaryDim(), 0, rotaryCos, rotarySin, cfg.rotaryAdjacentPairs, rk);
                q = fire(HookNames.rotQ(l), l, rq);
                k = fire(HookNames.rotK(l), l, rk);
            }
            if (t != null) { t.rq = q; t.rk = k; t.v = v; }
            float scale = (float) (1.0 / cfg.attnScale());
            Tensor zt = z(B, S, nH, cfg.dHead);
            String scoresName = HookNames.attnScores(l), patternName = HookNames.pattern(l);
            if (hooked(scoresName) || hooked(patternName)) {
                // split path: hooks may rewrite scores or pattern between the steps
                Tensor scores = z(B, nH, S, S);
                backend.attnScores(q, k, scale, scores);
                scores = fire(scoresName, l, scores);
                Tensor pattern = z(B, nH, S, S);
                backend.softmax(scores, pattern);
                if (t != null && hooked(patternName)) t.probs = pattern.copy(); // softmax backward needs the unhooked value
                pattern = fire(patternName, l, pattern);
                backend.attnApply(pattern, v, zt);
                if (t != null) t.pattern = pattern;
            } else {
                // fused "hooked attention": scores and pattern are written only when cached
                Tensor scores = caching(scoresName) ? z(B, nH, S, S) : null;
                Tensor pattern = caching(patternName) || t != null ? z(B, nH, S, S) : null;
                backend.attention(q, k, v, scale, zt, scores, pattern);
                if (scores != null) fire(scoresName, l, scores);
                if (pattern != null) fire(patternName, l, pattern);
                if (t != null) t.pattern = pattern;
            }
            zt = fire(HookNames.z(l), l, zt);
            if (t != null) t.z = zt;
            Tensor attnOut = z(B, S, D);
            long HD = (long) nH * cfg.dHead;
            // W_O [heads, d_head, d_model] is already the [heads*d_head, d_model] matrix z needs
            backend.gemm(false, false, N, D, HD, 1f, zt, 0, HD, weights.W_O(l), 0, D, 0f, attnOut, 0, D, weights.b_O(l), 0);
            attnOut = fire(HookNames.attnOut(l), l, attnOut);

            if (cfg.attnOnly) {
                Tensor post = z(B, S, D);
                backend.add(resid, attnOut, post);
                return fire(HookNames.residPost(l), l, post);
            }
            Tensor mid = z(B, S, D);
            backend.add(resid, attnOut, mid);
            mid = fire(HookNames.residMid(l), l, mid);
            if (t != null) t.mid = mid;

            // MLP
            Tensor m = norm("blocks." + l + ".ln2.", l, mid, Weights.ln(l, 2, "w"), Weights.ln(l, 2, "b"));
            long F = cfg.dMlp;
            Tensor post = z(B, S, F);
            if (cfg.gatedMlp) {
                // TL's GatedMLP: hook_pre = x @ W_gate, hook_pre_linear = x @ W_in, post = act(pre) * pre_linear + b_in
                Tensor pre = z(B, S, F);
                backend.linear(m, weights.W_gate(l), null, pre);
                pre = fire(HookNames.mlpPre(l), l, pre);
                Tensor lin = z(B, S, F);
                backend.linear(m, weights.W_in(l), null, lin);
                lin = fire(HookNames.mlpPreLinear(l), l, lin);
                backend.gatedActivation(act, pre, lin, post);
                backend.addBias(post, weights.b_in(l), post);
                if (t != null) { t.pre = pre; t.lin = lin; }
            } else {
                Tensor pre = z(B, S, F);
                backend.linear(m, weights.W_in(l), weights.b_in(l), pre);
                pre = fire(HookNames.mlpPre(l), l, pre);
                backend.activation(act, pre, post);
                if (t != null) t.pre = pre;
            }
            post = fire(HookNames.mlpPost(l), l, post);
            if (t != null) t.post = post;
            Tensor mlpOut = z(B, S, D);
            backend.linear(post, weights.W_out(l), weights.b_out(l), mlpOut);
            mlpOut = fire(HookNames.mlpOut(l), l, mlpOut);
            Tensor residPost = z(B, S, D);
            backend.add(mid, mlpOut, residPost);
            return fire(HookNames.residPost(l), l, residPost);
        }

        Tensor unembed(Tensor x) {
            Tensor h = norm("ln_final.", -1, x, "ln_final.w", "ln_final.b");
            long D = cfg.dModel, V = cfg.dVocabOut();
            if (tape != null) { tape.lastOnly = o.logitsLastOnly; tape.unembedIn = h; }
            if (o.logitsLastOnly) {
                Tensor lastRows = z(B, 1, D);
                backend.gather(h, 1, new int[] {S - 1}, lastRows);
                if (tape != null) tape.unembedIn = lastRows;
                Tensor logits = z(B, 1, V);
                backend.linear(lastRows, weights.W_U(), weights.b_U(), logits);
                return logits;
            }
            Tensor logits = z(B, S, V);
            backend.linear(h, weights.W_U(), weights.b_U(), logits);
            return logits;
        }
    }

    // ------------------------------------------------------------------------------------------ losses

    /** TL's loss_per_token: next-token cross-entropy [batch, pos - 1], owned by the caller. */
    public Tensor lossPerToken(int[]... tokens) {
        try (Tensor t = tokenTensor(tokens); Output o = run(t, new RunOptions())) {
            return lossPerToken(o.logits(), tokens);
        }
    }

    /** Next-token cross-entropy of given logits [batch, pos, vocab] for tokens [batch][pos]. */
    public Tensor lossPerToken(Tensor logits, int[][] tokens) {
        int B = tokens.length, S = tokens[0].length;
        if (S < 2) throw new IllegalArgumentException("loss needs at least 2 tokens per sequence, got " + S);
        long V = logits.size(-1);
        int[] targets = new int[B * S];
        for (int b = 0; b < B; b++) for (int p = 0; p + 1 < S; p++) targets[b * S + p] = tokens[b][p + 1];
        try (TensorScope s = TensorScope.open()) {
            Tensor tt = Tensor.ofInts(targets, B * S);
            Tensor all = backend.zeros(B * S);
            backend.crossEntropy(logits.reshape(B * S, V), tt, all);
            float[] a = all.toFloatArray();
            float[] out = new float[B * (S - 1)];
            for (int b = 0; b < B; b++) System.arraycopy(a, b * S, out, b * (S - 1), S - 1);
            return s.keep(Tensor.of(out, B, S - 1));
        }
    }

    /** TL's model(tokens, return_type="loss"): mean next-token cross-entropy. */
    public double loss(int[]... tokens) {
        try (Tensor l = lossPerToken(tokens)) {
            double s = 0;
            for (float v : l.toFloatArray()) s += v;
            return s / l.numel();
        }
    }

    // ------------------------------------------------------------------------------------------ generation

    /** Greedy continuation of a token sequence; stops early at EOS (when the tokenizer has one). */
    public int[] generate(int[] tokens, int maxNewTokens) {
        if (maxNewTokens < 0) throw new IllegalArgumentException("max_new_tokens must be >= 0, got " + maxNewTokens);
        if (tokens.length == 0) throw new IllegalArgumentException("generation needs at least one token (e.g. BOS)");
        int[] seq = tokens.clone();
        int eos = tokenizer != null ? tokenizer.eosTokenId().orElse(-1) : -1;
        for (int i = 0; i < maxNewTokens && seq.length < cfg.nCtx; i++) {
            int next;
            try (Output o = run(new int[][] {seq}, new RunOptions().logitsLastOnly(true))) {
                next = argmax(o.logits().toFloatArray());
            }
            seq = Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = next;
            if (next == eos) break;
        }
        return seq;
    }

    /** Greedy text continuation (TL's generate with do_sample=False); returns only the new text. */
    public String generate(String prompt, int maxNewTokens) {
        int[] start = prompt.isEmpty() ? toTokens("", true) : toTokens(prompt);
        int[] all = generate(start, maxNewTokens);
        // decode in context (tokenizers such as SentencePiece drop or keep spaces depending on what precedes)
        String whole = tokenizer().decode(all), head = tokenizer().decode(start);
        return whole.startsWith(head) ? whole.substring(head.length())
                : tokenizer().decode(Arrays.copyOfRange(all, start.length, all.length));
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    // ------------------------------------------------------------------------------------------ test_prompt

    /** TL's utils.test_prompt: the top-k next tokens after the prompt and the rank of the answer's first token. */
    public TestPrompt testPrompt(String prompt, String answer, int topK) {
        if (topK <= 0) throw new IllegalArgumentException("top-k must be > 0, got " + topK);
        int[] promptTokens = toTokens(prompt);
        int[] answerTokens = answer == null ? new int[0] : answerTokens(prompt, answer);
        float[] logits;
        try (Output o = run(new int[][] {promptTokens}, new RunOptions().logitsLastOnly(true))) {
            logits = o.logits().toFloatArray();
        }
        return TestPrompt.of(this, prompt, promptTokens, answer, answerTokens, logits, topK);
    }

    /**
     * The answer's tokens as the model would see them after the prompt: the tail of encode(prompt + answer) when
     * encode(prompt) is its prefix (so SentencePiece-style tokenizers add no dummy space), else encode(answer).
     */
    public int[] answerTokens(String prompt, String answer) {
        int[] p = tokenizer().encode(prompt), both = tokenizer().encode(prompt + answer);
        if (both.length > p.length && Arrays.equals(p, Arrays.copyOf(both, p.length)))
            return Arrays.copyOfRange(both, p.length, both.length);
        return tokenizer().encode(answer);
    }

    /**
     * The one token an answer text becomes after the prompt ({@link #answerTokens}: tokenised in context, so " Yes"
     * after "Answer:" is what the model would emit). Throws naming the text and its tokens when it is not one token.
     */
    public int answerToken(String prompt, String answer) {
        if (answer == null || answer.isEmpty()) throw new IllegalArgumentException("empty answer text: give the token's text, e.g. ' Yes'");
        int[] ids = answerTokens(prompt, answer);
        if (ids.length != 1)
            throw new IllegalArgumentException("answer '" + answer + "' is " + ids.length + " tokens " + toStrTokens(ids)
                    + " after the prompt, not a single token (try it with or without a leading space)");
        return ids[0];
    }

    // ------------------------------------------------------------------------------------------ setup

    private static final long MAX_ROTARY_ENTRIES = 1L << 26;

    private static Tensor[] rotaryTables(Config cfg) {
        int half = cfg.rotaryDim() / 2, n = cfg.nCtx;
        // n_ctx comes from a config file and may be absurd (5e8): say so instead of running out of heap or computing for
        // minutes. The limit holds a 1M-token context at d_head 128 (Qwen2.5-1M: 6.5e7 entries).
        long entries = (long) n * half, bytes = 2 * 4 * entries;
        long free = Runtime.getRuntime().maxMemory() - (Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory());
        if (entries > MAX_ROTARY_ENTRIES || bytes > free / 2)
            throw new IllegalArgumentException("config: n_ctx " + n + " needs " + (bytes >> 20) + " MB of rotary tables (n_ctx x rotary_dim / 2 x 2 floats); "
                + "the limit is " + (8 * MAX_ROTARY_ENTRIES >> 20) + " MB and the JVM has " + (free >> 20) + " MB free");
        float[] c = new float[n * half], s = new float[n * half];
        double[] wavelength = new double[half]; // hoisted: pow per entry made a large n_ctx take minutes
        for (int i = 0; i < half; i++) wavelength[i] = Math.pow(cfg.rotaryBase, (double) i / half);
        for (int p = 0; p < n; p++)
            for (int i = 0; i < half; i++) {
                double angle = p / wavelength[i];
                c[p * half + i] = (float) Math.cos(angle);
                s[p * half + i] = (float) Math.sin(angle);
            }
        Tensor cos = TensorScope.detach(Tensor.of(c, n, half).named("rotary.cos"));
        Tensor sin = TensorScope.detach(Tensor.of(s, n, half).named("rotary.sin"));
        return new Tensor[] {cos, sin};
    }

    private void checkWeights() {
        long D = cfg.dModel, H = cfg.dHead, nH = cfg.nHeads, nKv = cfg.nKvHeads(), F = cfg.dMlp;
        need("embed.W_E", cfg.dVocab, D);
        if (!cfg.isRotary()) need("pos_embed.W_pos", cfg.nCtx, D);
        for (int l = 0; l < cfg.nLayers; l++) {
            normWeights("blocks." + l + ".ln1.");
            need(Weights.attn(l, "W_Q"), nH, D, H);
            need(Weights.attn(l, "b_Q"), nH, H);
            need(Weights.kvName(cfg, l, "W_K"), nKv, D, H);
            need(Weights.kvName(cfg, l, "b_K"), nKv, H);
            need(Weights.kvName(cfg, l, "W_V"), nKv, D, H);
            need(Weights.kvName(cfg, l, "b_V"), nKv, H);
            need(Weights.attn(l, "W_O"), nH, H, D);
            need(Weights.attn(l, "b_O"), D);
            if (cfg.attnOnly) continue;
            normWeights("blocks." + l + ".ln2.");
            need(Weights.mlp(l, "W_in"), D, F);
            if (cfg.gatedMlp) need(Weights.mlp(l, "W_gate"), D, F);
            need(Weights.mlp(l, "b_in"), F);
            need(Weights.mlp(l, "W_out"), F, D);
            need(Weights.mlp(l, "b_out"), D);
        }
        normWeights("ln_final.");
        need("unembed.W_U", D, cfg.dVocabOut());
        need("unembed.b_U", cfg.dVocabOut());
    }

    private void normWeights(String prefix) {
        if ("LN".equals(cfg.normalizationType)) { need(prefix + "w", cfg.dModel); need(prefix + "b", cfg.dModel); }
        if ("RMS".equals(cfg.normalizationType)) need(prefix + "w", cfg.dModel);
    }

    private void need(String name, long... shape) {
        Tensor t = weights.getOrNull(name);
        if (t == null) throw new IllegalArgumentException("model weights lack '" + name + "' " + Arrays.toString(shape));
        if (!Arrays.equals(t.shape(), shape))
            throw new IllegalArgumentException("weight '" + name + "' has shape " + Arrays.toString(t.shape()) + ", config needs " + Arrays.toString(shape));
        if (!t.device().equals(backend.device()))
            throw new IllegalArgumentException("weight '" + name + "' is on " + t.device() + ", backend runs on " + backend.device());
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        closePacked();
        weights.close();
        if (rotaryCos != null) { rotaryCos.close(); rotarySin.close(); }
        if (tokenizer != null) {
            try { tokenizer.close(); } catch (Exception e) { throw new IllegalStateException(e); }
        }
    }
}
