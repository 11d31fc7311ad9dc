package dev.lens4j.analysis;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** OMP recovers planted sparse codes; FactoredPca equals a PCA of the explicit rows. */
class OrthogonalMatchingPursuitTest {

    @Test
    void recoversPlantedSparseCodes() {
        Random r = new Random(11);
        int d = 128, atoms = 200; // incoherent enough that OMP recovery of a 6-sparse code is guaranteed with high probability
        double[][] dict = new double[atoms][d];
        for (double[] a : dict) for (int j = 0; j < d; j++) a[j] = r.nextGaussian() * (0.5 + r.nextDouble());
        for (int trial = 0; trial < 20; trial++) {
            int k = 1 + trial % 6;
            int[] support = r.ints(0, atoms).distinct().limit(k).toArray();
            double[] coef = new double[k];
            double[] y = new double[d];
            for (int s = 0; s < k; s++) {
                coef[s] = (r.nextBoolean() ? 1 : -1) * (1 + r.nextDouble());
                for (int j = 0; j < d; j++) y[j] += coef[s] * dict[support[s]][j];
            }
            OrthogonalMatchingPursuit.Result res = OrthogonalMatchingPursuit.fit(y, dict, 16);
            int[] want = support.clone(), got = res.support().clone();
            Arrays.sort(want);
            Arrays.sort(got);
            assertArrayEquals(want, got, "support of trial " + trial);
            for (int s = 0; s < res.support().length; s++) {
                int idx = Arrays.stream(support).boxed().toList().indexOf(res.support()[s]);
                assertEquals(coef[idx], res.coefficients()[s], 1e-9, "coefficient of atom " + res.support()[s]);
            }
            assertEquals(0, res.residualNorm(), 1e-9);
            assertEquals(1, res.cosine(), 1e-12);
        }
    }

    @Test
    void stopsAtMAtomsAndLeavesTheResidualOrthogonalToThem() {
        Random r = new Random(5);
        double[][] dict = new double[30][12];
        for (double[] a : dict) for (int j = 0; j < 12; j++) a[j] = r.nextGaussian();
        double[] y = new double[12];
        for (int j = 0; j < 12; j++) y[j] = r.nextGaussian();
        OrthogonalMatchingPursuit.Result res = OrthogonalMatchingPursuit.fit(y, dict, 3);
        assertEquals(3, res.support().length);
        double[] resid = y.clone();
        for (int s = 0; s < 3; s++) for (int j = 0; j < 12; j++) resid[j] -= res.coefficients()[s] * dict[res.support()[s]][j];
        for (int a : res.support()) assertEquals(0, Mat.dot(resid, dict[a]), 1e-9, "residual orthogonal to chosen atom " + a);
        assertEquals(Mat.norm(resid), res.residualNorm(), 1e-12);
        // a duplicated atom is never chosen twice
        double[][] dup = {dict[0], dict[0].clone(), dict[1]};
        double[] y2 = new double[12];
        for (int j = 0; j < 12; j++) y2[j] = 2 * dict[0][j] - dict[1][j];
        OrthogonalMatchingPursuit.Result two = OrthogonalMatchingPursuit.fit(y2, dup, 3);
        assertEquals(2, two.support().length);
        assertEquals(0, two.residualNorm(), 1e-9);
        assertThrows(IllegalArgumentException.class, () -> OrthogonalMatchingPursuit.fit(y, dict, 0));
        assertThrows(IllegalArgumentException.class, () -> OrthogonalMatchingPursuit.fit(new double[] {Double.NaN}, new double[][] {{1}}, 1));
    }

    @Test
    void factoredPcaEqualsPcaOfTheExplicitRows() {
        Random r = new Random(9);
        int n = 50, k = 6, d = 20;
        double[][] m = new double[n][k], rr = new double[k][d];
        for (double[] row : m) for (int j = 0; j < k; j++) row[j] = r.nextGaussian() * (j + 1);
        for (double[] row : rr) for (int j = 0; j < d; j++) row[j] = r.nextGaussian();
        double[][] x = new double[n][d];
        for (int i = 0; i < n; i++) for (int c = 0; c < k; c++) for (int e = 0; e < d; e++) x[i][e] += m[i][c] * rr[c][e];
        Pca ref = Pca.fit(x);
        FactoredPca f = FactoredPca.fit(m, rr);
        assertEquals(ref.explainedVarianceRatio()[0], f.explainedVarianceRatio(), 1e-9);
        assertEquals(1, Math.abs(Mat.dot(ref.components()[0], f.direction())), 1e-8, "same principal direction up to sign");
        // a rank-1 planted effect has PC1 = 100%
        double[][] m1 = new double[n][k];
        for (int i = 0; i < n; i++) { double t = r.nextGaussian(); for (int c = 0; c < k; c++) m1[i][c] = t * (c + 1); }
        assertEquals(1, FactoredPca.fit(m1, rr).explainedVarianceRatio(), 1e-9);
    }
}
