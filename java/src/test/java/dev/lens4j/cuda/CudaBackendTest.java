package dev.lens4j.cuda;

import dev.lens4j.backend.Activation;
import dev.lens4j.backend.Backend;
import dev.lens4j.backend.Bf16Gemm;
import dev.lens4j.backend.CpuBackend;
import dev.lens4j.backend.CudaBackend;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Device;
import dev.lens4j.tensor.Tensor;
import dev.lens4j.tensor.TensorScope;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BiFunction;
import java.util.stream.Stream;

import static dev.lens4j.cuda.CudaTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Each {@link Backend} method of the CUDA backend (emulated) against the CPU backend on the same seeded random inputs:
 * a thin layer over the native checks (native/cuda/check), which test the kernels in depth. Each case builds its
 * inputs from a seed on the backend's device, runs the method, and returns its outputs copied to the host.
 */
class CudaBackendTest {
    private static final double TOL = 1e-5; // CUDA's expf / tanhf / erff vs the CPU's polynomials

    /** One case: a name, the l4jc_ kernels it needs, and what it computes on a backend. */
    private record Case(String name, List<String> kernels, double tol, BiFunction<Backend, SplittableRandom, List<float[]>> run) {}

    private static Case c(String name, List<String> kernels, BiFunction<Backend, SplittableRandom, List<float[]>> run) {
        return new Case(name, kernels, TOL, run);
    }

    /** Runs a case on the CPU and on CUDA with the same seed, in a scope that frees everything, and compares. */
    private static void parity(Case c) {
        assumeKernels(c.kernels);
        long live = Tensor.liveBytes();
        List<float[]> cpu, cuda;
        try (TensorScope s = TensorScope.open()) { cpu = c.run.apply(CpuBackend.get(), new SplittableRandom(7)); }
        try (TensorScope s = TensorScope.open()) { cuda = c.run.apply(backend(), new SplittableRandom(7)); }
        assertEquals(cpu.size(), cuda.size());
        for (int i = 0; i < cpu.size(); i++) assertClose(c.name + " output " + i, cpu.get(i), cuda.get(i), c.tol);
        assertEquals(live, Tensor.liveBytes(), c.name + ": native memory leaked");
    }

    /** Seeded N(0, sd) values as an F32 tensor on the backend's device. */
    static Tensor rand(Backend be, SplittableRandom r, double sd, long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (sd * gaussian(r));
        return on(be, Tensor.of(v, shape));
    }

