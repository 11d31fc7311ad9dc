package dev.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Probes against scikit-learn (fixture from scripts/fixtures/make_probe_fixtures.py) and hand-computable cases. */
class ProbesTest {
    @Test void logisticRegressionMatchesScikitLearn() throws Exception {
        JsonNode fx = new ObjectMapper().readTree(getClass().getResource("/dev/lens4j/analysis/probes.json"));
        double[][] x = new ObjectMapper().convertValue(fx.get("x"), double[][].class);
        boolean[] y = new ObjectMapper().convertValue(fx.get("y"), boolean[].class);
        for (JsonNode c : fx.get("cases")) {
            Probes.Logistic m = Probes.fitLogistic(x, y, c.get("C").asDouble(), 1e-9, 10000);
            double[] ref = new ObjectMapper().convertValue(c.get("coef"), double[].class);
            // the optimum of scikit-learn's objective (its own lbfgs result polished by Newton steps to a gradient of ~1e-14)
            for (int j = 0; j < ref.length; j++)
                assertEquals(ref[j], m.weights()[j], 1e-6 * Math.max(1, Math.abs(ref[j])), "C=" + c.get("C") + " coef " + j);
            assertEquals(c.get("intercept").asDouble(), m.intercept(), 1e-6, "C=" + c.get("C") + " intercept");
            // and scikit-learn's own (less converged) coefficients within its tolerance
            double[] sk = new ObjectMapper().convertValue(c.get("sklearn_coef"), double[].class);
            for (int j = 0; j < sk.length; j++) assertEquals(sk[j], m.weights()[j], 2e-4 * Math.max(1, Math.abs(sk[j])), "sklearn coef " + j);
        }
        double[] s = new ObjectMapper().convertValue(fx.get("auc_scores"), double[].class);
        assertEquals(fx.get("auc").asDouble(), Probes.auc(s, y), 1e-12, "AUC with ties, as sklearn's roc_auc_score");
    }

    @Test void meanDifferenceByHand() {
        // Yes rows around (2, 0), No rows around (0, 0): delta (2, 0), unit axis (1, 0), separation 2
        double[][] x = {{3, 1}, {1, -1}, {1, 1}, {-1, -1}};
        boolean[] y = {true, true, false, false};
        Probes.MeanDifference md = Probes.meanDifference(x, y);
        assertArrayEquals(new double[] {2, 0}, md.delta(), 1e-12);
        assertArrayEquals(new double[] {1, 0}, md.direction(), 1e-12);
        assertEquals(2, md.separation(), 1e-12);
        assertArrayEquals(new double[] {3, 1, 1, -1}, md.scores(), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Probes.meanDifference(x, new boolean[] {true, true, true, true}));
        double[][] m = Probes.alignment(List.of(new double[] {1, 0}, new double[] {0, 2}, new double[] {-3, 0}));
        assertArrayEquals(new double[] {1, 0, -1}, m[0], 1e-12);
        assertEquals(0, m[1][2], 1e-12);
    }

    @Test void crossValidationSeparatesWhatIsSeparableAndNotNoise() {
        Random r = new Random(1);
        int n = 200, d = 10;
        double[][] x = new double[n][d], noise = new double[n][d];
        boolean[] y = new boolean[n];
        int[] groups = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = i % 2 == 0;
            groups[i] = (i / 2) % 2;
            for (int j = 0; j < d; j++) { x[i][j] = r.nextGaussian(); noise[i][j] = r.nextGaussian(); }
            // group 0 separates along axis 0, group 1 along axis 1
            x[i][groups[i]] += y[i] ? 3 : -3;
        }
        Probes.CrossValidation cv = Probes.crossValidate(x, y, 5, 1.0, 7);
        assertTrue(cv.accuracy() > 0.9 && cv.auc() > 0.95, "separable: " + cv.accuracy() + " " + cv.auc());
        assertEquals(5, cv.foldAccuracy().length);
        Probes.CrossValidation cn = Probes.crossValidate(noise, y, 5, 1.0, 7);
        assertTrue(cn.accuracy() < 0.7, "noise: " + cn.accuracy());
        // the same seed gives the same folds and numbers
        assertEquals(cv.accuracy(), Probes.crossValidate(x, y, 5, 1.0, 7).accuracy());
        int[] folds = Probes.stratifiedFolds(y, groups, 5, 3);
        for (int f = 0; f < 5; f++) {
            int pos = 0, g1 = 0;
            for (int i = 0; i < n; i++) if (folds[i] == f) { if (y[i]) pos++; if (groups[i] == 1) g1++; }
            assertEquals(20, pos, "fold " + f + " is stratified by label");
            assertEquals(20, g1, "and by group");
        }
        List<Probes.GroupResult> gr = Probes.perGroupAndPooled(x, y, groups, List.of("a", "b"), 5, 1.0, 7);
        assertEquals(2, gr.size());
        for (Probes.GroupResult g : gr) {
            assertTrue(g.perGroup().accuracy() > 0.9 && g.pooled().accuracy() > 0.85, g.toString());
            assertEquals(g.pooled().accuracy() - g.perGroup().accuracy(), g.pooledMinusPerGroup(), 1e-15);
        }
        // the pooled probe, refitted by hand per fold on every group's training rows, scored on group b's held-out rows
        int[] fg = Probes.stratifiedFolds(y, groups, 5, 7);
        double sum = 0;
        for (int f = 0; f < 5; f++) {
            final int ff = f;
            int[] tr = java.util.stream.IntStream.range(0, n).filter(i -> fg[i] != ff).toArray();
            boolean[] ty = new boolean[tr.length];
            for (int i = 0; i < tr.length; i++) ty[i] = y[tr[i]];
            Probes.Logistic m = Probes.fitLogistic(java.util.Arrays.stream(tr).mapToObj(i -> x[i]).toArray(double[][]::new), ty, 1.0);
            int cnt = 0, hit = 0;
            for (int i = 0; i < n; i++) if (fg[i] == f && groups[i] == 1) { cnt++; if (m.predict(x[i]) == y[i]) hit++; }
            sum += (double) hit / cnt;
        }
        assertEquals(sum / 5, gr.get(1).pooled().accuracy(), 1e-12);
    }
}
