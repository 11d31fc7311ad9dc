package dev.lens4j.backend;

import dev.lens4j.nativ.CpuKernels;
import dev.lens4j.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Backend.projectHeads: out [rows, heads * d_head] = x @ W + b with W in TL's [heads, d_model, d_head] layout, read in
 * place as column groups by the CPU GEMMs (l4j_gemm_grouped, l4j_gemm_bf16_grouped). Checked against a double
 * product written here from the definition (out[r, h*dh + j] = sum_k x[r, k] W[h, k, j] + b[h, j]) for d_head that
 * fills whole 32-column panels (64), straddles them (40, 33, 7, 1), float32 and bf16 weights, every GEMM path; and bit for
 * bit against the same kernel over a contiguous repack of W (the kernels sum each element over k in order, so reading
 * W in place must change no bit).
 */
class ProjectHeadsTest {
    private static final CpuBackend B = CpuBackend.get();
    private static final double U = 0x1p-24;
    private long liveAtStart;

    @BeforeEach void start() { liveAtStart = Tensor.liveBytes(); }
    @AfterEach void noLeak() { assertEquals(liveAtStart, Tensor.liveBytes(), "native bytes leaked"); }

    /** rows, heads, d_model, d_head, bias. */
    private static final int[][] SHAPES = {
            {64, 12, 96, 64, 1}, {130, 3, 50, 40, 1}, {8, 5, 17, 33, 0}, {1, 4, 9, 7, 1}, {77, 12, 64, 1, 1},
            {5, 2, 300, 64, 0}, {200, 1, 40, 96, 1}, {66, 7, 31, 16, 0}};

    @Test void float32MatchesDoubleReferenceOnEveryPath() {
        for (int[] s : SHAPES) {
            Case c = new Case(s, false);
            try (c) {
                check(c, c.run(-1), (c.D + 4) * U, "backend");
                for (int path : F32Gemm.hasAvx512() ? new int[] {0, 1, 2} : new int[] {0, 2})
                    check(c, c.run(path), (c.D + 4) * U, "path " + path);
            }
        }
    }

    @Test void bf16MatchesDoubleReference() {
        for (int[] s : SHAPES) {
            Case c = new Case(s, true);
            try (c) {
                // mode 0 rounds x to bf16 where the CPU has AVX512-BF16 (2^-9 relative per product), mode 1 keeps x
                double auto = Bf16Gemm.hasNativeBf16() ? 0x1p-8 : (c.D + 4) * U;
                check(c, c.run(-1), auto, "backend");
                check(c, c.run(10), auto, "mode 0");
                check(c, c.run(11), (c.D + 4) * U, "mode 1 (widening)");
            }
        }
    }

    @Test void readingWInPlaceChangesNoBit() {
        for (int[] s : SHAPES) {
            for (boolean bf16 : new boolean[] {false, true}) {
                Case c = new Case(s, bf16);
                try (c) {
                    int[] paths = bf16 ? new int[] {10, 11} : F32Gemm.hasAvx512() ? new int[] {1} : new int[] {};
                    for (int path : paths)
                        assertArrayEquals(c.contiguous(path), c.run(path), Arrays.toString(s) + (bf16 ? " bf16" : "") + " path " + path);
                }
            }
        }
    }

    @Test void refusesMisshapedArgumentsBeforeNativeCode() {
        try (Tensor x = Tensor.zeros(4, 8); Tensor W = Tensor.zeros(2, 8, 3); Tensor out = Tensor.zeros(4, 6);
             Tensor flat = Tensor.zeros(8, 6); Tensor badBias = Tensor.zeros(5); Tensor badOut = Tensor.zeros(4, 5);
             Tensor badX = Tensor.zeros(4, 7)) {
            assertMessage(() -> B.projectHeads(x, flat, null, out), "is not [heads, d_model, d_head]");
            assertMessage(() -> B.projectHeads(x, W, badBias, out), "bias");
            assertMessage(() -> B.projectHeads(x, W, null, badOut), "should hold 4x2x3");
            assertMessage(() -> B.projectHeads(badX, W, null, out), "not a multiple of d_model 8");
            B.projectHeads(x, W, null, out); // the well-formed call runs
        }
    }

