package dev.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;

class StatsTest {

    @Test
    void plantedNeuronCorrelations() {
        // neuron 0 = sum, 1 = -sum + noise, 2 = noise, 3 = dead (constant), 4 = relu(sum - 9)
        Random rng = new Random(1);
        int n = 100;
        double[] sum = new double[n];
        double[][] acts = new double[n][5];
        for (int i = 0; i < n; i++) {
            int a = i / 10, b = i % 10;
            sum[i] = a + b;
            acts[i][0] = 2 * sum[i] + 1;
            acts[i][1] = -sum[i] + 0.1 * rng.nextGaussian();
            acts[i][2] = rng.nextGaussian();
            acts[i][3] = 0.0;
            acts[i][4] = Math.max(0, sum[i] - 9);
        }
        double[] r = Stats.pearsonColumns(acts, sum);
        assertEquals(1.0, r[0], 1e-12);
        assertTrue(r[1] < -0.99);
        assertTrue(Math.abs(r[2]) < 0.3);
        assertEquals(0.0, r[3], "dead neuron reads 0, as nan_to_num");
        assertTrue(r[4] > 0.8 && r[4] < 1.0);
        for (int j = 0; j < 5; j++) if (j != 3) assertEquals(Stats.pearson(Mat.column(acts, j), sum), r[j], 1e-12);
        assertTrue(Double.isNaN(Stats.pearson(Mat.column(acts, 3), sum)));
        assertArrayEquals(new int[] {0, 1, 4}, Stats.topKByAbs(r, 3));
    }

    @Test
    void meanVariance() {
        double[] x = {1, 2, 3, 4};
        assertEquals(2.5, Stats.mean(x));
        assertEquals(1.25, Stats.variance(x), 1e-12);
        assertEquals(5.0 / 3, Stats.sampleVariance(x), 1e-12);
        assertEquals(Math.sqrt(1.25), Stats.std(x), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Stats.mean(new double[0]));
    }

    @Test
    void histogramCountsEveryFiniteValueOnce() {
        double[] x = {0, 0.1, 0.5, 0.99, 1.0, Double.NaN, 0.25};
        Stats.Bins b = Stats.histogram(x, 4);
        assertArrayEquals(new double[] {0, 0.25, 0.5, 0.75, 1.0}, b.edges(), 1e-12);
        assertArrayEquals(new int[] {2, 1, 1, 2}, b.counts());
        assertEquals(6, b.total());
        assertArrayEquals(new double[] {0.125, 0.375, 0.625, 0.875}, b.centres(), 1e-12);
        Stats.Bins one = Stats.histogram(new double[] {3, 3, 3}, 5);
        assertEquals(3, one.total());
        Stats.Bins ranged = Stats.histogram(new double[] {-2, -1, 0, 1, 2}, 2, -1, 1);
        assertEquals(3, ranged.total());
    }

    @Test
    void argsortAndTopK() {
        double[] x = {3, -7, 1, Double.NaN, 7, 1};
        assertArrayEquals(new int[] {1, 2, 5, 0, 4, 3}, Stats.argsort(x));
        assertArrayEquals(new int[] {4, 0, 2, 5, 1, 3}, Stats.argsortDescending(x));
        assertArrayEquals(new int[] {1, 4}, Stats.topKByAbs(x, 2), "ties keep index order");
        assertEquals(5, Stats.topKByAbs(x, 10).length, "NaN never selected");
    }

    @Test
    void floatConversions() {
        float[] flat = {1, 2, 3, 4, 5, 6};
        double[][] m = Mat.fromFlat(flat, 2, 3);
        assertArrayEquals(new double[] {4, 5, 6}, m[1]);
        assertArrayEquals(new double[] {3, 6}, Mat.column(m, 2));
        assertEquals(3, Mat.transpose(m).length);
        assertThrows(IllegalArgumentException.class, () -> Mat.fromFlat(flat, 4, 2));
    }
}
