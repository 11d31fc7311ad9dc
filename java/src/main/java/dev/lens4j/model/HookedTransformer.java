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
import dev.lens4j.tensor.Device;
import dev.lens4j.tensor.Tensor;
import dev.lens4j.tensor.TensorOps;
import dev.lens4j.tensor.TensorScope;
import dev.lens4j.tokenize.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * TransformerLens's HookedTransformer over a native {@link Backend}: one config-driven block covers GPT-2
 * (LayerNorm, learned positions, GELU MLP) and Llama (RMSNorm, rotary, grouped-query attention, SwiGLU).
 * Every TL hook point fires once per forward with TL's name and shape (see {@link HookNames#all}).
 * Owns its weights; close() frees them.
 * <p>Thread-safe: any number of runs (forward, cache, hooks, backward, generate, tokenizer calls) may share one
 * model across threads and give what a single thread with the same native thread count would. close(),
 * weightsChanged() and editWeights() wait for the runs in flight; runs started meanwhile wait for them; after
 * close() every call throws IllegalStateException.
 */
public final class HookedTransformer implements AutoCloseable {
    private final Config cfg;
    private final Weights weights;
    private final Backend backend;
    private final GuardedTokenizer tokenizer;
    private final Activation act;
    private final RotaryTables rotary; // null unless rotary
    private final List<String> hookNames;
    private final Lifecycle lifecycle;

    /** Takes ownership of the weights and the tokenizer: if construction fails (bad config or weights), they are freed. */
    public HookedTransformer(Config cfg, Weights weights, Tokenizer tokenizer, Backend backend) {
        this.weights = weights;
        this.backend = backend == null ? CpuBackend.get() : backend;
        this.lifecycle = new Lifecycle(cfg.modelName);
        this.tokenizer = tokenizer == null ? null : new GuardedTokenizer(tokenizer, lifecycle);
        RotaryTables rot = null;
        try {
            this.cfg = cfg.validate();
            this.act = Activation.of(cfg.actFn);
            checkWeights();
            rot = cfg.isRotary() ? new RotaryTables(cfg, this.backend.device()) : null;
            this.rotary = rot;
            this.hookNames = List.copyOf(HookNames.all(cfg));
        } catch (RuntimeException | Error e) {
            if (rot != null) rot.close();
            if (weights != null) weights.close();
            if (tokenizer != null) tokenizer.close();
            throw e;
        }
    }

    /**
     * The forward pass reads every weight directly (nothing is derived from them), so edits in place take effect at
     * the next run; this only waits for the runs in flight (runs started meanwhile wait for it) and is kept for code
     * written against TL-style "weights changed" hooks. Editing weight tensors while other threads run the model is
     * a race of the caller's: use {@link #editWeights} for that.
     */
    public void weightsChanged() {
        try (Lifecycle.Held held = lifecycle.exclusive("weightsChanged()")) {
            if (lifecycle.isClosed()) throw lifecycle.closedError();
        }
    }

    /**
     * Edit weights in place while other threads may run the model: waits for runs in flight and keeps new runs
     * waiting while the edit runs, so each run sees the weights wholly before or wholly after the edit. Must not
     * be called from a hook (throws IllegalStateException).
     */
    public void editWeights(Consumer<Weights> edit) {
        try (Lifecycle.Held held = lifecycle.exclusive("editWeights()")) {
            if (lifecycle.isClosed()) throw lifecycle.closedError();
            edit.accept(weights);
        }
    }

