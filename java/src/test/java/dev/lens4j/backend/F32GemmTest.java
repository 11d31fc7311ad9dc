package dev.lens4j.backend;

import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * lens4j's AVX-512F float32 GEMM (native/cpu/gemm_avx512.cpp) against a double-precision product computed here from
 * the definition, over ragged shapes (M, N, K in 1..300 around the 12 x 32 tile edges), every transpose, padded
 * leading dimensions, beta 0 / 1 / 0.75 and bias; the OpenBLAS path is held to the same bound. Results must not
 * depend on the thread count, and l4j_gemm must take the AVX-512F kernel exactly where the CPU has AVX-512F.
 */
class F32GemmTest {
    private static final CpuBackend B = CpuBackend.get();
    private static final double U = 0x1p-24; // float32 unit roundoff
    private long liveAtStart;

    @BeforeEach void start() { liveAtStart = Tensor.liveBytes(); }
    @AfterEach void noLeak() { assertEquals(liveAtStart, Tensor.liveBytes(), "native bytes leaked"); }

    private static List<F32Gemm.Path> paths() {
        return F32Gemm.hasAvx512() ? List.of(F32Gemm.Path.AVX512, F32Gemm.Path.OPENBLAS) : List.of(F32Gemm.Path.OPENBLAS);
    }

    /** M, N, K, transA, transB, beta code (0: 0, 1: 1, 2: 0.75), bias, padding of the leading dimensions. */
    private static List<int[]> raggedShapes() {
        List<int[]> shapes = new ArrayList<>(List.of(
                new int[] {1, 1, 1, 0, 0, 0, 0, 0}, new int[] {12, 32, 1, 0, 0, 1, 1, 0}, new int[] {13, 33, 7, 1, 0, 2, 1, 3},
                new int[] {11, 31, 300, 0, 1, 0, 0, 1}, new int[] {300, 300, 300, 1, 1, 1, 1, 5},
                new int[] {24, 64, 64, 0, 0, 0, 1, 0}, new int[] {25, 65, 2, 1, 1, 2, 0, 2}, new int[] {299, 1, 17, 0, 1, 1, 1, 0},
                new int[] {1, 299, 129, 1, 0, 0, 1, 4}, new int[] {48, 96, 0, 0, 0, 2, 1, 1}));
        SplittableRandom r = new SplittableRandom(12);
        for (int i = 0; i < 30; i++)
            shapes.add(new int[] {1 + r.nextInt(300), 1 + r.nextInt(300), 1 + r.nextInt(300), r.nextInt(2), r.nextInt(2),
                    r.nextInt(3), r.nextInt(2), r.nextInt(2) * (1 + r.nextInt(9))});
        return shapes;
    }

    @Test void matchesDoubleReferenceOnRaggedShapes() {
        for (int[] s : raggedShapes())
            for (F32Gemm.Path path : paths()) check(path, s);
    }

    private void check(F32Gemm.Path path, int[] s) {
        int M = s[0], N = s[1], K = s[2], pad = s[7];
        boolean tA = s[3] == 1, tB = s[4] == 1, withBias = s[6] == 1;
        float beta = s[5] == 0 ? 0f : s[5] == 1 ? 1f : 0.75f, alpha = 1.25f;
        int lda = (tA ? M : K) + pad, ldb = (tB ? K : N) + pad, ldc = N + pad, offA = pad, offB = 2 * pad;
        SplittableRandom r = new SplittableRandom(M * 31L + N * 7L + K + (tA ? 1 : 0) + (tB ? 2 : 0));
        float[] a = uniform(r, offA + (tA ? K : M) * lda + 1), b = uniform(r, offB + (tB ? N : K) * ldb + 1);
        float[] c0 = uniform(r, M * ldc), bias = uniform(r, N);
        if (beta == 0f) c0[0] = Float.NaN; // beta 0 must not read C (BLAS semantics: NaN * 0 would spread)
        String what = path + " " + Arrays.toString(s);
        try (Tensor At = Tensor.of(a, a.length); Tensor Bt = Tensor.of(b, b.length); Tensor C = Tensor.of(c0, c0.length);
             Tensor bi = withBias ? Tensor.of(bias, N) : null) {
            F32Gemm.gemm(path, tA, tB, M, N, K, alpha, At, offA, lda, Bt, offB, ldb, beta, C, 0, ldc, bi, 0);
            float[] got = C.toFloatArray();
            for (int i = 0; i < M; i++) {
                for (int j = 0; j < N; j++) {
                    double sum = 0, mag = 0;
                    for (int k = 0; k < K; k++) {
                        double p = (double) a[offA + (tA ? k * lda + i : i * lda + k)] * b[offB + (tB ? j * ldb + k : k * ldb + j)];
                        sum += p;
                        mag += Math.abs(p);
                    }
                    double old = beta == 0f ? 0 : beta * (double) c0[i * ldc + j], bj = withBias ? bias[j] : 0;
                    double want = alpha * sum + old + bj;
                    // a float sum of K products is within K*u*sum|a*b| of the exact sum; the scaling adds a few u
                    double tol = (K + 4) * U * (Math.abs(alpha) * mag + Math.abs(old) + Math.abs(bj)) + 1e-30;
                    assertEquals(want, got[i * ldc + j], tol, what + " at " + i + "," + j);
                }
                for (int j = N; j < ldc; j++) assertEquals(c0[i * ldc + j], got[i * ldc + j], what + ": padding of C is untouched");
            }
        }
    }

