package dev.lens4j.load;

import dev.lens4j.backend.Backend;
import dev.lens4j.backend.Bf16Gemm;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Set;
import java.util.function.Predicate;

/**
 * {@code LoadOptions.dtype(BF16)}: after loading and weight processing (in float32), the weight matrices the GEMMs and
 * the embedding read (W_E, W_Q, W_K, W_V, W_O, W_in, W_gate, W_out, W_U) are rounded to bf16 (nearest even), one
 * tensor at a time, each float32 tensor freed as its bf16 copy replaces it. Hugging Face checkpoints do this part by
 * part while loading ({@link Bf16Parts}), so they never hold the whole model in float32; the other formats are loaded
 * in float32 and then converted here. Biases, norm weights and W_pos stay
 * float32 (they are small and added, not multiplied). Activations, hooks, caches and gradients stay float32.
 * <p>Editing: bf16 tensors are read-only to Java ({@code put}/{@code set} throw). To edit a weight, replace it inside
 * {@code model.editWeights(w -> w.put(name, newF32Tensor))}: a float32 replacement runs in float32 (every GEMM
 * dispatches on its weight's dtype), or round it with {@link Bf16Gemm#toBf16} first to keep the model all bf16.
 */
public final class Bf16Weights {
    private Bf16Weights() {}

    /** The last name component of the weights stored as bf16. */
    public static final Set<String> MATRICES = Set.of("W_E", "W_Q", "W_K", "W_V", "_W_K", "_W_V", "W_O", "W_in", "W_gate", "W_out", "W_U");

    public static boolean isMatrix(String name) { return MATRICES.contains(name.substring(name.lastIndexOf('.') + 1)); }

    /** Rounds the weight matrices of w to bf16 in place (see the class comment). CPU only. */
    public static void convert(Weights w, Backend backend) {
        if (!backend.device().isCpu()) throw new IllegalArgumentException("bf16 weights run on the CPU backend only, not " + backend.device());
        round(w, name -> true);
    }

    /** Rounds the float32 weight matrices among the names the filter accepts, one at a time. */
    static void round(Weights w, Predicate<String> names) {
        for (String name : new ArrayList<>(w.names())) {
            Tensor t = w.get(name);
            if (names.test(name) && isMatrix(name) && t.dtype() == DType.F32) {
                w.put(name, Bf16Gemm.toBf16(t)); // put frees the f32 tensor
                Tensor.releaseHostCache(); // and it goes back to the system at once, as a load wants its peak low
            }
        }
    }
}