    /** Read weights while other threads may close or edit the model (they wait until the reader returns). */
    public <T> T readWeights(Function<Weights, T> reader) {
        try (Lifecycle.Held held = lifecycle.shared()) { return reader.apply(weights); }
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
    /** The weights, for reading and editing; see {@link #readWeights} and {@link #editWeights} when other threads run the model. */
    public Weights weights() {
        if (lifecycle.isClosed()) throw lifecycle.closedError();
        return weights;
    }
    public Backend backend() { return backend; }
    /** The model's tokenizer; each call on it holds the model's guard. The model owns it: its close() does nothing, the model's frees it. */
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

    /** TL's to_tokens on a list of strings: BOS as the config says, padded on the right (TL's default padding_side). */
    public PaddedBatch toTokens(List<String> texts) { return toTokens(texts, PaddedBatch.Side.RIGHT); }

    public PaddedBatch toTokens(List<String> texts, PaddedBatch.Side side) { return toTokens(texts, cfg.defaultPrependBos, side); }

    public PaddedBatch toTokens(List<String> texts, boolean prependBos, PaddedBatch.Side side) {
        if (texts == null || texts.isEmpty()) throw new IllegalArgumentException("no texts given");
        List<int[]> rows = new ArrayList<>(texts.size());
        for (int i = 0; i < texts.size(); i++) {
            if (texts.get(i) == null) throw new IllegalArgumentException("text " + i + " is null");
            int[] ids = toTokens(texts.get(i), prependBos);
            if (ids.length == 0) throw new IllegalArgumentException("text " + i + " ('" + texts.get(i) + "') has no tokens: prepend BOS or give text");
            rows.add(ids);
        }
        return PaddedBatch.of(rows, side, padTokenId());
    }

    /** The id padding is written with: the tokenizer's pad token, else EOS, else BOS (TL sets pad = eos when missing), else 0. */
    public int padTokenId() {
        if (tokenizer == null) return 0;
        return tokenizer.padTokenId().orElse(tokenizer.eosTokenId().orElse(tokenizer.bosTokenId().orElse(0)));
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
        int startAtLayer = -1;               // -1: start from the tokens
        Tensor startResidual;
        boolean logitsLastOnly;
        boolean noLogits;

        public RunOptions hooks(Hooks h) { this.hooks = h == null ? Hooks.none() : h; return this; }
        /** Cache the hook points the filter accepts (TL's names_filter). */
        public RunOptions cache(Predicate<String> namesFilter) { this.cacheFilter = namesFilter; this.cacheNameList = null; return this; }
        public RunOptions cacheAll() { return cache(n -> true); }
        public RunOptions cacheRegex(String regex) { Pattern p = Pattern.compile(regex); return cache(n -> p.matcher(n).find()); }
        /** Cache these hook points; each must be one of the model's (checked when it runs). */
        public RunOptions cacheNames(String... names) { List<String> l = List.of(names); cache(l::contains); cacheNameList = l; return this; }
        List<String> cacheNameList, gradNameList; // names given by name, checked against the model's hook points
        /** TL's pos_slice: keep only these positions in cached activations. */
        public RunOptions cachePositions(Positions p) { this.cachePositions = p; return this; }
        /** TL's stop_at_layer: run blocks 0..layer-1 and return the residual stream (no logits). */
        public RunOptions stopAtLayer(int layer) { this.stopAtLayer = layer; return this; }
        /**
         * TL's start_at_layer: skip the embedding and blocks 0..layer-1 and run from this residual stream
         * [batch, pos, d_model] (what blocks.layer.hook_resid_pre holds; layer = n_layers unembeds it). The tokens
         * are not read and may be null; the caller keeps owning the residual (it is copied, never written).
         */
        public RunOptions startAtLayer(int layer, Tensor residual) {
            if (residual == null) throw new IllegalArgumentException("start_at_layer needs a residual stream, got null");
            this.startAtLayer = layer; this.startResidual = residual; return this;
        }
        /** Unembed only the last position: logits [batch, 1, d_vocab_out]. */
        public RunOptions logitsLastOnly(boolean b) { this.logitsLastOnly = b; return this; }
        public RunOptions noLogits(boolean b) { this.noLogits = b; return this; }
        boolean checkFinite = true;
        /**
         * Whether NaN or infinite logits throw a {@link NonFiniteException} naming the first hook point where they appear
         * (default: they do; found by one scan of the logits, located by a second forward only when they are bad).
         */
        public RunOptions checkFinite(boolean b) { this.checkFinite = b; return this; }

        // backward passes (see backward()): TL's bwd_hooks, run_with_cache(incl_bwd=True), parameter gradients
        Hooks bwdHooks = Hooks.none();
        Predicate<String> gradFilter;        // null: no gradient cache
        Predicate<String> weightGradFilter;  // null: no weight gradients (the default)

        /** Backward hooks: read, modify in place, or replace the gradient at a hook point. */
        public RunOptions bwdHooks(Hooks h) { this.bwdHooks = h == null ? Hooks.none() : h; return this; }
        /** Cache the gradient at the hook points the filter accepts. */
        public RunOptions cacheGrads(Predicate<String> namesFilter) { this.gradFilter = namesFilter; this.gradNameList = null; return this; }
        /** Cache the gradient at these hook points; each must be one of the model's (checked when it runs). */
        public RunOptions cacheGradNames(String... names) { List<String> l = List.of(names); cacheGrads(l::contains); gradNameList = l; return this; }
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
        if (tokens == null && o.startResidual != null) return backward((Tensor) null, metric, o);
        try (Tensor t = tokenTensor(tokens)) { return backward(t, metric, o); }
    }

    public Gradients backward(Tensor tokens, Metric metric, RunOptions o) {
        try (Lifecycle.Held held = lifecycle.shared()) { return backwardPass(tokens, metric, o, null); }
    }

    /** backward() over a padded batch: a last-position metric reads each row's last real token, pad keys are masked. */
    public Gradients backward(PaddedBatch batch, Metric metric, RunOptions o) {
        try (Lifecycle.Held held = lifecycle.shared(); Tensor t = tokenTensor(batch.tokensUnsafe())) { return backwardPass(t, metric, o, batch); }
    }

    private Gradients backwardPass(Tensor tokens, Metric metric, RunOptions o, PaddedBatch pad) {
        if (metric == null) throw new IllegalArgumentException("no metric given");
        boolean fromResidual = o.startResidual != null;
        if (fromResidual && pad != null) throw new IllegalArgumentException("start_at_layer runs a rectangular batch: not with a padded batch");
        if (fromResidual) checkStart(tokens, o); else checkRunnable(tokens);
        checkNames(o);
        if (o.stopAtLayer != -1) throw new IllegalArgumentException("stop_at_layer is not supported with backward()");
        Tensor shaped = fromResidual ? o.startResidual : tokens;
        int B = (int) shaped.size(0), S = (int) shaped.size(1);
        ActivationCache cache = o.cacheFilter == null ? null : new ActivationCache(o.cachePositions).model(this);
        if (cache != null) o.cachePositions.resolve(S);
        if (cache != null && pad != null) cache.attentionMask(pad.attentionMask());
        ActivationCache gradCache = o.gradFilter == null ? null : new ActivationCache(Positions.all());
        Weights wg = null;
        if (o.weightGradFilter != null) {
            wg = new Weights();
            for (var e : weights.asMap().entrySet())
                if (o.weightGradFilter.test(e.getKey())) wg.put(e.getKey(), backend.zeros(e.getValue().shape()));
        }
        Gradients out = new Gradients(cache, gradCache, wg);
        boolean ok = false;
        try (TensorScope scope = TensorScope.open()) {
            Tape tape = new Tape(cfg.nLayers);
            tape.tokens = tokens;
            // the metric decides what to unembed; the caller's options stay untouched (other threads may share them)
            Run r = new Run(o, metric.lastPositionOnly(), cache, scope, B, S, tape).ragged(pad, null);
            // from a residual (start_at_layer) only the later blocks run, and the reverse pass stops at them
            int first = fromResidual ? o.startAtLayer : 0;
            Tensor x = fromResidual ? o.startResidual.to(backend.device()) : r.embed(tokens);
            for (int l = first; l < cfg.nLayers; l++) x = r.block(l, x);
            Tensor logits = r.unembed(x);
            int P = (int) logits.size(1), V = (int) logits.size(2);
            String bad = o.checkFinite ? FiniteCheck.problem(logits) : null;
            if (bad != null) throw FiniteCheck.locate(this, tokens, o, bad, pad, false);
            // the metric runs on the host: the logits come down, dLogits goes up (one copy each way on a device)
            float[] lg = logits.toFloatArray(), dl = new float[lg.length];
            out.value = pad == null || P == 1 ? metric.evaluate(lg, B, P, V, dl) : metric.evaluate(lg, B, P, V, dl, pad.attentionMask());
            if (!Double.isFinite(out.value)) throw new ArithmeticException("the metric's value is " + out.value);
            Tensor dLogits = backend.zeros(logits.shape()).set(dl);
            new Backprop(this, tape, o.bwdHooks, gradCache, o.gradFilter, wg, scope, B, S).run(dLogits, first);
            ok = true;
            return out;
        } finally {
            if (!ok) out.close();
        }
    }

    Activation activation() { return act; }
    /** {cos, sin} rotary tables covering positions [0, positions). */
    Tensor[] rotaryTables(int positions) { return rotary.covering(positions); }

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
        if (tokens == null && options.startResidual != null) return run((Tensor) null, options);
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
        try (Lifecycle.Held held = lifecycle.shared()) { return forwardPass(tokens, o, null, null); }
    }