    @Test void resultsDoNotDependOnTheThreadCount() {
        int[][] shapes = {{1024, 768, 768, 0, 0}, {300, 770, 96, 0, 1}, {1040, 64, 33, 1, 0}, {13, 5000, 96, 0, 0},
                {768, 3072, 200, 1, 0}};
        int threads = B.numThreads();
        try {
            for (int[] s : shapes) {
                int M = s[0], N = s[1], K = s[2];
                boolean tA = s[3] == 1, tB = s[4] == 1;
                SplittableRandom r = new SplittableRandom(5);
                try (Tensor A = Tensor.of(uniform(r, M * K), (long) M * K); Tensor W = Tensor.of(uniform(r, K * N), (long) K * N);
                     Tensor bias = Tensor.of(uniform(r, N), N)) {
                    for (F32Gemm.Path path : F32Gemm.hasAvx512() ? List.of(F32Gemm.Path.AVX512, F32Gemm.Path.AUTO) : List.of(F32Gemm.Path.AUTO)) {
                        float[] reference = null;
                        for (int t : new int[] {1, 2, 3, 4, 7}) {
                            B.setNumThreads(t);
                            try (Tensor C = B.zeros((long) M * N)) {
                                F32Gemm.gemm(path, tA, tB, M, N, K, 0.5f, A, 0, tA ? M : K, W, 0, tB ? K : N, 0f, C, 0, N, bias, 0);
                                float[] got = C.toFloatArray();
                                if (reference == null) reference = got;
                                else assertArrayEquals(reference, got, path + " " + Arrays.toString(s) + ": 1 vs " + t + " threads");
                            }
                        }
                    }
                }
            }
        } finally {
            B.setNumThreads(threads);
        }
    }

    @Test void theKernelRunsExactlyWhereTheCpuHasAvx512() throws Exception {
        String cpuinfo = Files.readString(Path.of("/proc/cpuinfo"));
        assertEquals(cpuinfo.contains(" avx512f"), F32Gemm.hasAvx512(), "the run-time dispatch follows /proc/cpuinfo's avx512f flag");
        if (!F32Gemm.hasAvx512()) {
            try (Tensor x = B.zeros(4)) {
                assertThrows(UnsupportedOperationException.class,
                        () -> F32Gemm.gemm(F32Gemm.Path.AVX512, false, false, 2, 2, 1, 1f, x, 0, 1, x, 0, 2, 0f, x, 0, 2, null, 0));
            }
            return;
        }
        // l4j_gemm (AUTO) gives the AVX-512F kernel's bits on a forward-sized product and OpenBLAS's on four rows. The
        // kernels round differently at this depth: OpenBLAS sums K in blocks (a few hundred deep, per core type), each
        // block's sum rounded on its own, where the AVX-512F kernel carries one sum over all of K. (Below one block
        // both sum the products in order and can agree to the bit.)
        boolean forcedBlas = "openblas".equals(System.getenv("LENS4J_GEMM"));
        int[][] cases = {{256, 192, 3000}, {4, 192, 3000}};
        for (int[] s : cases) {
            int M = s[0], N = s[1], K = s[2];
            SplittableRandom r = new SplittableRandom(8);
            try (Tensor A = Tensor.of(uniform(r, M * K), (long) M * K); Tensor W = Tensor.of(uniform(r, K * N), (long) K * N)) {
                float[][] out = new float[3][];
                F32Gemm.Path[] ps = F32Gemm.Path.values();
                for (int p = 0; p < 3; p++)
                    try (Tensor C = B.zeros((long) M * N)) {
                        F32Gemm.gemm(ps[p], false, false, M, N, K, 1f, A, 0, K, W, 0, N, 0f, C, 0, N, null, 0);
                        out[p] = C.toFloatArray();
                    }
                boolean big = M >= 8 && !forcedBlas;
                assertFalse(Arrays.equals(out[1], out[2]), "the two kernels round differently on " + Arrays.toString(s));
                assertArrayEquals(big ? out[1] : out[2], out[0], "l4j_gemm on " + Arrays.toString(s) + " takes " + (big ? "AVX512" : "OPENBLAS"));
            }
        }
    }

    private static float[] uniform(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return x;
    }
}