    private static void assertMessage(Runnable r, String part) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().contains(part), e.getMessage());
    }

    private static void check(Case c, float[] got, double rel, String what) {
        for (int r = 0; r < c.rows; r++)
            for (int h = 0; h < c.heads; h++)
                for (int j = 0; j < c.dh; j++) {
                    double sum = 0, mag = 0;
                    for (int k = 0; k < c.D; k++) {
                        double p = (double) c.x[r * c.D + k] * c.w[(h * c.D + k) * c.dh + j];
                        sum += p;
                        mag += Math.abs(p);
                    }
                    double bias = c.b == null ? 0 : c.b[h * c.dh + j];
                    int at = r * c.heads * c.dh + h * c.dh + j;
                    assertEquals(sum + bias, got[at], rel * (mag + Math.abs(bias)) + 1e-30,
                            what + " " + Arrays.toString(c.shape) + (c.bf16 ? " bf16" : "") + " at row " + r + " head " + h + " col " + j);
                }
    }

    /** One projection's operands; w holds W's values as stored (bf16 weights widened exactly). */
    private static final class Case implements AutoCloseable {
        final int[] shape;
        final int rows, heads, D, dh;
        final boolean bf16;
        final float[] x, w, b;
        final Tensor X, W, bias;

        Case(int[] s, boolean bf16) {
            shape = s;
            rows = s[0]; heads = s[1]; D = s[2]; dh = s[3];
            this.bf16 = bf16;
            SplittableRandom r = new SplittableRandom(Arrays.hashCode(s));
            x = uniform(r, rows * D);
            float[] w32 = uniform(r, heads * D * dh);
            b = s[4] == 1 ? uniform(r, heads * dh) : null;
            X = Tensor.of(x, rows, D);
            bias = b == null ? null : Tensor.of(b, heads, dh);
            try (Tensor w = Tensor.of(w32, heads, D, dh)) { W = bf16 ? Bf16Gemm.toBf16(w) : Tensor.of(w32, heads, D, dh); }
            if (bf16) {
                try (Tensor wide = Bf16Gemm.widen(W, 0, W.numel())) { w = wide.toFloatArray(); }
            } else {
                w = w32;
            }
        }

        /** -1: the backend; 0-2: l4j_gemm_grouped's path; 10, 11: l4j_gemm_bf16_grouped's mode 0, 1. */
        float[] run(int path) {
            try (Tensor out = nans(rows, (long) heads * dh)) {
                int N = heads * dh;
                if (path < 0) B.projectHeads(X, W, bias, out);
                else if (path >= 10) CpuBackend.check(CpuKernels.l4j_gemm_bf16_grouped(rows, N, D, 1f, X.floatPointer(), D, W.bf16Pointer(),
                        dh, dh, (long) D * dh, 0f, out.floatPointer(), N, fp(bias), path - 10), "bf16 grouped");
                else CpuBackend.check(CpuKernels.l4j_gemm_grouped(rows, N, D, 1f, X.floatPointer(), D, W.floatPointer(), dh, dh,
                        (long) D * dh, 0f, out.floatPointer(), N, fp(bias), path), "grouped");
                return out.toFloatArray();
            }
        }

        /** The same kernel over W repacked to a contiguous [d_model, heads * d_head] (path 1 or mode 10 / 11). */
        float[] contiguous(int path) {
            int N = heads * dh;
            float[] packed = new float[D * N];
            for (int h = 0; h < heads; h++)
                for (int k = 0; k < D; k++)
                    for (int j = 0; j < dh; j++) packed[k * N + h * dh + j] = w[(h * D + k) * dh + j];
            try (Tensor P32 = Tensor.of(packed, D, N); Tensor P = bf16 ? Bf16Gemm.toBf16(P32) : null;
                 Tensor out = nans(rows, N)) {
                if (bf16) CpuBackend.check(CpuKernels.l4j_gemm_bf16(0, rows, N, D, 1f, X.floatPointer(), D, P.bf16Pointer(), N, 0f,
                        out.floatPointer(), N, fp(bias), path - 10), "bf16");
                else CpuBackend.check(CpuKernels.l4j_gemm_avx512(0, 0, rows, N, D, 1f, X.floatPointer(), D, P32.floatPointer(), N, 0f,
                        out.floatPointer(), N, fp(bias)), "avx512");
                return out.toFloatArray();
            }
        }

        @Override public void close() {
            X.close();
            W.close();
            if (bias != null) bias.close();
        }
    }

    /** An output filled with NaN: beta 0 must overwrite every element. */
    private static Tensor nans(long rows, long cols) {
        float[] v = new float[(int) (rows * cols)];
        Arrays.fill(v, Float.NaN);
        return Tensor.of(v, rows, cols);
    }

    private static FloatPointer fp(Tensor t) { return t == null ? null : t.floatPointer(); }

    private static float[] uniform(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        return v;
    }

}