    /**
     * The forward pass over a padded batch of ragged sequences (TL: model(tokens, attention_mask=...)): pad keys are
     * masked in every attention, positions count from each row's first real token, logitsLastOnly and
     * {@code Positions.lastReal()} read each row's last real token, and the cache keeps the attention mask. Real
     * positions get what each sequence run alone gets.
     */
    public Output run(PaddedBatch batch, RunOptions o) {
        try (Lifecycle.Held held = lifecycle.shared(); Tensor t = tokenTensor(batch.tokensUnsafe())) { return forwardPass(t, o, batch, null); }
    }

    /** TL's run_with_cache on a padded batch: logits and every hook point; cache().attentionMask() tells pad positions. */
    public Output runWithCache(PaddedBatch batch) { return run(batch, new RunOptions().cacheAll()); }

    /** TL's run_with_hooks on a padded batch. Returns the logits, owned by the caller. */
    public Tensor runWithHooks(PaddedBatch batch, Hooks hooks) {
        try (Output o = run(batch, new RunOptions().hooks(hooks))) { return o.takeLogits(); }
    }

    /** TL's model(tokens) for a padded batch: logits [batch, pos, d_vocab_out] (pad positions hold no meaning). */
    public Tensor forward(PaddedBatch batch) {
        try (Output o = run(batch, new RunOptions())) { return o.takeLogits(); }
    }

    private Output forwardPass(Tensor tokens, RunOptions o, PaddedBatch pad, KvCache kv) {
        boolean fromResidual = o.startResidual != null;
        if (fromResidual && (pad != null || kv != null))
            throw new IllegalArgumentException("start_at_layer runs a rectangular batch: not with a padded batch or a KV cache");
        if (fromResidual) checkStart(tokens, o); else checkRunnable(tokens);
        checkNames(o);
        if (kv != null && tokens.size(1) + kv.past() > cfg.nCtx)
            throw new IllegalArgumentException(kv.past() + " cached and " + tokens.size(1) + " new tokens exceed the model's context n_ctx = " + cfg.nCtx);
        if (o.stopAtLayer > cfg.nLayers || o.stopAtLayer < -1)
            throw new IllegalArgumentException("stop_at_layer " + o.stopAtLayer + " outside [0, " + cfg.nLayers + "]");
        Tensor shaped = fromResidual ? o.startResidual : tokens;
        int B = (int) shaped.size(0), S = (int) shaped.size(1);
        ActivationCache cache = o.cacheFilter == null ? null : new ActivationCache(o.cachePositions).model(this);
        if (cache != null) o.cachePositions.resolve(S); // fail early on a bad position
        if (cache != null && pad != null) cache.attentionMask(pad.attentionMask());
        Output out = new Output(cache);
        boolean ok = false;
        try (TensorScope scope = TensorScope.open()) {
            Run r = new Run(o, o.logitsLastOnly, cache, scope, B, S, null).ragged(pad, kv);
            Tensor x = fromResidual ? o.startResidual.to(backend.device()) : r.embed(tokens); // a copy: hooks may write it in place
            int first = fromResidual ? o.startAtLayer : 0, last = o.stopAtLayer >= 0 ? o.stopAtLayer : cfg.nLayers;
            for (int l = first; l < last; l++) x = r.block(l, x);
            if (o.stopAtLayer >= 0) {
                out.residual = r.own(x);
            } else if (!o.noLogits) {
                out.logits = r.own(r.unembed(x));
            }
            if (kv != null) kv.advance(S);
            ok = true;
        } finally {
            if (!ok) out.close();
        }
        String bad = o.checkFinite ? FiniteCheck.problem(out.logits) : null;
        if (bad != null) {
            out.close();
            // a step on top of cached keys cannot be rerun alone; the first (prefill) step can: it is a plain run
            throw FiniteCheck.locate(this, tokens, o, bad, pad, kv != null && kv.past() > tokens.size(1));
        }
        return out;
    }

