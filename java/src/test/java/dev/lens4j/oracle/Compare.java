package dev.lens4j.oracle;

import dev.lens4j.tensor.Tensor;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Tensor comparison against the oracle. */
final class Compare {
    private Compare() {}

    /** Tolerance: max abs error <= REL * max(1, max |oracle|) per tensor (float32 kernels vs a float64 oracle). */
    static final double REL = 1e-4;

    /** Asserts closeness under {@link #REL}; -inf (masked scores) must match exactly. Returns the max abs error. */
    static double assertClose(String name, Tensor got, TorchOracle.Act want) {
        assertArrayEquals(want.shape(), got.shape(), name + ": shape");
        return assertClose(name, got.toFloatArray(), want.data());
    }

    static double assertClose(String name, float[] got, double[] want) {
        if (got.length != want.length) fail(name + ": " + got.length + " values, oracle has " + want.length);
        double scale = 1;
        for (double v : want) if (Double.isFinite(v)) scale = Math.max(scale, Math.abs(v));
        double tol = REL * scale, maxErr = 0;
        int worst = -1;
        for (int i = 0; i < got.length; i++) {
            double w = want[i], g = got[i];
            if (Double.isInfinite(w) || Double.isInfinite(g)) {
                if (w != g) fail(name + "[" + i + "]: lens4j " + g + ", oracle " + w);
                continue;
            }
            double e = Math.abs(g - w);
            if (!(e <= maxErr)) { maxErr = e; worst = i; } // NaN lands here and fails below
        }
        if (!(maxErr <= tol))
            fail(String.format("%s: max abs error %.3g at flat index %d (lens4j %s, oracle %s) exceeds 1e-4 * max(1, max|oracle| = %.3g)",
                    name, maxErr, worst, worst < 0 ? "?" : got[worst], worst < 0 ? "?" : want[worst], scale));
        return maxErr;
    }

    /** Index `idx` of dimension `dim` of a row-major array, keeping the dimension (size 1). */
    static float[] slice(float[] data, long[] shape, int dim, int idx) {
        long outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.length; i++) inner *= shape[i];
        float[] out = new float[(int) (outer * inner)];
        for (long o = 0; o < outer; o++)
            System.arraycopy(data, (int) ((o * shape[dim] + idx) * inner), out, (int) (o * inner), (int) inner);
        return out;
    }

    static double[] slice(double[] data, long[] shape, int dim, int idx) {
        long outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.length; i++) inner *= shape[i];
        double[] out = new double[(int) (outer * inner)];
        for (long o = 0; o < outer; o++)
            System.arraycopy(data, (int) ((o * shape[dim] + idx) * inner), out, (int) (o * inner), (int) inner);
        return out;
    }

    static String shape(long[] s) { return Arrays.toString(s); }
}
