package dev.lens4j.model;

import dev.lens4j.load.RandomWeights;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** A cache holds only what was asked for; nothing else outlives the forward pass. */
class CacheMemoryTest {
    @Test
    void cachingOnlyMlpPostKeepsNothingElse() {
        Config cfg = RandomWeights.gpt2Config(3, 32, 4, 50, 16);
        try (HookedTransformer m = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 3))) {
            int[][] tokens = {{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}};
            long before = Tensor.liveBytes();
            try (var out = m.run(tokens, new HookedTransformer.RunOptions().cacheRegex("mlp\\.hook_post$"))) {
                assertEquals(cfg.nLayers, out.cache().size());
                long expectedCache = (long) cfg.nLayers * 2 * 6 * cfg.dMlp * 4;
                long logits = 2L * 6 * cfg.dVocab * 4;
                assertEquals(expectedCache, out.cache().bytes());
                assertEquals(expectedCache + logits, Tensor.liveBytes() - before,
                        "native memory held after the run must be exactly the cache plus the logits");
            }
            assertEquals(before, Tensor.liveBytes());
        }
    }

    @Test
    void lastPositionCacheHoldsOnePosition() {
        Config cfg = RandomWeights.gpt2Config(2, 32, 4, 50, 16);
        try (HookedTransformer m = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 4))) {
            long before = Tensor.liveBytes();
            try (var out = m.run(new int[][] {{1, 2, 3, 4, 5}}, new HookedTransformer.RunOptions().cacheAll()
                    .cachePositions(dev.lens4j.hooks.Positions.last()).noLogits(true))) {
                assertArrayEquals(new long[] {1, 1, 32}, out.cache().get("blocks.1.hook_resid_post").shape());
                assertArrayEquals(new long[] {1, 4, 1, 5}, out.cache().get("blocks.0.attn.hook_pattern").shape());
                assertNull(out.logits());
                assertEquals(out.cache().bytes(), Tensor.liveBytes() - before);
            }
        }
    }
}
