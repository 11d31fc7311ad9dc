package dev.lens4j.model;

import dev.lens4j.hooks.HookNames;
import dev.lens4j.oracle.TinyModels;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.lens4j.model.BackwardFiniteDifferenceTest.TOKENS;
import static dev.lens4j.model.BackwardFiniteDifferenceTest.argmaxAbs;
import static dev.lens4j.model.BackwardFiniteDifferenceTest.metricWithNudge;
import static dev.lens4j.model.BackwardFiniteDifferenceTest.value;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The reverse pass through the new block features against central finite differences of the whole model: parallel
 * attention + MLP (NeoX), and Gemma 2's post norms, soft-capped scores and logits and sliding windows (the window
 * is 3 of TOKENS' 5 positions, so layer 0 masks keys). Exact parity with autograd is in the oracle tests.
 */
class FamilyFeaturesFiniteDifferenceTest {
    static HookedTransformer model(String label) {
        TinyModels.Tiny t = TinyModels.build(label, 99);
        return new HookedTransformer(t.cfg(), t.weights());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gemma2-like", "neox-parallel"})
    void hookPointGradientsMatchFiniteDifferences(String label) {
        try (HookedTransformer m = model(label)) {
            Metric metric = Metrics.logitDiff(new int[] {3, 5}, new int[] {4, 6});
            List<String> names = new java.util.ArrayList<>(List.of(HookNames.residPre(0), HookNames.attnScores(0), HookNames.pattern(0),
                HookNames.z(1), HookNames.attnOut(0), HookNames.mlpOut(1), HookNames.mlpPre(1), HookNames.EMBED));
            if (m.cfg().useNormalizationBeforeAndAfter) names.addAll(List.of("blocks.0.ln1_post.hook_normalized", "blocks.1.ln2_post.hook_normalized"));
            try (var g = m.backward(TOKENS, metric, new HookedTransformer.RunOptions().cacheAllGrads())) {
                java.util.SplittableRandom r = new java.util.SplittableRandom(3);
                for (String name : names) {
                    float[] gv = g.grads().get(name).toFloatArray();
                    for (int trial = 0; trial < 2; trial++) {
                        // scores and pattern: the largest entry (masked ones have no gradient to check)
                        int i = name.contains("attn.hook_") ? argmaxAbs(gv) : r.nextInt(gv.length);
                        double eps = 1e-2;
                        double fd = (metricWithNudge(m, metric, name, i, eps) - metricWithNudge(m, metric, name, i, -eps)) / (2 * eps);
                        assertEquals(fd, gv[i], 2e-3 + 2e-2 * Math.abs(fd), label + " " + name + "[" + i + "]");
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gemma2-like", "neox-parallel"})
    void weightGradientsMatchFiniteDifferences(String label) {
        try (HookedTransformer m = model(label)) {
            Metric metric = Metrics.crossEntropyLast(new int[] {3, 9});
            List<String> names = new java.util.ArrayList<>(List.of("blocks.0.attn.W_Q", "blocks.1.mlp.W_in", "unembed.W_U", "embed.W_E"));
            if (m.cfg().useNormalizationBeforeAndAfter) names.addAll(List.of("blocks.0.ln1_post.w", "blocks.1.ln2_post.w"));
            try (var g = m.backward(TOKENS, metric, new HookedTransformer.RunOptions().weightGrads(names::contains))) {
                java.util.SplittableRandom r = new java.util.SplittableRandom(4);
                for (String name : names) {
                    Tensor wt = m.weights().get(name);
                    float[] gv = g.weightGrads().get(name).toFloatArray();
                    int i = name.equals("embed.W_E") ? argmaxAbs(gv) : r.nextInt(gv.length); // only used tokens' rows move
                    float[] orig = wt.toFloatArray(), v = orig.clone();
                    double eps = 1e-2;
                    v[i] = (float) (orig[i] + eps); wt.set(v); m.weightsChanged();
                    double up = value(m, metric);
                    v[i] = (float) (orig[i] - eps); wt.set(v); m.weightsChanged();
                    double down = value(m, metric);
                    wt.set(orig); m.weightsChanged();
                    double fd = (up - down) / (2 * eps);
                    assertEquals(fd, gv[i], 2e-3 + 2e-2 * Math.abs(fd), label + " d/d " + name + "[" + i + "]");
                }
            }
        }
    }

    @Test
    void gemma2BackwardLeaksNothingAndFromConfigBuildsPostNorms() {
        try (HookedTransformer m = model("gemma2-like")) {
            long before = Tensor.liveBytes();
            for (int i = 0; i < 3; i++)
                try (var g = m.backward(TOKENS, Metrics.logitDiff(1, 2), new HookedTransformer.RunOptions().cacheAllGrads().cacheAll().allWeightGrads())) {
                    assertEquals(HookNames.all(m.cfg()).size(), g.grads().size());
                }
            assertEquals(before, Tensor.liveBytes());
        }
        try (HookedTransformer m = HookedTransformer.fromConfig(TinyModels.configs().get("gemma2-like").get())) {
            assertArrayEquals(new long[] {48}, m.weights().get("blocks.2.ln2_post.w").shape());
        }
    }
}
