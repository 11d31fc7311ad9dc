package dev.lens4j.backend;

import dev.lens4j.tensor.Tensor;
import dev.lens4j.tensor.TensorScope;
import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every {@link CpuBackend} op against the double-precision {@link Reference} on small random shapes, including
 * sizes above the kernels' 16384-element threading threshold and odd sizes; plus argument validation,
 * the OpenBLAS that gets loaded, and native-memory leaks.
 */
class CpuKernelsTest extends KernelTestSupport {
    CpuKernelsTest() { super(1234); }

    private static final CpuBackend B = CpuBackend.get();
    private static final double TOL = 1e-5, GEMM_TOL = 1e-4;

    /** max |got - ref| <= rel * max(1, max |ref|); infinities must match exactly, NaN only where ref is NaN. */
    static void assertClose(String what, double[] ref, float[] got, double rel) {
        assertEquals(ref.length, got.length, what + ": length");
        double max = 1;
        for (double r : ref) if (Double.isFinite(r)) max = Math.max(max, Math.abs(r));
        double worst = 0;
        int at = -1;
        for (int i = 0; i < ref.length; i++) {
            if (Double.isNaN(ref[i])) { assertTrue(Float.isNaN(got[i]), what + ": expected NaN at " + i + ", got " + got[i]); continue; }
            if (Double.isInfinite(ref[i])) { assertEquals(ref[i], (double) got[i], what + ": expected " + ref[i] + " at " + i); continue; }
            assertTrue(Float.isFinite(got[i]), what + ": non-finite " + got[i] + " at " + i + " (expected " + ref[i] + ")");
            double e = Math.abs(got[i] - ref[i]);
            if (e > worst) { worst = e; at = i; }
        }
        assertTrue(worst <= rel * max, what + ": max abs error " + worst + " at " + at + " (got " + (at < 0 ? 0 : got[at])
                + ", expected " + (at < 0 ? 0 : ref[at]) + ") exceeds " + rel * max);
    }

    static void assertClose(String what, float[] ref, float[] got, double rel) { assertClose(what, Reference.toDouble(ref), got, rel); }

    private static <T extends Throwable> T assertThrowsMentioning(Class<T> type, String needle, Executable call) {
        T e = assertThrows(type, call);
        assertNotNull(e.getMessage());
        assertTrue(e.getMessage().contains(needle), "message '" + e.getMessage() + "' should mention '" + needle + "'");
        return e;
    }

    // ------------------------------------------------------------------ GEMM and linear

