package dev.lens4j.backend;

import dev.lens4j.nativ.CpuKernels;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Device;
import dev.lens4j.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The bf16-weight GEMM (native/cpu/gemm_bf16.cpp) against a double-precision product of the inputs each path
 * multiplies: the AVX512-BF16 path rounds A to bf16 (nearest even), the widening path keeps A exact; B is bf16 in both.
 */
class Bf16GemmTest {
    private static final CpuBackend B = CpuBackend.get();
    private long liveAtStart;

    @BeforeEach void start() { liveAtStart = Tensor.liveBytes(); }
    @AfterEach void noLeak() { assertEquals(liveAtStart, Tensor.liveBytes(), "native bytes leaked"); }

    // the conversion checked on hand-computed bit patterns, not on the code under test
    @Test void conversionRoundsToNearestEven() {
        float[] x = {1f, 1f + 0x1p-8f, 1f + 0x1p-7f + 0x1p-8f, 1f + 0x1p-8f + 0x1p-20f, -2.5f, Float.POSITIVE_INFINITY,
                Float.NaN, Float.MAX_VALUE, 0f, -0f};
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: to even (1); 1 + 3*2^-8 halfway between 1 + 2^-7 and 1 + 2^-6:
        // to even (1 + 2^-6); just above halfway rounds up; MAX_VALUE rounds up to Inf (bf16 has the same exponent range)
        int[] expected = {0x3F80, 0x3F80, 0x3F82, 0x3F81, 0xC020, 0x7F80, -1, 0x7F80, 0x0000, 0x8000};
        try (Tensor t = Tensor.of(x, x.length); Tensor h = Bf16Gemm.toBf16(t)) {
            assertEquals(DType.BF16, h.dtype());
            short[] bits = new short[x.length];
            h.bf16Pointer().get(bits);
            float[] widened = h.toFloatArray();
            for (int i = 0; i < x.length; i++) {
                if (expected[i] < 0) assertTrue(Float.isNaN(widened[i]), "NaN stays NaN, got " + widened[i]);
                else assertEquals(expected[i], bits[i] & 0xFFFF, "bf16 bits of " + x[i]);
            }
            assertEquals(-2.5f, widened[4]);
            assertThrows(IllegalStateException.class, () -> h.floatPointer(), "bf16 tensors are not writable as floats");
            assertThrows(IllegalStateException.class, () -> h.put(1f, 0));
        }
    }

    @Test void bothPathsMatchDoubleReferenceOnEdgeShapes() {
        long[][] shapes = { // M, N, K, transB, bias, beta != 0, padding of the leading dimensions
                {1, 1, 1, 0, 0, 0, 0}, {1, 3072, 768, 0, 1, 0, 0}, {7, 33, 17, 0, 1, 1, 3}, {9, 31, 2, 1, 0, 1, 1},
                {64, 64, 768, 0, 1, 0, 0}, {130, 100, 257, 1, 1, 1, 5}, {17, 1, 5, 0, 0, 0, 0}, {200, 97, 63, 1, 0, 0, 0},
                {3, 40, 1, 0, 1, 1, 0}};
        for (Bf16Gemm.Path path : Bf16Gemm.Path.values()) {
            boolean roundsA = path == Bf16Gemm.Path.AUTO && Bf16Gemm.hasNativeBf16();
            for (long[] s : shapes) check(path, roundsA, s);
        }
    }

    private void check(Bf16Gemm.Path path, boolean roundsA, long[] s) {
        int M = (int) s[0], N = (int) s[1], K = (int) s[2], pad = (int) s[6];
        boolean tB = s[3] == 1, withBias = s[4] == 1;
        float beta = s[5] == 1 ? 0.75f : 0f, alpha = 1.25f;
        int lda = K + pad, ldb = (tB ? K : N) + pad, ldc = N + pad, offB = 2 * pad;
        SplittableRandom r = new SplittableRandom(M * 31L + N * 7L + K);
        float[] a = randn(r, M * lda), bAll = randn(r, offB + (tB ? N : K) * ldb), c0 = randn(r, M * ldc), bias = randn(r, N);
        try (Tensor A = Tensor.of(a, a.length); Tensor Bf = Tensor.of(bAll, bAll.length); Tensor Bh = Bf16Gemm.toBf16(Bf);
             Tensor C = Tensor.of(c0, c0.length); Tensor bi = withBias ? Tensor.of(bias, N) : null) {
            float[] b = Bh.toFloatArray(); // the bf16 weights as the kernel sees them
            Bf16Gemm.gemm(path, false, tB, M, N, K, alpha, A, 0, lda, Bh, offB, ldb, beta, C, 0, ldc, bi, 0);
            float[] got = C.toFloatArray();
            for (int i = 0; i < M; i++) {
                for (int j = 0; j < N; j++) {
                    double sum = 0, mag = 0;
                    for (int k = 0; k < K; k++) {
                        double av = roundsA ? bf16(a[i * lda + k]) : a[i * lda + k];
                        double bv = b[offB + (tB ? j * ldb + k : k * ldb + j)];
                        sum += av * bv;
                        mag += Math.abs(av * bv);
                    }
                    double want = alpha * sum + beta * c0[i * ldc + j] + (withBias ? bias[j] : 0);
                    double tol = 1e-6 * (Math.abs(alpha) * mag + Math.abs(beta * c0[i * ldc + j]) + 1) * Math.max(1, Math.sqrt(K));
                    assertEquals(want, got[i * ldc + j], tol, path + " " + Arrays.toString(s) + " at " + i + "," + j);
                }
                for (int j = N; j < ldc; j++) assertEquals(c0[i * ldc + j], got[i * ldc + j], "padding of C is untouched");
            }
        }
    }

