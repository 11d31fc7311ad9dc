package dev.lens4j.analysis;

/** Dense symmetric linear algebra for the small matrices analysis needs (d up to a few thousand). */
final class Linalg {
    private Linalg() {}

    /** Eigen-decomposition of a symmetric matrix: values descending, vectors[:, k] the unit eigenvector of values[k]. */
    record Eigen(double[] values, double[][] vectors) {}

    /** {@code (Xᵀ X)} for X [n, d], exploiting symmetry. */
    static double[][] gramCols(double[][] x) {
        int n = x.length, d = x[0].length;
        double[][] g = new double[d][d];
        for (int r = 0; r < n; r++) {
            double[] row = x[r];
            for (int i = 0; i < d; i++) {
                double v = row[i];
                if (v == 0) continue;
                double[] gi = g[i];
                for (int j = i; j < d; j++) gi[j] += v * row[j];
            }
        }
        for (int i = 0; i < d; i++) for (int j = 0; j < i; j++) g[i][j] = g[j][i];
        return g;
    }

    /** {@code (X Xᵀ)} for X [n, d]. */
    static double[][] gramRows(double[][] x) {
        int n = x.length;
        double[][] g = new double[n][n];
        for (int i = 0; i < n; i++) for (int j = i; j < n; j++) g[i][j] = g[j][i] = Mat.dot(x[i], x[j]);
        return g;
    }

    /**
     * Solves A x = b for symmetric positive-definite A by Cholesky. Throws when A is not (numerically) positive
     * definite, which for normal equations means collinear features or fewer samples than features.
     */
    static double[] choleskySolve(double[][] a, double[] b) {
        int n = a.length;
        double[][] l = new double[n][n];
        double maxDiag = 0;
        for (int i = 0; i < n; i++) maxDiag = Math.max(maxDiag, Math.abs(a[i][i]));
        double tol = 1e-13 * Math.max(maxDiag, Double.MIN_NORMAL) * n;
        for (int j = 0; j < n; j++) {
            double s = a[j][j];
            for (int k = 0; k < j; k++) s -= l[j][k] * l[j][k];
            if (!(s > tol))
                throw new IllegalArgumentException("matrix is not positive definite at pivot " + j
                        + " (collinear or constant features, or fewer samples than features): use a ridge lambda > 0");
            double ljj = Math.sqrt(s);
            l[j][j] = ljj;
            for (int i = j + 1; i < n; i++) {
                double t = a[i][j];
                for (int k = 0; k < j; k++) t -= l[i][k] * l[j][k];
                l[i][j] = t / ljj;
            }
        }
        double[] y = new double[n];
        for (int i = 0; i < n; i++) {
            double t = b[i];
            for (int k = 0; k < i; k++) t -= l[i][k] * y[k];
            y[i] = t / l[i][i];
        }
        double[] x = new double[n];
        for (int i = n - 1; i >= 0; i--) {
            double t = y[i];
            for (int k = i + 1; k < n; k++) t -= l[k][i] * x[k];
            x[i] = t / l[i][i];
        }
        return x;
    }

    /**
     * Symmetric eigen-decomposition: Householder reduction to tridiagonal form, then the implicit QL algorithm
     * (the EISPACK tred2/tql2 pair, as in JAMA). O(n³), accurate to rounding, no iteration-count tuning.
     */
    static Eigen symmetricEigen(double[][] a) {
        int n = a.length;
        for (double[] row : a) if (row.length != n) throw new IllegalArgumentException("matrix is not square");
        Mat.requireFinite(a, "matrix");
        double[][] v = new double[n][];
        for (int i = 0; i < n; i++) v[i] = a[i].clone();
        double[] d = new double[n], e = new double[n];
        tred2(n, v, d, e);
        tql2(n, v, d, e);
        // tql2 leaves values ascending; callers want the largest first
        double[] values = new double[n];
        double[][] vectors = new double[n][n];
        for (int k = 0; k < n; k++) {
            int src = n - 1 - k;
            values[k] = d[src];
            for (int i = 0; i < n; i++) vectors[i][k] = v[i][src];
        }
        return new Eigen(values, vectors);
    }

