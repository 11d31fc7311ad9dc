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

    public ActivationCache(Positions positions) { this.positions = positions; }

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
