package dev.lens4j.backend;

import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.Arrays;
import java.util.Random;
import java.util.function.DoubleUnaryOperator;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every backward kernel as a vector-Jacobian product: for a random upstream gradient dy, the kernel's gradient is
 * compared with central finite differences, in double precision, of dy . f(x) where f is the {@link Reference}
 * forward. Tolerance: max |kernel - finite difference| <= {@value #GRAD_TOL} * max |finite difference| over
 * the checked coordinates, floored at {@value #FLOOR} (all of them for inputs up to {@value #ALL_COORDS_UP_TO} values; a random sample of
 * {@value #SAMPLED} plus a check along a random direction of the whole input beyond that). Each op also runs
 * on one shape above the kernels' 16384-element threading threshold. Input gradients are written into tensors
 * prefilled with NaN (so "overwritten" is checked); plus accumulation, GQA sums, masked positions, thread-count
 * invariance, validation and native-memory leaks.
 */
class BackwardKernelsTest extends KernelTestSupport {
    BackwardKernelsTest() { super(4321); }

    private static final CpuBackend B = CpuBackend.get();
    static final double GRAD_TOL = 1e-3;
    /** Gradients that are cancellation residues of O(1) terms (RMSNorm with d = 1: ~1e-7) are only as exact as
     *  float: the relative bound uses max(max |finite difference|, FLOOR), i.e. errors under 1e-8 always pass. */
    private static final double FLOOR = 1e-5;
    private static final double H = 1e-4;
    static final int ALL_COORDS_UP_TO = 3000, SAMPLED = 120;

    private static double[] d(float[] a) { return Reference.toDouble(a); }

    private static Tensor t(float[] a, long... shape) { return a == null ? null : Tensor.of(a, shape); }

    /** An output tensor full of NaN: a kernel that reads before it writes (or skips an element) shows up. */
    private static Tensor nans(long... shape) {
        float[] a = new float[(int) Tensor.numel(shape)];
        Arrays.fill(a, Float.NaN);
        return Tensor.of(a, shape);
    }

    /** Random coordinates of an n-vector (with the first and last), or all of them when n is small. */
    private int[] coords(int n) {
        if (n <= ALL_COORDS_UP_TO) {
            int[] all = new int[n];
            for (int i = 0; i < n; i++) all[i] = i;
            return all;
        }
        int[] c = new int[SAMPLED];
        c[0] = 0;
        c[1] = n - 1;
        for (int i = 2; i < SAMPLED; i++) c[i] = rnd.nextInt(n);
        return c;
    }

    /** dy . (f(x + h u) - f(x - h u)) / 2h. Outputs equal on both sides (constants such as masked -inf scores)
     *  contribute nothing, even where dy is NaN. */
    private static double fdDirectional(Function<double[], double[]> f, double[] x, double[] u, double[] dy) {
        double[] xp = x.clone(), xm = x.clone();
        for (int i = 0; i < x.length; i++) { xp[i] += H * u[i]; xm[i] -= H * u[i]; }
        double[] fp = f.apply(xp), fm = f.apply(xm);
        assertEquals(dy.length, fp.length, "upstream gradient length vs forward output");
        double s = 0;
        for (int j = 0; j < fp.length; j++) if (fp[j] != fm[j]) s += dy[j] * (fp[j] - fm[j]);
        return s / (2 * H);
    }

    private static double fdCoordinate(Function<double[], double[]> f, double[] x, int i, double[] dy) {
        double[] xp = x.clone(), xm = x.clone();
        xp[i] += H;
        xm[i] -= H;
        double[] fp = f.apply(xp), fm = f.apply(xm);
        double s = 0;
        for (int j = 0; j < fp.length; j++) if (fp[j] != fm[j]) s += dy[j] * (fp[j] - fm[j]);
        return s / (2 * H);
    }

    /** Checks got = dy^T J_f(x) against finite differences; non-finite coordinates of x are skipped. */
    private void checkVjp(String what, Function<double[], double[]> f, double[] x, double[] dy, float[] got) {
        assertEquals(x.length, got.length, what + ": gradient length");
        int[] cs = coords(x.length);
        double max = 0, worst = 0;
        int at = -1;
        double[] fd = new double[cs.length];
        for (int n = 0; n < cs.length; n++) {
            int i = cs[n];
            if (!Double.isFinite(x[i])) continue;
            assertTrue(Float.isFinite(got[i]), what + ": non-finite gradient " + got[i] + " at " + i);
            fd[n] = fdCoordinate(f, x, i, dy);
            max = Math.max(max, Math.abs(fd[n]));
        }
        for (int n = 0; n < cs.length; n++) {
            int i = cs[n];
            if (!Double.isFinite(x[i])) continue;
            double e = Math.abs(got[i] - fd[n]);
            if (e > worst) { worst = e; at = n; }
        }
        double bound = GRAD_TOL * Math.max(max, FLOOR);
        assertTrue(worst <= bound, what + ": max |gradient - finite difference| " + worst + " at " + (at < 0 ? -1 : cs[at])
                + " (got " + (at < 0 ? 0 : got[cs[at]]) + ", fd " + (at < 0 ? 0 : fd[at]) + ") exceeds " + bound);
        if (x.length > ALL_COORDS_UP_TO) { // the coordinates not sampled, all at once along a random direction
            double[] u = new double[x.length];
            double dot = 0, mag = 0;
            for (int i = 0; i < x.length; i++) {
                if (!Double.isFinite(x[i])) continue;
                assertTrue(Float.isFinite(got[i]), what + ": non-finite gradient " + got[i] + " at " + i);
                u[i] = rnd.nextGaussian();
                dot += got[i] * u[i];
                mag += Math.abs(got[i] * u[i]);
            }
            double fdu = fdDirectional(f, x, u, dy);
            assertEquals(fdu, dot, GRAD_TOL * Math.max(mag, 1e-6), what + ": directional derivative along a random vector");
        }
    }

    /** For element-wise f: got[i] = dy[i] f'(x[i]), every element, by central differences of f alone. */
    private static void checkElementwise(String what, DoubleUnaryOperator f, float[] x, float[] dy, float[] got, double tol) {
        double max = 0, worst = 0;
        int at = -1;
        double[] fd = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double h = Math.max(H, 1e-6 * Math.abs(x[i]));
            fd[i] = dy[i] * (f.applyAsDouble(x[i] + h) - f.applyAsDouble(x[i] - h)) / (2 * h);
            max = Math.max(max, Math.abs(fd[i]));
        }
        for (int i = 0; i < x.length; i++) {
            assertTrue(Float.isFinite(got[i]), what + ": non-finite gradient " + got[i] + " at x = " + x[i]);
            double e = Math.abs(got[i] - fd[i]);
            if (e > worst) { worst = e; at = i; }
        }
        double bound = tol * Math.max(max, 1e-6);
        assertTrue(worst <= bound, what + ": max error " + worst + " at x = " + (at < 0 ? 0 : x[at]) + " (got "
                + (at < 0 ? 0 : got[at]) + ", fd " + (at < 0 ? 0 : fd[at]) + ") exceeds " + bound);
    }

    private static void assertNear(String what, float[] expected, float[] got, double rel) {
        CpuKernelsTest.assertClose(what, expected, got, rel);
    }

    private static <T extends Throwable> void assertThrowsMentioning(Class<T> type, String needle, Executable call) {
        T e = assertThrows(type, call);
        assertNotNull(e.getMessage());
        assertTrue(e.getMessage().contains(needle), "message '" + e.getMessage() + "' should mention '" + needle + "'");
    }

    // ------------------------------------------------------------------ embeddings, bias, linear

    @Test void embedBackwardScatterAddsRepeatedTokens() {
        int[][] cases = {{50, 7, 1}, {50, 7, 10}, {1000, 67, 257}}; // vocab, d_model, tokens; last: dOut > 16384
        for (int[] c : cases) {
            int vocab = c[0], dm = c[1], n = c[2];
            int[] tok = ints(n, vocab);
            if (n > 3) { tok[1] = tok[0]; tok[n - 1] = tok[0]; tok[2] = vocab - 1; } // repeats and the last id
            float[] dy = randn(n * dm), we = randn(vocab * dm);
            Tensor dW = B.zeros(vocab, dm);
            B.embedBackward(n % 2 == 0 ? Tensor.ofInts(tok, 2, n / 2) : Tensor.ofInts(tok, n), t(dy, n, dm), dW);
            String what = "embed_backward " + Arrays.toString(c);
            checkVjp(what, w -> Reference.embed(tok, w, dm), d(we), d(dy), dW.toFloatArray());
            float[] exact = new float[vocab * dm]; // in token order, as documented
            for (int i = 0; i < n; i++) for (int j = 0; j < dm; j++) exact[tok[i] * dm + j] += dy[i * dm + j];
            assertArrayEquals(exact, dW.toFloatArray(), what + ": sums in token order");
        }
    }

    @Test void posEmbedBackwardWithOffset() {
        int[][] cases = {{20, 7, 1, 1, 0}, {20, 7, 2, 5, 0}, {20, 7, 3, 5, 15}, {300, 64, 2, 200, 100}}; // n_ctx, d, batch, seq, offset
        for (int[] c : cases) {
            int nCtx = c[0], dm = c[1], batch = c[2], seq = c[3], off = c[4];
            float[] dy = randn(batch * seq * dm), wpos = randn(nCtx * dm);
            Tensor dW = B.zeros(nCtx, dm);
            B.posEmbedBackward(batch, seq, off, t(dy, batch, seq, dm), dW);
            checkVjp("pos_embed_backward " + Arrays.toString(c), w -> Reference.posEmbed(batch, seq, off, w, dm), d(wpos), d(dy), dW.toFloatArray());
        }
    }

    @Test void sumRowsIsTheBiasGradient() {
        int[][] shapes = {{1, 1}, {5, 7}, {300, 65}, {20000, 1}};
        for (int[] s : shapes) {
            int rows = s[0], dm = s[1];
            float[] x = randn(rows * dm), bias = randn(dm), dy = randn(rows * dm);
            Tensor db = B.zeros(dm);
            B.sumRows(t(dy, rows, dm), db);
            checkVjp("sum_rows " + Arrays.toString(s), bb -> {
                double[] o = d(x);
                for (int i = 0; i < o.length; i++) o[i] += bb[i % dm];
                return o;
            }, d(bias), d(dy), db.toFloatArray());
        }
    }

    @Test void linearBackwardThroughGemm() {
        int[][] shapes = {{1, 4, 3}, {6, 17, 9}, {130, 4, 129}}; // rows, K, N; last: dOut > 16384
        for (int[] s : shapes)
            for (boolean withBias : new boolean[] {false, true}) {
                int rows = s[0], K = s[1], N = s[2];
                float[] x = randn(rows * K), w = randn(K * N), bias = withBias ? randn(N) : null, dy = randn(rows * N);
                Tensor dx = nans(rows, K), dW = B.zeros(K, N), db = withBias ? B.zeros(N) : null;
                B.linearBackward(t(x, rows, K), t(w, K, N), t(dy, rows, N), dx, dW, db);
                String what = "linear_backward " + Arrays.toString(s) + " bias=" + withBias;
                double[] bd = d(bias);
                checkVjp(what + " dx", xx -> Reference.linear(xx, d(w), bd, rows, K, N), d(x), d(dy), dx.toFloatArray());
                checkVjp(what + " dW", ww -> Reference.linear(d(x), ww, bd, rows, K, N), d(w), d(dy), dW.toFloatArray());
                if (withBias) checkVjp(what + " db", bb -> Reference.linear(d(x), d(w), bb, rows, K, N), bd, d(dy), db.toFloatArray());
            }
    }

    // ------------------------------------------------------------------ norms

    @Test void layerNormBackward() {
        int[][] shapes = {{1, 5}, {3, 1}, {7, 33}, {300, 65}};
        float eps = 1e-5f;
        for (int[] s : shapes)
            for (int variant = 0; variant < 4; variant++) { // (w,b), LNPre, w only, b only
                int rows = s[0], dm = s[1];
                float[] x = randn(rows * dm, 2, 3), dy = randn(rows * dm);
                float[] w = variant == 0 || variant == 2 ? randn(dm, 0.5, 1) : null;
                float[] b = variant == 0 || variant == 3 ? randn(dm) : null;
                Tensor X = t(x, rows, dm), W = t(w, dm), scale = B.zeros(rows, 1);
                B.layerNorm(X, W, t(b, dm), eps, B.zeros(rows, dm), scale);
                Tensor dx = nans(rows, dm), dw = w != null ? B.zeros(dm) : null, db = b != null ? B.zeros(dm) : null, ds = nans(rows, 1);
                B.layerNormBackward(X, W, scale, t(dy, rows, dm), dx, dw, db, ds);
                String what = "layer_norm_backward " + Arrays.toString(s) + " variant " + variant;
                double[] wd = d(w), bd = d(b);
                checkVjp(what + " dx", xx -> Reference.layerNorm(xx, wd, bd, eps, rows, dm)[0], d(x), d(dy), dx.toFloatArray());
                if (w != null) checkVjp(what + " dw", ww -> Reference.layerNorm(d(x), ww, bd, eps, rows, dm)[0], wd, d(dy), dw.toFloatArray());
                if (b != null) checkVjp(what + " db", bb -> Reference.layerNorm(d(x), wd, bb, eps, rows, dm)[0], bd, d(dy), db.toFloatArray());
                checkVjp(what + " dscale (through the division)", ss -> Reference.layerNormGivenScale(d(x), wd, bd, ss, rows, dm),
                        d(scale.toFloatArray()), d(dy), ds.toFloatArray());
                // outputs are independent, and dx may overwrite dOut in place
                Tensor g = t(dy.clone(), rows, dm);
                B.layerNormBackward(X, W, scale, g, g, null, null, null);
                assertNear(what + ": dx alone, in place over dOut", dx.toFloatArray(), g.toFloatArray(), 1e-6);
            }
    }

    @Test void rmsNormBackward() {
        int[][] shapes = {{1, 5}, {3, 1}, {7, 33}, {300, 65}};
        float eps = 1e-6f;
        for (int[] s : shapes)
            for (boolean withW : new boolean[] {false, true}) {
                int rows = s[0], dm = s[1];
                float[] x = randn(rows * dm, 2, 0.5), w = withW ? randn(dm, 0.5, 1) : null, dy = randn(rows * dm);
                Tensor X = t(x, rows, dm), W = t(w, dm), scale = B.zeros(rows, 1), norm = B.zeros(rows, dm);
                B.rmsNorm(X, W, eps, B.zeros(rows, dm), scale, norm);
                Tensor dx = nans(rows, dm), dw = withW ? B.zeros(dm) : null, dn = nans(rows, dm), ds = nans(rows, 1);
                B.rmsNormBackward(X, W, scale, t(dy, rows, dm), dx, dw, dn, ds);
                String what = "rms_norm_backward " + Arrays.toString(s) + " w=" + withW;
                double[] wd = d(w);
                checkVjp(what + " dx", xx -> Reference.rmsNorm(xx, wd, eps, rows, dm)[0], d(x), d(dy), dx.toFloatArray());
                if (withW) checkVjp(what + " dw", ww -> Reference.rmsNorm(d(x), ww, eps, rows, dm)[0], wd, d(dy), dw.toFloatArray());
                checkVjp(what + " dnormalized (before w)", nn -> wd == null ? nn.clone() : Reference.scaleCols(nn, wd),
                        d(norm.toFloatArray()), d(dy), dn.toFloatArray());
                checkVjp(what + " dscale (through the division)", ss -> Reference.rmsNormGivenScale(d(x), wd, ss, rows, dm),
                        d(scale.toFloatArray()), d(dy), ds.toFloatArray());
                Tensor g = t(dy.clone(), rows, dm);
                B.rmsNormBackward(X, W, scale, g, g, null, null, null);
                assertNear(what + ": dx alone, in place over dOut", dx.toFloatArray(), g.toFloatArray(), 1e-6);
            }
    }

    // ------------------------------------------------------------------ rotary

    @Test void rotaryBackwardBothConventionsPartialOffsetAliasing() {
        int[][] cases = { // batch, seq, heads, d_head, rotary_dim, offset
                {1, 1, 1, 2, 2, 0}, {2, 5, 3, 8, 8, 0}, {1, 7, 2, 10, 6, 3}, {2, 9, 3, 12, 4, 5}, {2, 33, 4, 64, 32, 7}};
        for (int[] c : cases)
            for (boolean adjacent : new boolean[] {false, true}) {
                int batch = c[0], seq = c[1], heads = c[2], dh = c[3], rd = c[4], off = c[5], nCtx = off + seq + 4;
                float[][] tables = Reference.rotaryTables(nCtx, rd, 10000);
                Tensor cos = t(tables[0], nCtx, rd / 2), sin = t(tables[1], nCtx, rd / 2);
                float[] x = randn(batch * seq * heads * dh), dy = randn(x.length);
                Tensor dx = nans(batch, seq, heads, dh);
                B.rotaryBackward(t(dy, batch, seq, heads, dh), rd, off, cos, sin, adjacent, dx);
                String what = "rotary_backward " + Arrays.toString(c) + " adjacent=" + adjacent;
                checkVjp(what, xx -> Reference.rotary(xx, batch, seq, heads, dh, rd, off, tables[0], tables[1], adjacent),
                        d(x), d(dy), dx.toFloatArray());
                Tensor g = t(dy.clone(), batch, seq, heads, dh);
                B.rotaryBackward(g, rd, off, cos, sin, adjacent, g);
                assertNear(what + ": in place", dx.toFloatArray(), g.toFloatArray(), 1e-6);
            }
    }

    // ------------------------------------------------------------------ attention

    private static final int[][] ATTN = { // batch, seq, heads, kv_heads, d_head
            {1, 1, 1, 1, 1}, {2, 5, 4, 4, 8}, {1, 6, 6, 2, 8}, {2, 7, 4, 1, 5}, {2, 40, 6, 3, 16}}; // last: > 16384 scores

    @Test void attnScoresBackwardIgnoresMaskedEntries() {
        for (int[] c : ATTN) {
            int batch = c[0], seq = c[1], h = c[2], kvh = c[3], dh = c[4];
            float[] q = randn(batch * seq * h * dh), k = randn(batch * seq * kvh * dh), dy = randn(batch * h * seq * seq);
            for (int r = 0; r < batch * h * seq; r++) // the gradient of the -inf constants must never be read
                for (int j = r % seq + 1; j < seq; j++) dy[r * seq + j] = Float.NaN;
            float scale = (float) (1 / Math.sqrt(dh));
            Tensor Q = t(q, batch, seq, h, dh), K = t(k, batch, seq, kvh, dh), dS = t(dy, batch, h, seq, seq);
            Tensor dq = nans(batch, seq, h, dh), dk = nans(batch, seq, kvh, dh);
            B.attnScoresBackward(Q, K, scale, dS, dq, dk);
            String what = "attn_scores_backward " + Arrays.toString(c);
            checkVjp(what + " dq", qq -> Reference.attnScores(qq, d(k), batch, seq, h, kvh, dh, scale), d(q), d(dy), dq.toFloatArray());
            checkVjp(what + " dk", kk -> Reference.attnScores(d(q), kk, batch, seq, h, kvh, dh, scale), d(k), d(dy), dk.toFloatArray());
            Tensor dq2 = nans(batch, seq, h, dh), dk2 = nans(batch, seq, kvh, dh);
            B.attnScoresBackward(Q, K, scale, dS, dq2, null);
            B.attnScoresBackward(Q, K, scale, dS, null, dk2);
            assertNear(what + ": dq alone", dq.toFloatArray(), dq2.toFloatArray(), 1e-6);
            assertNear(what + ": dk alone", dk.toFloatArray(), dk2.toFloatArray(), 1e-6);
        }
    }

    @Test void attnApplyBackwardAnyPattern() {
        for (int[] c : ATTN) {
            int batch = c[0], seq = c[1], h = c[2], kvh = c[3], dh = c[4];
            float[] p = uniform(batch * h * seq * seq, 0, 1), v = randn(batch * seq * kvh * dh), dz = randn(batch * seq * h * dh);
            for (int i = 0; i < p.length; i++) if (rnd.nextInt(3) == 0) p[i] = 0; // a hook may write any pattern
            Tensor P = t(p, batch, h, seq, seq), V = t(v, batch, seq, kvh, dh), dZ = t(dz, batch, seq, h, dh);
            Tensor dP = nans(batch, h, seq, seq), dv = nans(batch, seq, kvh, dh);
            B.attnApplyBackward(P, V, dZ, dP, dv);
            String what = "attn_apply_backward " + Arrays.toString(c);
            checkVjp(what + " dpattern", pp -> Reference.attnApply(pp, d(v), batch, seq, h, kvh, dh), d(p), d(dz), dP.toFloatArray());
            checkVjp(what + " dv", vv -> Reference.attnApply(d(p), vv, batch, seq, h, kvh, dh), d(v), d(dz), dv.toFloatArray());
            Tensor dv2 = nans(batch, seq, kvh, dh);
            B.attnApplyBackward(P, V, dZ, null, dv2);
            assertNear(what + ": dv alone", dv.toFloatArray(), dv2.toFloatArray(), 1e-6);
        }
    }

    /** scores -> softmax -> apply, backwards through all three kernels, against the whole causal attention. */
    @Test void causalAttentionChainMatchesFiniteDifferences() {
        for (int[] c : Arrays.copyOf(ATTN, ATTN.length - 1)) { // the threaded shape is covered op by op above
            int batch = c[0], seq = c[1], h = c[2], kvh = c[3], dh = c[4];
            float[] q = randn(batch * seq * h * dh), k = randn(batch * seq * kvh * dh), v = randn(batch * seq * kvh * dh);
            float[] dz = randn(batch * seq * h * dh);
            float scale = (float) (1 / Math.sqrt(dh));
            Tensor Q = t(q, batch, seq, h, dh), K = t(k, batch, seq, kvh, dh), V = t(v, batch, seq, kvh, dh);
            Tensor z = B.zeros(batch, seq, h, dh), pattern = B.zeros(batch, h, seq, seq);
            B.attention(Q, K, V, scale, z, null, pattern);
            Tensor dP = B.zeros(batch, h, seq, seq), dS = nans(batch, h, seq, seq), dv = B.zeros(batch, seq, kvh, dh);
            Tensor dq = B.zeros(batch, seq, h, dh), dk = B.zeros(batch, seq, kvh, dh);
            B.attnApplyBackward(pattern, V, t(dz, batch, seq, h, dh), dP, dv);
            B.softmaxBackward(pattern, dP, dS);
            B.attnScoresBackward(Q, K, scale, dS, dq, dk);
            String what = "attention chain " + Arrays.toString(c);
            float[] ds = dS.toFloatArray(), dp = dP.toFloatArray();
            for (int r = 0; r < batch * h * seq; r++)
                for (int j = r % seq + 1; j < seq; j++) {
                    assertEquals(0f, ds[r * seq + j], what + ": masked score gradient must be exactly 0");
                    if (dh > 1) assertNotEquals(0f, dp[r * seq + j], what + ": the pattern gradient above the diagonal is reported, as TL does");
                }
            Function<double[][], double[]> attn = a -> Reference.attnApply(
                    Reference.softmax(Reference.attnScores(a[0], a[1], batch, seq, h, kvh, dh, scale), batch * h * seq, seq),
                    a[2], batch, seq, h, kvh, dh);
            checkVjp(what + " dq", qq -> attn.apply(new double[][] {qq, d(k), d(v)}), d(q), d(dz), dq.toFloatArray());
            checkVjp(what + " dk", kk -> attn.apply(new double[][] {d(q), kk, d(v)}), d(k), d(dz), dk.toFloatArray());
            checkVjp(what + " dv", vv -> attn.apply(new double[][] {d(q), d(k), vv}), d(v), d(dz), dv.toFloatArray());
        }
    }

    /** dk and dv of a GQA group are the sums of what each query head would give with its own copy of the kv head. */
    @Test void gqaGradientsSumOverTheGroup() {
        int batch = 2, seq = 6, h = 6, kvh = 2, dh = 4, group = h / kvh;
        float[] q = randn(batch * seq * h * dh), k = randn(batch * seq * kvh * dh), v = randn(batch * seq * kvh * dh);
        float[] kx = new float[batch * seq * h * dh], vx = new float[kx.length]; // kv head repeated per query head
        for (int bs = 0; bs < batch * seq; bs++)
            for (int hh = 0; hh < h; hh++)
                for (int i = 0; i < dh; i++) {
                    kx[(bs * h + hh) * dh + i] = k[(bs * kvh + hh / group) * dh + i];
                    vx[(bs * h + hh) * dh + i] = v[(bs * kvh + hh / group) * dh + i];
                }
        float[] dS = randn(batch * h * seq * seq), p = uniform(dS.length, 0, 1), dz = randn(q.length);
        Tensor dkG = B.zeros(batch, seq, kvh, dh), dkM = B.zeros(batch, seq, h, dh), dqG = B.zeros(batch, seq, h, dh), dqM = B.zeros(batch, seq, h, dh);
        B.attnScoresBackward(t(q, batch, seq, h, dh), t(k, batch, seq, kvh, dh), 0.5f, t(dS, batch, h, seq, seq), dqG, dkG);
        B.attnScoresBackward(t(q, batch, seq, h, dh), t(kx, batch, seq, h, dh), 0.5f, t(dS, batch, h, seq, seq), dqM, dkM);
        Tensor dvG = B.zeros(batch, seq, kvh, dh), dvM = B.zeros(batch, seq, h, dh), dpG = B.zeros(dS.length), dpM = B.zeros(dS.length);
        B.attnApplyBackward(t(p, batch, h, seq, seq), t(v, batch, seq, kvh, dh), t(dz, batch, seq, h, dh), dpG, dvG);
        B.attnApplyBackward(t(p, batch, h, seq, seq), t(vx, batch, seq, h, dh), t(dz, batch, seq, h, dh), dpM, dvM);
        assertArrayEquals(dqM.toFloatArray(), dqG.toFloatArray(), 1e-6f, "dq does not depend on how kv heads are stored");
        assertArrayEquals(dpM.toFloatArray(), dpG.toFloatArray(), 1e-6f, "dpattern does not depend on how kv heads are stored");
        float[] km = dkM.toFloatArray(), vm = dvM.toFloatArray(), kSum = new float[k.length], vSum = new float[v.length];
        for (int bs = 0; bs < batch * seq; bs++)
            for (int hh = 0; hh < h; hh++)
                for (int i = 0; i < dh; i++) {
                    kSum[(bs * kvh + hh / group) * dh + i] += km[(bs * h + hh) * dh + i];
                    vSum[(bs * kvh + hh / group) * dh + i] += vm[(bs * h + hh) * dh + i];
                }
        assertNear("dk = sum over the group", kSum, dkG.toFloatArray(), 1e-5);
        assertNear("dv = sum over the group", vSum, dvG.toFloatArray(), 1e-5);
    }

    // ------------------------------------------------------------------ softmax family

    /** Rows: plain, a large offset, a wide spread, and rows with -inf (masked) entries after the first. */
    private float[] softmaxInput(int rows, int n) {
        float[] x = new float[rows * n];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < n; i++) {
                double g = rnd.nextGaussian();
                float v;
                switch (r % 4) {
                    case 0: v = (float) (3 * g); break;
                    case 1: v = (float) (1e4 + g); break;
                    case 2: v = (float) (20 * g); break;
                    default: v = i > 0 && rnd.nextInt(3) == 0 ? Float.NEGATIVE_INFINITY : (float) g;
                }
                x[r * n + i] = v;
            }
        return x;
    }

    @Test void softmaxBackwardMaskedEntriesGetZero() {
        int[][] shapes = {{1, 1}, {5, 7}, {10, 129}, {130, 129}};
        for (int[] s : shapes) {
            int rows = s[0], n = s[1];
            float[] x = softmaxInput(rows, n), dy = randn(rows * n);
            for (int i = 0; i < x.length; i++) if (x[i] == Float.NEGATIVE_INFINITY) dy[i] = Float.NaN; // must not leak
            Tensor y = B.zeros(rows, n), dx = nans(rows, n);
            B.softmax(t(x, rows, n), y);
            B.softmaxBackward(y, t(dy, rows, n), dx);
            float[] got = dx.toFloatArray();
            String what = "softmax_backward " + Arrays.toString(s);
            checkVjp(what, xx -> Reference.softmax(xx, rows, n), d(x), d(dy), got);
            for (int i = 0; i < x.length; i++) {
                if (x[i] == Float.NEGATIVE_INFINITY) assertEquals(0f, got[i], what + ": masked entry " + i);
                assertTrue(Float.isFinite(got[i]), what + ": non-finite at " + i);
            }
        }
    }

    @Test void logSoftmaxBackward() {
        int[][] shapes = {{1, 1}, {5, 7}, {10, 129}, {130, 129}};
        for (int[] s : shapes) {
            int rows = s[0], n = s[1];
            float[] x = softmaxInput(rows, n), dy = randn(rows * n);
            // A -inf input gives a -inf output whose upstream gradient finite differences cannot see (the output
            // stays -inf); 0 there for the finite-difference check, torch's formula with it below.
            float[] dyFinite = dy.clone();
            for (int i = 0; i < x.length; i++) if (x[i] == Float.NEGATIVE_INFINITY) dyFinite[i] = 0;
            Tensor y = B.zeros(rows, n), dx = nans(rows, n);
            B.logSoftmax(t(x, rows, n), y);
            B.logSoftmaxBackward(y, t(dyFinite, rows, n), dx);
            String what = "log_softmax_backward " + Arrays.toString(s);
            checkVjp(what, xx -> Reference.logSoftmax(xx, rows, n), d(x), d(dyFinite), dx.toFloatArray());
            // torch: dx = dy - softmax(x) * sum(dy) over the whole row, -inf entries included (they keep their dy)
            B.logSoftmaxBackward(y, t(dy, rows, n), dx);
            float[] got = dx.toFloatArray(), ya = y.toFloatArray();
            double[] expected = new double[x.length];
            for (int r = 0; r < rows; r++) {
                double sum = 0;
                for (int i = 0; i < n; i++) sum += dy[r * n + i];
                for (int i = 0; i < n; i++) expected[r * n + i] = dy[r * n + i] - Math.exp(ya[r * n + i]) * sum;
            }
            CpuKernelsTest.assertClose(what + " with upstream gradient at -inf entries", expected, got, 1e-5);
            for (int i = 0; i < x.length; i++)
                if (x[i] == Float.NEGATIVE_INFINITY) assertEquals(dy[i], got[i], what + ": masked entry " + i);
        }
    }

    @Test void crossEntropyBackward() {
        int[][] shapes = {{1, 1}, {5, 11}, {64, 300}};
        for (int[] s : shapes) {
            int rows = s[0], n = s[1];
            float[] logits = randn(rows * n, 4, 0), dLoss = randn(rows);
            for (int i = 0; i < n; i++) logits[i] += 1e4f; // one row with a large offset
            int[] tg = ints(rows, n);
            Tensor dL = nans(rows, n);
            B.crossEntropyBackward(t(logits, rows, n), Tensor.ofInts(tg, rows), t(dLoss, rows), dL);
            checkVjp("cross_entropy_backward " + Arrays.toString(s), ll -> Reference.crossEntropy(ll, tg, rows, n),
                    d(logits), d(dLoss), dL.toFloatArray());
        }
    }

    // ------------------------------------------------------------------ element-wise

    /** Keeps inputs away from relu's kink, where a finite difference straddles two slopes. */
    private static float[] awayFromZero(float[] x) {
        for (int i = 0; i < x.length; i++) if (Math.abs(x[i]) < 1e-3f) x[i] += 2e-3f;
        return x;
    }

    private static final float[] SPECIAL = {0f, 1e-8f, 1e-3f, 0.05f, 0.0625f, 0.07f, 0.5f, 1f, 3f, 5f, 10f, 19.9f, 20.1f,
            30f, 79f, 81f, 87f, 88.5f, 89f, 100f, 1e4f, 1e10f, 1e30f, Float.MAX_VALUE};

    @Test void activationBackwardOverWideRanges() {
        double[][] ranges = {{-8, 8, 1001}, {-8, 8, 20001}, {-60, 60, 4097}, {-1e4, 1e4, 4097}};
        for (Activation act : Activation.values()) {
            for (double[] r : ranges) {
                float[] x = awayFromZero(uniform((int) r[2], r[0], r[1])), dy = randn(x.length);
                Tensor dx = nans(x.length);
                B.activationBackward(act, t(x, x.length), t(dy, dy.length), dx);
                checkElementwise(act.tlName + "' on " + Arrays.toString(r), v -> Reference.act(act, v), x, dy, dx.toFloatArray(), GRAD_TOL);
            }
            // special values, each on its own (upstream 1, in place): error <= 1e-5 * max(1, |f'|), never NaN
            float[] x = new float[SPECIAL.length * 2 + 2], ones = new float[x.length];
            for (int i = 0; i < SPECIAL.length; i++) { x[2 * i] = SPECIAL[i]; x[2 * i + 1] = -SPECIAL[i]; }
            x[x.length - 2] = Float.POSITIVE_INFINITY;
            x[x.length - 1] = Float.NEGATIVE_INFINITY;
            Arrays.fill(ones, 1f);
            Tensor g = t(ones, x.length);
            B.activationBackward(act, t(x, x.length), g, g);
            float[] got = g.toFloatArray();
            for (int i = 0; i < x.length; i++) {
                String what = act.tlName + "'(" + x[i] + ")";
                assertFalse(Float.isNaN(got[i]), what + " is NaN");
                double expected;
                if (Float.isInfinite(x[i])) expected = x[i] > 0 ? 1 : 0;
                else if (act == Activation.RELU) expected = x[i] > 0 ? 1 : 0; // torch: relu'(0) = 0
                else {
                    double h = Math.max(H, 1e-6 * Math.abs(x[i]));
                    expected = (Reference.act(act, x[i] + h) - Reference.act(act, x[i] - h)) / (2 * h);
                }
                assertEquals(expected, got[i], 1e-5 * Math.max(1, Math.abs(expected)), what);
            }
        }
    }

    @Test void gatedActivationBackward() {
        for (Activation act : Activation.values())
            for (int n : new int[] {1, 1001, 20001}) {
                float[] gp = awayFromZero(uniform(n, -10, 10)), lin = randn(n), dy = randn(n);
                Tensor G = t(gp, n), L = t(lin, n), dY = t(dy, n), dg = nans(n), dl = nans(n);
                B.gatedActivationBackward(act, G, L, dY, dg, dl);
                String what = "gated " + act.tlName + " n=" + n;
                float[] dyl = new float[n]; // d(act(g) * l)/dg = l act'(g): upstream dy * l into the element-wise check
                for (int i = 0; i < n; i++) dyl[i] = dy[i] * lin[i];
                checkElementwise(what + " dgate", v -> Reference.act(act, v), gp, dyl, dg.toFloatArray(), GRAD_TOL);
                double[] refLin = new double[n];
                for (int i = 0; i < n; i++) refLin[i] = dy[i] * Reference.act(act, gp[i]);
                CpuKernelsTest.assertClose(what + " dlinear", refLin, dl.toFloatArray(), 1e-5);
                // each output alone, and either written over dOut, gives the same bits
                Tensor g1 = t(dy.clone(), n), l1 = t(dy.clone(), n);
                B.gatedActivationBackward(act, G, L, g1, g1, null);
                B.gatedActivationBackward(act, G, L, l1, null, l1);
                assertNear(what + ": dgate alone, in place", dg.toFloatArray(), g1.toFloatArray(), 1e-6);
                assertNear(what + ": dlinear alone, in place", dl.toFloatArray(), l1.toFloatArray(), 1e-6);
            }
    }

    @Test void scaleColsBackward() {
        int[][] shapes = {{1, 1}, {5, 7}, {300, 65}};
        for (int[] s : shapes) {
            int rows = s[0], dm = s[1];
            float[] x = randn(rows * dm), w = randn(dm), dy = randn(rows * dm);
            Tensor dx = nans(rows, dm), dw = B.zeros(dm);
            B.scaleColsBackward(t(x, rows, dm), t(w, dm), t(dy, rows, dm), dx, dw);
            String what = "scale_cols_backward " + Arrays.toString(s);
            checkVjp(what + " dx", xx -> Reference.scaleCols(xx, d(w)), d(x), d(dy), dx.toFloatArray());
            checkVjp(what + " dw", ww -> Reference.scaleCols(d(x), ww), d(w), d(dy), dw.toFloatArray());
            Tensor g = t(dy.clone(), rows, dm);
            B.scaleColsBackward(t(x, rows, dm), t(w, dm), g, g, null);
            assertNear(what + ": dx in place", dx.toFloatArray(), g.toFloatArray(), 1e-6);
        }
    }

    // ------------------------------------------------------------------ accumulation, determinism

    /** Weight gradients add to what the output holds: a second call doubles it. */
    @Test void weightGradientsAccumulate() {
        int rows = 12, dm = 9, vocab = 5, K = 9, N = 4;
        float[] dy = randn(rows * dm), x = randn(rows * dm, 2, 1), w = randn(dm, 0.5, 1);
        int[] tok = ints(rows, vocab);
        Tensor dY = t(dy, rows, dm), X = t(x, rows, dm), W = t(w, dm);
        Tensor scale = B.zeros(rows);
        B.layerNorm(X, W, null, 1e-5f, B.zeros(rows, dm), scale);
        Tensor rmsScale = B.zeros(rows);
        B.rmsNorm(X, W, 1e-6f, B.zeros(rows, dm), rmsScale, null);
        Tensor Wl = t(randn(K * N), K, N), dYl = t(randn(rows * N), rows, N);

        Tensor[] grads = {B.zeros(vocab, dm), B.zeros(rows + 3, dm), B.zeros(dm), B.zeros(dm), B.zeros(dm), B.zeros(dm),
                B.zeros(dm), B.zeros(K, N), B.zeros(N)};
        Runnable once = () -> {
            B.embedBackward(Tensor.ofInts(tok, rows), dY, grads[0]);
            B.posEmbedBackward(1, rows, 3, dY, grads[1]);
            B.sumRows(dY, grads[2]);
            B.layerNormBackward(X, W, scale, dY, null, grads[3], grads[4], null);
            B.rmsNormBackward(X, W, rmsScale, dY, null, grads[5], null, null);
            B.scaleColsBackward(X, W, dY, null, grads[6]);
            B.linearBackward(X, Wl, dYl, null, grads[7], grads[8]);
        };
        once.run();
        float[][] first = new float[grads.length][];
        for (int i = 0; i < grads.length; i++) {
            first[i] = grads[i].toFloatArray();
            float abs = 0;
            for (float v : first[i]) abs += Math.abs(v);
            assertTrue(abs > 0, "gradient " + i + " is all zero");
        }
        once.run();
        for (int i = 0; i < grads.length; i++) {
            float[] twice = new float[first[i].length];
            for (int j = 0; j < twice.length; j++) twice[j] = 2 * first[i][j];
            assertNear("gradient " + i + " after two calls", twice, grads[i].toFloatArray(), 1e-6);
        }
    }

    /** Reductions are split by columns / tokens / positions, never by rows, so any thread count gives the same bits. */
    @Test void backwardIsThreadCountInvariant() {
        int rows = 700, dm = 96, vocab = 50, seq = 128, h = 4, kvh = 2, dh = 32; // attention: big enough for l4j_gemm to split
        float[] dy = randn(rows * dm), x = randn(rows * dm, 2, 1), w = randn(dm);
        int[] tok = ints(rows, vocab);
        Tensor X = t(x, rows, dm), W = t(w, dm), dY = t(dy, rows, dm), scale = B.zeros(rows);
        B.layerNorm(X, W, null, 1e-5f, B.zeros(rows, dm), scale);
        Tensor Q = t(randn(seq * h * dh), 1, seq, h, dh), K = t(randn(seq * kvh * dh), 1, seq, kvh, dh);
        Tensor dS = t(randn(h * seq * seq), 1, h, seq, seq), P = t(uniform(h * seq * seq, 0, 1), 1, h, seq, seq);
        Function<Void, float[][]> run = unused -> {
            Tensor dW = B.zeros(vocab, dm), db = B.zeros(dm), dw = B.zeros(dm), dbl = B.zeros(dm), dx = B.zeros(rows, dm);
            Tensor dq = B.zeros(1, seq, h, dh), dk = B.zeros(1, seq, kvh, dh), dv = B.zeros(1, seq, kvh, dh);
            B.embedBackward(Tensor.ofInts(tok, rows), dY, dW);
            B.sumRows(dY, db);
            B.layerNormBackward(X, W, scale, dY, dx, dw, dbl, null);
            B.attnScoresBackward(Q, K, 0.25f, dS, dq, dk);
            B.attnApplyBackward(P, K, Q, null, dv);
            return new float[][] {dW.toFloatArray(), db.toFloatArray(), dw.toFloatArray(), dbl.toFloatArray(), dx.toFloatArray(),
                    dq.toFloatArray(), dk.toFloatArray(), dv.toFloatArray()};
        };
        int threads = B.numThreads();
        float[][] one;
        try {
            B.setNumThreads(1);
            one = run.apply(null);
        } finally {
            B.setNumThreads(threads);
        }
        B.setNumThreads(Math.max(threads, 3)); // more threads than columns blocks would need on a small machine
        try {
            float[][] many = run.apply(null);
            for (int i = 0; i < one.length; i++) assertArrayEquals(one[i], many[i], "output " + i + " with 1 vs " + B.numThreads() + " threads");
        } finally {
            B.setNumThreads(threads);
        }
    }

    // ------------------------------------------------------------------ validation: exceptions, never crashes

    @Test void badArgumentsThrowNamingTheOperand() {
        Tensor x = t(randn(12), 3, 4), g = t(randn(12), 3, 4), w4 = B.zeros(4), s3 = B.zeros(3);
        // norms: missing or mis-sized operands
        assertThrowsMentioning(IllegalArgumentException.class, "scale", () -> B.layerNormBackward(x, null, null, g, B.zeros(3, 4), null, null, null));
        assertThrowsMentioning(IllegalArgumentException.class, "scale", () -> B.layerNormBackward(x, null, B.zeros(4), g, B.zeros(3, 4), null, null, null));
        assertThrowsMentioning(IllegalArgumentException.class, "dOut", () -> B.layerNormBackward(x, null, s3, B.zeros(3, 5), B.zeros(3, 4), null, null, null));
        assertThrowsMentioning(IllegalArgumentException.class, "dOut", () -> B.layerNormBackward(x, null, s3, null, B.zeros(3, 4), null, null, null));
        assertThrowsMentioning(IllegalArgumentException.class, "dw", () -> B.layerNormBackward(x, w4, s3, g, null, B.zeros(5), null, null));
        assertThrowsMentioning(IllegalArgumentException.class, "db", () -> B.layerNormBackward(x, w4, s3, g, null, null, B.zeros(3), null));
        assertThrowsMentioning(IllegalArgumentException.class, "dScale", () -> B.layerNormBackward(x, w4, s3, g, null, null, null, B.zeros(4)));
        assertThrowsMentioning(IllegalArgumentException.class, "weight w", () -> B.rmsNormBackward(x, B.zeros(3), s3, g, B.zeros(3, 4), null, null, null));
        assertThrowsMentioning(IllegalArgumentException.class, "dNormalized", () -> B.rmsNormBackward(x, w4, s3, g, null, null, B.zeros(4), null));
        assertThrowsMentioning(IllegalArgumentException.class, "x", () -> B.rmsNormBackward(null, w4, s3, g, null, null, null, null));
        // embeddings: ids out of range, wrong dtype, wrong sizes
        Tensor dWE = B.zeros(5, 4);
        assertThrowsMentioning(IndexOutOfBoundsException.class, "5", () -> B.embedBackward(Tensor.ofInts(new int[] {0, 5, 1}, 3), g, dWE));
        assertThrowsMentioning(IndexOutOfBoundsException.class, "-1", () -> B.embedBackward(Tensor.ofInts(new int[] {0, -1, 1}, 3), g, dWE));
        assertThrowsMentioning(IllegalArgumentException.class, "I32", () -> B.embedBackward(x, g, dWE));
        assertThrowsMentioning(IllegalArgumentException.class, "dOut", () -> B.embedBackward(Tensor.ofInts(new int[] {0, 1}, 2), g, dWE));
        assertThrowsMentioning(IllegalArgumentException.class, "dW_E", () -> B.embedBackward(Tensor.ofInts(new int[] {0, 1, 2}, 3), g, B.zeros(20)));
        assertThrowsMentioning(IllegalArgumentException.class, "F32", () -> B.embedBackward(Tensor.ofInts(new int[] {0, 1, 2}, 3), g, Tensor.ofInts(new int[20], 5, 4)));
        assertThrowsMentioning(IllegalArgumentException.class, "n_ctx", () -> B.posEmbedBackward(1, 3, 3, g, B.zeros(5, 4)));
        assertThrowsMentioning(IllegalArgumentException.class, "dOut", () -> B.posEmbedBackward(2, 3, 0, g, B.zeros(5, 4)));
        // attention: shapes that do not fit, GQA groups that do not divide
        Tensor q = t(randn(2 * 3 * 2 * 4), 2, 3, 2, 4), k3 = t(randn(2 * 3 * 3 * 4), 2, 3, 3, 4);
        assertThrowsMentioning(IllegalArgumentException.class, "dScores", () -> B.attnScoresBackward(q, q, 1f, B.zeros(7), B.zeros(2, 3, 2, 4), null));
        assertThrowsMentioning(IllegalArgumentException.class, "attn_scores_backward", () -> B.attnScoresBackward(q, k3, 1f, B.zeros(2, 2, 3, 3), null, null));
        assertThrowsMentioning(IllegalArgumentException.class, "shapes differ", () -> B.attnScoresBackward(q, q, 1f, B.zeros(2, 2, 3, 3), B.zeros(2, 3, 2, 5), null));
        assertThrowsMentioning(IllegalArgumentException.class, "pattern", () -> B.attnApplyBackward(B.zeros(2, 2, 3, 4), q, q, null, null));
        assertThrowsMentioning(IllegalArgumentException.class, "dPattern", () -> B.attnApplyBackward(B.zeros(2, 2, 3, 3), q, q, B.zeros(5), null));
        assertThrowsMentioning(IllegalArgumentException.class, "dz", () -> B.attnApplyBackward(B.zeros(2, 2, 3, 3), q, null, null, null));
        // rotary
        float[][] tb = Reference.rotaryTables(8, 4, 10000);
        Tensor cos = t(tb[0], 8, 2), sin = t(tb[1], 8, 2), r = B.zeros(1, 5, 2, 4);
        assertThrowsMentioning(IllegalArgumentException.class, "rotary_dim", () -> B.rotaryBackward(r, 3, 0, cos, sin, false, r));
        assertThrowsMentioning(IllegalArgumentException.class, "n_ctx", () -> B.rotaryBackward(r, 4, 4, cos, sin, false, r));
        assertThrowsMentioning(IllegalArgumentException.class, "shapes differ", () -> B.rotaryBackward(r, 4, 0, cos, sin, false, B.zeros(1, 5, 2, 5)));
        assertThrowsMentioning(IllegalArgumentException.class, "dx", () -> B.rotaryBackward(r, 4, 0, cos, sin, false, null));
        // element-wise, softmax family, losses, bias
        assertThrowsMentioning(IllegalArgumentException.class, "dOut", () -> B.activationBackward(Activation.GELU, x, B.zeros(5), B.zeros(12)));
        assertThrowsMentioning(IllegalArgumentException.class, "dx", () -> B.activationBackward(Activation.GELU, x, g, B.zeros(5)));
        assertThrowsMentioning(IllegalArgumentException.class, "activation", () -> B.activationBackward(null, x, g, B.zeros(12)));
        assertThrowsMentioning(IllegalArgumentException.class, "linear", () -> B.gatedActivationBackward(Activation.SILU, x, B.zeros(11), g, null, null));
        assertThrowsMentioning(IllegalArgumentException.class, "dGate", () -> B.gatedActivationBackward(Activation.SILU, x, x, g, B.zeros(11), null));
        assertThrowsMentioning(IllegalArgumentException.class, "dw", () -> B.scaleColsBackward(x, w4, g, null, B.zeros(3)));
        assertThrowsMentioning(IllegalArgumentException.class, "x", () -> B.scaleColsBackward(x, B.zeros(5), g, null, null));
        assertThrowsMentioning(IllegalArgumentException.class, "dx", () -> B.softmaxBackward(x, g, B.zeros(2)));
        assertThrowsMentioning(IllegalArgumentException.class, "dOut", () -> B.logSoftmaxBackward(x, null, B.zeros(12)));
        assertThrowsMentioning(IndexOutOfBoundsException.class, "4", () -> B.crossEntropyBackward(x, Tensor.ofInts(new int[] {0, 4, 1}, 3), s3, B.zeros(3, 4)));
        assertThrowsMentioning(IllegalArgumentException.class, "targets", () -> B.crossEntropyBackward(x, Tensor.ofInts(new int[] {0, 1}, 2), s3, B.zeros(3, 4)));
        assertThrowsMentioning(IllegalArgumentException.class, "dLoss", () -> B.crossEntropyBackward(x, Tensor.ofInts(new int[] {0, 1, 2}, 3), B.zeros(4), B.zeros(3, 4)));
        assertThrowsMentioning(IllegalArgumentException.class, "dLogits", () -> B.crossEntropyBackward(x, Tensor.ofInts(new int[] {0, 1, 2}, 3), s3, null));
        assertThrowsMentioning(IllegalArgumentException.class, "sum_rows", () -> B.sumRows(x, B.zeros(5)));
        assertThrowsMentioning(IllegalArgumentException.class, "dW", () -> B.linearBackward(x, B.zeros(4, 2), B.zeros(3, 2), null, B.zeros(7), null));
        assertThrowsMentioning(IllegalArgumentException.class, "x is required", () -> B.linearBackward(null, B.zeros(4, 2), B.zeros(3, 2), null, B.zeros(8), null));
        // closed tensors are IllegalState, as for the forward ops
        Tensor dead = t(randn(12), 3, 4);
        dead.close();
        assertThrowsMentioning(IllegalStateException.class, "closed", () -> B.softmaxBackward(x, dead, B.zeros(3, 4)));
        assertThrowsMentioning(IllegalStateException.class, "closed", () -> B.layerNormBackward(x, null, s3, g, dead, null, null, null));
    }
}
