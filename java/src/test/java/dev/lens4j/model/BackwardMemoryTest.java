package dev.lens4j.model;

import dev.lens4j.hooks.Hooks;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The reverse pass holds one block's gradients at a time: each extra layer adds only what its forward keeps for the
 * backward (counted by hand from the shapes), not its gradients too; a gradient a backward hook saw lives on.
 */
class BackwardMemoryTest {
    static final int B = 2, S = 16, D = 32, H = 4, V = 200;

    static long backwardPeak(int layers) {
        Config cfg = RandomWeights.gpt2Config(layers, D, H, V, 32);
        try (HookedTransformer m = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 11))) {
            int[][] tokens = ForwardMemoryTest.tokens(V);
            Metric metric = Metrics.logitDiff(new int[] {3, 4}, new int[] {5, 6});
            m.backward(tokens, metric, new HookedTransformer.RunOptions()).close(); // warm-up
            long before = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            m.backward(tokens, metric, new HookedTransformer.RunOptions()).close();
            assertEquals(before, Tensor.liveBytes(), "the backward leaked native memory");
            return Tensor.peakBytes() - before;
        }
    }

    @Test
    void eachLayerAddsOnlyItsTape() {
        long N = (long) B * S, F = 4L * D;
        // per layer, in floats: ln1 out + scale, q k v, pattern, z, attn_out, resid_mid, ln2 out + scale, pre, post, mlp_out, resid_post
        long tapePerLayer = (N * (10L * D + 2 * F + 2) + (long) B * H * S * S) * 4;
        long growth = backwardPeak(8) - backwardPeak(2);
        assertTrue(growth <= 6 * tapePerLayer, "6 more layers added " + growth + " B at the peak, their tape is " + 6 * tapePerLayer + " B");
        assertTrue(growth >= 6 * tapePerLayer * 9 / 10, "the tape of 6 more layers must show: " + growth + " B");
    }

    @Test
    void aGradientABackwardHookSawSurvivesLaterBlocks() {
        Config cfg = RandomWeights.gpt2Config(4, D, H, V, 32);
        try (HookedTransformer m = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 12))) {
            int[][] tokens = ForwardMemoryTest.tokens(V);
            Metric metric = Metrics.logitDiff(new int[] {3, 4}, new int[] {5, 6});
            float[] expected;
            try (var g = m.backward(tokens, metric, new HookedTransformer.RunOptions().cacheGradNames("blocks.3.mlp.hook_post"))) {
                expected = g.grads().get("blocks.3.mlp.hook_post").toFloatArray();
            }
            Tensor[] kept = new Tensor[1];
            float[][] readLater = new float[1][];
            Hooks bwd = Hooks.none()
                    .add("blocks.3.mlp.hook_post", (t, hp) -> { kept[0] = t; return null; })
                    .add("blocks.0.hook_resid_pre", (t, hp) -> { readLater[0] = kept[0].toFloatArray(); return null; });
            m.backward(tokens, metric, new HookedTransformer.RunOptions().bwdHooks(bwd)).close();
            assertArrayEquals(expected, readLater[0], "a hooked gradient read three blocks further back");
        }
    }
}
