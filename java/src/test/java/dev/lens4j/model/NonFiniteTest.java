package dev.lens4j.model;

import dev.lens4j.hooks.Hooks;
import dev.lens4j.load.Checkpoint;
import dev.lens4j.load.CheckpointException;
import dev.lens4j.load.HfCheckpoint;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** NaN / Inf weights are rejected at load; non-finite logits throw, naming the first hook point where they appear. */
class NonFiniteTest {
    @TempDir Path tmp;

    private static final int[][] TOKENS = {{1, 5, 9, 3}};

    private static HookedTransformer gpt2With(String weight, long index, float value) {
        Config cfg = TestCheckpoints.tinyGpt2Config();
        Weights w = RandomWeights.gpt2(cfg, 3);
        w.get(weight).set(withElement(w.get(weight).toFloatArray(), index, value));
        return new HookedTransformer(cfg, w);
    }

    private static float[] withElement(float[] v, long i, float x) { v[(int) i] = x; return v; }

    @Test void nanWeightInACheckpointIsRejectedNamingIt() {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        Path f = d.resolve("model.safetensors");
        Map<String, Tensor> m = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(f)) { for (String n : st.names()) m.put(n, st.read(n)); }
        Tensor fc = m.get("transformer.h.1.mlp.c_fc.weight");
        fc.set(withElement(fc.toFloatArray(), 7, Float.NaN));
        SafeTensors.write(f, m, null);
        m.values().forEach(Tensor::close);
        long before = Tensor.liveBytes();
        CheckpointException e = assertThrows(CheckpointException.class, () -> HfCheckpoint.load(d).close());
        assertTrue(e.getMessage().contains("'blocks.1.mlp.W_in'") && e.getMessage().contains("NaN at element 7"), e.getMessage());
        assertTrue(e.getMessage().contains("allowNonFinite"), e.getMessage());
        assertEquals(before, Tensor.liveBytes(), "the failed load freed its weights");
        try (Checkpoint c = HfCheckpoint.load(d, LoadOptions.noProcessing().allowNonFinite(true))) {
            assertTrue(Float.isNaN(c.weights().get("blocks.1.mlp.W_in").toFloatArray()[7]));
        }
    }

    @Test void nanWeightAtRunTimeNamesTheFirstHookPoint() {
        long before = Tensor.liveBytes();
        try (HookedTransformer model = gpt2With("blocks.1.mlp.W_in", 0, Float.NaN)) {
            NonFiniteException e = assertThrows(NonFiniteException.class, () -> model.forward(TOKENS).close());
            assertTrue(e.getMessage().contains("first appear at blocks.1.mlp.hook_pre ("), e.getMessage());
            assertTrue(e.getMessage().startsWith("the logits hold NaN"), e.getMessage());
            // the same through generate and backward
            assertThrows(NonFiniteException.class, () -> model.generate(TOKENS[0], 2));
            NonFiniteException b = assertThrows(NonFiniteException.class,
                () -> model.backward(TOKENS, Metrics.logitDiff(1, 2), new HookedTransformer.RunOptions()).close());
            assertTrue(b.getMessage().contains("blocks.1.mlp.hook_pre"), b.getMessage());
            // asked not to check: the NaN logits come back, as TransformerLens gives them
            try (var out = model.run(TOKENS, new HookedTransformer.RunOptions().checkFinite(false))) {
                assertTrue(Float.isNaN(out.logits().toFloatArray()[0]));
            }
        }
        assertEquals(before, Tensor.liveBytes());
    }

    @Test void infiniteEmbeddingIsFoundAtHookEmbed() {
        try (HookedTransformer model = gpt2With("embed.W_E", 5L * 16, Float.POSITIVE_INFINITY)) { // token 5, first feature
            NonFiniteException e = assertThrows(NonFiniteException.class, () -> model.forward(TOKENS).close());
            assertTrue(e.getMessage().contains("first appear at hook_embed (+Inf at element 16 of [1, 4, 16])"), e.getMessage());
        }
    }

    @Test void aHookThatWritesNanIsNamed() {
        Config cfg = TestCheckpoints.tinyGpt2Config();
        try (HookedTransformer model = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 3))) {
            Hooks h = Hooks.none().add("blocks.1.attn.hook_z", (z, hp) -> { z.put(Float.NaN, 0, 2, 1, 0); return null; });
            NonFiniteException e = assertThrows(NonFiniteException.class, () -> model.runWithHooks(TOKENS, h).close());
            assertTrue(e.getMessage().contains("first appear at blocks.1.attn.hook_z"), e.getMessage());
            try (Tensor ok = model.forward(TOKENS)) { assertTrue(Float.isFinite(ok.toFloatArray()[0])); }
        }
    }

    /** A padded batch is rerun with its mask and positions to locate the problem (the rerun is the same run). */
    @Test void aHookThatWritesNanIsNamedInAPaddedBatch() {
        Config cfg = TestCheckpoints.tinyGpt2Config();
        try (HookedTransformer model = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 3))) {
            PaddedBatch batch = PaddedBatch.of(java.util.List.of(new int[] {1, 5, 9, 3}, new int[] {2, 4}), PaddedBatch.Side.LEFT, 0);
            Hooks h = Hooks.none().add("blocks.1.hook_mlp_out", (x, hp) -> { x.put(Float.NaN, 1, 3, 0); return null; });
            NonFiniteException e = assertThrows(NonFiniteException.class, () -> model.runWithHooks(batch, h).close());
            assertTrue(e.getMessage().contains("first appear at blocks.1.hook_mlp_out"), e.getMessage());
        }
    }

    /** NaN first made in a KV-cached step (one new position) is reported without a rerun of that step alone. */
    @Test void aNanInACachedGenerationStepIsReportedAsSuch() {
        Config cfg = TestCheckpoints.tinyGpt2Config();
        try (HookedTransformer model = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 3))) {
            Hooks h = Hooks.none().add("blocks.1.hook_mlp_out", (x, hp) -> { if (x.size(1) == 1) x.put(Float.NaN, 0, 0, 0); return null; });
            NonFiniteException e = assertThrows(NonFiniteException.class,
                    () -> model.generate(new int[][] {{1, 5, 9, 3}}, GenerateOptions.greedy(3).hooks(h)));
            assertTrue(e.getMessage().contains("KV-cached generation step"), e.getMessage());
        }
    }

    @Test void nanNormWeightIsFoundAtItsScaleOrOutput() {
        // unprocessed LN: a NaN gain makes ln_final's normalized output NaN; its scale stays finite
        try (HookedTransformer model = gpt2With("ln_final.w", 3, Float.NaN)) {
            NonFiniteException e = assertThrows(NonFiniteException.class, () -> model.forward(TOKENS).close());
            assertTrue(e.getMessage().contains("first appear at ln_final.hook_normalized"), e.getMessage());
        }
        try (HookedTransformer model = gpt2With("blocks.0.attn.b_O", 2, Float.NaN)) {
            NonFiniteException e = assertThrows(NonFiniteException.class, () -> model.forward(TOKENS).close());
            assertTrue(e.getMessage().contains("first appear at blocks.0.hook_attn_out"), e.getMessage());
        }
    }

    /** A negative epsilon makes a norm's scale NaN from finite input: the scale (not hookable) is named, not its output. */
    @Test void badScaleIsNamedBeforeItsNormalizedOutput() {
        Config cfg = TestCheckpoints.tinyGpt2Config();
        cfg.eps = -1e6;
        Weights w = RandomWeights.gpt2(cfg, 3);
        HookedTransformer model;
        try {
            model = new HookedTransformer(cfg, w);
        } catch (IllegalArgumentException rejected) { // config validation may refuse the epsilon up front, which is as good
            assertTrue(rejected.getMessage().contains("eps"), rejected.getMessage());
            return;
        }
        try (model) {
            NonFiniteException e = assertThrows(NonFiniteException.class, () -> model.forward(TOKENS).close());
            assertTrue(e.getMessage().contains("first appear at blocks.0.ln1.hook_scale (NaN"), e.getMessage());
        }
    }

    @Test void infiniteUnembeddingIsBlamedWhenEveryHookPointIsFinite() {
        try (HookedTransformer model = gpt2With("unembed.b_U", 4, Float.NEGATIVE_INFINITY)) {
            NonFiniteException e = assertThrows(NonFiniteException.class, () -> model.forward(TOKENS).close());
            assertTrue(e.getMessage().contains("every hook point is finite") && e.getMessage().contains("-Inf"), e.getMessage());
        }
    }
}
