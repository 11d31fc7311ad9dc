package dev.lens4j.backend;

import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static dev.lens4j.backend.CpuKernelsTest.assertClose;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Padding masks (per-row valid key ranges) and KV-cache shapes (fewer queries than keys) in the fused and split
 * attention kernels and the scores' backward, against the double-precision reference: left and right padding, rows
 * that see no key at all (left-pad queries: pattern 0, z 0), windows and soft caps on top, bad ranges refused.
 */
class RaggedAttentionKernelsTest extends KernelTestSupport {
    private static final CpuBackend B = CpuBackend.get();
    private static final double TOL = 1e-5;
    private static final int[][] SHAPES = { // batch, q_len, k_len, heads, kv_heads, d_head
            {1, 1, 1, 1, 1, 1}, {3, 5, 5, 4, 4, 8}, {2, 1, 9, 6, 2, 8}, {3, 3, 7, 4, 1, 5}, {2, 40, 40, 6, 3, 16}, {2, 7, 45, 2, 2, 8}};

    RaggedAttentionKernelsTest() { super(777); }

    /** Random left or right padding per row, sometimes an empty row, sometimes null (all valid). */
    private long[] ranges(int batch, int kLen, int kind) {
        if (kind == 0) return null;
        long[] r = new long[2 * batch];
        for (int b = 0; b < batch; b++) {
            int pad = rnd.nextInt(kLen + 1);
            if (kind == 1) { r[2 * b] = pad; r[2 * b + 1] = kLen; }          // left padding
            else { r[2 * b] = 0; r[2 * b + 1] = kLen - pad; }                 // right padding
        }
        return r;
    }

    @Test void maskedFusedAndSplitAttentionMatchTheReference() {
        for (int[] c : SHAPES)
            for (int kind = 0; kind < 3; kind++)
                for (int window : new int[] {0, 3})
                    for (float cap : new float[] {0f, 2f}) {
                        int batch = c[0], qLen = c[1], kLen = c[2], h = c[3], kvh = c[4], dh = c[5];
                        long[] kr = ranges(batch, kLen, kind);
                        float[] q = randn(batch * qLen * h * dh), k = randn(batch * kLen * kvh * dh), v = randn(batch * kLen * kvh * dh);
                        float scale = (float) (1 / Math.sqrt(dh));
                        Tensor Q = Tensor.of(q, batch, qLen, h, dh), K = Tensor.of(k, batch, kLen, kvh, dh), V = Tensor.of(v, batch, kLen, kvh, dh);
                        String what = "shape " + Arrays.toString(c) + " ranges " + Arrays.toString(kr) + " window " + window + " cap " + cap;
                        double[][] ref = Reference.attentionMasked(q, k, v, batch, qLen, kLen, h, kvh, dh, scale, window, cap, kr);

                        Tensor z = B.zeros(batch, qLen, h, dh), scores = B.zeros(batch, h, qLen, kLen), pattern = B.zeros(batch, h, qLen, kLen);
                        B.attention(Q, K, V, scale, window, cap, kr, z, scores, pattern);
                        assertClose(what + " fused scores", ref[0], scores.toFloatArray(), TOL);
                        assertClose(what + " fused pattern", ref[1], pattern.toFloatArray(), TOL);
                        assertClose(what + " fused z", ref[2], z.toFloatArray(), TOL);
                        Tensor zOnly = B.zeros(batch, qLen, h, dh);
                        B.attention(Q, K, V, scale, window, cap, kr, zOnly, null, null);
                        assertClose(what + " fused z without scores or pattern", ref[2], zOnly.toFloatArray(), TOL);

                        Tensor s2 = B.zeros(batch, h, qLen, kLen), p2 = B.zeros(batch, h, qLen, kLen), z2 = B.zeros(batch, qLen, h, dh);
                        B.attnScores(Q, K, scale, window, cap, kr, s2);
                        B.softmax(s2, p2);
                        B.attnApply(p2, V, z2);
                        assertClose(what + " split scores", ref[0], s2.toFloatArray(), TOL);
                        assertClose(what + " split pattern (all -inf rows give 0)", ref[1], p2.toFloatArray(), TOL);
                        assertClose(what + " split z", ref[2], z2.toFloatArray(), TOL);
                    }
    }

