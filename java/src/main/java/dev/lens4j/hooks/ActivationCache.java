package dev.lens4j.hooks;

import dev.lens4j.tensor.Tensor;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * TransformerLens's ActivationCache: activations by hook name, batch dimension kept (positions as selected
 * when the cache was filled). Owns its tensors: close() frees them.
 */
public final class ActivationCache implements AutoCloseable {
    private final Map<String, Tensor> cache = new LinkedHashMap<>();
    private final Positions positions;
    private dev.lens4j.model.HookedTransformer model;

    public ActivationCache(Positions positions) { this.positions = positions; }

    /** The model whose run filled this cache (set by the model; needed by the analyses below, as TL's cache.model). */
    public ActivationCache model(dev.lens4j.model.HookedTransformer m) { this.model = m; return this; }
    public dev.lens4j.model.HookedTransformer model() { return model; }

    /** TL's cache analyses (accumulated_resid, decompose_resid, stack_head_results, logit_attrs, ...). */
    public dev.lens4j.analysis.CacheDecomposition analyses() {
        if (model == null) throw new IllegalStateException("this cache has no model: use CacheDecomposition.of(model, cache)");
        return dev.lens4j.analysis.CacheDecomposition.of(model, this);
    }

    /** TL's accumulated_resid(layer, incl_mid, apply_ln, pos_slice) with return_labels=True. */
    public dev.lens4j.analysis.ResidualStack accumulatedResid(int layer, boolean inclMid, boolean applyLn, Positions posSlice) {
        return analyses().accumulatedResid(layer, inclMid, applyLn, posSlice, false);
    }

    /** TL's decompose_resid(layer, mode=all, apply_ln, pos_slice) with return_labels=True. */
    public dev.lens4j.analysis.ResidualStack decomposeResid(int layer, boolean applyLn, Positions posSlice) {
        return analyses().decomposeResid(layer, false, dev.lens4j.analysis.CacheDecomposition.Mode.ALL, applyLn, posSlice, true);
    }

    /** TL's stack_head_results(layer, pos_slice, apply_ln) with return_labels=True. */
    public dev.lens4j.analysis.ResidualStack stackHeadResults(int layer, boolean applyLn, Positions posSlice) {
        return analyses().stackHeadResults(layer, false, posSlice, applyLn);
    }

    /** TL's logit_attrs(stack, tokens, incorrect_tokens, pos_slice): [components, batch, pos]. */
    public Tensor logitAttrs(dev.lens4j.analysis.ResidualStack stack, int token, Integer incorrectToken, Positions posSlice) {
        return analyses().logitAttrs(stack, token, incorrectToken, posSlice);
    }

    /** TL's remove_batch_dim: a cache of one prompt without its batch dimension (a new cache; this one unchanged). */
    public ActivationCache removeBatchDim() {
        ActivationCache out = new ActivationCache(positions).model(model);
        for (Map.Entry<String, Tensor> e : cache.entrySet()) {
            Tensor t = e.getValue();
            if (t.rank() == 0 || t.size(0) != 1)
                throw new IllegalStateException("remove_batch_dim needs a batch of one, but '" + e.getKey() + "' is " + t.describe());
            long[] s = java.util.Arrays.copyOfRange(t.shape(), 1, t.rank());
            try (Tensor view = t.reshape(s.length == 0 ? new long[] {1} : s)) { out.put(e.getKey(), view.copy()); } // stays on its device
        }
        return out;
    }

    private int[][] attentionMask; // null: no padding

    /**
     * TL's cache of a padded batch keeps its attention_mask: [batch][pos], 1 at real tokens and 0 at padding, so
     * pad positions can be told apart (null when the run had no padding).
     */
    public int[][] attentionMask() { return attentionMask; }

    /** Set by the run that fills this cache. */
    public ActivationCache attentionMask(int[][] mask) { this.attentionMask = mask; return this; }

    /** Which positions the cached activations hold (TL's pos_slice). */
    public Positions positions() { return positions; }

    /** cache["blocks.0.hook_resid_pre"]. */
    public Tensor get(String name) {
        Tensor t = cache.get(name);
        if (t == null) throw new IllegalArgumentException("'" + name + "' is not in the cache (cached: " + summary() + ")");
        return t;
    }

    /** TL's cache["resid_pre", 3] shorthand (utils.get_act_name). */
    public Tensor get(String shortName, int layer) { return get(HookNames.actName(shortName, layer)); }

    public boolean has(String name) { return cache.containsKey(name); }

    public Set<String> keys() { return Collections.unmodifiableSet(cache.keySet()); }

    public int size() { return cache.size(); }

    public Map<String, Tensor> asMap() { return Collections.unmodifiableMap(cache); }

    /** Takes ownership of t (replacing and closing an earlier entry of the same name). */
    public void put(String name, Tensor t) {
        Tensor old = cache.put(name, dev.lens4j.tensor.TensorScope.detach(t).named(name));
        if (old != null && old != t) old.close();
    }

    /** Removes an entry and hands its ownership to the caller. */
    public Tensor remove(String name) { return cache.remove(name); }

    /** Native bytes held by the cached tensors. */
    public long bytes() {
        long b = 0;
        for (Tensor t : cache.values()) b += t.numel() * t.dtype().bytes;
        return b;
    }

    private String summary() {
        if (cache.size() <= 6) return cache.keySet().toString();
        return cache.size() + " hook points, e.g. " + cache.keySet().iterator().next();
    }

    @Override public void close() {
        for (Tensor t : cache.values()) t.close();
        cache.clear();
    }
}