    // K = 0: C = beta * C + bias for every N (the empty product once passed ldb = 1 and was refused for N > 1)
    @Test void emptyProductScalesCAndAddsTheBias() {
        try (FloatPointer c = new FloatPointer(2f, 4f, 6f, 8f, 10f, 12f); FloatPointer bias = new FloatPointer(1f, 1f, 1f, 2f, 2f, 2f);
             FloatPointer a = new FloatPointer(1); ShortPointer w = new ShortPointer(1)) {
            for (int mode = 0; mode <= 1; mode++) {
                c.put(new float[] {2f, 4f, 6f, 8f, 10f, 12f});
                assertEquals(0, CpuKernels.l4j_gemm_bf16(0, 1, 6, 0, 1f, a, 1, w, 6, 0.5f, c, 6, bias, mode), "mode " + mode);
                float[] got = new float[6];
                c.get(got);
                assertArrayEquals(new float[] {2f, 3f, 4f, 6f, 7f, 8f}, got, "mode " + mode);
            }
        }
    }

    @Test void autoPathRoundsActivationsWhereTheCpuHasBf16() {
        // A = 1 + 2^-10 is not a bf16 value: the AVX512-BF16 path sees 1, the widening path sees it exactly
        try (Tensor A = Tensor.of(new float[] {1f + 0x1p-10f}, 1); Tensor one = Tensor.of(new float[] {1f}, 1);
             Tensor W = Bf16Gemm.toBf16(one); Tensor C = B.zeros(1)) {
            Bf16Gemm.gemm(Bf16Gemm.Path.WIDEN, false, false, 1, 1, 1, 1f, A, 0, 1, W, 0, 1, 0f, C, 0, 1, null, 0);
            assertEquals(1f + 0x1p-10f, C.get(0));
            Bf16Gemm.gemm(Bf16Gemm.Path.AUTO, false, false, 1, 1, 1, 1f, A, 0, 1, W, 0, 1, 0f, C, 0, 1, null, 0);
            assertEquals(Bf16Gemm.hasNativeBf16() ? 1f : 1f + 0x1p-10f, C.get(0));
        }
    }

    @Test void avx512Bf16IsUsedWhereTheCpuHasIt() throws Exception {
        String cpuinfo = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/cpuinfo"));
        boolean has = cpuinfo.contains(" avx512_bf16") && cpuinfo.contains(" avx512bw") && cpuinfo.contains(" avx512vl");
        assertEquals(has, Bf16Gemm.hasNativeBf16(), "the run-time dispatch follows /proc/cpuinfo's avx512_bf16 flag");
    }

    @Test void bf16GemmIsThreadCountInvariant() {
        long[][] shapes = {{1024, 64, 768, 0}, {300, 770, 96, 1}, {1, 5000, 96, 0}, {1040, 17, 33, 1}};
        int threads = B.numThreads();
        try {
            for (long[] s : shapes) {
                int M = (int) s[0], N = (int) s[1], K = (int) s[2];
                boolean tB = s[3] == 1;
                SplittableRandom r = new SplittableRandom(5);
                try (Tensor A = Tensor.of(randn(r, M * K), (long) M * K); Tensor Bf = Tensor.of(randn(r, K * N), (long) K * N);
                     Tensor Bh = Bf16Gemm.toBf16(Bf); Tensor bias = Tensor.of(randn(r, N), N)) {
                    for (Bf16Gemm.Path path : Bf16Gemm.Path.values()) {
                        float[] reference = null;
                        for (int t : new int[] {1, 2, 3, 4, 7}) {
                            B.setNumThreads(t);
                            try (Tensor C = B.zeros((long) M * N)) {
                                Bf16Gemm.gemm(path, false, tB, M, N, K, 0.5f, A, 0, K, Bh, 0, tB ? K : N, 0f, C, 0, N, bias, 0);
                                float[] got = C.toFloatArray();
                                if (reference == null) reference = got;
                                else assertArrayEquals(reference, got, path + " " + Arrays.toString(s) + " with 1 vs " + t + " threads");
                            }
                        }
                    }
                }
            }
        } finally {
            B.setNumThreads(threads);
        }
    }

