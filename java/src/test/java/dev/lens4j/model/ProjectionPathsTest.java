package dev.lens4j.model;

import dev.lens4j.load.RandomWeights;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Q/K/V are projected by one GEMM from a per-pass repack of the weights when a run has at least MIN_ROWS_TO_REPACK
 * rows, and by one GEMM per head below that (the path the oracle parity tests, with their short prompts, check). A
 * batch above the threshold must give each row the logits of that row run alone, below it.
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
