package dev.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PcaTest {

    /** n samples along a planted unit direction with large variance, plus small isotropic noise. */
    static double[][] planted(int n, int d, double[] dir, double signal, double noise, long seed) {
        Random rng = new Random(seed);
        double[][] x = new double[n][d];
        for (int i = 0; i < n; i++) {
            double t = rng.nextGaussian() * signal;
            for (int j = 0; j < d; j++) x[i][j] = 3.0 + t * dir[j] + rng.nextGaussian() * noise;
        }
        return x;
    }

    static double[] randomUnit(int d, long seed) {
        Random rng = new Random(seed);
        double[] v = new double[d];
        for (int j = 0; j < d; j++) v[j] = rng.nextGaussian();
        double norm = Mat.norm(v);
        for (int j = 0; j < d; j++) v[j] /= norm;
        return v;
    }

    @Test
    void recoversPlantedDirectionCovariancePath() {
        double[] dir = randomUnit(20, 1);
        Pca pca = Pca.fit(planted(500, 20, dir, 5.0, 0.1, 2));
        assertTrue(Math.abs(Mat.cosine(pca.component(0), dir)) > 0.99);
        assertEquals(1.0, Arrays.stream(pca.explainedVarianceRatio()).sum(), 1e-9);
        assertTrue(pca.explainedVarianceRatio()[0] > 0.9);
        assertEquals(1.0, pca.cumulativeVarianceRatio()[pca.nComponents() - 1], 1e-9);
    }

    @Test
    void recoversPlantedDirectionGramPath() {
        // fewer samples than dimensions, like W_E (10 tokens x 128)
        double[] dir = randomUnit(128, 3);
        Pca pca = Pca.fit(planted(10, 128, dir, 5.0, 0.05, 4));
        assertTrue(pca.nComponents() <= 9, "rank of centred data is at most n - 1");
        assertTrue(Math.abs(Mat.cosine(pca.component(0), dir)) > 0.99);
        assertEquals(1.0, Arrays.stream(pca.explainedVarianceRatio()).sum(), 1e-9);
    }

    @Test
    void componentsAreOrthonormalAndScoresReconstruct() {
        Random rng = new Random(5);
        double[][] x = new double[40][12];
        for (double[] row : x) for (int j = 0; j < row.length; j++) row[j] = rng.nextGaussian() * (j + 1);
        Pca pca = Pca.fit(x);
        double[][] c = pca.components();
        for (int a = 0; a < c.length; a++)
            for (int b = 0; b < c.length; b++) assertEquals(a == b ? 1 : 0, Mat.dot(c[a], c[b]), 1e-9);
        double[] var = pca.explainedVariance();
        for (int k = 1; k < var.length; k++) assertTrue(var[k] <= var[k - 1]);
        double[][] back = pca.inverseTransform(pca.transform(x));
        for (int i = 0; i < x.length; i++) assertArrayEquals(x[i], back[i], 1e-9);
        // score variance equals the explained variance (sample denominator)
        double[] s0 = Mat.column(pca.transform(x), 0);
        assertEquals(var[0], Stats.sampleVariance(s0), 1e-9);
    }

    @Test
    void gramAndCovariancePathsAgree() {
        Random rng = new Random(6);
        double[][] x = new double[8][8];
        for (double[] row : x) for (int j = 0; j < row.length; j++) row[j] = rng.nextGaussian();
        double[][] wide = new double[8][9]; // d > n takes the Gram path
        for (int i = 0; i < 8; i++) wide[i] = Arrays.copyOf(x[i], 9);
        Pca a = Pca.fit(x), b = Pca.fit(wide);
        assertEquals(a.nComponents(), b.nComponents());
        for (int k = 0; k < a.nComponents(); k++) {
            assertEquals(a.explainedVariance()[k], b.explainedVariance()[k], 1e-9);
            assertEquals(1.0, Math.abs(Mat.cosine(a.component(k), Arrays.copyOf(b.component(k), 8))), 1e-7);
        }
    }

    @Test
    void linearEmbeddingHasLinearFirstComponent() {
        // the grokking seed's finding: PC1 score is linear in the token index
        int n = 10, d = 32;
        double[] w = randomUnit(d, 7), u = randomUnit(d, 8);
        double[][] x = new double[n][d];
        for (int k = 0; k < n; k++) for (int j = 0; j < d; j++) x[k][j] = -2.0 * k * w[j] + 0.3 * (k - 4.5) * (k - 4.5) * u[j];
        double[] pc1 = Mat.column(Pca.fit(x).transform(x), 0);
        double[] idx = new double[n];
        for (int k = 0; k < n; k++) idx[k] = k;
        assertTrue(Math.abs(Stats.pearson(pc1, idx)) > 0.99);
    }

    @Test
    void signIsDeterministicAndMaxComponentsLimits() {
        double[] dir = randomUnit(6, 9);
        double[][] x = planted(50, 6, dir, 2, 0.1, 10);
        Pca a = Pca.fit(x, 2);
        assertEquals(2, a.nComponents());
        double[] c = a.component(0);
        int arg = Stats.topKByAbs(c, 1)[0];
        assertTrue(c[arg] > 0);
        assertTrue(Arrays.stream(a.explainedVarianceRatio()).sum() < 1.0 + 1e-12);
    }

    @Test
    void rejectsBadInput() {
        assertThrows(IllegalArgumentException.class, () -> Pca.fit(new double[][] {{1, 2}}));
        assertThrows(IllegalArgumentException.class, () -> Pca.fit(new double[][] {{1, 2}, {3}}));
        assertThrows(IllegalArgumentException.class, () -> Pca.fit(new double[][] {{1, Double.NaN}, {3, 4}}));
        Pca p = Pca.fit(new double[][] {{1, 2}, {3, 5}, {0, 1}});
        assertThrows(IllegalArgumentException.class, () -> p.transform(new double[][] {{1, 2, 3}}));
    }

    @Test
    void eigenSolverMatchesDefinition() {
        Random rng = new Random(11);
        for (int n : new int[] {1, 2, 3, 17, 60}) {
            double[][] a = new double[n][n];
            for (int i = 0; i < n; i++) for (int j = 0; j <= i; j++) a[i][j] = a[j][i] = rng.nextGaussian();
            Linalg.Eigen e = Linalg.symmetricEigen(a);
            for (int k = 0; k < n; k++) {
                double[] v = Mat.column(e.vectors(), k);
                assertEquals(1.0, Mat.norm(v), 1e-10);
                for (int i = 0; i < n; i++) assertEquals(e.values()[k] * v[i], Mat.dot(a[i], v), 1e-9);
                if (k > 0) assertTrue(e.values()[k] <= e.values()[k - 1]);
            }
        }
    }
}