    @Test void backendDispatchesOnTheWeightDtype() {
        SplittableRandom r = new SplittableRandom(3);
        int rows = 5, K = 12, N = 7;
        float[] x = randn(r, rows * K), w = randn(r, K * N);
        try (Tensor X = Tensor.of(x, rows, K); Tensor W = Tensor.of(w, K, N); Tensor Wh = Bf16Gemm.toBf16(W);
             Tensor out32 = B.zeros(rows, N); Tensor out16 = B.zeros(rows, N); Tensor ref = B.zeros(rows, N);
             Tensor Wr = Tensor.of(Wh.toFloatArray(), K, N)) {
            B.linear(X, Wh, null, out16);
            try (Tensor Ar = Tensor.of(roundsActivations() ? roundAll(x) : x, rows, K)) { B.linear(Ar, Wr, null, ref); }
            assertArrayEquals(ref.toFloatArray(), out16.toFloatArray(), 1e-5f, "bf16 linear = f32 linear of the rounded operands");
            B.linear(X, W, null, out32);
            assertFalse(Arrays.equals(out32.toFloatArray(), out16.toFloatArray()), "the f32 weight is not rounded");
            // dx = dOut W^T through the bf16 weight
            try (Tensor dx16 = B.zeros(rows, K); Tensor dx = B.zeros(rows, K); Tensor dOut = Tensor.of(randn(r, rows * N), rows, N);
                 Tensor dOutR = Tensor.of(roundsActivations() ? roundAll(dOut.toFloatArray()) : dOut.toFloatArray(), rows, N)) {
                B.linearBackward(null, Wh, dOut, dx16, null, null);
                B.linearBackward(null, Wr, dOutR, dx, null, null);
                assertArrayEquals(dx.toFloatArray(), dx16.toFloatArray(), 1e-5f);
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> B.gemm(true, false, rows, N, K, 1f, X, 0, rows, Wh, 0, N, 0f, out16, 0, N, null, 0));
            assertTrue(e.getMessage().contains("not transposed"), e.getMessage());
        }
    }

    @Test void embeddingAndGatherWidenBf16Rows() {
        float[] w = randn(new SplittableRandom(9), 6 * 4);
        try (Tensor W = Tensor.of(w, 6, 4); Tensor Wh = Bf16Gemm.toBf16(W); Tensor tokens = Tensor.ofInts(new int[] {5, 0, 5}, 3);
             Tensor out = B.zeros(3, 4); Tensor g = B.zeros(2, 4)) {
            float[] wr = roundAll(w);
            B.embed(tokens, Wh, out);
            float[] e = out.toFloatArray();
            for (int j = 0; j < 4; j++) {
                assertEquals(wr[5 * 4 + j], e[j]);
                assertEquals(wr[j], e[4 + j]);
            }
            B.gather(Wh, 0, new int[] {2, 1}, g);
            float[] gg = g.toFloatArray();
            for (int j = 0; j < 4; j++) assertEquals(wr[2 * 4 + j], gg[j]);
            try (Tensor bad = Tensor.ofInts(new int[] {6}, 1); Tensor o = B.zeros(1, 4)) {
                assertThrows(IndexOutOfBoundsException.class, () -> B.embed(bad, Wh, o));
            }
        }
    }

    @Test void bf16TensorsCopyAndRefuseNativeMisuse() {
        try (Tensor h = Tensor.zeros(Device.CPU, DType.BF16, 3, 2); Tensor c = h.copy()) {
            assertEquals(DType.BF16, c.dtype());
            assertEquals(6, h.numel());
            assertArrayEquals(new float[6], c.toFloatArray());
            assertThrows(IllegalArgumentException.class, () -> Bf16Gemm.toBf16(h));
        }
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(Device.CPU, DType.F16, 2));
    }

    private static boolean roundsActivations() { return Bf16Gemm.hasNativeBf16(); }

    /** Round to nearest even at bit 16, written from the definition (NaN not needed here). */
    static float bf16(float x) {
        int u = Float.floatToRawIntBits(x);
        int lsb = (u >>> 16) & 1;
        return Float.intBitsToFloat(((u + 0x7FFF + lsb) >>> 16) << 16);
    }

    static float[] roundAll(float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) y[i] = bf16(x[i]);
        return y;
    }

    private static float[] randn(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            double u1 = r.nextDouble(), u2 = r.nextDouble();
            x[i] = (float) (Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2));
        }
        return x;
    }
}
