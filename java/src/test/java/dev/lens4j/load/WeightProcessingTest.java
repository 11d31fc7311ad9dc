package dev.lens4j.load;

import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** TL's weight processing preserves what the model computes; checked component by component on random inputs. */
class WeightProcessingTest {
    private static final LoadOptions FOLD_ONLY = LoadOptions.defaults().centerWritingWeights(false).centerUnembed(false).foldValueBiases(false);

    static double[] randn(Random r, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) x[i] = 2 * r.nextGaussian() + 0.5;
        return x;
    }

    /** LayerNorm without weight and bias (TL's LNPre): zero mean, unit variance. */
    static double[] lnPre(double[] x) {
        double mean = 0, var = 0;
        for (double v : x) mean += v / x.length;
        for (double v : x) var += (v - mean) * (v - mean) / x.length;
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = (x[i] - mean) / Math.sqrt(var + 1e-5);
        return y;
    }

    static double[] rmsPre(double[] x) {
        double ms = 0;
        for (double v : x) ms += v * v / x.length;
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i] / Math.sqrt(ms + 1e-5);
        return y;
    }

    /** (x * g + beta) when g / beta exist (null: identity). */
    static double[] affine(double[] x, Tensor g, Tensor beta) {
        double[] y = x.clone();
        for (int i = 0; i < y.length; i++) {
            if (g != null) y[i] *= g.get(i);
            if (beta != null) y[i] += beta.get(i);
        }
        return y;
    }

    /** x @ W[head] + b[head] for W [H, D, E] or [D, E] (head ignored), b [H, E] / [E] or null. */
    static double[] project(double[] x, Tensor w, Tensor b, int head) {
        boolean three = w.rank() == 3;
        int d = (int) w.size(three ? 1 : 0), e = (int) w.size(-1);
        double[] out = new double[e];
        for (int k = 0; k < e; k++) {
            double s = b == null ? 0 : (b.rank() == 2 ? b.get(head, k) : b.get(k));
            for (int m = 0; m < d; m++) s += x[m] * (three ? w.get(head, m, k) : w.get(m, k));
            out[k] = s;
        }
        return out;
    }

    static void assertClose(double[] a, double[] b, double tol, String what) {
        assertEquals(a.length, b.length, what);
        for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], tol * (1 + Math.abs(a[i])), what + "[" + i + "]");
    }

    static double[] logSoftmax(double[] z) {
        double max = Double.NEGATIVE_INFINITY, s = 0;
        for (double v : z) max = Math.max(max, v);
        for (double v : z) s += Math.exp(v - max);
        double[] out = new double[z.length];
        for (int i = 0; i < z.length; i++) out[i] = z[i] - max - Math.log(s);
        return out;
    }

    @Test void layerNormFoldPreservesEveryReadingProjection() {
        Config cfg = TestCheckpoints.tinyGpt2Config();
        Config proc = cfg.clone();
        Random r = new Random(42);
        try (Weights raw = RandomWeights.gpt2(cfg, 1); Weights w = RandomWeights.gpt2(cfg, 1)) {
            WeightProcessing.process(proc, w, FOLD_ONLY);
            assertEquals("LNPre", proc.normalizationType);
            assertTrue(proc.lnFolded);
            assertFalse(proc.writingWeightsCentered || proc.unembedCentered || proc.valueBiasesFolded);
            assertFalse(w.has("blocks.0.ln1.w") || w.has("blocks.1.ln2.b") || w.has("ln_final.w") || w.has("ln_final.b"));
            for (int trial = 0; trial < 3; trial++) {
                double[] xn = lnPre(randn(r, cfg.dModel));
                for (int l = 0; l < cfg.nLayers; l++) {
                    double[] y1 = affine(xn, raw.get(Weights.ln(l, 1, "w")), raw.get(Weights.ln(l, 1, "b")));
                    for (int i = 0; i < cfg.nHeads; i++) {
                        assertClose(project(y1, raw.W_Q(l), raw.b_Q(l), i), project(xn, w.W_Q(l), w.b_Q(l), i), 1e-4, "q l" + l + " h" + i);
                        assertClose(project(y1, raw.W_K(l), raw.b_K(l), i), project(xn, w.W_K(l), w.b_K(l), i), 1e-4, "k l" + l + " h" + i);
                        assertClose(project(y1, raw.W_V(l), raw.b_V(l), i), project(xn, w.W_V(l), w.b_V(l), i), 1e-4, "v l" + l + " h" + i);
                    }
                    double[] y2 = affine(xn, raw.get(Weights.ln(l, 2, "w")), raw.get(Weights.ln(l, 2, "b")));
                    assertClose(project(y2, raw.W_in(l), raw.b_in(l), 0), project(xn, w.W_in(l), w.b_in(l), 0), 1e-4, "mlp pre l" + l);
                }
                double[] yf = affine(xn, raw.get("ln_final.w"), raw.get("ln_final.b"));
                assertClose(project(yf, raw.W_U(), raw.b_U(), 0), project(xn, w.W_U(), w.b_U(), 0), 1e-4, "logits");
            }
            // centred over d_model: every (head, d_head) column of W_Q sums to ~0
            for (int i = 0; i < cfg.nHeads; i++)
                for (int k = 0; k < cfg.dHead; k++) {
                    double s = 0, rs = 0;
                    for (int m = 0; m < cfg.dModel; m++) { s += w.W_Q(1).get(i, m, k); rs += raw.W_Q(1).get(i, m, k); }
                    assertEquals(0, s, 1e-5);
                    assertNotEquals(0, rs, 1e-3, "the raw weights were not centred already");
                }
        }
    }

    @Test void rmsFoldScalesWithoutCentring() {
        Config cfg = TestCheckpoints.tinyLlamaConfig();
        Config proc = cfg.clone();
        Random r = new Random(3);
        try (Weights raw = RandomWeights.llama(cfg, 2); Weights w = RandomWeights.llama(cfg, 2)) {
            WeightProcessing.process(proc, w, FOLD_ONLY);
            assertEquals("RMSPre", proc.normalizationType);
            double[] xn = rmsPre(randn(r, cfg.dModel));
            for (int l = 0; l < cfg.nLayers; l++) {
                Tensor g1 = raw.get(Weights.ln(l, 1, "w")), g2 = raw.get(Weights.ln(l, 2, "w"));
                double[] y1 = affine(xn, g1, null), y2 = affine(xn, g2, null);
                for (int i = 0; i < cfg.nHeads; i++) assertClose(project(y1, raw.W_Q(l), null, i), project(xn, w.W_Q(l), null, i), 1e-5, "q");
                for (int i = 0; i < cfg.nKvHeads(); i++) {
                    assertClose(project(y1, raw.W_K(l), null, i), project(xn, w.W_K(l), null, i), 1e-5, "k");
                    assertClose(project(y1, raw.W_V(l), null, i), project(xn, w.W_V(l), null, i), 1e-5, "v");
                }
                assertClose(project(y2, raw.W_in(l), null, 0), project(xn, w.W_in(l), null, 0), 1e-5, "up");
                assertClose(project(y2, raw.W_gate(l), null, 0), project(xn, w.W_gate(l), null, 0), 1e-5, "gate");
                // RMS: no centring, so the fold is an exact per-row scale
                assertEquals(raw.W_Q(l).get(1, 3, 2) * g1.get(3), w.W_Q(l).get(1, 3, 2), 0f);
            }
            assertClose(project(affine(xn, raw.get("ln_final.w"), null), raw.W_U(), null, 0), project(xn, w.W_U(), null, 0), 1e-5, "logits");
        }
    }

    @Test void fullProcessingCentresWritingWeightsAndUnembedAndKeepsLogProbs() {
        Config cfg = TestCheckpoints.tinyGpt2Config();
        Config proc = cfg.clone();
        try (Weights raw = RandomWeights.gpt2(cfg, 5); Weights w = RandomWeights.gpt2(cfg, 5)) {
            WeightProcessing.process(proc, w, LoadOptions.defaults());
            assertTrue(proc.lnFolded && proc.writingWeightsCentered && proc.unembedCentered && proc.valueBiasesFolded);
            int d = cfg.dModel;
            assertRowMeansZero(w.W_E(), d, "W_E");
            assertRowMeansZero(w.W_pos(), d, "W_pos");
            for (int l = 0; l < cfg.nLayers; l++) {
                assertRowMeansZero(w.W_O(l), d, "W_O");
                assertRowMeansZero(w.b_O(l), d, "b_O (still centred after the value-bias fold)");
                assertRowMeansZero(w.W_out(l), d, "W_out");
                assertRowMeansZero(w.b_out(l), d, "b_out");
            }
            assertRowMeansZero(w.W_U(), cfg.dVocab, "W_U over vocab");
            assertRowMeansZero(w.b_U(), cfg.dVocab, "b_U");
            // centring removes only each row's mean
            float[] e0 = raw.W_E().toFloatArray(), e1 = w.W_E().toFloatArray();
            double mean = 0;
            for (int m = 0; m < d; m++) mean += e0[3 * d + m] / d;
            for (int m = 0; m < d; m++) assertEquals(e0[3 * d + m] - mean, e1[3 * d + m], 1e-6);
            // the unembed's log-probs are unchanged (logits move by a constant)
            double[] xn = lnPre(randn(new Random(8), d));
            double[] zRaw = project(affine(xn, raw.get("ln_final.w"), raw.get("ln_final.b")), raw.W_U(), raw.b_U(), 0);
            double[] zProc = project(xn, w.W_U(), w.b_U(), 0);
            assertClose(logSoftmax(zRaw), logSoftmax(zProc), 1e-4, "log-probs");
            for (int v = 1; v < zRaw.length; v++) assertEquals(zRaw[0] - zProc[0], zRaw[v] - zProc[v], 1e-4, "logit shift is the same for every token");
        }
    }

    @Test void writingWeightsAreNotCentredForRmsModels() {
        Config cfg = TestCheckpoints.tinyLlamaConfig();
        try (Weights raw = RandomWeights.llama(cfg, 6); Weights w = RandomWeights.llama(cfg, 6)) {
            WeightProcessing.process(cfg, w, LoadOptions.defaults());
            assertFalse(cfg.writingWeightsCentered);
            assertTrue(cfg.unembedCentered);
            assertArrayEquals(raw.W_E().toFloatArray(), w.W_E().toFloatArray(), 0f);
            assertArrayEquals(raw.W_O(1).toFloatArray(), w.W_O(1).toFloatArray(), 0f);
        }
    }

    @Test void eachStepCanBeSwitchedOff() {
        Config cfg = TestCheckpoints.tinyGpt2Config();
        try (Weights raw = RandomWeights.gpt2(cfg, 5); Weights w = RandomWeights.gpt2(cfg, 5)) {
            WeightProcessing.process(cfg, w, LoadOptions.defaults().foldLn(false).centerWritingWeights(false).foldValueBiases(false));
            assertTrue(cfg.unembedCentered);
            assertFalse(cfg.lnFolded || cfg.writingWeightsCentered || cfg.valueBiasesFolded);
            assertEquals("LN", cfg.normalizationType);
            assertTrue(w.has("blocks.0.ln1.w"));
            assertArrayEquals(raw.b_V(0).toFloatArray(), w.b_V(0).toFloatArray(), 0f);
            assertRowMeansZero(w.W_U(), cfg.dVocab, "W_U");
        }
        Config c2 = TestCheckpoints.tinyGpt2Config();
        try (Weights raw = RandomWeights.gpt2(c2, 5); Weights w = RandomWeights.gpt2(c2, 5)) {
            WeightProcessing.process(c2, w, LoadOptions.noProcessing().foldLn(true));
            assertFalse(c2.lnFolded, "processWeights=false overrides the individual flags");
            TestCheckpoints.assertSameWeights(raw, w);
        }
    }

    @Test void valueBiasFoldMovesGroupedBiasesIntoOutputBias() {
        Config cfg = TestCheckpoints.tinyLlamaConfig(); // 4 query heads share 2 kv heads
        int n = cfg.nHeads, dh = cfg.dHead, d = cfg.dModel, group = n / cfg.nKvHeads();
        Random r = new Random(9);
        try (Weights raw = RandomWeights.llama(cfg, 4); Weights w = RandomWeights.llama(cfg, 4)) {
            for (Weights x : new Weights[] {raw, w}) {
                Random rr = new Random(10);
                float[] bv = new float[cfg.nKvHeads() * dh], bo = new float[d];
                for (int i = 0; i < bv.length; i++) bv[i] = (float) rr.nextGaussian();
                for (int i = 0; i < bo.length; i++) bo[i] = (float) rr.nextGaussian();
                x.b_V(0).set(bv);
                x.b_O(0).set(bo);
            }
            WeightProcessing.process(cfg, w, LoadOptions.noProcessing().processWeights(true).foldLn(false).centerUnembed(false).centerWritingWeights(false));
            assertTrue(cfg.valueBiasesFolded);
            assertTrue(WeightProcessing.allZero(w.b_V(0)));
            for (int m = 0; m < d; m++) {
                double expect = raw.b_O(0).get(m);
                for (int h = 0; h < n; h++) for (int e = 0; e < dh; e++) expect += raw.b_V(0).get(h / group, e) * raw.W_O(0).get(h, e, m);
                assertEquals(expect, w.b_O(0).get(m), 1e-5, "b_O[" + m + "]");
            }
            // one query attending over 3 keys with a pattern summing to 1: the layer's output is unchanged
            int keys = 3;
            double[][][] v = new double[keys][cfg.nKvHeads()][dh];
            for (double[][] a : v) for (double[] b : a) for (int e = 0; e < dh; e++) b[e] = r.nextGaussian();
            double[] out0 = new double[d], out1 = new double[d];
            for (int m = 0; m < d; m++) { out0[m] = raw.b_O(0).get(m); out1[m] = w.b_O(0).get(m); }
            for (int h = 0; h < n; h++) {
                double[] p = {0.2, 0.5, 0.3};
                for (int e = 0; e < dh; e++) {
                    double z0 = 0, z1 = 0;
                    for (int k = 0; k < keys; k++) {
                        z0 += p[k] * (v[k][h / group][e] + raw.b_V(0).get(h / group, e));
                        z1 += p[k] * (v[k][h / group][e] + w.b_V(0).get(h / group, e));
                    }
                    for (int m = 0; m < d; m++) { out0[m] += z0 * raw.W_O(0).get(h, e, m); out1[m] += z1 * w.W_O(0).get(h, e, m); }
                }
            }
            assertClose(out0, out1, 1e-5, "attention output");
        }
    }

    static void assertRowMeansZero(Tensor t, int rowLen, String what) {
        float[] v = t.toFloatArray();
        for (int r = 0; r < v.length / rowLen; r++) {
            double s = 0, abs = 0;
            for (int k = 0; k < rowLen; k++) { s += v[r * rowLen + k]; abs += Math.abs(v[r * rowLen + k]); }
            assertEquals(0, s / rowLen, 1e-6 * (1 + abs / rowLen), what + " row " + r);
        }
    }
}
