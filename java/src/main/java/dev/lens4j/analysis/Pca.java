package dev.lens4j.analysis;

/**
 * Principal component analysis of an [n, d] matrix (rows are samples), mean-centred, via the eigen-decomposition
 * of the covariance (d ≤ n) or of the Gram matrix X Xᵀ (d > n, e.g. 10 token embeddings of width 128), which
 * gives the same components for less work.
 *
 * <p>Variances use the sample denominator n − 1 (as sklearn and the grokking seed's SVD do). Only components with
 * non-negligible variance are kept, so {@link #nComponents()} is at most min(n − 1, d). Each component's sign is
 * fixed so that its largest-magnitude loading is positive: the same data always gives the same signs.
 */
public final class Pca {
    private final double[] mean;
    private final double[][] components; // [k][d], unit rows
    private final double[] variance;     // [k]
    private final double totalVariance;

    private Pca(double[] mean, double[][] components, double[] variance, double totalVariance) {
        this.mean = mean;
        this.components = components;
        this.variance = variance;
        this.totalVariance = totalVariance;
    }

    /** Fits all components. */
    public static Pca fit(double[][] x) { return fit(x, Integer.MAX_VALUE); }

    /** Fits and keeps at most {@code maxComponents} (ratios stay relative to the total variance). */
    public static Pca fit(double[][] x, int maxComponents) {
        int n = Mat.rows(x), d = Mat.cols(x);
        if (n < 2) throw new IllegalArgumentException("PCA needs at least 2 samples, got " + n);
        if (maxComponents < 1) throw new IllegalArgumentException("maxComponents must be >= 1, got " + maxComponents);
        Mat.requireFinite(x, "x");
        double[] mean = new double[d];
        for (double[] row : x) for (int j = 0; j < d; j++) mean[j] += row[j];
        for (int j = 0; j < d; j++) mean[j] /= n;
        double[][] xc = new double[n][d];
        for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) xc[i][j] = x[i][j] - mean[j];

        boolean viaGram = d > n;
        Linalg.Eigen eig = Linalg.symmetricEigen(viaGram ? Linalg.gramRows(xc) : Linalg.gramCols(xc));
        double total = 0;
        for (double v : eig.values()) total += Math.max(v, 0);
        // drop directions whose variance is rounding noise; they have no meaningful direction
        double floor = Math.max(total, Double.MIN_NORMAL) * 1e-12;
        int k = 0;
        while (k < eig.values().length && k < maxComponents && eig.values()[k] > floor) k++;
        double[][] comps = new double[k][d];
        double[] var = new double[k];
        for (int c = 0; c < k; c++) {
            double lambda = eig.values()[c];
            var[c] = lambda / (n - 1);
            if (viaGram) {
                // X = U S Vᵀ: Gram eigenvector u has eigenvalue s², and v = Xᵀ u / s
                double s = Math.sqrt(lambda);
                for (int i = 0; i < n; i++) {
                    double ui = eig.vectors()[i][c] / s;
                    if (ui == 0) continue;
                    for (int j = 0; j < d; j++) comps[c][j] += xc[i][j] * ui;
                }
            } else {
                for (int j = 0; j < d; j++) comps[c][j] = eig.vectors()[j][c];
            }
            normalise(comps[c]);
        }
        return new Pca(mean, comps, var, total / (n - 1));
    }

    private static void normalise(double[] v) {
        double norm = Mat.norm(v);
        int arg = 0;
        for (int j = 1; j < v.length; j++) if (Math.abs(v[j]) > Math.abs(v[arg])) arg = j;
        double s = (v[arg] < 0 ? -1 : 1) / norm;
        for (int j = 0; j < v.length; j++) v[j] *= s;
    }

    public int nComponents() { return components.length; }

    public int dim() { return mean.length; }

    /** The column means subtracted before fitting, [d]. */
    public double[] mean() { return mean.clone(); }

    /** Principal directions as unit rows, [k][d], by decreasing variance. */
    public double[][] components() {
        double[][] c = new double[components.length][];
        for (int i = 0; i < c.length; i++) c[i] = components[i].clone();
        return c;
    }

    public double[] component(int i) { return components[i].clone(); }

    /** Variance along each component (sample denominator n − 1), [k]. */
    public double[] explainedVariance() { return variance.clone(); }

    /** Fraction of the total variance along each component, [k]; sums to 1 when all components are kept. */
    public double[] explainedVarianceRatio() {
        double[] r = new double[variance.length];
        for (int i = 0; i < r.length; i++) r[i] = variance[i] / totalVariance;
        return r;
    }

    /** Running sum of {@link #explainedVarianceRatio()}, [k]. */
    public double[] cumulativeVarianceRatio() {
        double[] r = explainedVarianceRatio();
        for (int i = 1; i < r.length; i++) r[i] += r[i - 1];
        return r;
    }

    /** PC scores: each row of x, centred with the fitted mean, projected on the components, [n][k]. */
    public double[][] transform(double[][] x) {
        int n = Mat.rows(x), d = Mat.cols(x);
        if (d != mean.length) throw new IllegalArgumentException("x has " + d + " columns, PCA was fitted on " + mean.length);
        double[][] scores = new double[n][components.length];
        double[] centred = new double[d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) centred[j] = x[i][j] - mean[j];
            for (int c = 0; c < components.length; c++) scores[i][c] = Mat.dot(centred, components[c]);
        }
        return scores;
    }

    /** Maps PC scores [n][k'] (k' ≤ k) back to the original space: mean + Σ score·component. */
    public double[][] inverseTransform(double[][] scores) {
        double[][] x = new double[scores.length][];
        for (int i = 0; i < scores.length; i++) {
            if (scores[i].length > components.length)
                throw new IllegalArgumentException("row " + i + " has " + scores[i].length + " scores, only " + components.length + " components");
            x[i] = mean.clone();
            for (int c = 0; c < scores[i].length; c++)
                for (int j = 0; j < x[i].length; j++) x[i][j] += scores[i][c] * components[c][j];
        }
        return x;
    }
}
