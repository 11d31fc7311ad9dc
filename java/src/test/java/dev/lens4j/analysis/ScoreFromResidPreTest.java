package dev.lens4j.analysis;

import dev.lens4j.analysis.NeuronScoring.Prompt;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.load.Checkpoint;
import dev.lens4j.load.HfCheckpoint;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.HookedTransformer.RunOptions;
import dev.lens4j.model.Metric;
import dev.lens4j.oracle.HfTestCheckpoints;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Backward from a cached residual (start_at_layer) and neuron scoring run only from the last block's input, on a
 * tiny Gemma 2 (soft caps, sliding window, pre/post norms): the gradient matches central finite differences of the
 * forward pass, and the scores equal those of the whole-model forward + backward.
 */
class ScoreFromResidPreTest {
    static final int YES = 5, NO = 9;
    @TempDir static Path tmp;
    static HookedTransformer model;
    static int L, D;

    @BeforeAll static void load() throws Exception {
        HfTestCheckpoints.gemma2(tmp.resolve("gemma2"), 3, DType.F32);
        Checkpoint ck = HfCheckpoint.load(tmp.resolve("gemma2"));
        model = new HookedTransformer(ck.config(), ck.weights());
        L = model.cfg().nLayers;
        D = model.cfg().dModel;
    }

    @AfterAll static void close() { model.close(); }

    /** sum over rows of logit(yes) - logit(no) at the last position. */
    static final Metric DIFF = (lg, B, P, V, grad) -> {
        double s = 0;
        for (int b = 0; b < B; b++) {
            int off = (b * P + P - 1) * V;
            s += lg[off + YES] - lg[off + NO];
            grad[off + YES] += 1;
            grad[off + NO] -= 1;
        }
        return s;
    };

    static int[][] tokens(Random r, int B, int S) {
        int[][] t = new int[B][S];
        for (int[] row : t) for (int s = 0; s < S; s++) row[s] = 3 + r.nextInt(50);
        return t;
    }

    static float[] residPre(int[][] toks, int layer) {
        String name = HookNames.residPre(layer);
        try (var o = model.run(toks, new RunOptions().cacheNames(name).logitsLastOnly(true))) {
            return o.cache().get(name).toFloatArray();
        }
    }

    static double forwardFrom(int layer, float[] resid, int B, int S) {
        try (Tensor r = Tensor.of(resid, B, S, D);
             var o = model.run((int[][]) null, new RunOptions().startAtLayer(layer, r).logitsLastOnly(true))) {
            float[] lg = o.logits().toFloatArray();
            int V = (int) o.logits().size(2);
            double s = 0;
            for (int b = 0; b < B; b++) s += lg[b * V + YES] - lg[b * V + NO];
            return s;
        }
    }

    @Test void backwardFromResidualMatchesFiniteDifferencesAndTheFullBackward() {
        long live = Tensor.liveBytes();
        int B = 2, S = 7, start = L - 2;
        int[][] toks = tokens(new Random(1), B, S);
        float[] r0 = residPre(toks, start);
        String pre = HookNames.residPre(start), post = HookNames.residPost(L - 1);
        float[] gPre, gPost, fullPre, fullPost;
        try (Tensor r = Tensor.of(r0, B, S, D);
             var g = model.backward((int[][]) null, DIFF, new RunOptions().startAtLayer(start, r).cacheGrads(n -> n.equals(pre) || n.equals(post)))) {
            gPre = g.grads().get(pre).toFloatArray();
            gPost = g.grads().get(post).toFloatArray();
        }
        try (var g = model.backward(toks, DIFF, new RunOptions().cacheGrads(n -> n.equals(pre) || n.equals(post)))) {
            fullPre = g.grads().get(pre).toFloatArray();
            fullPost = g.grads().get(post).toFloatArray();
        }
        assertArrayEquals(fullPost, gPost, 1e-5f * max(fullPost));
        assertArrayEquals(fullPre, gPre, 1e-5f * max(fullPre));
        // central differences of the forward from the same residual, at positions the last token attends to and the last
        double eps = 1e-2;
        for (int[] bsd : new int[][] {{0, S - 1, 3}, {1, S - 1, 17}, {0, S - 3, 8}, {1, 4, 30}}) {
            int i = (bsd[0] * S + bsd[1]) * D + bsd[2];
            float[] up = r0.clone(), down = r0.clone();
            up[i] += (float) eps;
            down[i] -= (float) eps;
            double fd = (forwardFrom(start, up, B, S) - forwardFrom(start, down, B, S)) / (2 * eps);
            assertEquals(fd, gPre[i], 2e-2 * Math.max(1, Math.abs(fd)), "d metric / d resid_pre at " + java.util.Arrays.toString(bsd));
        }
        assertTrue(Math.abs(gPre[(S - 3) * D + 8]) > 1e-4, "an earlier position's gradient is not trivially zero");
        assertEquals(live, Tensor.liveBytes(), "no native bytes left behind");
    }

