package dev.lens4j.model;

import dev.lens4j.backend.Backend;
import dev.lens4j.tensor.Tensor;
import dev.lens4j.tensor.TensorScope;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

/**
 * TL's HookedTransformerKeyValueCache for generation: per layer the keys (after rotary, so earlier positions are never
 * rotated again) and values of every position run so far, [batch, past, n_kv_heads, d_head], plus the padded prompt
 * batch whose left padding stays masked. A forward pass with a cache runs only the new positions and appends theirs.
 * Owns its tensors: close() frees them.
 */
final class KvCache implements AutoCloseable {
    final PaddedBatch prompt;
    private final Tensor[] keys, values;
    private int past;

    KvCache(int nLayers, PaddedBatch prompt) {
        this.prompt = prompt;
        this.keys = new Tensor[nLayers];
        this.values = new Tensor[nLayers];
    }

    /** Positions already cached (TL's past_kv_pos_offset). */
    int past() { return past; }

    /** Appends a layer's new keys and values [batch, new, kv_heads, d_head]; returns the layer's whole {keys, values}. */
    Tensor[] append(int layer, Tensor newK, Tensor newV, Backend backend) {
        keys[layer] = concat(keys[layer], newK, backend);
        values[layer] = concat(values[layer], newV, backend);
        return new Tensor[] {keys[layer], values[layer]};
    }

    /** Called once every layer has appended: the new positions count as past for the next forward. */
    void advance(int newPositions) { past += newPositions; }

    /** [B, T, ...] ++ [B, S, ...] along dim 1, as a new tensor this cache owns (the old one is freed). */
    private static Tensor concat(Tensor old, Tensor add, Backend backend) {
        if (!add.device().isCpu()) return concatOnDevice(old, add, backend);
        long B = add.size(0), S = add.size(1), T = old == null ? 0 : old.size(1);
        long row = add.numel() / (B * S) * add.dtype().bytes; // bytes per position
        long[] shape = add.shape();
        shape[1] = T + S;
        Tensor out = TensorScope.detach(Tensor.empty(add.device(), add.dtype(), shape));
        BytePointer o = new BytePointer(out.pointer()), a = new BytePointer(add.pointer());
        BytePointer p = old == null ? null : new BytePointer(old.pointer());
        for (long b = 0; b < B; b++) {
            if (T > 0) Pointer.memcpy(new BytePointer(o).position(b * (T + S) * row), new BytePointer(p).position(b * T * row), T * row);
            Pointer.memcpy(new BytePointer(o).position((b * (T + S) + T) * row), new BytePointer(a).position(b * S * row), S * row);
        }
        if (old != null) old.close();
        return out;
    }

    /** concat on the backend's device: both parts' rows scattered into a zeroed [B * (T + S), row] (exact: 0 + x = x). */
    private static Tensor concatOnDevice(Tensor old, Tensor add, Backend backend) {
        int B = (int) add.size(0), S = (int) add.size(1), T = old == null ? 0 : (int) old.size(1);
        long row = add.numel() / ((long) B * S);
        long[] shape = add.shape();
        shape[1] = T + S;
        Tensor out = TensorScope.detach(Tensor.zeros(add.device(), add.dtype(), shape));
        try (Tensor flat = out.reshape((long) B * (T + S), row)) {
            scatterRows(backend, old, B, T, 0, T + S, flat);
            scatterRows(backend, add, B, S, T, T + S, flat);
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        if (old != null) old.close();
        return out;
    }

    /** Rows [B, n, ...] of part to positions at.. of each batch row of flat [B * len, row]. */
    private static void scatterRows(Backend backend, Tensor part, int B, int n, int at, int len, Tensor flat) {
        if (part == null || n == 0) return;
        int[] rows = new int[B * n];
        for (int b = 0; b < B; b++) for (int i = 0; i < n; i++) rows[b * n + i] = b * len + at + i;
        try (Tensor idx = TensorScope.detach(Tensor.ofInts(rows, rows.length)); Tensor src = part.reshape(rows.length, flat.size(1))) {
            backend.embedBackward(idx, src, flat);
        }
    }

    @Override public void close() {
        for (int l = 0; l < keys.length; l++) {
            if (keys[l] != null) keys[l].close();
            if (values[l] != null) values[l].close();
            keys[l] = values[l] = null;
        }
    }
}
