package dev.lens4j.backend;

import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static dev.lens4j.backend.CpuKernelsTest.assertClose;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Gemma 2's attention features in the native kernels: sliding-window causal attention and soft-capped scores, in the
 * fused and the split (scores, softmax, apply) paths, against the double-precision reference; soft-capping of logits
 * forward, and its backward against the analytic derivative and central finite differences.
 */
class WindowAndSoftcapKernelsTest extends KernelTestSupport {
    private static final CpuBackend B = CpuBackend.get();
    private static final double TOL = 1e-5;
    private static final int[][] ATTN = { // batch, seq, heads, kv_heads, d_head
            {1, 1, 1, 1, 1}, {2, 5, 4, 4, 8}, {1, 6, 6, 2, 8}, {2, 7, 4, 1, 5}, {2, 40, 6, 3, 16}};

    WindowAndSoftcapKernelsTest() { super(4242); }

    @Test void slidingWindowAndSoftCapMatchTheReferenceInBothPaths() {
        for (int[] c : ATTN)
            for (int window : new int[] {0, 1, 3, 33})
                for (float cap : new float[] {0f, 0.7f, 5f})
                    for (int outputs = 0; outputs < 4; outputs++) { // bit 0: scores, bit 1: pattern
                        int batch = c[0], seq = c[1], h = c[2], kvh = c[3], dh = c[4];
                        float[] q = randn(batch * seq * h * dh, 2, 0), k = randn(batch * seq * kvh * dh, 2, 0), v = randn(batch * seq * kvh * dh);
                        float scale = (float) (1 / Math.sqrt(dh));
                        Tensor Q = Tensor.of(q, batch, seq, h, dh), K = Tensor.of(k, batch, seq, kvh, dh), V = Tensor.of(v, batch, seq, kvh, dh);
                        Tensor z = B.zeros(batch, seq, h, dh);
                        Tensor scores = (outputs & 1) != 0 ? B.zeros(batch, h, seq, seq) : null;
                        Tensor pattern = (outputs & 2) != 0 ? B.zeros(batch, h, seq, seq) : null;
                        B.attention(Q, K, V, scale, window, cap, z, scores, pattern);
                        Tensor s2 = B.zeros(batch, h, seq, seq), p2 = B.zeros(batch, h, seq, seq), z2 = B.zeros(batch, seq, h, dh);
                        B.attnScores(Q, K, scale, window, cap, s2);
                        B.softmax(s2, p2);
                        B.attnApply(p2, V, z2);

                        String what = "attention " + Arrays.toString(c) + " window " + window + " cap " + cap + " outputs " + outputs;
                        double[] refScores = Reference.attnScores(q, k, batch, seq, h, kvh, dh, scale, window, cap);
                        double[] refPattern = Reference.softmax(refScores, batch * h * seq, seq);
                        double[] refZ = Reference.attnApply(refPattern, v, batch, seq, h, kvh, dh);
                        assertClose(what + " split scores", refScores, s2.toFloatArray(), TOL);
                        assertClose(what + " split z", refZ, z2.toFloatArray(), TOL);
                        assertClose(what + " fused z", refZ, z.toFloatArray(), TOL);
                        if (scores != null) assertClose(what + " fused scores", refScores, scores.toFloatArray(), TOL);
                        if (pattern != null) {
                            float[] pat = pattern.toFloatArray();
                            assertClose(what + " fused pattern", refPattern, pat, TOL);
                            for (int r = 0; r < batch * h * seq; r++)
                                for (int j = 0; j < seq; j++) {
                                    int i = r % seq;
                                    if (j > i || (window > 0 && j <= i - window))
                                        assertEquals(0f, pat[r * seq + j], what + ": pattern outside the window");
                                }
                        }
                    }
    }

    /** dq, dk from the visible entries only: what a backward hook writes where the window masked is never read. */
    @Test void scoresBackwardReadsOnlyTheWindow() {
        for (int[] c : ATTN)
            for (int window : new int[] {1, 3, 33}) {
                int batch = c[0], seq = c[1], h = c[2], kvh = c[3], dh = c[4], group = h / kvh;
                float[] q = randn(batch * seq * h * dh), k = randn(batch * seq * kvh * dh), ds = randn(batch * h * seq * seq);
                for (int r = 0; r < batch * h * seq; r++)
                    for (int j = 0; j < seq; j++) {
                        int i = r % seq;
                        if (j > i || j <= i - window) ds[r * seq + j] = Float.NaN; // masked: must never be read
                    }
                float scale = 0.3f;
                Tensor dq = B.zeros(batch, seq, h, dh), dk = B.zeros(batch, seq, kvh, dh);
                B.attnScoresBackward(Tensor.of(q, batch, seq, h, dh), Tensor.of(k, batch, seq, kvh, dh), scale, window,
                    Tensor.of(ds, batch, h, seq, seq), dq, dk);
                double[] wq = new double[q.length], wk = new double[k.length];
                for (int b = 0; b < batch; b++)
                    for (int hh = 0; hh < h; hh++)
                        for (int i = 0; i < seq; i++)
                            for (int j = Math.max(0, i - window + 1); j <= i; j++) {
                                double g = scale * ds[((b * h + hh) * seq + i) * seq + j];
                                for (int e = 0; e < dh; e++) {
                                    int qi = ((b * seq + i) * h + hh) * dh + e, kj = ((b * seq + j) * kvh + hh / group) * dh + e;
                                    wq[qi] += g * k[kj];
                                    wk[kj] += g * q[qi];
                                }
                            }
                String what = "attn_scores_backward " + Arrays.toString(c) + " window " + window;
                assertClose(what + " dq", wq, dq.toFloatArray(), TOL);
                assertClose(what + " dk", wk, dk.toFloatArray(), TOL);
            }
    }