    @Test void aQueryThatSeesNoKeyGetsZerosNotNaN() {
        int batch = 2, seq = 4, h = 2, dh = 3;
        Tensor Q = Tensor.of(randn(batch * seq * h * dh), batch, seq, h, dh), K = Tensor.of(randn(batch * seq * h * dh), batch, seq, h, dh);
        Tensor V = Tensor.of(randn(batch * seq * h * dh), batch, seq, h, dh);
        Tensor z = B.zeros(batch, seq, h, dh), pattern = B.zeros(batch, h, seq, seq);
        B.attention(Q, K, V, 1f, 0, 0f, new long[] {2, 4, 0, 0}, z, null, pattern);
        float[] zz = z.toFloatArray(), pp = pattern.toFloatArray();
        for (float x : zz) assertFalse(Float.isNaN(x), "no NaN in z");
        // row 0, queries 0 and 1 are left padding; row 1 has no valid key at all
        for (int i = 0; i < 2 * h * dh; i++) assertEquals(0f, zz[i], "left-pad queries of row 0 have z = 0");
        for (int i = seq * h * dh; i < zz.length; i++) assertEquals(0f, zz[i], "a row without keys has z = 0");
        assertEquals(1f, pp[3 * seq + 2] + pp[3 * seq + 3], 1e-6f, "row 0's last query spreads over its 2 valid keys");
    }

    @Test void scoresBackwardReadsOnlyTheValidKeys() {
        for (int[] c : SHAPES) {
            if (c[1] != c[2]) continue; // the backward runs on full sequences
            for (int kind = 1; kind < 3; kind++) {
                int batch = c[0], seq = c[1], h = c[3], kvh = c[4], dh = c[5], group = h / kvh, window = 4;
                long[] kr = ranges(batch, seq, kind);
                float[] q = randn(batch * seq * h * dh), k = randn(batch * seq * kvh * dh), ds = randn(batch * h * seq * seq);
                for (int r = 0; r < batch * h * seq; r++)
                    for (int j = 0; j < seq; j++) {
                        int b = r / (h * seq), i = r % seq;
                        if (j > i || j <= i - window || j < kr[2 * b] || j >= kr[2 * b + 1]) ds[r * seq + j] = Float.NaN; // never read
                    }
                float scale = 0.3f;
                Tensor dq = B.zeros(batch, seq, h, dh), dk = B.zeros(batch, seq, kvh, dh);
                B.attnScoresBackward(Tensor.of(q, batch, seq, h, dh), Tensor.of(k, batch, seq, kvh, dh), scale, window, kr,
                        Tensor.of(ds, batch, h, seq, seq), dq, dk);
                double[] wq = new double[q.length], wk = new double[k.length];
                for (int b = 0; b < batch; b++)
                    for (int hh = 0; hh < h; hh++)
                        for (int i = 0; i < seq; i++)
                            for (int j = 0; j < seq; j++) {
                                double g = ds[((b * h + hh) * seq + i) * seq + j];
                                if (Double.isNaN(g)) continue;
                                for (int e = 0; e < dh; e++) {
                                    int qi = ((b * seq + i) * h + hh) * dh + e, kj = ((b * seq + j) * kvh + hh / group) * dh + e;
                                    wq[qi] += scale * g * k[kj];
                                    wk[kj] += scale * g * q[qi];
                                }
                            }
                String what = "attn_scores_backward " + Arrays.toString(c) + " ranges " + Arrays.toString(kr);
                assertClose(what + " dq", wq, dq.toFloatArray(), TOL);
                assertClose(what + " dk", wk, dk.toFloatArray(), TOL);
            }
        }
    }

    @Test void badKeyRangesAreRefusedBeforeNativeCode() {
        Tensor Q = B.zeros(2, 3, 1, 2), K = B.zeros(2, 3, 1, 2), z = B.zeros(2, 3, 1, 2);
        for (long[] bad : new long[][] {{0, 3}, {0, 3, 2, 1}, {-1, 3, 0, 3}, {0, 4, 0, 3}}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> B.attention(Q, K, K, 1f, 0, 0f, bad, z, null, null), Arrays.toString(bad));
            assertTrue(e.getMessage().contains("attention"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> B.attention(B.zeros(2, 4, 1, 2), K, K, 1f, 0, 0f, null, B.zeros(2, 4, 1, 2), null, null),
                "more queries than keys");
    }
}
