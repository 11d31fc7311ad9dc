package dev.lens4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/** Rotary tables cover the positions runs use, not the n_ctx a config declares (which may be 10^9). */
class RotaryTablesTest {
    @TempDir Path tmp;

    private static Config rotary(int nCtx) { return RandomWeights.llamaConfig(1, 16, 4, 2, 24, 37, nCtx); }

    @Test
    void tablesGrowOnDemandWithTheSameValuesAndFreeEverythingOnClose() {
        long before = Tensor.liveBytes();
        Config cfg = rotary(100_000);
        try (RotaryTables t = new RotaryTables(cfg)) {
            int first = t.positions();
            assertEquals(2048, first, "built up front for ordinary prompts only");
            float[] small = t.covering(10)[0].toFloatArray();
            Tensor[] grown = t.covering(3000);
            assertTrue(t.positions() >= 3000 && t.positions() <= 100_000, "grew to " + t.positions());
            float[] cos = grown[0].toFloatArray(), sin = grown[1].toFloatArray();
            assertArrayEquals(small, Arrays.copyOf(cos, small.length), "positions already covered keep their values");
            int half = cfg.rotaryDim() / 2, p = 2999;
            for (int i = 0; i < half; i++) {
                double angle = p / Math.pow(cfg.rotaryBase, (double) i / half);
                assertEquals((float) Math.cos(angle), cos[p * half + i]);
                assertEquals((float) Math.sin(angle), sin[p * half + i]);
            }
            assertThrows(IllegalArgumentException.class, () -> t.covering(100_001));
        }
        assertEquals(before, Tensor.liveBytes(), "current and retired tables are freed");
    }

    @Test
    void smallContextBuildsOnlyItsPositions() {
        try (RotaryTables t = new RotaryTables(rotary(12))) {
            assertEquals(12, t.positions());
        }
    }

    /** A Hugging Face Llama directory whose config.json declares max_position_embeddings = nCtx. */
    private Path llamaWithContext(long nCtx) throws Exception {
        Path d = TestCheckpoints.llama(tmp.resolve("ctx" + nCtx), 1);
        ObjectMapper json = new ObjectMapper();
        ObjectNode cfg = (ObjectNode) json.readTree(d.resolve("config.json").toFile());
        cfg.put("max_position_embeddings", nCtx);
        Files.writeString(d.resolve("config.json"), json.writeValueAsString(cfg));
        return d;
    }

    private static float[] logits(Path dir, int[] tokens) {
        try (HookedTransformer m = HookedTransformer.fromPretrained(dir); var o = m.run(new int[][] {tokens}, new HookedTransformer.RunOptions())) {
            return o.logits().toFloatArray();
        }
    }

    @Test
    void hugeDeclaredContextLoadsAndRunsAtOnceWithTheSameLogits() throws Exception {
        int[] tokens = {1, 5, 9, 2, 7};
        float[] reference = logits(llamaWithContext(12), tokens);
        for (long nCtx : new long[] {500_000_000L, 1_000_000_000L, Integer.MAX_VALUE}) {
            Path d = llamaWithContext(nCtx);
            long before = Tensor.liveBytes();
            float[] got = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> logits(d, tokens), "n_ctx " + nCtx);
            assertArrayEquals(reference, got, "n_ctx " + nCtx);
            assertEquals(before, Tensor.liveBytes());
        }
    }

    @Test
    void promptsBeyondTheInitialTablesRunAndAgreeOnTheirPrefix() {
        Config cfg = rotary(5000);
        try (HookedTransformer m = new HookedTransformer(cfg, RandomWeights.llama(cfg, 2))) {
            int[] longPrompt = new int[2100];
            for (int i = 0; i < longPrompt.length; i++) longPrompt[i] = (i * 7 + 3) % cfg.dVocab;
            float[] full, prefix;
            try (var o = m.run(new int[][] {longPrompt}, new HookedTransformer.RunOptions())) { full = o.logits().toFloatArray(); }
            try (var o = m.run(new int[][] {Arrays.copyOf(longPrompt, 5)}, new HookedTransformer.RunOptions())) { prefix = o.logits().toFloatArray(); }
            float[] head = Arrays.copyOf(full, prefix.length);
            for (int i = 0; i < prefix.length; i++) assertEquals(prefix[i], head[i], 1e-5f, "causal: logit " + i);
            for (float v : full) assertTrue(Float.isFinite(v));
        }
    }
}