    static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble(), w = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w);
    }

    static Tensor rand(Backend be, SplittableRandom r, long... shape) { return rand(be, r, 1, shape); }

    static Tensor on(Backend be, Tensor host) { return be.device().isCpu() ? host : host.to(be.device()); }

    static Tensor ints(Backend be, int[] v) { return on(be, Tensor.ofInts(v, v.length)); }

    static List<float[]> out(Tensor... ts) {
        List<float[]> l = new ArrayList<>();
        for (Tensor t : ts) l.add(t.toFloatArray());
        return l;
    }

    // shapes: ragged on purpose (rows not a multiple of a block, odd widths)
    static final int B = 2, S = 5, H = 4, KV = 2, DH = 6, D = 13, V = 11;

    @TestFactory
    Stream<DynamicTest> forwardMethodsMatchTheCpu() {
        List<Case> cases = List.of(
            c("gemm", List.of("gemm"), (be, r) -> {
                Tensor a = rand(be, r, 7, 9), b = rand(be, r, 9, 5), bias = rand(be, r, 5), cc = rand(be, r, 7, 5);
                be.gemm(false, false, 7, 5, 9, 0.5f, a, 0, 9, b, 0, 5, 0.25f, cc, 0, 5, bias, 0);
                Tensor t = rand(be, r, 4, 20), u = be.zeros(4, 4);
                be.gemm(true, true, 4, 4, 3, 1f, t, 2, 20, t, 5, 20, 0f, u, 0, 4, null, 0); // offsets and transposes
                return out(cc, u);
            }),
            // the CPU's bf16 GEMM may round activations to bf16 (AVX512-BF16): bf16's precision, not f32's
            new Case("gemm with bf16 weights (B and A)", List.of("gemm_bf16", "gemm", "bf16_to_f32"), 1e-2, (be, r) -> {
                Tensor x = rand(be, r, 6, 9), w = bf16(be, r, 9, 7), bias = rand(be, r, 7), y = be.zeros(6, 7), yt = be.zeros(6, 9);
                be.gemm(false, false, 6, 7, 9, 1f, x, 0, 9, w, 0, 7, 0f, y, 0, 7, bias, 0);
                Tensor d = rand(be, r, 6, 7);
                be.gemm(false, true, 6, 9, 7, 1f, d, 0, 7, w, 0, 7, 0f, yt, 0, 9, null, 0);
                Tensor left = be.zeros(9, 9);
                be.gemm(false, true, 9, 9, 7, 1f, w, 0, 7, w, 0, 7, 0f, left, 0, 9, null, 0);
                return out(y, yt, left);
            }),
            // W [heads, d_model, d_head] read in place; d_head 6 straddles no panel, 40 does on the CPU kernels
            new Case("projectHeads, f32 and bf16 weights", List.of("gemm_grouped", "gemm_bf16_grouped"), 1e-2, (be, r) -> {
                Tensor x = rand(be, r, 7, D), W = rand(be, r, H, D, DH), b = rand(be, r, H, DH), o = be.empty(7, H * DH);
                be.projectHeads(x, W, b, o);
                Tensor W2 = bf16(be, r, 3, D, 40), o2 = be.empty(7, 3 * 40);
                be.projectHeads(x, W2, null, o2);
                return out(o, o2);
            }),
            c("embed, bf16 embed, pos_embed", List.of("embed", "embed_bf16", "pos_embed"), (be, r) -> {
                Tensor tok = ints(be, new int[] {0, 10, 3, 3, 7, 1, 9}), W = rand(be, r, V, D), o1 = be.empty(7, D), o2 = be.empty(7, D);
                be.embed(tok, W, o1);
                be.embed(Tensor.ofInts(new int[] {0, 10, 3, 3, 7, 1, 9}, 7), bf16(be, r, V, D), o2); // tokens from the host
                Tensor P = rand(be, r, 9, D), p = be.empty(B, S, D);
                be.posEmbed(B, S, 3, P, p);
                return out(o1, o2, p);
            }),
            c("layer_norm, rms_norm", List.of("layernorm", "rmsnorm"), (be, r) -> {
                Tensor x = rand(be, r, 7, D), w = rand(be, r, D), b = rand(be, r, D);
                Tensor o = be.empty(7, D), sc = be.empty(7, 1), o2 = be.empty(7, D), sc2 = be.empty(7, 1), n2 = be.empty(7, D), o3 = be.empty(7, D);
                be.layerNorm(x, w, b, 1e-5f, o, sc);
                be.rmsNorm(x, w, 1e-6f, o2, sc2, n2);
                be.layerNorm(x, null, null, 1e-5f, o3, null);
                return out(o, sc, o2, sc2, n2, o3);
            }),
            c("rotary (both pair layouts, partial)", List.of("rotary"), (be, r) -> {
                Tensor x = rand(be, r, B, S, H, DH), cos = rand(be, r, 8, 2), sin = rand(be, r, 8, 2), o = be.empty(B, S, H, DH), o2 = be.empty(B, S, H, DH);
                be.rotary(x, 4, 2, cos, sin, false, o);
                be.rotary(x, 4, 0, cos, sin, true, o2);
                return out(o, o2);
            }),
            c("attention: split and fused, window, soft cap, key ranges, KV-cache shape", List.of("attn_scores_masked", "attn_apply_kv", "attention_masked"), (be, r) -> {
                Tensor q = rand(be, r, B, S, H, DH), k = rand(be, r, B, S + 2, KV, DH), v = rand(be, r, B, S + 2, KV, DH);
                long[] ranges = {1, 7, 0, 5};
                Tensor sc = be.empty(B, H, S, S + 2), z = be.empty(B, S, H, DH), z2 = be.empty(B, S, H, DH);
                Tensor sc2 = be.empty(B, H, S, S + 2), pat2 = be.empty(B, H, S, S + 2), z3 = be.empty(B, S, H, DH);
                be.attnScores(q, k, 0.4f, 3, 1.5f, ranges, sc);
                Tensor pat = be.empty(B, H, S, S + 2);
                be.softmax(sc, pat);
                be.attnApply(pat, v, z);
                be.attention(q, k, v, 0.4f, 3, 1.5f, ranges, z2, sc2, pat2);
                be.attention(q, k, v, 0.4f, 0, 0f, null, z3, null, null); // the flash path: neither scores nor pattern
                return out(sc, pat, z, z2, sc2, pat2, z3);
            }),
            c("softcap", List.of("softcap"), (be, r) -> {
                Tensor x = rand(be, r, 3, 33), o = be.empty(3, 33);
                be.softcap(x, 2.5f, o);
                return out(o);
            }),
            c("activations and gated activations", List.of("activation", "gated_activation"), (be, r) -> {
                List<float[]> l = new ArrayList<>();
                Tensor x = rand(be, r, 3, 37), g = rand(be, r, 3, 37);
                for (Activation a : Activation.values()) {
                    Tensor o = be.empty(3, 37), og = be.empty(3, 37);
                    be.activation(a, x, o);
                    be.gatedActivation(a, x, g, og);
                    l.addAll(out(o, og));
                }
                return l;
            }),
            c("add, scale_cols, add_bias (in place)", List.of("add", "scale_cols", "add_bias"), (be, r) -> {
                Tensor a = rand(be, r, 7, D), b = rand(be, r, 7, D), w = rand(be, r, D), o = be.empty(7, D), o2 = be.empty(7, D);
                be.add(a, b, o);
                be.scaleCols(a, w, o2);
                be.addBias(b, w, b);
                return out(o, o2, b);
            }),
            c("gather (f32 along a middle dim, bf16 rows widened)", List.of("index_select", "bf16_to_f32"), (be, r) -> {
                Tensor x = rand(be, r, B, S, D), o = be.empty(B, 3, D), w = bf16(be, r, V, D), o2 = be.empty(3, D);
                be.gather(x, 1, new int[] {4, 0, 4}, o);
                be.gather(w, 0, new int[] {10, 2, 0}, o2);
                return out(o, o2);
            }),
            c("softmax, log_softmax (masked rows), cross_entropy", List.of("softmax", "log_softmax", "cross_entropy"), (be, r) -> {
                float[] v = rand(CpuBackend.get(), r, 4, 29).toFloatArray();
                for (int j = 0; j < 29; j++) v[29 + j] = Float.NEGATIVE_INFINITY; // an all-masked row gives 0
                v[5] = Float.NEGATIVE_INFINITY;
                Tensor x = on(be, Tensor.of(v, 4, 29)), o = be.empty(4, 29), lo = rand(be, r, 3, 29), lso = be.empty(3, 29), loss = be.empty(3);
                be.softmax(x, o);
                be.logSoftmax(lo, lso);
                be.crossEntropy(lo, Tensor.ofInts(new int[] {0, 28, 13}, 3), loss);
                return out(o, lso, loss);
            }));
        return cases.stream().map(c -> DynamicTest.dynamicTest(c.name, () -> parity(c)));
    }

    @TestFactory
    Stream<DynamicTest> backwardMethodsMatchTheCpu() {
        List<Case> cases = List.of(
            c("sum_rows (accumulates)", List.of("sum_rows"), (be, r) -> {
                Tensor x = rand(be, r, 9, D), o = rand(be, r, D);
                be.sumRows(x, o);
                return out(o);
            }),
            c("embed and pos_embed backward (accumulate, repeated tokens)", List.of("embed_backward", "pos_embed_backward"), (be, r) -> {
                Tensor d = rand(be, r, 7, D), dW = rand(be, r, V, D), dP = rand(be, r, 9, D), dO = rand(be, r, B, S, D);
                be.embedBackward(ints(be, new int[] {3, 3, 0, 10, 3, 5, 0}), d, dW);
                be.posEmbedBackward(B, S, 2, dO, dP);
                return out(dW, dP);
            }),
            c("layer_norm and rms_norm backward", List.of("layernorm", "rmsnorm", "layernorm_backward", "rmsnorm_backward"), (be, r) -> {
                Tensor x = rand(be, r, 7, D), w = rand(be, r, D), b = rand(be, r, D), dO = rand(be, r, 7, D);
                Tensor o = be.empty(7, D), sc = be.empty(7, 1), sc2 = be.empty(7, 1), o2 = be.empty(7, D);
                be.layerNorm(x, w, b, 1e-5f, o, sc);
                be.rmsNorm(x, w, 1e-6f, o2, sc2, null);
                Tensor dx = be.empty(7, D), dw = be.zeros(D), db = be.zeros(D), ds = be.empty(7, 1);
                Tensor dx2 = be.empty(7, D), dw2 = be.zeros(D), dn2 = be.empty(7, D), ds2 = be.empty(7, 1);
                be.layerNormBackward(x, w, sc, dO, dx, dw, db, ds);
                be.rmsNormBackward(x, w, sc2, dO, dx2, dw2, dn2, ds2);
                return out(dx, dw, db, ds, dx2, dw2, dn2, ds2);
            }),
            c("rotary backward", List.of("rotary_backward"), (be, r) -> {
                Tensor d = rand(be, r, B, S, H, DH), cos = rand(be, r, 8, 3), sin = rand(be, r, 8, 3), o = be.empty(B, S, H, DH);
                be.rotaryBackward(d, 6, 1, cos, sin, false, o);
                return out(o);
            }),
            c("attention backward (scores with window and key ranges, apply), softmax backward",
                List.of("attn_scores_backward_masked", "attn_apply_backward", "softmax", "softmax_backward", "attn_scores_masked"), (be, r) -> {
                Tensor q = rand(be, r, B, S, H, DH), k = rand(be, r, B, S, KV, DH), v = rand(be, r, B, S, KV, DH);
                long[] ranges = {1, 5, 0, 4};
                Tensor sc = be.empty(B, H, S, S), pat = be.empty(B, H, S, S);
                be.attnScores(q, k, 0.4f, 3, 0f, ranges, sc);
                be.softmax(sc, pat);
                Tensor dz = rand(be, r, B, S, H, DH), dPat = be.empty(B, H, S, S), dv = be.empty(B, S, KV, DH), dSc = be.empty(B, H, S, S);
                be.attnApplyBackward(pat, v, dz, dPat, dv);
                be.softmaxBackward(pat, dPat, dSc);
                Tensor dq = be.empty(B, S, H, DH), dk = be.empty(B, S, KV, DH);
                be.attnScoresBackward(q, k, 0.4f, 3, ranges, dSc, dq, dk);
                return out(dPat, dv, dSc, dq, dk);
            }),
            c("softcap backward", List.of("softcap", "softcap_backward"), (be, r) -> {
                Tensor x = rand(be, r, 3, 33), y = be.empty(3, 33), dy = rand(be, r, 3, 33), dx = be.empty(3, 33);
                be.softcap(x, 2.5f, y);
                be.softcapBackward(y, dy, 2.5f, dx);
                return out(dx);
            }),
            c("activation and gated activation backward", List.of("activation_backward", "gated_activation_backward"), (be, r) -> {
                List<float[]> l = new ArrayList<>();
                Tensor x = rand(be, r, 3, 37), g = rand(be, r, 3, 37), d = rand(be, r, 3, 37);
                for (Activation a : Activation.values()) {
                    Tensor dx = be.empty(3, 37), dg = be.empty(3, 37), dl = be.empty(3, 37);
                    be.activationBackward(a, x, d, dx);
                    be.gatedActivationBackward(a, x, g, d, dg, dl);
                    l.addAll(out(dx, dg, dl));
                }
                return l;
            }),
            c("scale_cols backward", List.of("scale_cols_backward"), (be, r) -> {
                Tensor x = rand(be, r, 7, D), w = rand(be, r, D), d = rand(be, r, 7, D), dx = be.empty(7, D), dw = rand(be, r, D);
                be.scaleColsBackward(x, w, d, dx, dw);
                return out(dx, dw);
            }),
            c("log_softmax and cross_entropy backward", List.of("log_softmax", "log_softmax_backward", "cross_entropy_backward"), (be, r) -> {
                Tensor x = rand(be, r, 3, 29), y = be.empty(3, 29), d = rand(be, r, 3, 29), dx = be.empty(3, 29);
                be.logSoftmax(x, y);
                be.logSoftmaxBackward(y, d, dx);
                Tensor dl = be.empty(3, 29);
                be.crossEntropyBackward(x, ints(be, new int[] {2, 0, 28}), on(be, Tensor.of(new float[] {1f, -0.5f, 2f}, 3)), dl);
                return out(dx, dl);
            }));
        return cases.stream().map(c -> DynamicTest.dynamicTest(c.name, () -> parity(c)));
    }

    static Tensor bf16(Backend be, SplittableRandom r, long... shape) {
        try (Tensor f = rand(CpuBackend.get(), r, shape)) { return on(be, Bf16Gemm.toBf16(f)); }
    }

    @Test
    void badArgumentsFailInJavaAsOnTheCpuBeforeAnyKernel() {
        CudaBackend cuda = backend();
        try (TensorScope s = TensorScope.open()) {
            Tensor w = cuda.zeros(V, D), out = cuda.zeros(2, D);
            // the same message on both backends, whatever the CUDA library holds: the checks are shared
            String cpuMsg = assertThrows(IndexOutOfBoundsException.class,
                    () -> CpuBackend.get().embed(Tensor.ofInts(new int[] {1, V}, 2), Tensor.zeros(V, D), Tensor.zeros(2, D))).getMessage();
            String cudaMsg = assertThrows(IndexOutOfBoundsException.class, () -> cuda.embed(Tensor.ofInts(new int[] {1, V}, 2), w, out)).getMessage();
            assertEquals(cpuMsg, cudaMsg);
            assertTrue(cudaMsg.contains("token id " + V), cudaMsg);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> cuda.attention(cuda.zeros(1, 3, 2, 4), cuda.zeros(1, 3, 2, 4), cuda.zeros(1, 3, 2, 4), 1f, 0, 0f, new long[] {0, 4},
                            cuda.zeros(1, 3, 2, 4), null, null));
            assertTrue(e.getMessage().contains("row 0's valid keys [0, 4)"), e.getMessage());
            // a host tensor where the device is needed names both devices
            e = assertThrows(IllegalArgumentException.class, () -> cuda.add(Tensor.zeros(3), cuda.zeros(3), cuda.zeros(3)));
            assertTrue(e.getMessage().contains("is not on cuda:0"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> cuda.setNumThreads(0));
        }
    }

    @Test
    void deviceTensorsCopyBothWaysAndFreeTheirMemory() {
        CudaBackend cuda = backend();
        long live = Tensor.liveBytes(), free = cuda.memInfo()[0];
        float[] v = {1f, -2f, 3.5f, Float.NEGATIVE_INFINITY, 0f};
        try (Tensor host = Tensor.of(v, 5); Tensor d = host.to(cuda.device()); Tensor z = Tensor.zeros(cuda.device(), DType.F32, 1000);
             Tensor d2 = d.copy(); Tensor back = d2.to(Device.CPU)) {
            assertEquals(cuda.device(), d.device());
            assertArrayEquals(v, back.toFloatArray());
            assertArrayEquals(new float[1000], z.toFloatArray(), "zeros are zero on the device");
            d2.set(new float[] {9, 8, 7, 6, 5});
            assertArrayEquals(new float[] {9, 8, 7, 6, 5}, d2.toFloatArray());
            assertArrayEquals(v, d.toFloatArray(), "a device copy is independent");
            assertThrows(IllegalStateException.class, () -> d.get(0), "get() reads host memory");
            assertThrows(IllegalStateException.class, d::floatPointer, "Java never gets a host pointer over device memory");
            assertTrue(cuda.memInfo()[0] < free, "device memory is in use");
        }
        assertEquals(live, Tensor.liveBytes());
        assertEquals(free, cuda.memInfo()[0], "every device byte is back");
    }

    @Test
    void tensorOpsRunOnTheDeviceAndMatchTheCpu() {
        assumeKernels("strided_copy", "index_select", "binary", "unary", "reduce", "arg_reduce", "topk", "softmax_dim", "cosine_dim", "gemm");
        CudaBackend cuda = backend();
        long live = Tensor.liveBytes();
        List<List<float[]>> results = new ArrayList<>();
        for (Backend be : List.<Backend>of(CpuBackend.get(), cuda)) {
            try (TensorScope s = TensorScope.open()) {
                SplittableRandom r = new SplittableRandom(11);
                Tensor a = rand(be, r, 3, 4, 5), b = rand(be, r, 4, 1), m = rand(be, r, 5, 6);
                List<Tensor> outs = new ArrayList<>(List.of(a.permute(2, 0, 1), a.select(1, 2), a.slice(2, 1, 4), a.indexSelect(1, 3, 0, 3),
                        a.add(b), a.mul(2f), a.exp(), a.sum(1), a.mean(-1), a.max(0), a.softmax(-1), a.logSoftmax(0), a.matmul(m),
                        a.cosineSimilarity(a.square(), 2), a.topk(2, 2).values()));
                for (Tensor t : outs) assertEquals(be.device(), t.device(), "results stay on " + be.device());
                List<float[]> l = new ArrayList<>();
                for (Tensor t : outs) l.add(t.toFloatArray());
                try (Tensor am = a.argmax(2); var tk = a.topk(2, 2)) {
                    l.add(toFloats(am.toIntArray()));
                    l.add(toFloats(tk.indices().toIntArray()));
                }
                results.add(l);
            }
        }
        for (int i = 0; i < results.get(0).size(); i++) assertClose("op " + i, results.get(0).get(i), results.get(1).get(i), TOL);
        assertEquals(live, Tensor.liveBytes());
    }

    private static float[] toFloats(int[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = v[i];
        return f;
    }
}