    @Test void scoresFromTheLastBlocksInputEqualTheWholeModelsScores() {
        Random r = new Random(2);
        List<Prompt> prompts = new ArrayList<>();
        List<int[]> batches = new ArrayList<>();
        List<float[]> cached = new ArrayList<>();
        int i = 0;
        for (int S : new int[] {6, 9, 9}) { // lengths past the sliding window of 4; two batches of one length
            int[][] toks = tokens(r, 3, S);
            int[] b = new int[3];
            for (int k = 0; k < 3; k++) { prompts.add(new Prompt(toks[k], YES, NO, (i + k) % 2 == 0, "g" + S)); b[k] = i + k; }
            i += 3;
            batches.add(b);
            cached.add(residPre(toks, L - 1));
        }
        long live = Tensor.liveBytes();
        NeuronScoring.Scores full = NeuronScoring.score(model, L - 1, prompts);
        NeuronScoring.Scores last = NeuronScoring.scoreFromResidPre(model, L - 1, prompts, batches, cached);
        assertEquals(live, Tensor.liveBytes(), "no native bytes left behind");
        for (int p = 0; p < prompts.size(); p++) {
            float[] c = full.c(p), g = full.g(p);
            assertArrayEquals(c, last.c(p), 1e-4f * max(c), "c of prompt " + p);
            assertArrayEquals(g, last.g(p), 1e-4f * max(g), "g of prompt " + p);
            assertEquals(full.margin(p), last.margin(p), 1e-4 * Math.max(1, Math.abs(full.margin(p))), "margin of prompt " + p);
        }
        assertArrayEquals(full.mostHarmful(5), last.mostHarmful(5));
        assertTrue(max(full.c(0)) > 0, "scores are not all zero");
    }

    @Test void mismatchedCachesAreOneLineErrors() {
        int[][] toks = tokens(new Random(3), 2, 5);
        List<Prompt> prompts = List.of(new Prompt(toks[0], YES, NO, true, "a"), new Prompt(toks[1], YES, NO, false, "a"));
        float[] r = residPre(toks, L - 1);
        long live = Tensor.liveBytes();
        var e = assertThrows(IllegalArgumentException.class,
                () -> NeuronScoring.scoreFromResidPre(model, L - 1, prompts, List.of(new int[] {0, 1}), List.of(java.util.Arrays.copyOf(r, r.length - 1))));
        assertTrue(e.getMessage().contains("cached residual of batch 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> NeuronScoring.scoreFromResidPre(model, L - 1, prompts, List.of(new int[] {0}), List.of(java.util.Arrays.copyOf(r, r.length / 2))));
        assertTrue(e.getMessage().contains("prompt 1 is in no batch"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> NeuronScoring.scoreFromResidPre(model, L - 1, prompts, List.of(new int[] {0, 1}), List.of()));
        assertTrue(e.getMessage().contains("1 batches but 0 cached residuals"), e.getMessage());
        assertEquals(live, Tensor.liveBytes(), "no native bytes left behind");
    }

    static float max(float[] v) {
        float m = 0;
        for (float x : v) m = Math.max(m, Math.abs(x));
        return m;
    }
}