    private static void tred2(int n, double[][] v, double[] d, double[] e) {
        for (int j = 0; j < n; j++) d[j] = v[n - 1][j];
        for (int i = n - 1; i > 0; i--) {
            double scale = 0.0, h = 0.0;
            for (int k = 0; k < i; k++) scale += Math.abs(d[k]);
            if (scale == 0.0) {
                e[i] = d[i - 1];
                for (int j = 0; j < i; j++) {
                    d[j] = v[i - 1][j];
                    v[i][j] = 0.0;
                    v[j][i] = 0.0;
                }
            } else {
                for (int k = 0; k < i; k++) {
                    d[k] /= scale;
                    h += d[k] * d[k];
                }
                double f = d[i - 1];
                double g = Math.sqrt(h);
                if (f > 0) g = -g;
                e[i] = scale * g;
                h -= f * g;
                d[i - 1] = f - g;
                for (int j = 0; j < i; j++) e[j] = 0.0;
                for (int j = 0; j < i; j++) {
                    f = d[j];
                    v[j][i] = f;
                    g = e[j] + v[j][j] * f;
                    for (int k = j + 1; k <= i - 1; k++) {
                        g += v[k][j] * d[k];
                        e[k] += v[k][j] * f;
                    }
                    e[j] = g;
                }
                f = 0.0;
                for (int j = 0; j < i; j++) {
                    e[j] /= h;
                    f += e[j] * d[j];
                }
                double hh = f / (h + h);
                for (int j = 0; j < i; j++) e[j] -= hh * d[j];
                for (int j = 0; j < i; j++) {
                    f = d[j];
                    g = e[j];
                    for (int k = j; k <= i - 1; k++) v[k][j] -= (f * e[k] + g * d[k]);
                    d[j] = v[i - 1][j];
                    v[i][j] = 0.0;
                }
            }
            d[i] = h;
        }
        for (int i = 0; i < n - 1; i++) {
            v[n - 1][i] = v[i][i];
            v[i][i] = 1.0;
            double h = d[i + 1];
            if (h != 0.0) {
                for (int k = 0; k <= i; k++) d[k] = v[k][i + 1] / h;
                for (int j = 0; j <= i; j++) {
                    double g = 0.0;
                    for (int k = 0; k <= i; k++) g += v[k][i + 1] * v[k][j];
                    for (int k = 0; k <= i; k++) v[k][j] -= g * d[k];
                }
            }
            for (int k = 0; k <= i; k++) v[k][i + 1] = 0.0;
        }
        for (int j = 0; j < n; j++) {
            d[j] = v[n - 1][j];
            v[n - 1][j] = 0.0;
        }
        v[n - 1][n - 1] = 1.0;
        e[0] = 0.0;
    }

    private static void tql2(int n, double[][] v, double[] d, double[] e) {
        for (int i = 1; i < n; i++) e[i - 1] = e[i];
        e[n - 1] = 0.0;
        double f = 0.0, tst1 = 0.0;
        double eps = Math.ulp(1.0);
        for (int l = 0; l < n; l++) {
            tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
            int m = l;
            while (m < n) {
                if (Math.abs(e[m]) <= eps * tst1) break;
                m++;
            }
            if (m > l) {
                int iter = 0;
                do {
                    // QL converges in a few sweeps per value; the cap only guards against pathological input
                    if (++iter > 200) throw new ArithmeticException("symmetric eigen solver did not converge");
                    double g = d[l];
                    double p = (d[l + 1] - g) / (2.0 * e[l]);
                    double r = Math.hypot(p, 1.0);
                    if (p < 0) r = -r;
                    d[l] = e[l] / (p + r);
                    d[l + 1] = e[l] * (p + r);
                    double dl1 = d[l + 1];
                    double h = g - d[l];
                    for (int i = l + 2; i < n; i++) d[i] -= h;
                    f += h;
                    p = d[m];
                    double c = 1.0, c2 = c, c3 = c;
                    double el1 = e[l + 1];
                    double s = 0.0, s2 = 0.0;
                    for (int i = m - 1; i >= l; i--) {
                        c3 = c2;
                        c2 = c;
                        s2 = s;
                        g = c * e[i];
                        h = c * p;
                        r = Math.hypot(p, e[i]);
                        e[i + 1] = s * r;
                        s = e[i] / r;
                        c = p / r;
                        p = c * d[i] - s * g;
                        d[i + 1] = h + s * (c * g + s * d[i]);
                        for (int k = 0; k < n; k++) {
                            h = v[k][i + 1];
                            v[k][i + 1] = s * v[k][i] + c * h;
                            v[k][i] = c * v[k][i] - s * h;
                        }
                    }
                    p = -s * s2 * c3 * el1 * e[l] / dl1;
                    e[l] = s * p;
                    d[l] = c * p;
                } while (Math.abs(e[l]) > eps * tst1);
            }
            d[l] += f;
            e[l] = 0.0;
        }
        // selection sort ascending, moving vectors with their values
        for (int i = 0; i < n - 1; i++) {
            int k = i;
            double p = d[i];
            for (int j = i + 1; j < n; j++) if (d[j] < p) { k = j; p = d[j]; }
            if (k != i) {
                d[k] = d[i];
                d[i] = p;
                for (int j = 0; j < n; j++) { double t = v[j][i]; v[j][i] = v[j][k]; v[j][k] = t; }
            }
        }
    }
}
