package dev.lens4j.model;

import dev.lens4j.hooks.Hooks;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** TL's start_at_layer: running from a block's cached residual stream gives what the full run gives from there on. */
class StartAtLayerTest {
    private static HookedTransformer load(String name) throws Exception {
        Path p = Path.of(StartAtLayerTest.class.getResource("/dev/lens4j/analysis/patching/" + name + "/model.pth").toURI());
        return HookedTransformer.fromPretrained(p, null, LoadOptions.defaults(), null);
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama-gqa"})
    void startAtLayerRunsEqualFullRuns(String name) throws Exception {
        int[][] tokens = {{1, 7, 3, 11, 2, 9}, {4, 4, 8, 1, 0, 5}};
        long before = Tensor.liveBytes();
        try (HookedTransformer m = load(name);
             var full = m.run(tokens, new HookedTransformer.RunOptions().cacheAll())) {
            int L = m.cfg().nLayers;
            float[] logits = full.logits().toFloatArray();
            for (int start = 0; start <= L; start++) {
                Tensor resid = start < L ? full.cache().get("blocks." + start + ".hook_resid_pre")
                                         : full.cache().get("blocks." + (L - 1) + ".hook_resid_post");
                float[] residBefore = resid.toFloatArray();
                try (var run = m.run((int[][]) null, new HookedTransformer.RunOptions().startAtLayer(start, resid).cacheAll())) {
                    assertClose(logits, run.logits().toFloatArray(), "logits from layer " + start);
                    for (String hook : run.cache().keys())
                        assertClose(full.cache().get(hook).toFloatArray(), run.cache().get(hook).toFloatArray(), hook + " from layer " + start);
                    if (start < L) assertTrue(run.cache().has("blocks." + start + ".hook_resid_pre"), "the start layer's hooks fire");
                    if (start > 0) assertFalse(run.cache().has("blocks.0.hook_resid_pre"), "earlier blocks do not run");
                }
                // a hook that writes the residual in place must not reach the caller's tensor
                if (start < L) {
                    Hooks scribble = Hooks.none().add("blocks." + start + ".hook_resid_pre", (x, h) -> { x.set(new float[(int) x.numel()]); return null; });
                    try (var run = m.run((int[][]) null, new HookedTransformer.RunOptions().startAtLayer(start, resid).hooks(scribble))) {
                        assertNotEquals(logits[0], run.logits().toFloatArray()[0], "the hook took effect");
                    }
                }
                assertArrayEquals(residBefore, resid.toFloatArray(), "the caller's residual is not written");
                // tokens may be given too; start and stop together run a slice of blocks
                if (start < L) {
                    try (var run = m.run(tokens, new HookedTransformer.RunOptions().startAtLayer(start, resid).stopAtLayer(start + 1))) {
                        assertClose(full.cache().get("blocks." + start + ".hook_resid_post").toFloatArray(), run.residual().toFloatArray(), "block " + start);
                    }
                }
            }
            Tensor r0 = full.cache().get("blocks.0.hook_resid_pre");
            assertRefused(m, new HookedTransformer.RunOptions().startAtLayer(L + 1, r0), "start_at_layer " + (L + 1));
            assertRefused(m, new HookedTransformer.RunOptions().startAtLayer(1, r0).stopAtLayer(0), "before start_at_layer");
            try (Tensor narrow = Tensor.zeros(2, 6, m.cfg().dModel - 1)) {
                assertRefused(m, new HookedTransformer.RunOptions().startAtLayer(0, narrow), "d_model");
            }
            var e = assertThrows(IllegalArgumentException.class, () -> m.run(new int[][] {{1, 2}}, new HookedTransformer.RunOptions().startAtLayer(0, r0)));
            assertTrue(e.getMessage().contains("do not match"), e.getMessage());
            // backward from a residual: from resid_pre(0) it is the whole model's backward (the start-layer tests are in ScoreFromResidPreTest)
            try (var g0 = m.backward(tokens, Metrics.logitDiff(1, 2), new HookedTransformer.RunOptions().startAtLayer(0, r0));
                 var g = m.backward(tokens, Metrics.logitDiff(1, 2), new HookedTransformer.RunOptions())) {
                assertEquals(g.value(), g0.value(), 1e-5 * Math.max(1, Math.abs(g.value())));
            }
            e = assertThrows(IllegalArgumentException.class, () -> m.backward(tokens, Metrics.logitDiff(1, 2), new HookedTransformer.RunOptions().startAtLayer(0, r0).stopAtLayer(1)));
            assertTrue(e.getMessage().contains("backward"), e.getMessage());
        }
        assertEquals(before, Tensor.liveBytes(), "runs from a layer free what they allocate");
    }

    private static void assertRefused(HookedTransformer m, HookedTransformer.RunOptions o, String needle) {
        var e = assertThrows(IllegalArgumentException.class, () -> m.run((int[][]) null, o));
        assertTrue(e.getMessage().contains(needle), e.getMessage());
    }

    private static void assertClose(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-5 * Math.max(1, Math.abs(want[i])), what + " [" + i + "]");
    }
}
