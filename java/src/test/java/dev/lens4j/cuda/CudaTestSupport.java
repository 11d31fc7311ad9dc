package dev.lens4j.cuda;

import dev.lens4j.backend.CudaBackend;
import dev.lens4j.backend.CudaRuntime;
import org.junit.jupiter.api.Assumptions;

import java.util.Arrays;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** The emulated CUDA backend for tests (every build has it) and CPU-vs-CUDA comparisons. */
public final class CudaTestSupport {
    private CudaTestSupport() {}

    /** Every kernel a model forward and backward (GPT-2, Llama, Gemma 2) can call, by l4jc_ name. */
    public static final List<String> MODEL_KERNELS = List.of("gemm", "gemm_bf16", "bf16_to_f32", "embed", "pos_embed", "embed_backward",
            "pos_embed_backward", "layernorm", "rmsnorm", "layernorm_backward", "rmsnorm_backward", "rotary", "rotary_backward",
            "attn_scores_masked", "attn_apply_kv", "attention_masked", "softcap", "softcap_backward", "attn_scores_backward_masked",
            "attn_apply_backward", "activation", "gated_activation", "scale_cols", "add_bias", "sum_rows", "activation_backward",
            "gated_activation_backward", "scale_cols_backward", "softmax", "softmax_backward", "index_select", "strided_copy");

    public static CudaBackend backend() { return CudaBackend.emulated(); }

    /** Skips (never passes) a test whose kernels the emulated library does not have yet, naming them. */
    public static void assumeKernels(List<String> kernels) {
        backend();
        Set<String> missing = new java.util.HashSet<>(Arrays.asList(CudaRuntime.missingFunctions().split(" ")));
        List<String> lacking = kernels.stream().filter(missing::contains).toList();
        Assumptions.assumeTrue(lacking.isEmpty(), "the CUDA library lacks " + lacking + ": skipped until those kernels land");
    }

    public static void assumeKernels(String... kernels) { assumeKernels(Arrays.asList(kernels)); }

    /** max |cpu - cuda| <= rel * max |cpu| (infinities must match exactly; NaN nowhere). */
    public static void assertClose(String what, float[] cpu, float[] cuda, double rel) { assertClose(what, cpu, cuda, rel, 0); }

    /** As above with the scale max(max|cpu|, scaleFloor): for tensors that are zero up to rounding. */
    public static void assertClose(String what, float[] cpu, float[] cuda, double rel, double scaleFloor) {
        assertEquals(cpu.length, cuda.length, what + ": lengths");
        double maxRef = 0, maxDiff = 0;
        int worst = -1;
        for (int i = 0; i < cpu.length; i++) {
            assertFalse(Float.isNaN(cpu[i]) || Float.isNaN(cuda[i]), what + ": NaN at " + i + " (cpu " + cpu[i] + ", cuda " + cuda[i] + ")");
            if (Float.isInfinite(cpu[i]) || Float.isInfinite(cuda[i])) {
                assertEquals(cpu[i], cuda[i], what + ": infinity at " + i);
                continue;
            }
            maxRef = Math.max(maxRef, Math.abs(cpu[i]));
            double d = Math.abs((double) cpu[i] - cuda[i]);
            if (d > maxDiff) { maxDiff = d; worst = i; }
        }
        double tol = rel * Math.max(Math.max(maxRef, scaleFloor), 1e-30);
        if (maxDiff > tol)
            fail(what + ": max |cpu - cuda| = " + maxDiff + " at " + worst + " (cpu " + cpu[worst] + ", cuda " + cuda[worst] + ") > " + tol
                    + " = " + rel + " x max|cpu| " + maxRef);
    }
}