    @Test void aWindowOfOneAttendsOnlyToItself() {
        int batch = 1, seq = 5, h = 2, dh = 4;
        float[] v = randn(batch * seq * h * dh);
        Tensor Q = Tensor.of(randn(batch * seq * h * dh), batch, seq, h, dh), K = Tensor.of(randn(batch * seq * h * dh), batch, seq, h, dh);
        Tensor z = B.zeros(batch, seq, h, dh);
        B.attention(Q, K, Tensor.of(v, batch, seq, h, dh), 0.5f, 1, 0f, z, null, null);
        assertArrayEquals(v, z.toFloatArray(), 1e-6f, "z = v when each query sees only its own key");
    }

    @Test void softcapForwardAndBackward() {
        float cap = 3f;
        float[] x = randn(1000, 4, 0);
        x[0] = 1e6f; x[1] = -1e6f; x[2] = 0f;
        Tensor X = Tensor.of(x, 10, 100), Y = B.zeros(10, 100);
        B.softcap(X, cap, Y);
        float[] y = Y.toFloatArray();
        double[] want = new double[x.length];
        for (int i = 0; i < x.length; i++) want[i] = cap * Math.tanh(x[i] / (double) cap);
        assertClose("softcap", want, y, TOL);
        assertEquals(cap, y[0], 0f, "saturates at +cap");
        float[] dy = randn(1000);
        Tensor dX = B.zeros(10, 100);
        B.softcapBackward(Y, Tensor.of(dy, 10, 100), cap, dX);
        double[] dWant = new double[x.length];
        for (int i = 0; i < x.length; i++) { double t = Math.tanh(x[i] / (double) cap); dWant[i] = dy[i] * (1 - t * t); }
        assertClose("softcap_backward vs analytic", dWant, dX.toFloatArray(), TOL);
        // central finite differences of sum(dy * softcap(x)) in double, at moderate x
        float[] got = dX.toFloatArray();
        for (int i = 3; i < 60; i++) {
            double e = 1e-4, fd = dy[i] * (cap * Math.tanh((x[i] + e) / cap) - cap * Math.tanh((x[i] - e) / cap)) / (2 * e);
            assertEquals(fd, got[i], 1e-4 * Math.max(1, Math.abs(fd)), "softcap_backward vs finite differences at " + i);
        }
    }

    @Test void softcapBackwardPassesNothingThroughMaskedScores() {
        float[] y = {Float.NEGATIVE_INFINITY, 1f, Float.NEGATIVE_INFINITY};
        Tensor dx = B.zeros(3);
        B.softcapBackward(Tensor.of(y, 3), Tensor.of(new float[] {5f, 2f, Float.NaN}, 3), 2f, dx);
        assertArrayEquals(new float[] {0f, 2f * (1 - 0.25f), 0f}, dx.toFloatArray(), 1e-7f);
    }

    @Test void badWindowsAndCapsAreIllegalArguments() {
        Tensor q = B.zeros(1, 3, 2, 4), s = B.zeros(1, 2, 3, 3), z = B.zeros(1, 3, 2, 4);
        assertThrows(IllegalArgumentException.class, () -> B.attnScores(q, q, 1f, -1, 0f, s));
        assertThrows(IllegalArgumentException.class, () -> B.attnScores(q, q, 1f, 0, Float.NaN, s));
        assertThrows(IllegalArgumentException.class, () -> B.attention(q, q, q, 1f, 0, -2f, z, null, null));
        assertThrows(IllegalArgumentException.class, () -> B.attention(q, q, q, 1f, 0, Float.POSITIVE_INFINITY, z, null, null));
        assertThrows(IllegalArgumentException.class, () -> B.softcap(s, 0f, s));
        assertThrows(IllegalArgumentException.class, () -> B.attnScoresBackward(q, q, 1f, -4, s, z, null));
        assertThrows(IllegalArgumentException.class, () -> B.softcapBackward(s, s, 1f, B.zeros(4)));
    }
}
