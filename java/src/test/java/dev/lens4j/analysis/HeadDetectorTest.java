package dev.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.analysis.HeadDetector.ErrorMeasure;
import dev.lens4j.analysis.HeadDetector.HeadName;
import dev.lens4j.analysis.HeadDetector.Options;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Head detectors: TL 2.12's detect_head values on the same weights and tokens (every named pattern, both error
 * measures, every exclude option), the planted heads of a hand-built model (a previous-token head, a duplicate-token
 * head and an induction head made of one-hot weights), TL's detection patterns, and bad input.
 */
class HeadDetectorTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama-gqa"})
    void scoresMatchTransformerLens(String name) throws Exception {
        Path pth = CircuitsTest.fixture(name);
        JsonNode fx = JSON.readTree(pth.resolveSibling("circuits.json").toFile());
        int[] tokens = JSON.convertValue(fx.get("tokens"), int[].class);
        long before = Tensor.liveBytes();
        try (HookedTransformer model = HookedTransformer.fromPretrained(pth, null, LoadOptions.defaults(), null)) {
            Iterator<Map.Entry<String, JsonNode>> it = fx.get("detect_head").fields();
            int checked = 0;
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                String[] parts = e.getKey().split(",");
                HeadName head = HeadName.valueOf(parts[0].toUpperCase());
                ErrorMeasure measure = ErrorMeasure.valueOf(parts[1].toUpperCase());
                Options o = Options.defaults().errorMeasure(measure).excludeBos(parts[2].endsWith("True"))
                        .excludeCurrentToken(parts[3].endsWith("True"));
                double[][] ours = HeadDetector.detectHead(model, tokens, head, o);
                double[] tl = CircuitsTest.flatten(e.getValue());
                int H = model.cfg().nHeads;
                // "abs" is rounded to 3 decimals by TL (in float32): a value near a rounding edge may land one step away
                double tol = measure == ErrorMeasure.ABS ? 1e-3 + 1e-6 : 2e-5;
                for (int i = 0; i < tl.length; i++) assertEquals(tl[i], ours[i / H][i % H], tol, e.getKey() + " head " + i);
                checked++;
            }
            assertEquals(24, checked);
            // a list of sequences: the mean of the per-sequence scores
            int[][] both = {tokens, JSON.convertValue(fx.get("tokens2"), int[].class)};
            for (HeadName head : HeadName.values()) {
                double[] tl = CircuitsTest.flatten(fx.get("detect_head_list").get(head.name().toLowerCase()));
                double[][] ours = HeadDetector.detectHead(model, both, head, Options.defaults());
                int H = model.cfg().nHeads;
                for (int i = 0; i < tl.length; i++) assertEquals(tl[i], ours[i / H][i % H], 2e-5, "list, " + head + " head " + i);
            }
            // from a cache of the patterns: the same scores, no forward pass
            try (var run = model.run(new int[][] {tokens}, new HookedTransformer.RunOptions().cacheRegex("hook_pattern$"))) {
                Options o = Options.defaults().excludeCurrentToken(true);
                double[][] fromCache = HeadDetector.detectHead(model, run.cache(), tokens, HeadDetector.inductionPattern(tokens), o);
                double[][] fromRun = HeadDetector.detectHead(model, tokens, HeadName.INDUCTION_HEAD, o);
                for (int l = 0; l < fromRun.length; l++) assertArrayEquals(fromRun[l], fromCache[l], 1e-6, "layer " + l);
                var e = assertThrows(IllegalArgumentException.class, () -> HeadDetector.detectHead(model, run.cache(),
                        java.util.Arrays.copyOf(tokens, tokens.length - 1), HeadDetector.inductionPattern(java.util.Arrays.copyOf(tokens, tokens.length - 1)), o));
                assertTrue(e.getMessage().contains("hook_pattern"), e.getMessage());
            }
            try (var run = model.run(new int[][] {tokens}, new HookedTransformer.RunOptions().cacheRegex("blocks\\.0\\.attn\\.hook_pattern$"))) {
                var e = assertThrows(IllegalArgumentException.class, () -> HeadDetector.detectHead(model, run.cache(), tokens,
                        HeadDetector.inductionPattern(tokens), null));
                assertTrue(e.getMessage().contains("no blocks.1.attn.hook_pattern"), e.getMessage());
            }
        }
        assertEquals(before, Tensor.liveBytes());
    }

    @Test
    void detectionPatternsAreTransformerLenss() {
        int[] t = {0, 5, 6, 5, 6};
        assertArrayEquals(new double[][] {{0, 0, 0, 0, 0}, {1, 0, 0, 0, 0}, {0, 1, 0, 0, 0}, {0, 0, 1, 0, 0}, {0, 0, 0, 1, 0}},
                HeadDetector.previousTokenPattern(t));
        assertArrayEquals(new double[][] {{0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0, 1, 0, 0, 0}, {0, 0, 1, 0, 0}},
                HeadDetector.duplicateTokenPattern(t));
        assertArrayEquals(new double[][] {{0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0, 0, 1, 0, 0}, {0, 0, 0, 1, 0}},
                HeadDetector.inductionPattern(t));
    }

    // ---------------------------------------------------------------- planted heads

    static final int V = 10, C = 32, D = V + C + V, DH = V + C, H = 3;
    static final double SHARP = 13;   // one-hot query/key scale: scores of SHARP² / sqrt(d_head) ≈ 26 saturate the softmax

    /**
     * Two attention-only layers without LayerNorm, residual = [token one-hot | position one-hot | previous-token slot]:
     * L0H0 attends from position i to i-1 (positions) and copies that token into the previous-token slot; L0H1 attends
     * to earlier copies of its own token (token match, its own position pushed down); L1H0 matches the current token
     * against the previous-token slot: induction. Every other head has zero weights (uniform attention, no output).
     */
    static HookedTransformer plantedModel() {
        Config cfg = new Config();
        cfg.modelName = "planted";
        cfg.nLayers = 2;
        cfg.dModel = D;
        cfg.nCtx = C;
        cfg.dHead = DH;
        cfg.nHeads = H;
        cfg.dMlp = 4;
        cfg.dVocab = V;
        cfg.attnOnly = true;
        cfg.normalizationType = null;
        cfg.defaultPrependBos = false;
        cfg.validate();
        float[][] wq = new float[2][H * D * DH], wk = new float[2][H * D * DH], wv = new float[2][H * D * DH], wo = new float[2][H * DH * D];
        float c = (float) SHARP;
        for (int p = 0; p < C; p++) {                                   // L0H0: query position p meets key position p - 1
            wq[0][idx(0, V + p, p)] = c;
            if (p + 1 < DH) wk[0][idx(0, V + p, p + 1)] = c;
        }
        for (int t = 0; t < V; t++) {
            wv[0][idx(0, t, t)] = 1;                                     // L0H0 copies the token ...
            wo[0][(0 * DH + t) * D + V + C + t] = 1;                     // ... into the previous-token slot
            wq[0][idx(1, t, t)] = c;                                     // L0H1: same token ...
            wk[0][idx(1, t, t)] = c;
            wq[1][idx(0, t, t)] = c;                                     // L1H0: current token meets previous-token slot
            wk[1][idx(0, V + C + t, t)] = c;
        }
        for (int p = 0; p < C; p++) {                                   // ... but not the own position
            wq[0][idx(1, V + p, V + p)] = c;
            wk[0][idx(1, V + p, V + p)] = -2 * c;
        }
        float[] we = new float[V * D], wpos = new float[C * D], wu = new float[D * V];
        for (int t = 0; t < V; t++) { we[t * D + t] = 1; wu[t * V + t] = 1; }
        for (int p = 0; p < C; p++) wpos[p * D + V + p] = 1;
        Weights w = new Weights();
        w.put("embed.W_E", Tensor.of(we, V, D));
        w.put("pos_embed.W_pos", Tensor.of(wpos, C, D));
        for (int l = 0; l < 2; l++) {
            w.put(Weights.attn(l, "W_Q"), Tensor.of(wq[l], H, D, DH));
            w.put(Weights.attn(l, "W_K"), Tensor.of(wk[l], H, D, DH));
            w.put(Weights.attn(l, "W_V"), Tensor.of(wv[l], H, D, DH));
            w.put(Weights.attn(l, "W_O"), Tensor.of(wo[l], H, DH, D));
            for (String b : new String[] {"b_Q", "b_K", "b_V"}) w.put(Weights.attn(l, b), Tensor.zeros(H, DH));
            w.put(Weights.attn(l, "b_O"), Tensor.zeros(D));
        }
        w.put("unembed.W_U", Tensor.of(wu, D, V));
        w.put("unembed.b_U", Tensor.zeros(V));
        return new HookedTransformer(cfg, w);
    }

    private static int idx(int head, int row, int col) { return (head * D + row) * DH + col; }

    /** BOS-like token 0, then tokens 1..9 in a shuffled order, twice (no repeats within a half). */
    static int[] repeatedPermutation(long seed) {
        int half = V - 1;
        int[] perm = new int[half];
        for (int i = 0; i < half; i++) perm[i] = i + 1;
        java.util.Random r = new java.util.Random(seed);
        for (int i = half - 1; i > 0; i--) { int j = r.nextInt(i + 1), x = perm[i]; perm[i] = perm[j]; perm[j] = x; }
        int[] t = new int[1 + 2 * half];
        for (int i = 0; i < half; i++) t[1 + i] = t[1 + half + i] = perm[i];
        return t;
    }

    @Test
    void findsThePlantedHeads() {
        long before = Tensor.liveBytes();
        int[] tokens = repeatedPermutation(7);
        int n = tokens.length, half = (n - 1) / 2;
        try (HookedTransformer model = plantedModel()) {
            double[][][] s = HeadDetector.detectHeads(model, tokens, new double[][][] {HeadDetector.previousTokenPattern(tokens),
                    HeadDetector.duplicateTokenPattern(tokens), HeadDetector.inductionPattern(tokens)}, Options.defaults());
            // the best a head can score with "mul" is the share of query rows that have any detected key
            double prevMax = (n - 1.0) / n, dupMax = (double) half / n;
            assertPlanted(s[0], 0, 0, 0.97 * prevMax, "previous-token");
            assertPlanted(s[1], 0, 1, 0.97 * dupMax, "duplicate-token");
            assertPlanted(s[2], 1, 0, 0.97 * dupMax, "induction");
            // "abs": the previous-token head misses only row 0 (attends to itself, where the pattern has nothing)
            double[][] abs = HeadDetector.detectHead(model, tokens, HeadName.PREVIOUS_TOKEN_HEAD, Options.defaults().errorMeasure(ErrorMeasure.ABS));
            assertEquals(1 - 1.0 / n, abs[0][0], 0.01);
            assertPlanted(abs, 0, 0, 0.9, "previous-token (abs)");
            // restricted to chosen heads: the others are -1, as TL
            boolean[][] only = new boolean[2][H];
            only[1][0] = true;
            double[][] ind = HeadDetector.detectHead(model, tokens, HeadName.INDUCTION_HEAD, Options.defaults().heads(only));
            assertEquals(s[2][1][0], ind[1][0], 1e-12);
            assertEquals(-1, ind[0][0]);
            assertEquals(-1, ind[1][2]);
        }
        assertEquals(before, Tensor.liveBytes());
    }

    private static void assertPlanted(double[][] scores, int layer, int head, double atLeast, String what) {
        assertTrue(scores[layer][head] >= atLeast, what + " head L" + layer + "H" + head + " scores " + scores[layer][head] + " < " + atLeast);
        for (int l = 0; l < scores.length; l++)
            for (int h = 0; h < scores[l].length; h++)
                if (l != layer || h != head)
                    assertTrue(scores[l][h] < scores[layer][head] - 0.2, what + ": L" + l + "H" + h + " scores " + scores[l][h]
                            + ", too close to the planted head's " + scores[layer][head]);
    }

    @Test
    void badInputIsRefusedWithAMessage() {
        try (HookedTransformer model = plantedModel()) {
            var e = assertThrows(IllegalArgumentException.class, () -> HeadDetector.detectHead(model, new int[] {1}, HeadName.INDUCTION_HEAD, null));
            assertTrue(e.getMessage().contains("1 < length < n_ctx"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> HeadDetector.detectHead(model, new int[C], HeadName.INDUCTION_HEAD, null),
                    "n_ctx tokens are too many for TL's detect_head");
            e = assertThrows(IllegalArgumentException.class, () -> HeadDetector.detectHead(model, new int[] {1, 2, V}, HeadName.INDUCTION_HEAD, null));
            assertTrue(e.getMessage().contains("token id " + V), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> HeadDetector.detectHead(model, new int[] {1, 2, 3},
                    new double[][] {{0, 1, 0}, {0, 0, 0}, {0, 0, 0}}, null));
            assertTrue(e.getMessage().contains("lower triangular"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> HeadDetector.detectHead(model, new int[] {1, 2, 3}, new double[2][2], null));
            assertThrows(IllegalArgumentException.class, () -> HeadDetector.detectHead(model, new int[] {1, 2, 3},
                    new double[][] {{0, 0, 0}, {Double.NaN, 0, 0}, {0, 0, 0}}, null));
            assertThrows(IllegalArgumentException.class, () -> HeadDetector.detectHead(model, new int[] {1, 2, 3}, HeadName.INDUCTION_HEAD,
                    Options.defaults().heads(new boolean[1][H])));
        }
    }
}
