package dev.lens4j.analysis;

import dev.lens4j.analysis.NeuronScoring.Prompt;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.model.Batches;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Seed 000's scoring over prompts of different lengths runs them in length-sorted, left-padded batches: every prompt's
 * scores, margin and ablation-free evaluation equal those of the prompt scored alone.
 */
class RaggedScoringTest {
    @Test void raggedPromptsScoreAsEachAlone() {
        for (boolean llama : new boolean[] {false, true}) {
            Config cfg = llama ? RandomWeights.llamaConfig(2, 32, 4, 2, 48, 40, 16) : RandomWeights.gpt2Config(2, 32, 4, 40, 16);
            try (HookedTransformer model = new HookedTransformer(cfg, llama ? RandomWeights.llama(cfg, 3) : RandomWeights.gpt2(cfg, 3))) {
                Random r = new Random(9);
                List<Prompt> prompts = new ArrayList<>();
                for (int i = 0; i < 11; i++) {
                    int[] t = new int[2 + r.nextInt(9)];
                    for (int j = 0; j < t.length; j++) t[j] = 3 + r.nextInt(cfg.dVocab - 3);
                    prompts.add(new Prompt(t, 1, 2, i % 2 == 0, "g" + i % 3));
                }
                NeuronScoring.Scores all = NeuronScoring.score(model, 1, prompts);
                double[] evalAll = NeuronScoring.evaluate(model, prompts, Hooks.none()).margins();
                float[] meanAll = NeuronScoring.meanActivations(model, 1, prompts);
                double[] meanSum = new double[meanAll.length];
                for (int i = 0; i < prompts.size(); i++) {
                    List<Prompt> one = List.of(prompts.get(i));
                    NeuronScoring.Scores alone = NeuronScoring.score(model, 1, one);
                    String what = (llama ? "llama" : "gpt2") + " prompt " + i + " (" + prompts.get(i).tokens().length + " tokens)";
                    assertEquals(alone.margin(0), all.margin(i), 1e-4, what + " margin");
                    assertArrayEquals(alone.c(0), all.c(i), 1e-4f * (1 + max(alone.c(0))), what + " c");
                    assertArrayEquals(alone.g(0), all.g(i), 1e-4f * (1 + max(alone.g(0))), what + " g");
                    assertEquals(NeuronScoring.evaluate(model, one, Hooks.none()).margins()[0], evalAll[i], 1e-4, what + " evaluation");
                    float[] m = NeuronScoring.meanActivations(model, 1, one);
                    for (int j = 0; j < m.length; j++) meanSum[j] += m[j];
                }
                for (int j = 0; j < meanAll.length; j++) assertEquals(meanSum[j] / prompts.size(), meanAll[j], 1e-4, "mean activation " + j);
            }
        }
    }

    @Test void byLengthSortsAndChunks() {
        List<int[]> seqs = List.of(new int[5], new int[2], new int[9], new int[2], new int[1]);
        List<int[]> b = Batches.byLength(seqs, 2);
        assertEquals(3, b.size());
        assertArrayEquals(new int[] {4, 1}, b.get(0));
        assertArrayEquals(new int[] {3, 0}, b.get(1));
        assertArrayEquals(new int[] {2}, b.get(2));
        assertThrows(IllegalArgumentException.class, () -> Batches.byLength(seqs, 0));
        assertEquals("[1, 2, 2, 5, 9]", Arrays.toString(b.stream().flatMapToInt(Arrays::stream).map(i -> seqs.get(i).length).toArray()));
    }

    private static float max(float[] v) {
        float m = 0;
        for (float x : v) m = Math.max(m, Math.abs(x));
        return m;
    }
}
