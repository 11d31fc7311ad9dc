package dev.lens4j.model;

import dev.lens4j.hooks.Hooks;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A plain forward holds one block's buffers at a time: its peak native memory above the weights is the logits plus
 * one block's intermediates (bounds counted by hand from the shapes), whatever the depth; what a hook saw lives on.
 */
class ForwardMemoryTest {
    static final int B = 2, S = 16;

    /** Peak native bytes above what was live before one forward (tokens included), after a warm-up run. */
    static long forwardPeak(HookedTransformer m, int[][] tokens, HookedTransformer.RunOptions o) {
        m.run(tokens, o).close(); // warm-up: lazily built tables (rotary) belong to the model, not to the pass
        long before = Tensor.liveBytes();
        Tensor.resetPeakBytes();
        m.run(tokens, o).close();
        assertEquals(before, Tensor.liveBytes(), "the forward leaked native memory");
        return Tensor.peakBytes() - before;
    }

    static int[][] tokens(int vocab) {
        int[][] t = new int[B][S];
        for (int b = 0; b < B; b++) for (int p = 0; p < S; p++) t[b][p] = (b * 31 + p * 7) % vocab;
        return t;
    }

    @Test
    void gpt2ForwardPeakIsLogitsPlusOneBlock() {
        int D = 32, V = 500;
        long N = (long) B * S, F = 4L * D;
        long logits = N * V * 4;
        // per block, in floats: input, ln1 out + scale, q k v z, attn_out, resid_mid, ln2 out + scale, pre, post, mlp_out, resid_post
        long block = N * (10L * D + 2 * F + 2) * 4;
        long tokenBytes = N * 4;
        long[] peaks = new long[2];
        int[] depths = {2, 8};
        for (int i = 0; i < 2; i++) {
            Config cfg = RandomWeights.gpt2Config(depths[i], D, 4, V, 32);
            try (HookedTransformer m = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 5))) {
                peaks[i] = forwardPeak(m, tokens(V), new HookedTransformer.RunOptions());
            }
            assertTrue(peaks[i] <= (long) (1.3 * logits) + block + tokenBytes,
                    depths[i] + " layers: peak " + peaks[i] + " B above the weights, bound " + ((long) (1.3 * logits) + block + tokenBytes));
            assertTrue(peaks[i] >= logits, "the peak must include the logits");
        }
        assertEquals(peaks[0], peaks[1], "the peak must not grow with depth");
    }

    @Test
    void llamaForwardPeakIsLogitsPlusOneBlock() {
        int D = 32, F = 80, V = 500;
        long N = (long) B * S;
        long logits = N * V * 4;
        // input, ln1 out + scale, q k v, rot q, rot k, z, attn_out, resid_mid, ln2 out + scale, gate, in, post, mlp_out, resid_post
        long block = N * (12L * D + 3L * F + 2) * 4;
        long[] peaks = new long[2];
        int[] depths = {2, 6};
        for (int i = 0; i < 2; i++) {
            Config cfg = RandomWeights.llamaConfig(depths[i], D, 4, 4, F, V, 32);
            try (HookedTransformer m = new HookedTransformer(cfg, RandomWeights.llama(cfg, 6))) {
                peaks[i] = forwardPeak(m, tokens(V), new HookedTransformer.RunOptions());
            }
            assertTrue(peaks[i] <= (long) (1.3 * logits) + block + N * 4, depths[i] + " layers: peak " + peaks[i]);
        }
        assertEquals(peaks[0], peaks[1], "the peak must not grow with depth");
    }

    @Test
    void lastPositionLogitsPeakIsOneBlock() {
        int D = 32, V = 500;
        long N = (long) B * S, F = 4L * D;
        Config cfg = RandomWeights.gpt2Config(6, D, 4, V, 32);
        try (HookedTransformer m = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 7))) {
            long peak = forwardPeak(m, tokens(V), new HookedTransformer.RunOptions().logitsLastOnly(true));
            long bound = N * (10L * D + 2 * F + 2) * 4 + B * (long) V * 4 + B * (long) D * 4 + N * 4;
            assertTrue(peak <= bound, "peak " + peak + " > " + bound);
        }
    }

    @Test
    void aTensorAHookSawSurvivesLaterBlocks() {
        Config cfg = RandomWeights.gpt2Config(4, 32, 4, 100, 32);
        try (HookedTransformer m = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 8))) {
            int[][] tokens = tokens(100);
            float[] expected;
            try (var run = m.run(tokens, new HookedTransformer.RunOptions().cacheNames("blocks.0.mlp.hook_post"))) {
                expected = run.cache().get("blocks.0.mlp.hook_post").toFloatArray();
            }
            Tensor[] kept = new Tensor[1];
            float[][] readLater = new float[1][];
            Hooks hooks = Hooks.none()
                    .add("blocks.0.mlp.hook_post", (t, hp) -> { kept[0] = t; return null; })
                    .add("blocks.3.hook_resid_post", (t, hp) -> { readLater[0] = kept[0].toFloatArray(); return null; });
            long before = Tensor.liveBytes();
            m.runWithHooks(tokens, hooks).close();
            assertArrayEquals(expected, readLater[0], "a hooked activation read three blocks later");
            assertEquals(before, Tensor.liveBytes());
        }
    }

    @Test
    void cachedActivationsOutliveTheirBlock() {
        Config cfg = RandomWeights.gpt2Config(3, 32, 4, 100, 32);
        try (HookedTransformer m = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 9))) {
            try (var all = m.run(tokens(100), new HookedTransformer.RunOptions().cacheAll());
                 var one = m.run(tokens(100), new HookedTransformer.RunOptions().cacheNames("blocks.0.hook_resid_mid"))) {
                assertArrayEquals(all.cache().get("blocks.0.hook_resid_mid").toFloatArray(),
                        one.cache().get("blocks.0.hook_resid_mid").toFloatArray());
                assertArrayEquals(all.logits().toFloatArray(), one.logits().toFloatArray());
            }
        }
    }
}
