package dev.lens4j.oracle;

import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.hooks.Positions;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.HookedTransformer.Output;
import dev.lens4j.model.HookedTransformer.RunOptions;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input gives an exception whose message names the problem; the JVM never crashes; nothing leaks. */
class BadInputTest {

    static HookedTransformer model() {
        TinyModels.Tiny t = TinyModels.build("llama", 7);
        return new HookedTransformer(t.cfg(), t.weights());
    }

    static <T extends Throwable> void expect(Class<T> type, Executable run, String... fragments) {
        T e = assertThrows(type, run);
        for (String f : fragments)
            assertTrue(e.getMessage() != null && e.getMessage().contains(f), "message '" + e.getMessage() + "' should mention '" + f + "'");
    }

    @Test
    void badTokensPromptsAndBatches() {
        try (HookedTransformer m = model()) {
            long before = Tensor.liveBytes();
            int V = m.cfg().dVocab;
            expect(IllegalArgumentException.class, () -> m.runWithCache(new int[] {1, 2, V}), "token id " + V, "vocabulary");
            expect(IllegalArgumentException.class, () -> m.forward(new int[] {1, -3, 2}), "token id -3", "vocabulary");
            expect(IllegalArgumentException.class, () -> m.forward(new int[m.cfg().nCtx + 1]), "longer than", "n_ctx");
            expect(IllegalArgumentException.class, () -> m.forward(new int[] {1, 2, 3}, new int[] {1, 2}), "rectangular");
            expect(IllegalArgumentException.class, () -> m.forward(new int[0]), "empty");
            expect(IllegalArgumentException.class, () -> m.lossPerToken(new int[] {5}), "at least 2 tokens");
            expect(IllegalArgumentException.class, () -> m.run(new int[][] {{1, 2}}, new RunOptions().stopAtLayer(99)), "stop_at_layer");
            expect(IndexOutOfBoundsException.class, () -> m.run(new int[][] {{1, 2}}, new RunOptions().cacheAll().cachePositions(Positions.of(5))), "position 5");
            assertEquals(before, Tensor.liveBytes(), "failed runs leak nothing");
        }
    }

    @Test
    void hookReturningTheWrongShape() {
        try (HookedTransformer m = model()) {
            long before = Tensor.liveBytes();
            String n = HookNames.z(1);
            Hooks h = Hooks.none().add(n, (a, hp) -> Tensor.zeros(2, 3));
            expect(IllegalArgumentException.class, () -> m.runWithHooks(new int[][] {{1, 2, 3}}, h), "hook at " + n, "[2, 3]");
            Hooks nan = Hooks.none().add(HookNames.mlpPost(0), (a, hp) -> { throw new IllegalStateException("user hook failed"); });
            expect(IllegalStateException.class, () -> m.runWithHooks(new int[][] {{1, 2, 3}}, nan), "user hook failed");
            assertEquals(before, Tensor.liveBytes(), "failed runs leak nothing");
            try (Tensor ok = m.forward(new int[] {1, 2, 3})) { assertEquals(3, ok.size(1)); } // still usable
        }
    }

    @Test
    void closedWeightsAndClosedModel() {
        HookedTransformer m = model();
        String wq = "blocks.1.attn.W_Q";
        m.weights().get(wq).close();
        expect(IllegalStateException.class, () -> m.forward(new int[] {1, 2, 3}), wq, "closed");
        m.close();
        expect(IllegalStateException.class, () -> m.forward(new int[] {1, 2, 3}), "closed");
        m.close(); // idempotent
    }

    @Test
    void runWithCacheAndCloseDoesNotLeak() {
        try (HookedTransformer m = model()) {
            int[][] tokens = TinyModels.tokens(3, 2, 7, m.cfg().dVocab);
            try (Output warm = m.runWithCache(tokens)) { assertTrue(warm.cache().size() > 0); }
            long before = Tensor.liveBytes(), count = Tensor.liveCount();
            for (int i = 0; i < 20; i++) {
                RunOptions o = new RunOptions().cacheAll();
                if (i % 4 == 1) o.cachePositions(Positions.last());
                if (i % 4 == 2) o.hooks(Hooks.none().add(HookNames.pattern(0), (a, hp) -> a.copy()));
                if (i % 4 == 3) o.stopAtLayer(2);
                try (Output out = m.runWithCache(tokens, o)) {
                    assertTrue(out.cache().bytes() > 0);
                }
            }
            assertEquals(before, Tensor.liveBytes(), "liveBytes after 20 runWithCache + close");
            assertEquals(count, Tensor.liveCount(), "liveCount after 20 runWithCache + close");
        }
    }
}
