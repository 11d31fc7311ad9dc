package dev.lens4j.analysis;

/**
 * The first principal component of rows x_i = m_i R (m_i ∈ R^K, R ∈ R^{K×d}) without forming the [n, d] matrix:
 * the covariance of x is Rᵀ A R with A = cov(m), whose non-zero spectrum equals that of A^{1/2} R Rᵀ A^{1/2}
 * (K×K). Seed 002's vector-valued second-order effects have this form (K later heads, d = d_model), so PC1 of a
 * neuron costs O(n K² + K² d) instead of O(n d²).
 *
 * @param explainedVarianceRatio λ₁ / Σλ (NaN when all rows are equal)
 * @param direction              the unit principal direction in R^d, sign fixed so its largest entry is positive
 * @param meanCoefficients       mean of the m_i (the mean effect is meanCoefficients · R)
 * @param projector              R · direction ∈ R^K: the PC1 score of a row is (m_i − mean) · projector
 */
public record FactoredPca(double explainedVarianceRatio, double[] direction, double[] meanCoefficients, double[] projector) {

    public static FactoredPca fit(double[][] m, double[][] r) {
        int n = m.length, k = r.length;
        if (n < 2) throw new IllegalArgumentException("PCA needs at least 2 rows, got " + n);
        int d = r[0].length;
        double[] mean = new double[k];
        for (double[] row : m) for (int j = 0; j < k; j++) mean[j] += row[j];
        for (int j = 0; j < k; j++) mean[j] /= n;
        double[][] a = new double[k][k];
        for (double[] row : m)
            for (int i = 0; i < k; i++) {
                double ci = row[i] - mean[i];
                if (ci == 0) continue;
                for (int j = 0; j <= i; j++) a[i][j] += ci * (row[j] - mean[j]);
            }
        for (int i = 0; i < k; i++) for (int j = 0; j <= i; j++) a[j][i] = a[i][j] /= (n - 1);
        double[][] b = new double[k][k];
        for (int i = 0; i < k; i++) for (int j = 0; j <= i; j++) b[i][j] = b[j][i] = Mat.dot(r[i], r[j]);
        double total = 0;
        for (int i = 0; i < k; i++) for (int j = 0; j < k; j++) total += a[i][j] * b[i][j];
        // A^{1/2} from A's eigenvectors (A is PSD; clip rounding negatives)
        Linalg.Eigen ea = Linalg.symmetricEigen(a);
        double[][] half = new double[k][k];
        for (int c = 0; c < k; c++) {
            double s = Math.sqrt(Math.max(ea.values()[c], 0));
            if (s == 0) continue;
            for (int i = 0; i < k; i++) for (int j = 0; j < k; j++) half[i][j] += s * ea.vectors()[i][c] * ea.vectors()[j][c];
        }
        double[][] s = Mat.multiply(Mat.multiply(half, b), half);
        Linalg.Eigen es = Linalg.symmetricEigen(s);
        double lambda = es.values()[0];
        double[] dir = new double[d];
        if (total > 0 && lambda > 0) {
            double[] z = new double[k];
            for (int i = 0; i < k; i++) z[i] = es.vectors()[i][0];
            double[] hz = new double[k];
            for (int i = 0; i < k; i++) hz[i] = Mat.dot(half[i], z);
            for (int i = 0; i < k; i++) for (int e = 0; e < d; e++) dir[e] += hz[i] * r[i][e];
            double norm = Mat.norm(dir);
            int arg = 0;
            for (int e = 0; e < d; e++) if (Math.abs(dir[e]) > Math.abs(dir[arg])) arg = e;
            double sign = dir[arg] < 0 ? -1 : 1;
            for (int e = 0; e < d; e++) dir[e] *= sign / norm;
        }
        double[] proj = new double[k];
        for (int i = 0; i < k; i++) proj[i] = Mat.dot(r[i], dir);
        double ratio = total > 0 ? Math.min(1, Math.max(0, lambda / total)) : Double.NaN;
        return new FactoredPca(ratio, dir, mean, proj);
    }
}