    /** Hooks and caches asked for by name must name real hook points (TL raises; matching nothing would be silent). */
    private void checkNames(RunOptions o) {
        o.hooks.requireKnownNames(hookNames, "forward hook");
        o.bwdHooks.requireKnownNames(hookNames, "backward hook");
        if (o.cacheNameList != null) for (String n : o.cacheNameList) HookNames.requireKnown(n, hookNames, "cache name");
        if (o.gradNameList != null) for (String n : o.gradNameList) HookNames.requireKnown(n, hookNames, "gradient cache name");
    }

    private void checkRunnable(Tensor tokens) {
        checkOpenWeights();
        validateTokens(tokens);
    }

    private void checkOpenWeights() {
        // a closed weight would be read as freed memory by a native kernel: refuse before running
        for (var e : weights.asMap().entrySet())
            if (e.getValue().isClosed()) throw new IllegalStateException("weight '" + e.getKey() + "' is closed");
    }

    /** start_at_layer: a residual [batch, pos, d_model] on the model's device, a layer the run can start at. */
    private void checkStart(Tensor tokens, RunOptions o) {
        checkOpenWeights();
        Tensor r = o.startResidual;
        r.checkOpen();
        if (o.startAtLayer < 0 || o.startAtLayer > cfg.nLayers)
            throw new IllegalArgumentException("start_at_layer " + o.startAtLayer + " outside [0, " + cfg.nLayers + "]");
        if (o.stopAtLayer >= 0 && o.stopAtLayer < o.startAtLayer)
            throw new IllegalArgumentException("stop_at_layer " + o.stopAtLayer + " is before start_at_layer " + o.startAtLayer);
        if (r.dtype() != DType.F32 || r.rank() != 3 || r.size(2) != cfg.dModel || r.size(0) == 0)
            throw new IllegalArgumentException("start_at_layer needs a residual stream F32 [batch, pos, d_model = " + cfg.dModel + "], got " + r.describe());
        if (!backend.device().equals(r.device()) && !r.device().isCpu()) // a host residual is copied to the model's device
            throw new IllegalArgumentException("start_at_layer residual is on " + r.device() + ", model runs on " + backend.device());
        long S = r.size(1);
        if (S == 0) throw new IllegalArgumentException("empty residual stream: no positions to run");
        if (S > cfg.nCtx)
            throw new IllegalArgumentException("residual stream of " + S + " positions is longer than the model's context n_ctx = " + cfg.nCtx);
        if (tokens != null) {
            validateTokens(tokens);
            if (tokens.size(0) != r.size(0) || tokens.size(1) != S)
                throw new IllegalArgumentException("tokens " + tokens.describe() + " do not match the start_at_layer residual " + r.describe());
        }
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
    /** Below this many rows (batch x positions) Q/K/V run one GEMM per head (see Run.project). */
    static final long MIN_ROWS_TO_REPACK = 64;

    /** Whether a projection of `rows` rows through `heads` heads runs as one GEMM over all heads. */
    static boolean fusesProjection(long heads, long rows) { return heads > 1 && rows >= MIN_ROWS_TO_REPACK; }

    /** Whether the backward of such a projection runs from a repack of W (float32 only). */
    static boolean repacksProjection(Tensor W, long heads, long rows) {
        return W.dtype() == DType.F32 && fusesProjection(heads, rows);
    }

    private final class Run {
        final RunOptions o;
        final boolean logitsLastOnly;
        final ActivationCache cache;
        final TensorScope scope;
        final int B, S;
        final long N;
        final Tape tape; // non-null when a backward pass follows
        // ragged batches and KV caches (all null / 0 for a plain rectangular run)
        PaddedBatch pad;
        KvCache kv;
        int past;               // positions already in the KV cache
        long[] keyRanges;       // each row's valid keys for the attention kernels
        int[] positionIds;      // [B * S] each token's position (TL's get_offset_position_ids)
        int[] lastIndices;      // each row's last real position
        Tensor[] rotaryRows;    // cos / sin rows gathered at positionIds, [B * S, rotary_dim / 2]
        final StepScratch scratch;

        Run(RunOptions o, boolean logitsLastOnly, ActivationCache cache, TensorScope scope, int B, int S, Tape tape) {
            this.o = o; this.logitsLastOnly = logitsLastOnly; this.cache = cache; this.scope = scope; this.B = B; this.S = S; this.N = (long) B * S;
            this.tape = tape;
            this.scratch = new StepScratch(scope);
        }

        /** Masks and positions of a padded batch and/or a KV cache (both may be null: a plain run). */
        Run ragged(PaddedBatch batch, KvCache cache) {
            this.kv = cache;
            this.pad = cache != null ? cache.prompt : batch;
            this.past = cache == null ? 0 : cache.past();
            if (pad == null) return this;
            if (pad.batch() != B) throw new IllegalArgumentException("padded batch of " + pad.batch() + " rows for " + B + " token rows");
            keyRanges = pad.keyRanges(past, S);
            positionIds = pad.positionIds(past, S);
            lastIndices = kv != null ? null : pad.lastIndices();
            if (cfg.isRotary()) {
                int maxPos = 0;
                for (int p : positionIds) maxPos = Math.max(maxPos, p);
                Tensor[] cs = rotary.covering(maxPos + 1);
                long half = cs[0].size(1);
                rotaryRows = new Tensor[] {z(N, half), z(N, half)};
                backend.gather(cs[0], 0, positionIds, rotaryRows[0]);
                backend.gather(cs[1], 0, positionIds, rotaryRows[1]);
            }
            if (tape != null) { tape.keyRanges = keyRanges; tape.positionIds = positionIds; tape.rotaryRows = rotaryRows; tape.lastIndices = lastIndices; }
            return this;
        }

        /** Rotary at each token's own position: x viewed as one sequence of B * S tokens against the gathered rows. */
        void rotate(Tensor x, Tensor out) {
            if (rotaryRows == null) {
                Tensor[] cs = rotary.covering(S);
                backend.rotary(x, cfg.rotaryDim(), 0, cs[0], cs[1], cfg.rotaryAdjacentPairs, out);
                return;
            }
            long heads = x.size(2), dh = x.size(3);
            backend.rotary(x.reshape(1, N, heads, dh), cfg.rotaryDim(), 0, rotaryRows[0], rotaryRows[1], cfg.rotaryAdjacentPairs,
                    out.reshape(1, N, heads, dh));
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
            if (tape == null && hooked(name)) { scratch.pin(t); scratch.pin(cur); } // a hook may keep it for later in the run
            return cur;
        }

        /** The cached copy: the tensor itself when we own it whole (it is never written again), else a copy. */
        private Tensor snapshot(Tensor t, String name) {
            if (cache.positions().isLastReal() && lastIndices != null) return lastRealRows(t, name);
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

        /** Each row's last real position of an activation [B, S, ...] (or [B, H, S, K] for scores and patterns). */
        private Tensor lastRealRows(Tensor t, String name) {
            int dim = name.endsWith("hook_attn_scores") || name.endsWith("hook_pattern") ? 2 : 1;
            long[] shape = t.shape();
            int outer = 1;
            for (int i = 1; i < dim; i++) outer *= (int) shape[i];
            long inner = t.numel() / ((long) B * outer * S);
            // rows of t viewed as [B * outer * S, inner]: row (b, o, lastIndices[b]), gathered on the model's device
            int[] rows = new int[B * outer];
            for (int b = 0; b < B; b++)
                for (int o = 0; o < outer; o++) rows[b * outer + o] = (b * outer + o) * S + lastIndices[b];
            shape[dim] = 1;
            Tensor out = Tensor.empty(backend.device(), DType.F32, shape);
            scope.release(out);
            backend.gather(t.reshape((long) B * outer * S, inner), 0, rows, out.reshape(rows.length, inner));
            return out;
        }

        /** Hand a tensor out of the scope (copying views and tensors the scope no longer owns, e.g. cached ones). */
        Tensor own(Tensor t) {
            if (!t.isView() && scope.release(t)) return t;
            Tensor c = t.copy();
            scope.release(c);
            return c;
        }

        // every forward output below is written entirely by its kernel, so skip zero-filling
        Tensor z(long... shape) { return scratch.track(backend.empty(shape)); }

        /** A plain forward frees the intermediates of each step (and the step's input) as soon as the step ends. */
        Tensor step(java.util.function.UnaryOperator<Tensor> body, Tensor in) {
            if (tape != null) return body.apply(in); // the backward pass reads them all
            scratch.start();
            return scratch.end(body.apply(in), in);
        }

        Tensor embed(Tensor tokens) { return step(unused -> embedStep(tokens), null); }

        private Tensor embedStep(Tensor tokens) {
            long D = cfg.dModel;
            Tensor e = z(B, S, D);
            backend.embed(tokens, weights.W_E(), e);
            e = fire(HookNames.EMBED, -1, e);
            if (cfg.isRotary()) return e;
            Tensor p = z(B, S, D);
            if (positionIds == null) backend.posEmbed(B, S, 0, weights.W_pos(), p);
            else backend.embed(Tensor.ofInts(positionIds, N), weights.W_pos(), p); // W_pos rows at each token's position
            p = fire(HookNames.POS_EMBED, -1, p);
            Tensor x = z(B, S, D);
            backend.add(e, p, x);
            return x;
        }

        /** TL's LayerNorm / LayerNormPre / RMSNorm / RMSNormPre with hook_scale and hook_normalized. */
        Tensor norm(String prefix, int layer, Tensor x, String wName, String bName) {
            return norm(cfg.normalizationType, prefix, layer, x, wName, bName);
        }

        Tensor norm(String type, String prefix, int layer, Tensor x, String wName, String bName) {
            if (type == null) return x;
            boolean hasWeights = "LN".equals(type) || "RMS".equals(type);
            long D = cfg.dModel;
            String scaleName = prefix + "hook_scale", normName = prefix + "hook_normalized";
            if (hooked(scaleName))
                throw new UnsupportedOperationException("hooks on " + scaleName + " are not supported (read it from the cache instead)");
            Tensor scale = z(B, S, 1);
            Tensor out = z(B, S, D);
            float eps = (float) cfg.eps;
            Tensor w = hasWeights ? weights.get(wName) : null;
            Tensor result, normalized;
            if (type.startsWith("LN")) {
                Tensor b = hasWeights ? weights.get(bName) : null;
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

        /**
         * out[:, :, h] = x @ W[h] + b[h] from TL's layout W [heads, d_model, d_head]: every head in one GEMM
         * ({@link Backend#projectHeads}; the CPU backend reads W in place as column groups, so no copy and nothing that
         * could go stale on weight edits). One GEMM per head re-packs x for every head and runs narrow (N = d_head)
         * tiles, measured at 7x the time of the same FLOPs fused. Few rows (a KV-cached generation step) keep one GEMM
         * per head, where other backends would repack the weights once more per token for a GEMM that reads them once.
         */
        Tensor project(Tensor x, Tensor W, Tensor b, int heads) {
            int dh = cfg.dHead, D = cfg.dModel;
            long rows = x.numel() / D;
            Tensor out = z(B, S, heads, dh);
            if (fusesProjection(heads, rows)) {
                backend.projectHeads(x, W, b, out);
                return out;
            }
            for (int h = 0; h < heads; h++)
                backend.gemm(false, false, rows, dh, D, 1f, x, 0, D, W, (long) h * D * dh, dh, 0f, out, (long) h * dh, (long) heads * dh, b, (long) h * dh);
            return out;
        }

        Tensor block(int l, Tensor residPre) { return step(x -> blockStep(l, x), residPre); }

        private Tensor blockStep(int l, Tensor residPre) {
            long D = cfg.dModel;
            int nH = cfg.nHeads, nKv = cfg.nKvHeads();
            Tensor resid = fire(HookNames.residPre(l), l, residPre);
            Tape.Layer t = tape == null ? null : tape.layers[l];
            if (t != null) t.residPre = resid;

            // attention
            Tensor a = norm("blocks." + l + ".ln1.", l, resid, Weights.ln(l, 1, "w"), Weights.ln(l, 1, "b"));
            Tensor q = fire(HookNames.q(l), l, project(a, weights.W_Q(l), weights.b_Q(l), nH));
            Tensor k = fire(HookNames.k(l), l, project(a, weights.W_K(l), weights.b_K(l), nKv));
            Tensor v = fire(HookNames.v(l), l, project(a, weights.W_V(l), weights.b_V(l), nKv));
            if (cfg.isRotary()) {
                Tensor rq = z(q.shape()), rk = z(k.shape());
                rotate(q, rq);
                rotate(k, rk);
                q = fire(HookNames.rotQ(l), l, rq);
                if (kv == null) k = fire(HookNames.rotK(l), l, rk);
                else k = rk; // with a KV cache hook_rot_k fires on every key below, as TL's
            }
            int K = S; // keys: with a KV cache, the cached positions' and these
            if (kv != null) {
                Tensor[] all = kv.append(l, k, v, backend);
                K = (int) all[0].size(1);
                // hooks see (and may edit) this run's copy of every key, as TL re-rotates its cached keys each step
                k = cfg.isRotary() ? fire(HookNames.rotK(l), l, hooked(HookNames.rotK(l)) ? all[0].copy() : all[0]) : all[0];
                v = all[1];
            }
            if (t != null) { t.rq = q; t.rk = k; t.v = v; }
            float scale = (float) (1.0 / cfg.attnScale());
            long window = cfg.windowOf(l);
            float cap = cfg.attnScoresSoftCap > 0 ? (float) cfg.attnScoresSoftCap : 0f;
            Tensor zt = z(B, S, nH, cfg.dHead);
            String scoresName = HookNames.attnScores(l), patternName = HookNames.pattern(l);
            if (hooked(scoresName) || hooked(patternName)) {
                // split path: hooks may rewrite scores or pattern between the steps
                Tensor scores = z(B, nH, S, K);
                backend.attnScores(q, k, scale, window, cap, keyRanges, scores);
                if (t != null && cap > 0) t.cappedScores = scores.copy(); // the soft cap's backward reads the unhooked value
                scores = fire(scoresName, l, scores);
                Tensor pattern = z(B, nH, S, K);
                backend.softmax(scores, pattern);
                if (t != null && hooked(patternName)) t.probs = pattern.copy(); // softmax backward needs the unhooked value
                pattern = fire(patternName, l, pattern);
                backend.attnApply(pattern, v, zt);
                if (t != null) t.pattern = pattern;
            } else {
                // fused "hooked attention": scores and pattern are written only when cached
                Tensor scores = caching(scoresName) || (t != null && cap > 0) ? z(B, nH, S, K) : null;
                Tensor pattern = caching(patternName) || t != null ? z(B, nH, S, K) : null;
                backend.attention(q, k, v, scale, window, cap, keyRanges, zt, scores, pattern);
                if (t != null && cap > 0) t.cappedScores = scores;
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
            if (cfg.useNormalizationBeforeAndAfter) attnOut = postNorm("blocks." + l + ".ln1_post.", l, attnOut);
            attnOut = fire(HookNames.attnOut(l), l, attnOut);

            if (cfg.attnOnly) {
                Tensor post = z(B, S, D);
                backend.add(resid, attnOut, post);
                return fire(HookNames.residPost(l), l, post);
            }
            // the MLP reads resid_mid, or resid_pre in a parallel block (TL's parallel_attn_mlp)
            Tensor mid;
            if (cfg.parallelAttnMlp) {
                mid = resid;
            } else {
                mid = z(B, S, D);
                backend.add(resid, attnOut, mid);
                mid = fire(HookNames.residMid(l), l, mid);
            }
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
            if (cfg.useNormalizationBeforeAndAfter) mlpOut = postNorm("blocks." + l + ".ln2_post.", l, mlpOut);
            mlpOut = fire(HookNames.mlpOut(l), l, mlpOut);
            Tensor residPost = z(B, S, D);
            backend.add(mid, mlpOut, residPost);
            if (cfg.parallelAttnMlp) backend.add(residPost, attnOut, residPost);
            return fire(HookNames.residPost(l), l, residPost);
        }

        /** TL's ln1_post / ln2_post: a norm with weights on a sublayer's output, kept when the pre-norms are folded. */
        Tensor postNorm(String prefix, int layer, Tensor x) {
            return norm(postNormType(cfg), prefix, layer, x, prefix + "w", prefix + "b");
        }

        Tensor unembed(Tensor x) {
            Tensor h = norm("ln_final.", -1, x, "ln_final.w", "ln_final.b");
            long D = cfg.dModel, V = cfg.dVocabOut();
            if (tape != null) { tape.lastOnly = logitsLastOnly; tape.unembedIn = h; }
            if (logitsLastOnly) {
                Tensor lastRows = z(B, 1, D);
                if (lastIndices == null) {
                    backend.gather(h, 1, new int[] {S - 1}, lastRows);
                } else { // each row's last real token
                    int[] rows = new int[B];
                    for (int b = 0; b < B; b++) rows[b] = b * S + lastIndices[b];
                    backend.gather(h.reshape(N, D), 0, rows, lastRows.reshape(B, D));
                }
                if (tape != null) tape.unembedIn = lastRows;
                Tensor logits = z(B, 1, V);
                backend.linear(lastRows, weights.W_U(), weights.b_U(), logits);
                return softcapLogits(logits);
            }
            Tensor logits = z(B, S, V);
            backend.linear(h, weights.W_U(), weights.b_U(), logits);
            return softcapLogits(logits);
        }

        /** Gemma 2's final-logit soft-capping, in place. */
        Tensor softcapLogits(Tensor logits) {
            if (cfg.outputLogitsSoftCap <= 0) return logits;
            backend.softcap(logits, (float) cfg.outputLogitsSoftCap, logits);
            if (tape != null) tape.cappedLogits = logits;
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
        try (Lifecycle.Held held = lifecycle.shared(); Tensor l = lossPerToken(tokens)) {
            double s = 0;
            for (float v : l.toFloatArray()) s += v;
            return s / l.numel();
        }
    }

    /**
     * TL's model(tokens, attention_mask=..., return_type="loss") on a padded batch: mean next-token cross-entropy over
     * the predictions of a real token from a real token (pad positions ignored).
     */
    public double loss(PaddedBatch batch) {
        try (Lifecycle.Held held = lifecycle.shared(); Tensor t = tokenTensor(batch.tokensUnsafe());
             Output o = forwardPass(t, new RunOptions(), batch, null)) {
            int B = batch.batch(), S = batch.seq(), V = cfg.dVocabOut();
            float[] logits = o.logits().toFloatArray();
            return Metrics.nextTokenLoss(batch.tokens()).evaluate(logits, B, S, V, new float[logits.length], batch.attentionMask());
        }
    }

    // ------------------------------------------------------------------------------------------ generation

    /** Greedy continuation of a token sequence (KV cache); stops early at EOS (when the tokenizer has one). */
    public int[] generate(int[] tokens, int maxNewTokens) {
        // one guard for the whole generation: every token comes from the same weights
        try (Lifecycle.Held held = lifecycle.shared()) { return generateTokens(List.of(tokens), GenerateOptions.greedy(maxNewTokens))[0]; }
    }

    /** Greedy text continuation (TL's generate with do_sample=False); returns only the new text. */
    public String generate(String prompt, int maxNewTokens) {
        return generate(List.of(prompt), GenerateOptions.greedy(maxNewTokens)).get(0);
    }

    /**
     * TL's generate over token ids: prompts of any lengths (left-padded together, as TL pads for generation), greedy
     * or sampled, with a KV cache unless turned off. Returns each prompt followed by its new tokens, no padding; with
     * stop_at_eos a row ends at its first EOS.
     */
    public int[][] generate(int[][] prompts, GenerateOptions options) {
        if (prompts == null) throw new IllegalArgumentException("no prompts given");
        try (Lifecycle.Held held = lifecycle.shared()) { return generateTokens(Arrays.asList(prompts), options); }
    }

    /** TL's generate over strings: the new text of each prompt, decoded as the tokenizer decodes the new ids in context. */
    public List<String> generate(List<String> prompts, GenerateOptions options) {
        try (Lifecycle.Held held = lifecycle.shared()) {
            if (prompts == null || prompts.isEmpty()) throw new IllegalArgumentException("no prompts given");
            List<int[]> starts = new ArrayList<>(prompts.size());
            for (String p : prompts) {
                boolean bos = options.prependBos != null ? options.prependBos : cfg.defaultPrependBos;
                starts.add(p.isEmpty() ? toTokens("", true) : toTokens(p, bos));
            }
            int[][] all = generateTokens(starts, options);
            List<String> out = new ArrayList<>(prompts.size());
            for (int b = 0; b < all.length; b++) out.add(newText(starts.get(b), all[b]));
            return out;
        }
    }

    private int[][] generateTokens(List<int[]> prompts, GenerateOptions o) {
        if (o == null) throw new IllegalArgumentException("no generate options given");
        int eos = o.eosTokenId != null ? o.eosTokenId : tokenizer != null ? tokenizer.eosTokenId().orElse(-1) : -1;
        if (o.stopAtEos && o.eosTokenId != null && (eos < 0 || eos >= cfg.dVocabOut()))
            throw new IllegalArgumentException("EOS token id " + eos + " is outside the vocabulary [0, " + cfg.dVocabOut() + ")");
        return new Generator(this, o, o.stopAtEos ? eos : -1).run(prompts);
    }

    /** A forward pass for callers that already hold the guard (generation). */
    Output forwardUnguarded(Tensor tokens, RunOptions o, PaddedBatch pad, KvCache kv) { return forwardPass(tokens, o, pad, kv); }

    /** The text the new tokens add after start (all = start followed by the new tokens). */
    private String newText(int[] start, int[] all) {
        // decode in context (tokenizers such as SentencePiece drop or keep spaces depending on what precedes), and as TL
        // does, without the BOS it prepended: decoders that strip the first word's space then see that word first
        String whole, head;
        if (tokenizer().bosTokenId().orElse(-1) == start[0]) {
            whole = tokenizer().decodeAfterBos(Arrays.copyOfRange(all, 1, all.length));
            head = tokenizer().decodeAfterBos(Arrays.copyOfRange(start, 1, start.length));
        } else {
            whole = tokenizer().decode(all);
            head = tokenizer().decode(start);
        }
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
        try (Lifecycle.Held held = lifecycle.shared()) { return topTokens(prompt, answer, topK); }
    }

    private TestPrompt topTokens(String prompt, String answer, int topK) {
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
            if (cfg.useNormalizationBeforeAndAfter) postNormWeights("blocks." + l + ".ln1_post.");
            if (cfg.attnOnly) continue;
            if (cfg.useNormalizationBeforeAndAfter) postNormWeights("blocks." + l + ".ln2_post.");
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

    /** TL builds ln1_post / ln2_post as RMSNorm for RMS / RMSPre models and LayerNorm for LN / LNPre ones. */
    static String postNormType(Config cfg) { return cfg.isRms() ? "RMS" : cfg.isLayerNorm() ? "LN" : null; }

    private void normWeights(String prefix) {
        if ("LN".equals(cfg.normalizationType)) { need(prefix + "w", cfg.dModel); need(prefix + "b", cfg.dModel); }
        if ("RMS".equals(cfg.normalizationType)) need(prefix + "w", cfg.dModel);
    }

    private void postNormWeights(String prefix) {
        String type = postNormType(cfg);
        if (type != null) need(prefix + "w", cfg.dModel);
        if ("LN".equals(type)) need(prefix + "b", cfg.dModel);
    }

    private void need(String name, long... shape) {
        Tensor t = weights.getOrNull(name);
        if (t == null) throw new IllegalArgumentException("model weights lack '" + name + "' " + Arrays.toString(shape));
        if (!Arrays.equals(t.shape(), shape))
            throw new IllegalArgumentException("weight '" + name + "' has shape " + Arrays.toString(t.shape()) + ", config needs " + Arrays.toString(shape));
        if (!t.device().equals(backend.device()))
            throw new IllegalArgumentException("weight '" + name + "' is on " + t.device() + ", backend runs on " + backend.device());
    }

    /**
     * Frees the weights, rotary tables and tokenizer once the runs in flight have returned
     * (runs started meanwhile throw "model ... is closed"). Idempotent. Throws IllegalStateException, rather than
     * waiting for itself, when called from a hook of a run on this thread.
     */
    @Override public void close() {
        try (Lifecycle.Held held = lifecycle.exclusive("close()")) {
            if (lifecycle.isClosed()) return;
            lifecycle.markClosed();
            weights.close();
            if (rotary != null) rotary.close();
            Tensor.releaseHostCache(); // a closed model's memory goes back to the system, not to lens4j's cache
            if (tokenizer != null) {
                try { tokenizer.closeInner(); } catch (Exception e) { throw new IllegalStateException(e); }
            }
        }
    }
}
