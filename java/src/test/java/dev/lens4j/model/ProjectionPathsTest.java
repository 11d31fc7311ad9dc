package dev.lens4j.model;

import dev.lens4j.load.RandomWeights;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Q/K/V are projected by one GEMM from a per-pass repack of the weights when a run has at least MIN_ROWS_TO_REPACK
 * rows, and by one GEMM per head below that (the path the oracle parity tests, with their short prompts, check). A
 * batch above the threshold must give each row the logits of that row run alone, below it. The backward follows the
 * forward's choice: the batch's weight gradients (fused dW, dIn = dOut W^T from the repack) must be the sum of each row's
 * alone (per-head GEMMs), and its residual gradients each row's own.
 */
class ProjectionPathsTest {
    static final int B = 4, S = 24;

    @Test void repackedAndPerHeadProjectionsAgree() {
        assertTrue((long) B * S >= HookedTransformer.MIN_ROWS_TO_REPACK && S < HookedTransformer.MIN_ROWS_TO_REPACK,
                "the batch takes the repacked path, each row alone the per-head path");
        Config gpt2 = RandomWeights.gpt2Config(2, 32, 4, 50, 32);
        Config gqa = RandomWeights.llamaConfig(2, 32, 4, 2, 48, 50, 32);
        try (HookedTransformer a = new HookedTransformer(gpt2, RandomWeights.gpt2(gpt2, 3));
             HookedTransformer b = new HookedTransformer(gqa, RandomWeights.llama(gqa, 4))) {
            for (HookedTransformer m : new HookedTransformer[] {a, b}) check(m);
        }
    }

    @Test void repackedAndPerHeadProjectionBackwardsAgree() {
        Config gpt2 = RandomWeights.gpt2Config(2, 32, 4, 50, 32);
        Config gqa = RandomWeights.llamaConfig(2, 32, 4, 2, 48, 50, 32);
        try (HookedTransformer a = new HookedTransformer(gpt2, RandomWeights.gpt2(gpt2, 5));
             HookedTransformer b = new HookedTransformer(gqa, RandomWeights.llama(gqa, 6))) {
            for (HookedTransformer m : new HookedTransformer[] {a, b}) checkBackward(m);
        }
    }

    private static void checkBackward(HookedTransformer m) {
        int V = m.cfg().dVocab;
        SplittableRandom rng = new SplittableRandom(9);
        int[][] tokens = new int[B][S];
        int[] answers = new int[B], wrongs = new int[B];
        for (int r = 0; r < B; r++) {
            for (int j = 0; j < S; j++) tokens[r][j] = rng.nextInt(V);
            answers[r] = rng.nextInt(V);
            wrongs[r] = (answers[r] + 1 + rng.nextInt(V - 1)) % V;
        }
        String resid = "blocks.0.hook_resid_pre";
        var opts = new HookedTransformer.RunOptions().allWeightGrads().cacheGradNames(resid);
        try (HookedTransformer.Gradients batch = m.backward(tokens, Metrics.logitDiff(answers, wrongs), opts)) {
            Map<String, double[]> sum = new TreeMap<>();
            float[] batchResid = batch.grads().get(resid).toFloatArray();
            for (int r = 0; r < B; r++) {
                var one = new HookedTransformer.RunOptions().allWeightGrads().cacheGradNames(resid);
                try (HookedTransformer.Gradients alone = m.backward(new int[][] {tokens[r]},
                        Metrics.logitDiff(new int[] {answers[r]}, new int[] {wrongs[r]}), one)) {
                    for (String name : alone.weightGrads().names()) {
                        float[] g = alone.weightGrads().get(name).toFloatArray();
                        double[] acc = sum.computeIfAbsent(name, k -> new double[g.length]);
                        for (int i = 0; i < g.length; i++) acc[i] += g[i];
                    }
                    float[] own = alone.grads().get(resid).toFloatArray();
                    assertClose(own, Arrays.copyOfRange(batchResid, r * own.length, (r + 1) * own.length), resid + " row " + r);
                }
            }
            assertTrue(sum.containsKey("blocks.0.attn.W_Q") && (sum.containsKey("blocks.1.attn.W_V") || sum.containsKey("blocks.1.attn._W_V")),
                    sum.keySet().toString());
            for (var e : sum.entrySet()) {
                float[] want = new float[e.getValue().length];
                for (int i = 0; i < want.length; i++) want[i] = (float) e.getValue()[i];
                assertClose(want, batch.weightGrads().get(e.getKey()).toFloatArray(), e.getKey());
            }
        }
    }

    private static void assertClose(float[] want, float[] got, String what) {
        double maxAbs = 0;
        for (float x : want) maxAbs = Math.max(maxAbs, Math.abs(x));
        assertTrue(maxAbs > 0, what + " is all zero");
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-5 * Math.max(1, maxAbs), what + ", element " + i);
    }

    private static void check(HookedTransformer m) {
        int V = m.cfg().dVocab;
        SplittableRandom rng = new SplittableRandom(7);
        int[][] tokens = new int[B][S];
        for (int[] row : tokens) for (int j = 0; j < S; j++) row[j] = rng.nextInt(V);
        try (Tensor batch = m.forward(tokens)) {
            float[] all = batch.toFloatArray();
            for (int r = 0; r < B; r++)
                try (Tensor alone = m.forward(new int[][] {tokens[r]})) {
                    float[] one = alone.toFloatArray();
                    double maxAbs = 0;
                    for (float x : one) maxAbs = Math.max(maxAbs, Math.abs(x));
                    for (int i = 0; i < one.length; i++)
                        assertEquals(one[i], all[r * S * V + i], 1e-5 * Math.max(1, maxAbs), "row " + r + ", element " + i);
                }
        }
    }
}
