package dev.lens4j.analysis;

/**
 * Small helpers for the row-major {@code double[n][d]} matrices the analysis classes take. Results come back from
 * tensors as flat {@code float[]}, so the conversions live here once.
 */
public final class Mat {
    private Mat() {}

    /** A flat row-major float buffer (a tensor's host copy) as {@code [rows][cols]} doubles. */
    public static double[][] fromFlat(float[] data, int rows, int cols) {
        checkShape(data.length, rows, cols);
        double[][] m = new double[rows][cols];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) m[i][j] = data[i * cols + j];
        return m;
    }

    public static double[][] fromFlat(double[] data, int rows, int cols) {
        checkShape(data.length, rows, cols);
        double[][] m = new double[rows][cols];
        for (int i = 0; i < rows; i++) System.arraycopy(data, i * cols, m[i], 0, cols);
        return m;
    }

    public static double[] toDouble(float[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i];
        return y;
    }

    public static double[][] toDouble(float[][] x) {
        double[][] y = new double[x.length][];
        for (int i = 0; i < x.length; i++) y[i] = toDouble(x[i]);
        return y;
    }

    public static double[] column(double[][] m, int j) {
        double[] c = new double[m.length];
        for (int i = 0; i < m.length; i++) c[i] = m[i][j];
        return c;
    }

    public static double[][] transpose(double[][] m) {
        int n = rows(m), d = cols(m);
        double[][] t = new double[d][n];
        for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) t[j][i] = m[i][j];
        return t;
    }

    /** The rows {@code idx} of {@code m}, in that order (shares the row arrays). */
    public static double[][] rows(double[][] m, int[] idx) {
        double[][] r = new double[idx.length][];
        for (int i = 0; i < idx.length; i++) r[i] = m[idx[i]];
        return r;
    }

    public static double[] select(double[] v, int[] idx) {
        double[] r = new double[idx.length];
        for (int i = 0; i < idx.length; i++) r[i] = v[idx[i]];
        return r;
    }

    public static double dot(double[] a, double[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("length " + a.length + " vs " + b.length);
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    public static double norm(double[] a) { return Math.sqrt(dot(a, a)); }

    /** Cosine similarity; NaN when either vector is zero. */
    public static double cosine(double[] a, double[] b) { return dot(a, b) / (norm(a) * norm(b)); }

    /** Number of rows; validates that the matrix is rectangular and finite-sized. */
    static int rows(double[][] m) {
        if (m == null || m.length == 0) throw new IllegalArgumentException("matrix has no rows");
        return m.length;
    }

    /** Number of columns, checking every row has it (ragged input is the usual mistake). */
    static int cols(double[][] m) {
        rows(m);
        int d = m[0] == null ? 0 : m[0].length;
        for (int i = 0; i < m.length; i++) {
            if (m[i] == null || m[i].length != d)
                throw new IllegalArgumentException("row " + i + " has " + (m[i] == null ? "no" : m[i].length) + " columns, expected " + d);
        }
        if (d == 0) throw new IllegalArgumentException("matrix has no columns");
        return d;
    }

    static void requireFinite(double[][] m, String what) {
        for (int i = 0; i < m.length; i++)
            for (int j = 0; j < m[i].length; j++)
                if (!Double.isFinite(m[i][j])) throw new IllegalArgumentException(what + "[" + i + "][" + j + "] is " + m[i][j]);
    }

    static void requireFinite(double[] v, String what) {
        for (int i = 0; i < v.length; i++)
            if (!Double.isFinite(v[i])) throw new IllegalArgumentException(what + "[" + i + "] is " + v[i]);
    }

    /** a · b for small dense matrices (skips zero entries of a). */
    public static double[][] multiply(double[][] a, double[][] b) {
        int n = a.length, k = b.length, c = b[0].length;
        double[][] out = new double[n][c];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++) {
                double v = a[i][j];
                if (v == 0) continue;
                for (int e = 0; e < c; e++) out[i][e] += v * b[j][e];
            }
        return out;
    }

    private static void checkShape(int len, int rows, int cols) {
        if (rows < 0 || cols < 0 || (long) rows * cols != len)
            throw new IllegalArgumentException("buffer of " + len + " values is not [" + rows + ", " + cols + "]");
    }
}
