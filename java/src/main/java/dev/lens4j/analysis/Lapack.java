package dev.lens4j.analysis;

import org.bytedeco.openblas.global.openblas;

import java.util.Arrays;

/**
 * Double-precision GEMM, SVD and general eigenvalues from the OpenBLAS (with LAPACK) that lens4j's kernels already
 * link, over row-major Java arrays. Inputs are checked here (sizes, finite values) before any native call, because
 * LAPACK given NaN may iterate without converging.
 */
final class Lapack {
    private Lapack() {}

    /** C [m, n] = op(A) @ op(B), op(A) [m, k], op(B) [k, n]; A stored [m, k] (or [k, m] with transA). */
    static double[] gemm(boolean transA, boolean transB, int m, int n, int k, double[] a, double[] b) {
        require(a.length == (long) m * k, "gemm: A has " + a.length + " values, expected " + m + "x" + k);
        require(b.length == (long) k * n, "gemm: B has " + b.length + " values, expected " + k + "x" + n);
        double[] c = new double[Math.multiplyExact(m, n)];
        if (m == 0 || n == 0 || k == 0) return c;
        openblas.cblas_dgemm(openblas.CblasRowMajor, transA ? openblas.CblasTrans : openblas.CblasNoTrans,
                transB ? openblas.CblasTrans : openblas.CblasNoTrans, m, n, k, 1.0,
                a, transA ? m : k, b, transB ? k : n, 0.0, c, n);
        return c;
    }

    /** Thin SVD of a [m, n]: u [m, p], s [p] descending, v [n, p] (V itself, not Vᵀ), p = min(m, n). */
    record Svd(double[] u, double[] s, double[] v, int p) {}

    static Svd svd(double[] a, int m, int n) {
        require(a.length == (long) m * n, "svd: matrix has " + a.length + " values, expected " + m + "x" + n);
        requireFinite(a, "svd");
        int p = Math.min(m, n);
        double[] s = new double[p], u = new double[m * p], vt = new double[p * n];
        if (p == 0) return new Svd(u, s, new double[0], 0);
        int info = openblas.LAPACKE_dgesdd(openblas.LAPACK_ROW_MAJOR, (byte) 'S', m, n, a.clone(), n, s, u, p, vt, n);
        if (info != 0) throw new ArithmeticException("SVD of a " + m + "x" + n + " matrix did not converge (LAPACK dgesdd info " + info + ")");
        return new Svd(u, s, transpose(vt, p, n), p);
    }

    /** Eigenvalues of a general square matrix [n, n], in LAPACK's order: {re, im}. */
    static double[][] eigenvalues(double[] a, int n) {
        require(a.length == (long) n * n, "eigenvalues: matrix has " + a.length + " values, expected " + n + "x" + n);
        requireFinite(a, "eigenvalues");
        double[] wr = new double[n], wi = new double[n];
        if (n == 0) return new double[][] {wr, wi};
        int info = openblas.LAPACKE_dgeev(openblas.LAPACK_ROW_MAJOR, (byte) 'N', (byte) 'N', n, a.clone(), n, wr, wi,
                new double[1], 1, new double[1], 1);
        if (info != 0) throw new ArithmeticException("eigenvalues of a " + n + "x" + n + " matrix did not converge (LAPACK dgeev info " + info + ")");
        return new double[][] {wr, wi};
    }

    static double[] transpose(double[] a, int rows, int cols) {
        double[] t = new double[a.length];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
        return t;
    }

    static double[] slice(double[] a, int index, int size) { return Arrays.copyOfRange(a, index * size, (index + 1) * size); }

    static void requireFinite(double[] a, String what) {
        for (int i = 0; i < a.length; i++)
            if (!Double.isFinite(a[i])) throw new IllegalArgumentException(what + ": value " + a[i] + " at flat index " + i + " is not finite");
    }

    private static void require(boolean ok, String msg) { if (!ok) throw new IllegalArgumentException(msg); }
}
