package dev.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;

class LinearFitTest {

    @Test
    void simpleFitRecoversSlopeAndIntercept() {
        // the seed's hypothesis for the PC2-ablated model: prediction = 2/3 (a+b) + 3
        double[] x = new double[19], y = new double[19];
        for (int i = 0; i < 19; i++) { x[i] = i; y[i] = 2.0 / 3 * i + 3; }
        LinearFit f = LinearFit.simple(x, y);
        assertEquals(2.0 / 3, f.slope(), 1e-12);
        assertEquals(3.0, f.intercept(), 1e-12);
        assertEquals(1.0, f.r2(), 1e-12);
        assertEquals(0.0, f.mse(), 1e-20);
        assertEquals(2.0 / 3 * 30 + 3, f.predict(30), 1e-9);
    }

    @Test
    void twoRegressorFitRecoversCoefficientsUnderNoise() {
        Random rng = new Random(3);
        int n = 100;
        double[] a = new double[n], b = new double[n], y = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = i / 10;
            b[i] = i % 10;
            y[i] = 0.5 * a[i] + 0.9 * b[i] + 1.5 + 0.01 * rng.nextGaussian();
        }
        LinearFit f = LinearFit.of(a, b, y);
        assertEquals(0.5, f.coefficients()[0], 0.01);
        assertEquals(0.9, f.coefficients()[1], 0.01);
        assertEquals(1.5, f.intercept(), 0.02);
        assertTrue(f.r2() > 0.999 && f.r2() < 1);
        double[] res = f.residuals(LinearFit.columns(a, b), y);
        assertEquals(0.0, Stats.mean(res), 1e-9, "OLS residuals have zero mean");
        assertThrows(IllegalStateException.class, f::slope);
    }

    @Test
    void quadraticFeatures() {
        // y = x(a+b) + y a^2 + z b^2 + c, one of the seed's fits
        int n = 100;
        double[] s = new double[n], a2 = new double[n], b2 = new double[n], y = new double[n];
        for (int i = 0; i < n; i++) {
            double a = i / 10, b = i % 10;
            s[i] = a + b; a2[i] = a * a; b2[i] = b * b;
            y[i] = 0.8 * s[i] - 0.05 * a2[i] + 0.02 * b2[i] + 1;
        }
        LinearFit f = LinearFit.multiple(LinearFit.columns(s, a2, b2), y);
        assertArrayEquals(new double[] {0.8, -0.05, 0.02}, f.coefficients(), 1e-9);
        assertEquals(1.0, f.intercept(), 1e-9);
        assertEquals(1.0, f.r2(), 1e-12);
    }

    @Test
    void collinearRegressorsFailLoudly() {
        double[] x = {1, 2, 3, 4};
        double[] twice = {2, 4, 6, 8};
        assertThrows(IllegalArgumentException.class, () -> LinearFit.of(x, twice, new double[] {1, 2, 3, 5}));
    }
}
