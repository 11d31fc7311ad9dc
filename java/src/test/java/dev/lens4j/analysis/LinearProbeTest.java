package dev.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LinearProbeTest {

    @Test
    void recoversPlantedWeightsOnHeldOutData() {
        Random rng = new Random(1);
        int n = 400, d = 16;
        double[] w = new double[d];
        for (int j = 0; j < d; j++) w[j] = rng.nextGaussian();
        double[][] x = new double[n][d];
        double[] y = new double[n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) x[i][j] = rng.nextGaussian();
            y[i] = Mat.dot(w, x[i]) - 4.0;
        }
        LinearProbe.Evaluation ev = LinearProbe.trainTest(x, y, 0.8, 42, 0);
        assertEquals(80, ev.testTargets().length);
        assertEquals(1.0, ev.r2(), 1e-9);
        assertEquals(1.0, ev.trainR2(), 1e-9);
        assertTrue(ev.mse() < 1e-12);
        assertTrue(ev.baselineMse() > 1, "predicting the mean is far off");
        assertArrayEquals(w, ev.probe().weights(), 1e-9);
        assertEquals(-4.0, ev.probe().intercept(), 1e-9);
        assertEquals(1.0, ev.improvementOverBaseline(), 1e-9);
    }

    @Test
    void ridgeHandlesMoreFeaturesThanSamplesAndNoisyTargets() {
        // like a probe on d_model=128 residual features from only 72 training pairs
        Random rng = new Random(2);
        int n = 100, d = 128;
        double[] dir = new double[d];
        for (int j = 0; j < d; j++) dir[j] = rng.nextGaussian() / Math.sqrt(d);
        double[][] x = new double[n][d];
        double[] y = new double[n];
        for (int i = 0; i < n; i++) {
            y[i] = (i / 10) + (i % 10);
            for (int j = 0; j < d; j++) x[i][j] = y[i] * dir[j] + 0.01 * rng.nextGaussian();
        }
        LinearProbe.Split split = LinearProbe.split(n, 0.72, 598);
        assertThrows(IllegalArgumentException.class, () -> LinearProbe.trainTest(x, y, split, 0), "OLS is singular here");
        LinearProbe.Evaluation ev = LinearProbe.trainTest(x, y, split, 1e-3);
        assertTrue(ev.r2() > 0.99, "held-out R2 " + ev.r2());
        assertTrue(ev.mse() < 0.05 * ev.baselineMse());
    }

    @Test
    void splitIsSeededDisjointAndComplete() {
        LinearProbe.Split a = LinearProbe.split(100, 0.8, 7), b = LinearProbe.split(100, 0.8, 7), c = LinearProbe.split(100, 0.8, 8);
        assertArrayEquals(a.train(), b.train());
        assertFalse(Arrays.equals(a.train(), c.train()));
        assertEquals(80, a.train().length);
        Set<Integer> all = new HashSet<>();
        for (int i : a.train()) all.add(i);
        for (int i : a.test()) assertTrue(all.add(i));
        assertEquals(100, all.size());
        assertEquals(1, LinearProbe.split(2, 0.99, 1).test().length, "both sides non-empty");
        assertThrows(IllegalArgumentException.class, () -> LinearProbe.split(10, 1.0, 1));
    }

    @Test
    void rejectsBadInput() {
        assertThrows(IllegalArgumentException.class, () -> LinearProbe.fit(new double[][] {{1}, {2}}, new double[] {1}));
        assertThrows(IllegalArgumentException.class, () -> LinearProbe.fit(new double[][] {{1}, {2}}, new double[] {1, Double.NaN}));
        assertThrows(IllegalArgumentException.class, () -> LinearProbe.fit(new double[][] {{1}, {2}}, new double[] {1, 2}, -1));
        LinearProbe p = LinearProbe.fit(new double[][] {{1}, {2}, {3}}, new double[] {2, 4, 6});
        assertEquals(8, p.predict(new double[] {4}), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> p.predict(new double[] {1, 2}));
    }
}
