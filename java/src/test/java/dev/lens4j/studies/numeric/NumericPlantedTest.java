package dev.lens4j.studies.numeric;

import dev.lens4j.analysis.NeuronScoring.Prompt;
import dev.lens4j.model.Config;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The geometry analyses on activations built by hand: a planted Yes–No direction per dataset (u for A and C, an
 * orthogonal v for B) on layer 1, pure noise on layer 0. The axes, separations, alignments and probes must find
 * exactly what was planted; the ln_final readout is checked against a value worked out by hand.
 */
class NumericPlantedTest {
    static final int D = 8, PER = 60;

    @Test void axesAlignmentAndProbesFindThePlantedDirections() {
        List<String> groups = List.of("A", "B", "C");
        int n = groups.size() * PER;
        List<Prompt> prompts = new ArrayList<>();
        float[][] resid = new float[2][n * D];
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < n; i++) {
            int g = i / PER;
            boolean yes = i % 2 == 0;
            prompts.add(new Prompt(new int[] {1}, 2, 3, yes, groups.get(g)));
            int dir = g == 1 ? 1 : 0; // u = e0 (A, C), v = e1 (B)
            for (int d = 0; d < D; d++) {
                resid[0][i * D + d] = (float) (0.1 * r.nextGaussian());
                resid[1][i * D + d] = (float) (0.1 * r.nextGaussian() + (d == dir ? (yes ? 3 : -3) : 0));
            }
        }
        Collected c = Collected.of(prompts, groups, resid, new double[n]);
        NumericOptions o = new NumericOptions();
        Geometry g = Geometry.run(c, o, StudyProgress.none());
        for (int k = 0; k < 3; k++) {
            assertEquals(6.0, g.separation[1][k], 0.1, "separation = |(+3) - (-3)|");
            assertEquals(1.0, Math.abs(g.axes[1][k][k == 1 ? 1 : 0]), 0.01, "the axis is the planted direction");
            assertTrue(g.axes[1][k][k == 1 ? 1 : 0] > 0, "pointing from No to Yes");
            assertTrue(g.separation[0][k] < 0.2, "noise layer: " + g.separation[0][k]);
            assertEquals(1.0, g.probePerGroup[1][k], 1e-12, "separable: the probe is exact");
            assertEquals(1.0, g.probePooled[1][k], 1e-12);
            assertEquals(0.5, g.probePerGroup[0][k], 0.2, "noise: chance");
        }
        assertEquals(1.0, g.alignment[1][0][2], 0.01, "A and C share u");
        assertEquals(0.0, g.alignment[1][0][1], 0.05, "A and B are orthogonal");
        // PCA of A at the last layer: PC1 is the planted axis, so it carries almost all variance and the truth
        Geometry.Projection pa = g.pcaLast.get(0);
        assertTrue(pa.explained()[0] > 0.95, "PC1 explains " + pa.explained()[0]);
        for (int i = 0; i < PER; i++) assertEquals(c.truth[pa.rows()[i]], pa.scores()[i][0] * Math.signum(pa.scores()[0][0]) > 0);
        // cross-projection: A's PCA separates C (same axis) perfectly, B (orthogonal axis) at chance
        for (Geometry.Cross x : g.cross)
            if (x.source().equals("A") && x.target().equals("C")) assertEquals(1.0, Math.max(x.pc1Auc(), 1 - x.pc1Auc()), 1e-12);
            else if (x.source().equals("A") && x.target().equals("B")) assertEquals(0.5, x.pc1Auc(), 0.2);
    }

    @Test void readoutAppliesLayerNormByHand() {
        Config cfg = new Config();
        cfg.normalizationType = "LN";
        cfg.eps = 0;
        double[] h = {1, 2, 3, 6};
        Readout.normalize(cfg, h, null, null);
        // centred: -2, -1, 0, 3; mean square 14/4 = 3.5
        double s = Math.sqrt(3.5);
        assertArrayEquals(new double[] {-2 / s, -1 / s, 0, 3 / s}, h, 1e-12);
        cfg.normalizationType = "RMS";
        double[] g = {3, 4};
        Readout.normalize(cfg, g, new float[] {2, 1}, null);
        double rms = Math.sqrt(12.5);
        assertArrayEquals(new double[] {6 / rms, 4 / rms}, g, 1e-12);
        // the direction: W_U [D=2, V=3], yes = 0, no = 2
        double[] dir = Readout.direction(new float[] {1, 0, 4, 5, 0, 1}, 2, 3, 0, 2);
        assertArrayEquals(new double[] {-3 / 5.0, 4 / 5.0}, dir, 1e-12);
    }
}