    @Test void gemmAllTransposesStridesOffsetsBiasAlphaBeta() {
        int[][] shapes = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {4, 3, 0}, {130, 129, 67}}; // last: M*N > 16384
        for (int[] s : shapes)
            for (boolean tA : new boolean[] {false, true})
                for (boolean tB : new boolean[] {false, true})
                    for (float alpha : new float[] {1f, -0.75f})
                        for (float beta : new float[] {0f, 1f, 0.5f})
                            for (boolean withBias : new boolean[] {false, true})
                                gemmCase(s[0], s[1], s[2], tA, tB, alpha, beta, withBias);
    }

    private void gemmCase(int M, int N, int K, boolean tA, boolean tB, float alpha, float beta, boolean withBias) {
        int aRows = tA ? K : M, aCols = tA ? M : K, bRows = tB ? N : K, bCols = tB ? K : N;
        int lda = aCols + 3, ldb = bCols + 2, ldc = N + 4, offA = 5, offB = 2, offC = 7, offBias = 1;
        float[] a = randn(offA + aRows * lda + 2), b = randn(offB + bRows * ldb + 2), c = randn(offC + M * ldc + 3);
        float[] bias = withBias ? randn(offBias + N + 2) : null;
        if (beta == 0f) // BLAS convention: beta 0 never reads C
            for (int i = 0; i < M; i++) for (int j = 0; j < N; j++) c[offC + i * ldc + j] = Float.NaN;
        Tensor A = Tensor.of(a, a.length), Bt = Tensor.of(b, b.length), C = Tensor.of(c, c.length);
        Tensor bi = withBias ? Tensor.of(bias, bias.length) : null;
        B.gemm(tA, tB, M, N, K, alpha, A, offA, lda, Bt, offB, ldb, beta, C, offC, ldc, bi, offBias);
        double[] ref = Reference.gemm(tA, tB, M, N, K, alpha, a, offA, lda, b, offB, ldb, beta, c, offC, ldc, bias, offBias);
        String what = String.format("gemm M=%d N=%d K=%d tA=%b tB=%b alpha=%s beta=%s bias=%b", M, N, K, tA, tB, alpha, beta, withBias);
        float[] got = C.toFloatArray();
        assertClose(what, ref, got, GEMM_TOL);
        // everything outside the C view (before offC, the ldc padding, the tail) is untouched
        for (int i = 0; i < c.length; i++) {
            int rel = i - offC;
            boolean inView = rel >= 0 && rel / ldc < M && rel % ldc < N;
            if (!inView) assertEquals(c[i], got[i], what + ": wrote outside C at " + i);
        }
    }

    @Test void linear() {
        int[][] shapes = {{1, 4, 3}, {6, 17, 9}, {130, 33, 129}};
        for (int[] s : shapes)
            for (boolean withBias : new boolean[] {false, true}) {
                int rows = s[0], K = s[1], N = s[2];
                float[] x = randn(rows * K), w = randn(K * N), bias = withBias ? randn(N) : null;
                Tensor X = rows % 2 == 0 ? Tensor.of(x, 2, rows / 2, K) : Tensor.of(x, rows, K);
                Tensor out = rows % 2 == 0 ? B.zeros(2, rows / 2, N) : B.zeros(rows, N);
                B.linear(X, Tensor.of(w, K, N), withBias ? Tensor.of(bias, N) : null, out);
                assertClose("linear " + Arrays.toString(s) + " bias=" + withBias, Reference.linear(x, w, bias, rows, K, N),
                        out.toFloatArray(), GEMM_TOL);
            }
    }

    // ------------------------------------------------------------------ embeddings

    @Test void embed() {
        int[][] cases = {{50, 7, 1}, {50, 7, 10}, {1000, 67, 257}}; // vocab, d_model, tokens; last > 16384 values
        for (int[] c : cases) {
            int vocab = c[0], d = c[1], n = c[2];
            float[] we = randn(vocab * d);
            int[] tok = ints(n, vocab);
            tok[0] = vocab - 1;
            Tensor out = B.zeros(n, d);
            B.embed(n % 2 == 0 ? Tensor.ofInts(tok, 2, n / 2) : Tensor.ofInts(tok, n), Tensor.of(we, vocab, d), out);
            assertClose("embed " + Arrays.toString(c), Reference.embed(tok, we, d), out.toFloatArray(), 0);
        }
    }

    @Test void posEmbedWithOffset() {
        int[][] cases = {{20, 7, 1, 1, 0}, {20, 7, 2, 5, 0}, {20, 7, 2, 5, 15}, {300, 64, 2, 200, 100}};
        for (int[] c : cases) { // n_ctx, d_model, batch, seq, offset
            int nCtx = c[0], d = c[1], batch = c[2], seq = c[3], off = c[4];
            float[] wpos = randn(nCtx * d);
            Tensor out = B.zeros(batch, seq, d);
            B.posEmbed(batch, seq, off, Tensor.of(wpos, nCtx, d), out);
            assertClose("pos_embed " + Arrays.toString(c), Reference.posEmbed(batch, seq, off, wpos, d), out.toFloatArray(), 0);
        }
    }

    // ------------------------------------------------------------------ norms

    @Test void layerNorm() {
        int[][] shapes = {{1, 5}, {3, 1}, {7, 33}, {300, 65}};
        for (int[] s : shapes)
            for (int variant = 0; variant < 4; variant++) { // (w,b), LNPre, w only, b only
                int rows = s[0], d = s[1];
                float[] x = randn(rows * d, 2, 3);
                float[] w = variant == 0 || variant == 2 ? randn(d, 0.5, 1) : null;
                float[] b = variant == 0 || variant == 3 ? randn(d) : null;
                Tensor out = B.zeros(rows, d), scale = variant % 2 == 0 ? B.zeros(rows, 1) : null;
                B.layerNorm(Tensor.of(x, rows, d), w == null ? null : Tensor.of(w, d), b == null ? null : Tensor.of(b, d), 1e-5f, out, scale);
                double[][] ref = Reference.layerNorm(x, w, b, 1e-5, rows, d);
                String what = "layer_norm " + Arrays.toString(s) + " variant " + variant;
                assertClose(what, ref[0], out.toFloatArray(), TOL);
                if (scale != null) assertClose(what + " scale", ref[1], scale.toFloatArray(), TOL);
            }
    }

    @Test void rmsNorm() {
        int[][] shapes = {{1, 5}, {3, 1}, {7, 33}, {300, 65}};
        for (int[] s : shapes)
            for (boolean withW : new boolean[] {false, true})
                for (boolean outputs : new boolean[] {false, true}) {
                    int rows = s[0], d = s[1];
                    float[] x = randn(rows * d, 2, 0.5), w = withW ? randn(d, 0.5, 1) : null;
                    Tensor out = B.zeros(rows, d);
                    Tensor scale = outputs ? B.zeros(rows) : null, norm = outputs ? B.zeros(rows, d) : null;
                    B.rmsNorm(Tensor.of(x, rows, d), withW ? Tensor.of(w, d) : null, 1e-6f, out, scale, norm);
                    double[][] ref = Reference.rmsNorm(x, w, 1e-6, rows, d);
                    String what = "rms_norm " + Arrays.toString(s) + " w=" + withW;
                    assertClose(what, ref[0], out.toFloatArray(), TOL);
                    if (outputs) {
                        assertClose(what + " scale", ref[1], scale.toFloatArray(), TOL);
                        assertClose(what + " normalized (before w)", ref[2], norm.toFloatArray(), TOL);
                    }
                }
    }

    // ------------------------------------------------------------------ rotary

    @Test void rotaryBothConventionsPartialOffsetAliasing() {
        int[][] cases = { // batch, seq, heads, d_head, rotary_dim, offset
                {1, 1, 1, 2, 2, 0}, {2, 5, 3, 8, 8, 0}, {1, 7, 2, 10, 6, 3}, {2, 9, 3, 12, 4, 5}, {2, 33, 4, 64, 32, 7}};
        for (int[] c : cases)
            for (boolean adjacent : new boolean[] {false, true})
                for (boolean alias : new boolean[] {false, true}) {
                    int batch = c[0], seq = c[1], heads = c[2], dHead = c[3], rd = c[4], off = c[5], nCtx = off + seq + 4;
                    float[][] tables = Reference.rotaryTables(nCtx, rd, 10000);
                    Tensor cos = Tensor.of(tables[0], nCtx, rd / 2), sin = Tensor.of(tables[1], nCtx, rd / 2);
                    float[] x = randn(batch * seq * heads * dHead);
                    Tensor X = Tensor.of(x, batch, seq, heads, dHead);
                    Tensor out = alias ? X : B.zeros(batch, seq, heads, dHead);
                    B.rotary(X, rd, off, cos, sin, adjacent, out);
                    float[] got = out.toFloatArray();
                    String what = "rotary " + Arrays.toString(c) + " adjacent=" + adjacent + " alias=" + alias;
                    assertClose(what, Reference.rotary(x, batch, seq, heads, dHead, rd, off, tables[0], tables[1], adjacent), got, TOL);
                    for (int i = 0; i < x.length; i++)
                        if (i % dHead >= rd) assertEquals(x[i], got[i], what + ": pass-through feature changed at " + i);
                }
    }

    @Test void rotaryTablesFollowTransformerLens() {
        // position 0 is the identity; feature pair 0 rotates by exactly `pos` radians (freq_0 = 1)
        float[][] t = Reference.rotaryTables(8, 6, 10000);
        for (int i = 0; i < 3; i++) { assertEquals(1f, t[0][i]); assertEquals(0f, t[1][i]); }
        assertEquals((float) Math.cos(5), t[0][5 * 3], 1e-7);
        assertEquals((float) Math.sin(5 * Math.pow(10000, -4.0 / 6)), t[1][5 * 3 + 2], 1e-7);
    }

    // ------------------------------------------------------------------ attention

    private static final int[][] ATTN = { // batch, seq, heads, kv_heads, d_head
            {1, 1, 1, 1, 1}, {2, 5, 4, 4, 8}, {1, 6, 6, 2, 8}, {2, 7, 4, 1, 5}, {2, 40, 6, 3, 16}}; // last: > 16384 scores

    @Test void attnScoresCausalGqa() {
        for (int[] c : ATTN) {
            int batch = c[0], seq = c[1], h = c[2], kvh = c[3], dh = c[4];
            float[] q = randn(batch * seq * h * dh), k = randn(batch * seq * kvh * dh);
            float scale = (float) (1 / Math.sqrt(dh));
            Tensor scores = B.zeros(batch, h, seq, seq);
            B.attnScores(Tensor.of(q, batch, seq, h, dh), Tensor.of(k, batch, seq, kvh, dh), scale, scores);
            double[] ref = Reference.attnScores(q, k, batch, seq, h, kvh, dh, scale);
            assertClose("attn_scores " + Arrays.toString(c), ref, scores.toFloatArray(), TOL);
        }
    }

    @Test void attnApplyGqaAnyPattern() {
        for (int[] c : ATTN) {
            int batch = c[0], seq = c[1], h = c[2], kvh = c[3], dh = c[4];
            float[] p = uniform(batch * h * seq * seq, 0, 1), v = randn(batch * seq * kvh * dh);
            for (int i = 0; i < p.length; i++) if (rnd.nextInt(3) == 0) p[i] = 0; // a hook may write any pattern
            Tensor z = B.zeros(batch, seq, h, dh);
            B.attnApply(Tensor.of(p, batch, h, seq, seq), Tensor.of(v, batch, seq, kvh, dh), z);
            assertClose("attn_apply " + Arrays.toString(c), Reference.attnApply(Reference.toDouble(p), v, batch, seq, h, kvh, dh),
                    z.toFloatArray(), TOL);
        }
    }

    @Test void fusedAttentionMatchesSplitPathAndReference() {
        for (int[] c : ATTN)
            for (int outputs = 0; outputs < 4; outputs++) { // bit 0: scores, bit 1: pattern
                int batch = c[0], seq = c[1], h = c[2], kvh = c[3], dh = c[4];
                float[] q = randn(batch * seq * h * dh, 2, 0), k = randn(batch * seq * kvh * dh, 2, 0), v = randn(batch * seq * kvh * dh);
                float scale = (float) (1 / Math.sqrt(dh));
                Tensor Q = Tensor.of(q, batch, seq, h, dh), K = Tensor.of(k, batch, seq, kvh, dh), V = Tensor.of(v, batch, seq, kvh, dh);
                Tensor z = B.zeros(batch, seq, h, dh);
                Tensor scores = (outputs & 1) != 0 ? B.zeros(batch, h, seq, seq) : null;
                Tensor pattern = (outputs & 2) != 0 ? B.zeros(batch, h, seq, seq) : null;
                B.attention(Q, K, V, scale, z, scores, pattern);

                // split path: scores -> softmax -> apply
                Tensor s2 = B.zeros(batch, h, seq, seq), p2 = B.zeros(batch, h, seq, seq), z2 = B.zeros(batch, seq, h, dh);
                B.attnScores(Q, K, scale, s2);
                B.softmax(s2, p2);
                B.attnApply(p2, V, z2);

                String what = "attention " + Arrays.toString(c) + " outputs=" + outputs;
                double[] refScores = Reference.attnScores(q, k, batch, seq, h, kvh, dh, scale);
                double[] refPattern = Reference.softmax(refScores, batch * h * seq, seq);
                assertClose(what + " z vs reference", Reference.attnApply(refPattern, v, batch, seq, h, kvh, dh), z.toFloatArray(), TOL);
                assertClose(what + " z vs split path", z2.toFloatArray(), z.toFloatArray(), TOL);
                assertClose(what + " split pattern vs reference", refPattern, p2.toFloatArray(), TOL);
                if (scores != null) {
                    assertClose(what + " scores vs split", s2.toFloatArray(), scores.toFloatArray(), TOL);
                    assertClose(what + " scores vs reference", refScores, scores.toFloatArray(), TOL);
                }
                if (pattern != null) {
                    float[] pat = pattern.toFloatArray();
                    assertClose(what + " pattern vs split", p2.toFloatArray(), pat, TOL);
                    for (int r = 0; r < batch * h * seq; r++) {
                        int i = r % seq;
                        double sum = 0;
                        for (int j = 0; j < seq; j++) {
                            sum += pat[r * seq + j];
                            if (j > i) assertEquals(0f, pat[r * seq + j], what + ": pattern above the diagonal");
                        }
                        assertEquals(1.0, sum, 1e-5, what + ": pattern row " + r + " sum");
                    }
                }
            }
    }

    @Test void attentionIsThreadCountInvariant() {
        int[] c = ATTN[ATTN.length - 1];
        int batch = c[0], seq = c[1], h = c[2], kvh = c[3], dh = c[4];
        Tensor Q = Tensor.of(randn(batch * seq * h * dh), batch, seq, h, dh);
        Tensor K = Tensor.of(randn(batch * seq * kvh * dh), batch, seq, kvh, dh), V = Tensor.of(randn(batch * seq * kvh * dh), batch, seq, kvh, dh);
        int threads = B.numThreads();
        Tensor z1 = B.zeros(batch, seq, h, dh), zn = B.zeros(batch, seq, h, dh);
        try {
            B.setNumThreads(1);
            B.attention(Q, K, V, 0.25f, z1, null, null);
        } finally {
            B.setNumThreads(threads);
        }
        B.attention(Q, K, V, 0.25f, zn, null, null);
        assertArrayEquals(z1.toFloatArray(), zn.toFloatArray(), "rows are independent, so any thread count gives the same bits");
    }

    /**
     * l4j_gemm splits by shape alone, so every thread count gives the same bits whatever kernels OpenBLAS picks for
     * this CPU (OPENBLAS_CORETYPE). Shapes: tall (row chunks with a ragged last one), wide (column chunks, one
     * position's unembedding), both transposes, bias, accumulate, and sizes just around the split threshold.
     */
    /**
     * scripts/coretype-matrix.sh sets OPENBLAS_CORETYPE: check OpenBLAS really runs that core's kernels, unless this
     * CPU lacks the instructions they need (then OpenBLAS falls back, e.g. SapphireRapids without AMX runs Cooperlake).
     */
    @Test void openBlasRunsTheRequestedCoreType() throws IOException {
        String core = B.blasCoreName();
        String requested = System.getenv("OPENBLAS_CORETYPE");
        System.out.println("OpenBLAS core: " + core + ", OPENBLAS_CORETYPE=" + requested + ", threads " + B.numThreads());
        if (requested == null || requested.isEmpty() || requested.equalsIgnoreCase(core)) return;
        String flag = switch (requested.toLowerCase()) {
            case "sapphirerapids" -> "amx_tile";
            case "cooperlake" -> "avx512_bf16";
            case "skylakex" -> "avx512f";
            default -> "avx2";
        };
        Path cpuinfo = Path.of("/proc/cpuinfo");
        List<String> flags = Files.isReadable(cpuinfo) ? Files.readAllLines(cpuinfo).stream().filter(l -> l.startsWith("flags"))
                .findFirst().map(l -> Arrays.asList(l.split("[:\\s]+"))).orElse(List.of()) : List.of();
        assertFalse(flags.contains(flag), "OPENBLAS_CORETYPE=" + requested + " but OpenBLAS runs " + core
                + " although this CPU has " + flag);
    }

    @Test void gemmIsThreadCountInvariant() {
        long[][] shapes = { // M, N, K, transA, transB, bias, beta=1
                {700, 96, 96, 0, 0, 1, 0}, {1, 5000, 96, 0, 0, 1, 0}, {40, 3000, 64, 0, 1, 0, 0}, {128, 32, 128, 0, 0, 0, 0},
                {128, 32, 128, 1, 0, 0, 1}, {96, 200, 300, 1, 1, 1, 1}, {64, 64, 64, 0, 0, 0, 0}, {1040, 17, 33, 0, 0, 1, 0},
                {3, 3, 3, 0, 0, 1, 1}};
        int threads = B.numThreads();
        try {
            for (long[] s : shapes) {
                int M = (int) s[0], N = (int) s[1], K = (int) s[2];
                boolean tA = s[3] == 1, tB = s[4] == 1, withBias = s[5] == 1;
                float beta = s[6] == 1 ? 1f : 0f;
                Tensor A = Tensor.of(randn(M * K), M * K), Bm = Tensor.of(randn(K * N), K * N);
                Tensor bias = withBias ? Tensor.of(randn(N), N) : null;
                float[] c0 = randn(M * N);
                float[] reference = null;
                for (int t : new int[] {1, 2, 3, 4, 7}) {
                    B.setNumThreads(t);
                    Tensor C = Tensor.of(c0, M * N);
                    B.gemm(tA, tB, M, N, K, 0.5f, A, 0, tA ? M : K, Bm, 0, tB ? K : N, beta, C, 0, N, bias, 0);
                    float[] got = C.toFloatArray();
                    if (reference == null) reference = got;
                    else assertArrayEquals(reference, got, "gemm " + Arrays.toString(s) + " with 1 vs " + t + " threads");
                }
            }
        } finally {
            B.setNumThreads(threads);
        }
    }

    // ------------------------------------------------------------------ element-wise

    private static final float[] SPECIAL = {0f, 1e-8f, 1e-3f, 0.05f, 0.0625f, 0.07f, 0.5f, 1f, 3f, 5f, 10f, 30f, 87f, 88.5f,
            89f, 100f, 1e4f, 1e10f, 1e30f, Float.MAX_VALUE};

    @Test void activationsOverWideRanges() {
        double[][] ranges = {{-8, 8, 1001}, {-60, 60, 20001}, {-1e4, 1e4, 4097}};
        for (Activation act : Activation.values()) {
            for (double[] r : ranges) {
                float[] x = uniform((int) r[2], r[0], r[1]);
                Tensor out = B.zeros(x.length);
                B.activation(act, Tensor.of(x, x.length), out);
                double[] ref = new double[x.length];
                for (int i = 0; i < x.length; i++) ref[i] = Reference.act(act, x[i]);
                assertClose(act.tlName + " on " + Arrays.toString(r), ref, out.toFloatArray(), 1e-6);
            }
            // special values, element by element: error <= 1e-6 * max(1, |expected|), never NaN
            float[] x = new float[SPECIAL.length * 2];
            for (int i = 0; i < SPECIAL.length; i++) { x[2 * i] = SPECIAL[i]; x[2 * i + 1] = -SPECIAL[i]; }
            Tensor X = Tensor.of(x, x.length);
            B.activation(act, X, X); // in place
            float[] got = X.toFloatArray();
            for (int i = 0; i < x.length; i++) {
                double ref = Reference.act(act, x[i]);
                assertFalse(Float.isNaN(got[i]), act.tlName + "(" + x[i] + ") is NaN");
                assertEquals(ref, got[i], 1e-6 * Math.max(1, Math.abs(ref)), act.tlName + "(" + x[i] + ")");
            }
        }
    }

    @Test void gatedActivation() {
        for (Activation act : Activation.values())
            for (int n : new int[] {1, 1001, 20001}) {
                float[] g = uniform(n, -10, 10), l = randn(n);
                Tensor out = B.zeros(n);
                B.gatedActivation(act, Tensor.of(g, n), Tensor.of(l, n), out);
                double[] ref = new double[n];
                for (int i = 0; i < n; i++) ref[i] = Reference.act(act, g[i]) * l[i];
                assertClose("gated " + act.tlName + " n=" + n, ref, out.toFloatArray(), TOL);
            }
    }

    @Test void addWithAliasing() {
        for (int n : new int[] {1, 7, 20001}) {
            float[] a = randn(n), b = randn(n);
            double[] ref = new double[n], twice = new double[n];
            for (int i = 0; i < n; i++) { ref[i] = (double) a[i] + b[i]; twice[i] = 2.0 * a[i]; }
            Tensor A = Tensor.of(a, n), Bt = Tensor.of(b, n), out = B.zeros(n);
            B.add(A, Bt, out);
            assertClose("add n=" + n, ref, out.toFloatArray(), TOL);
            Tensor A2 = Tensor.of(a, n);
            B.add(A2, Bt, A2);
            assertClose("add out=a n=" + n, ref, A2.toFloatArray(), TOL);
            Tensor B2 = Tensor.of(b, n);
            B.add(A, B2, B2);
            assertClose("add out=b n=" + n, ref, B2.toFloatArray(), TOL);
            Tensor A3 = Tensor.of(a, n);
            B.add(A3, A3, A3);
            assertClose("add a+a in place n=" + n, twice, A3.toFloatArray(), TOL);
        }
    }

    @Test void scaleCols() {
        int[][] shapes = {{1, 1}, {5, 7}, {300, 65}};
        for (int[] s : shapes) {
            int rows = s[0], d = s[1];
            float[] x = randn(rows * d), w = randn(d);
            Tensor out = B.zeros(rows, d);
            B.scaleCols(Tensor.of(x, rows, d), Tensor.of(w, d), out);
            double[] ref = new double[rows * d];
            for (int i = 0; i < ref.length; i++) ref[i] = (double) x[i] * w[i % d];
            assertClose("scale_cols " + Arrays.toString(s), ref, out.toFloatArray(), TOL);
        }
    }

    // ------------------------------------------------------------------ softmax family

    /** Rows of several kinds: plain, large offset, wide spread, huge magnitudes, and rows with -inf entries. */
    private float[] softmaxInput(int rows, int n) {
        float[] x = new float[rows * n];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < n; i++) {
                double g = rnd.nextGaussian();
                float v;
                switch (r % 5) {
                    case 0: v = (float) (3 * g); break;
                    case 1: v = (float) (1e4 + g); break;
                    case 2: v = (float) (80 * g); break;
                    case 3: v = rnd.nextBoolean() ? 1e30f : -1e30f; break;
                    default: v = i > 0 && rnd.nextInt(3) == 0 ? Float.NEGATIVE_INFINITY : (float) g;
                }
                x[r * n + i] = v;
            }
        return x;
    }

    @Test void softmax() {
        int[][] shapes = {{1, 1}, {5, 7}, {10, 129}, {130, 129}};
        for (int[] s : shapes) {
            int rows = s[0], n = s[1];
            float[] x = softmaxInput(rows, n);
            Tensor out = B.zeros(rows, n);
            B.softmax(Tensor.of(x, rows, n), out);
            float[] got = out.toFloatArray();
            assertClose("softmax " + Arrays.toString(s), Reference.softmax(x, rows, n), got, TOL);
            for (int r = 0; r < rows; r++) {
                double sum = 0;
                for (int i = 0; i < n; i++) {
                    sum += got[r * n + i];
                    if (x[r * n + i] == Float.NEGATIVE_INFINITY) assertEquals(0f, got[r * n + i], "softmax of -inf must be exactly 0");
                }
                assertEquals(1.0, sum, 1e-5, "softmax row " + r + " sum");
            }
        }
    }

    @Test void logSoftmax() {
        int[][] shapes = {{1, 1}, {5, 7}, {10, 129}, {130, 129}};
        for (int[] s : shapes) {
            int rows = s[0], n = s[1];
            float[] x = softmaxInput(rows, n);
            Tensor out = B.zeros(rows, n);
            B.logSoftmax(Tensor.of(x, rows, n), out);
            float[] got = out.toFloatArray();
            double[] ref = Reference.logSoftmax(x, rows, n);
            for (int r = 0; r < rows; r++) { // per row: huge-magnitude rows must not swamp the tolerance of the others
                double[] rr = Arrays.copyOfRange(ref, r * n, (r + 1) * n);
                assertClose("log_softmax " + Arrays.toString(s) + " row " + r, rr, Arrays.copyOfRange(got, r * n, (r + 1) * n), TOL);
            }
        }
    }

    @Test void crossEntropy() {
        int[][] shapes = {{1, 1}, {5, 11}, {64, 300}};
        for (int[] s : shapes) {
            int rows = s[0], n = s[1];
            float[] logits = randn(rows * n, 4, 0);
            for (int i = 0; i < n; i++) logits[i] += 1e4f; // one row with a large offset
            int[] t = ints(rows, n);
            Tensor loss = B.zeros(rows), ls = B.zeros(rows, n), L = Tensor.of(logits, rows, n);
            B.crossEntropy(L, Tensor.ofInts(t, rows), loss);
            assertClose("cross_entropy " + Arrays.toString(s), Reference.crossEntropy(logits, t, rows, n), loss.toFloatArray(), TOL);
            B.logSoftmax(L, ls);
            float[] lsa = ls.toFloatArray(), la = loss.toFloatArray();
            for (int r = 0; r < rows; r++) assertEquals(-lsa[r * n + t[r]], la[r], 1e-5 * Math.max(1, Math.abs(la[r])));
        }
    }

    // ------------------------------------------------------------------ validation: exceptions, never crashes

    @Test void embedRejectsOutOfRangeTokenIds() {
        Tensor we = Tensor.of(randn(10 * 4), 10, 4), out = B.zeros(3, 4);
        assertThrowsMentioning(IndexOutOfBoundsException.class, "10", () -> B.embed(Tensor.ofInts(new int[] {1, 10, 2}, 3), we, out));
        assertThrowsMentioning(IndexOutOfBoundsException.class, "-3", () -> B.embed(Tensor.ofInts(new int[] {1, 2, -3}, 3), we, out));
        assertThrowsMentioning(IndexOutOfBoundsException.class, "2147483647",
                () -> B.embed(Tensor.ofInts(new int[] {Integer.MAX_VALUE, 0, 0}, 3), we, out));
        assertThrows(IllegalArgumentException.class, () -> B.embed(Tensor.of(new float[3], 3), we, out), "float tokens");
    }

    @Test void wrongOutputSizesAreIllegalArguments() {
        Tensor x = Tensor.of(randn(12), 3, 4), w = Tensor.of(randn(4), 4);
        Tensor bad = B.zeros(3, 5);
        Tensor we = Tensor.of(randn(40), 10, 4);
        assertThrows(IllegalArgumentException.class, () -> B.embed(Tensor.ofInts(new int[] {1, 2, 3}, 3), we, bad));
        assertThrows(IllegalArgumentException.class, () -> B.posEmbed(1, 3, 0, we, bad));
        assertThrows(IllegalArgumentException.class, () -> B.layerNorm(x, w, w, 1e-5f, bad, null));
        assertThrows(IllegalArgumentException.class, () -> B.layerNorm(x, w, w, 1e-5f, B.zeros(3, 4), B.zeros(4)));
        assertThrows(IllegalArgumentException.class, () -> B.rmsNorm(x, w, 1e-5f, bad, null, null));
        assertThrows(IllegalArgumentException.class, () -> B.rmsNorm(x, w, 1e-5f, B.zeros(3, 4), null, bad));
        assertThrows(IllegalArgumentException.class, () -> B.activation(Activation.GELU, x, bad));
        assertThrows(IllegalArgumentException.class, () -> B.gatedActivation(Activation.SILU, x, x, bad));
        assertThrows(IllegalArgumentException.class, () -> B.add(x, x, bad));
        assertThrows(IllegalArgumentException.class, () -> B.scaleCols(x, w, bad));
        assertThrows(IllegalArgumentException.class, () -> B.softmax(x, bad));
        assertThrows(IllegalArgumentException.class, () -> B.logSoftmax(x, bad));
        assertThrows(IllegalArgumentException.class, () -> B.crossEntropy(x, Tensor.ofInts(new int[] {0, 1, 2}, 3), B.zeros(4)));
        assertThrows(IllegalArgumentException.class, () -> B.linear(x, Tensor.of(randn(8), 4, 2), null, bad));
        Tensor q = Tensor.of(randn(2 * 3 * 2 * 4), 2, 3, 2, 4);
        assertThrows(IllegalArgumentException.class, () -> B.attnScores(q, q, 1f, B.zeros(2, 2, 3, 4)));
        assertThrows(IllegalArgumentException.class, () -> B.attnApply(B.zeros(2, 2, 3, 3), q, B.zeros(2, 3, 2, 5)));
        assertThrows(IllegalArgumentException.class, () -> B.attention(q, q, q, 1f, B.zeros(2, 3, 2, 5), null, null));
        assertThrows(IllegalArgumentException.class, () -> B.attention(q, q, q, 1f, B.zeros(2, 3, 2, 4), null, B.zeros(7)));
        Tensor k3 = Tensor.of(randn(2 * 3 * 3 * 4), 2, 3, 3, 4); // 2 query heads cannot share 3 kv heads
        assertThrows(IllegalArgumentException.class, () -> B.attnScores(q, k3, 1f, B.zeros(2, 2, 3, 3)));
        // gemm: C too small, bad leading dims, negative offsets
        Tensor m = Tensor.of(randn(12), 12), m16 = Tensor.of(randn(16), 16);
        B.gemm(false, false, 3, 4, 4, 1f, m, 0, 4, m16, 0, 4, 0f, B.zeros(12), 0, 4, null, 0); // fits exactly
        assertThrows(IllegalArgumentException.class, () -> B.gemm(false, false, 3, 4, 4, 1f, m, 0, 4, m16, 0, 4, 0f, B.zeros(11), 0, 4, null, 0));
        assertThrows(IllegalArgumentException.class, () -> B.gemm(false, false, 3, 4, 4, 1f, m, 0, 3, m, 0, 4, 0f, B.zeros(12), 0, 4, null, 0));
        assertThrows(IllegalArgumentException.class, () -> B.gemm(false, false, 2, 2, 2, 1f, m, -1, 2, m, 0, 2, 0f, B.zeros(12), 0, 2, null, 0));
        assertThrows(IllegalArgumentException.class, () -> B.gemm(false, false, 2, 2, 2, 1f, m, 0, 2, m, 0, 2, 0f, B.zeros(12), 0, 2, m, -1));
        assertThrows(IllegalArgumentException.class, () -> B.gemm(false, false, 2, 2, 2, 1f, m, 0, 2, m, 0, 2, 0f, B.zeros(12), 0, 2, m, 11));
    }

    @Test void positionsBeyondContextAreRejected() {
        Tensor wpos = Tensor.of(randn(8 * 4), 8, 4);
        assertThrowsMentioning(IllegalArgumentException.class, "n_ctx", () -> B.posEmbed(1, 5, 4, wpos, B.zeros(5, 4)));
        assertThrowsMentioning(IllegalArgumentException.class, "n_ctx", () -> B.posEmbed(1, 9, 0, wpos, B.zeros(9, 4)));
        assertThrows(IllegalArgumentException.class, () -> B.posEmbed(1, 2, -1, wpos, B.zeros(2, 4)));
        float[][] t = Reference.rotaryTables(8, 4, 10000);
        Tensor cos = Tensor.of(t[0], 8, 2), sin = Tensor.of(t[1], 8, 2), x = B.zeros(1, 5, 2, 4);
        assertThrowsMentioning(IllegalArgumentException.class, "n_ctx", () -> B.rotary(x, 4, 4, cos, sin, false, x));
    }

    @Test void rotaryRejectsBadRotaryDim() {
        float[][] t = Reference.rotaryTables(8, 4, 10000);
        Tensor cos = Tensor.of(t[0], 8, 2), sin = Tensor.of(t[1], 8, 2), x = B.zeros(1, 3, 2, 8);
        assertThrowsMentioning(IllegalArgumentException.class, "rotary_dim", () -> B.rotary(x, 3, 0, cos, sin, false, x));
        assertThrowsMentioning(IllegalArgumentException.class, "rotary_dim", () -> B.rotary(x, 10, 0, cos, sin, true, x));
        assertThrows(IllegalArgumentException.class, () -> B.rotary(x, 6, 0, cos, sin, true, x), "tables for rotary_dim 4");
        assertThrows(IllegalArgumentException.class, () -> B.rotary(x, 4, 0, cos, sin, true, B.zeros(1, 3, 2, 7)));
    }

    @Test void crossEntropyRejectsOutOfRangeTargets() {
        Tensor logits = Tensor.of(randn(3 * 5), 3, 5), loss = B.zeros(3);
        assertThrowsMentioning(IndexOutOfBoundsException.class, "5", () -> B.crossEntropy(logits, Tensor.ofInts(new int[] {0, 5, 1}, 3), loss));
        assertThrowsMentioning(IndexOutOfBoundsException.class, "-1", () -> B.crossEntropy(logits, Tensor.ofInts(new int[] {0, 1, -1}, 3), loss));
    }

    @Test void closedTensorsAreIllegalState() {
        Tensor x = Tensor.of(randn(12), 3, 4), out = B.zeros(3, 4);
        Tensor dead = Tensor.of(randn(12), 3, 4).named("dead");
        Tensor deadView = dead.reshape(12);
        dead.close();
        assertThrowsMentioning(IllegalStateException.class, "closed", () -> B.layerNorm(dead, null, null, 1e-5f, out, null));
        assertThrowsMentioning(IllegalStateException.class, "closed", () -> B.layerNorm(x, null, null, 1e-5f, dead, null));
        assertThrowsMentioning(IllegalStateException.class, "closed", () -> B.activation(Activation.GELU, deadView, out));
        assertThrowsMentioning(IllegalStateException.class, "closed", () -> B.add(x, x, deadView));
        assertThrowsMentioning(IllegalStateException.class, "closed", () -> B.softmax(dead, out));
        assertThrowsMentioning(IllegalStateException.class, "closed",
                () -> B.gemm(false, false, 3, 4, 4, 1f, dead, 0, 4, Tensor.of(randn(16), 4, 4), 0, 4, 0f, out, 0, 4, null, 0));
        Tensor tok = Tensor.ofInts(new int[] {0, 1}, 2);
        tok.close();
        assertThrowsMentioning(IllegalStateException.class, "closed", () -> B.embed(tok, Tensor.of(randn(8), 2, 4), B.zeros(2, 4)));
        assertThrowsMentioning(IllegalStateException.class, "closed", dead::toFloatArray);
        dead.close(); // closing twice is harmless
    }

    // ------------------------------------------------------------------ process-level checks

    @Test void openBlasIsBytedecos() throws IOException {
        int n = 64;
        Tensor a = Tensor.of(randn(n * n), n, n), c = B.zeros(n, n);
        B.linear(a, a, null, c);
        List<String> libs = Files.readAllLines(Path.of("/proc/self/maps")).stream()
                .map(l -> l.indexOf('/') < 0 ? "" : l.substring(l.indexOf('/')))
                .filter(p -> p.contains("libopenblas")).distinct().collect(Collectors.toList());
        assertFalse(libs.isEmpty(), "no libopenblas mapped after a gemm");
        String cache = Loader.getCacheDir().getCanonicalPath() + "/";
        for (String p : libs) {
            assertFalse(p.startsWith("/usr/") || p.startsWith("/lib"), "system OpenBLAS loaded: " + p);
            assertTrue(p.startsWith(cache) || p.contains("/target/"), "OpenBLAS from neither the JavaCPP cache nor target/: " + p);
        }
    }

    @Test void scopesReturnLiveBytesToStart() {
        long start = Tensor.liveBytes(), count = Tensor.liveCount();
        for (int it = 0; it < 200; it++) {
            try (TensorScope s = TensorScope.open()) {
                Tensor a = Tensor.of(randn(1000), 10, 100);
                Tensor b = a.copy();
                Tensor v = b.reshape(1000);
                B.add(a, b, v);
                v.close(); // closing a view frees nothing
                assertFalse(b.isClosed());
                try (TensorScope inner = TensorScope.open()) {
                    B.softmax(a, B.zeros(10, 100));
                }
                assertTrue(Tensor.liveBytes() > start);
            }
            assertEquals(start, Tensor.liveBytes(), "iteration " + it);
        }
        assertEquals(count, Tensor.liveCount());

        Tensor kept;
        try (TensorScope outer = TensorScope.open()) {
            try (TensorScope inner = TensorScope.open()) {
                kept = inner.keep(B.zeros(16));
            }
            assertFalse(kept.isClosed(), "keep() moves the tensor to the enclosing scope");
            assertEquals(start + 64, Tensor.liveBytes());
        }
        assertTrue(kept.isClosed());
        assertEquals(start, Tensor.liveBytes());

        Tensor t = B.zeros(5); // owned by the test's scope; explicit close twice only counts once
        t.close();
        t.close();
        assertEquals(start, Tensor.liveBytes());
    }
}
