package dev.lens4j.model;

import dev.lens4j.tensor.Tensor;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A model's parameters under TransformerLens's state_dict names and layouts:
 * <pre>
 * embed.W_E [d_vocab, d_model]            pos_embed.W_pos [n_ctx, d_model]   (standard positions only)
 * blocks.{l}.ln1.w / .b [d_model]         (LN: w and b; RMS: w; LNPre / RMSPre: none)
 * blocks.{l}.attn.W_Q [n_heads, d_model, d_head]     b_Q [n_heads, d_head]
 * blocks.{l}.attn.W_K, W_V, b_K, b_V      (grouped-query attention: _W_K, _W_V, _b_K, _b_V with n_kv_heads)
 * blocks.{l}.attn.W_O [n_heads, d_head, d_model]     b_O [d_model]
 * blocks.{l}.ln2.w / .b
 * blocks.{l}.mlp.W_in [d_model, d_mlp]  W_gate [d_model, d_mlp] (gated)  b_in [d_mlp]
 * blocks.{l}.mlp.W_out [d_mlp, d_model] b_out [d_model]
 * ln_final.w / .b                         unembed.W_U [d_model, d_vocab_out]  unembed.b_U [d_vocab_out]
 * </pre>
 * Biases are always present (zero where the checkpoint has none, as in TransformerLens).
 * Owns its tensors: close() frees them.
 */
public final class Weights implements AutoCloseable {
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new IllegalArgumentException("no weight named '" + name + "'");
        return t;
    }

    public Tensor getOrNull(String name) { return tensors.get(name); }

    public boolean has(String name) { return tensors.containsKey(name); }

    /** Adds or replaces (closing the replaced tensor) a weight; the Weights object takes ownership. */
    public Weights put(String name, Tensor t) {
        Tensor old = tensors.put(name, dev.lens4j.tensor.TensorScope.detach(t).named(name));
        if (old != null && old != t) old.close();
        return this;
    }

    public Tensor remove(String name) { return tensors.remove(name); }

    public Set<String> names() { return Collections.unmodifiableSet(tensors.keySet()); }

    public Map<String, Tensor> asMap() { return Collections.unmodifiableMap(tensors); }

    public long parameterCount() {
        long n = 0;
        for (Tensor t : tensors.values()) n += t.numel();
        return n;
    }

    // TL attribute-style accessors
    public Tensor W_E() { return get("embed.W_E"); }
    public Tensor W_pos() { return get("pos_embed.W_pos"); }
    public Tensor W_U() { return get("unembed.W_U"); }
    public Tensor b_U() { return get("unembed.b_U"); }
    public Tensor W_Q(int l) { return get(attn(l, "W_Q")); }
    public Tensor b_Q(int l) { return get(attn(l, "b_Q")); }
    /** Key weights [n_kv_heads, d_model, d_head] (TL's _W_K under grouped-query attention). */
    public Tensor W_K(int l) { return kv(l, "W_K"); }
    public Tensor b_K(int l) { return kv(l, "b_K"); }
    public Tensor W_V(int l) { return kv(l, "W_V"); }
    public Tensor b_V(int l) { return kv(l, "b_V"); }
    public Tensor W_O(int l) { return get(attn(l, "W_O")); }
    public Tensor b_O(int l) { return get(attn(l, "b_O")); }
    public Tensor W_in(int l) { return get(mlp(l, "W_in")); }
    public Tensor W_gate(int l) { return get(mlp(l, "W_gate")); }
    public Tensor b_in(int l) { return get(mlp(l, "b_in")); }
    public Tensor W_out(int l) { return get(mlp(l, "W_out")); }
    public Tensor b_out(int l) { return get(mlp(l, "b_out")); }

    private Tensor kv(int l, String w) {
        Tensor t = tensors.get(attn(l, "_" + w));
        return t != null ? t : get(attn(l, w));
    }

    /** Name of a K/V parameter as TL's state_dict has it: "_W_K" under grouped-query attention. */
    public static String kvName(Config cfg, int l, String w) {
        return attn(l, (cfg.nKvHeads() != cfg.nHeads ? "_" : "") + w);
    }

    public static String attn(int l, String w) { return "blocks." + l + ".attn." + w; }
    public static String mlp(int l, String w) { return "blocks." + l + ".mlp." + w; }
    public static String ln(int l, int which, String w) { return "blocks." + l + ".ln" + which + "." + w; }

    /**
     * Moves every weight to a device, in place, one tensor at a time (each host copy is freed as its device copy
     * replaces it; bf16 stays bf16). A no-op for weights already there. On failure the weights are left partly moved:
     * the caller closes them.
     */
    public Weights to(dev.lens4j.tensor.Device device) {
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            if (t.device().equals(device)) continue;
            Tensor moved = dev.lens4j.tensor.TensorScope.detach(t.to(device)).named(e.getKey());
            e.setValue(moved);
            t.close();
        }
        return this;
    }

    @Override public void close() {
        for (Tensor t : tensors.values()) t.close();
        tensors.clear();
    }
}
