package dev.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.hooks.ActivationCache;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.hooks.Positions;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metric;
import dev.lens4j.model.Metrics;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The patching sweeps against TransformerLens 2.12's own transformer_lens.patching functions on the same weights
 * (values from scripts/fixtures/make_patching_fixtures.py), and the batched start-at-layer sweep against TL's way
 * of patching: one full forward of the corrupted prompts per index, the patch applied by a hook.
 */
class PatchingTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Path pth(String name) throws Exception {
        return Path.of(PatchingTest.class.getResource("/dev/lens4j/analysis/patching/" + name + "/model.pth").toURI());
    }

    private static HookedTransformer load(String name) throws Exception {
        return HookedTransformer.fromPretrained(pth(name), null, LoadOptions.defaults(), null);
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "gpt2-processed", "llama-gqa"})
    void matchesTransformerLens(String name) throws Exception {
        JsonNode fx = JSON.readTree(pth(name).resolveSibling("patching.json").toFile());
        int[][] clean = JSON.convertValue(fx.get("clean_tokens"), int[][].class);
        int[][] corrupted = JSON.convertValue(fx.get("corrupted_tokens"), int[][].class);
        Metric metric = Metrics.logitDiff(JSON.convertValue(fx.get("answers"), int[].class), JSON.convertValue(fx.get("wrong"), int[].class));
        long before = Tensor.liveBytes();
        try (HookedTransformer m = load(name); var cleanRun = m.run(clean, new HookedTransformer.RunOptions().cacheAll())) {
            ActivationCache c = cleanRun.cache();
            double cleanValue = Patching.baseline(m, clean, metric), corruptedValue = Patching.baseline(m, corrupted, metric);
            assertEquals(fx.get("clean").asDouble(), cleanValue, 1e-4);
            assertEquals(fx.get("corrupted").asDouble(), corruptedValue, 1e-4);
            int batch = 3; // not a divisor of the grids: the last batched forward is partial
            check(fx, "resid_pre", Patching.residPre(m, corrupted, c, metric, batch));
            check(fx, "resid_mid", Patching.residMid(m, corrupted, c, metric, batch));
            check(fx, "resid_post", Patching.residPost(m, corrupted, c, metric, batch));
            check(fx, "attn_out", Patching.attnOut(m, corrupted, c, metric, batch));
            check(fx, "mlp_out", Patching.mlpOut(m, corrupted, c, metric, Patching.DEFAULT_BATCH));
            check(fx, "attn_head_out_all_pos", Patching.attnHeadOutAllPos(m, corrupted, c, metric, batch));
            check(fx, "attn_head_out_by_pos", Patching.attnHeadOutByPos(m, corrupted, c, metric, batch));
            check(fx, "attn_head_q_all_pos", Patching.attnHeadAllPos("q", m, corrupted, c, metric, batch));
            check(fx, "attn_head_q_by_pos", Patching.attnHeadByPos("q", m, corrupted, c, metric, batch));
            check(fx, "attn_head_k_all_pos", Patching.attnHeadAllPos("k", m, corrupted, c, metric, batch));
            check(fx, "attn_head_v_all_pos", Patching.attnHeadAllPos("v", m, corrupted, c, metric, batch));
            if (fx.has("attn_head_k_by_pos")) {
                check(fx, "attn_head_k_by_pos", Patching.attnHeadByPos("k", m, corrupted, c, metric, batch));
                check(fx, "attn_head_v_by_pos", Patching.attnHeadByPos("v", m, corrupted, c, metric, batch));
            }
            check(fx, "attn_head_pattern_all_pos", Patching.attnHeadPatternAllPos(m, corrupted, c, metric, batch));
            check(fx, "attn_head_pattern_by_pos", Patching.attnHeadPatternByPos(m, corrupted, c, metric, batch));
            check(fx, "attn_head_pattern_dest_src_pos", Patching.attnHeadPatternDestSrcPos(m, corrupted, c, metric, 32));
            check(fx, "neurons_layer0_all_pos", Patching.mlpNeurons(m, corrupted, c, metric, 0, null, 5));
            int last = m.cfg().nLayers - 1;
            check(fx, "neurons_layer" + last + "_pos5", Patching.mlpNeurons(m, corrupted, c, metric, last, new int[] {5}, 8));

            // TL's *_every functions stack the single sweeps
            Patching.Grid every = Patching.blockEvery(m, corrupted, c, metric, 8);
            assertArrayEquals(new int[] {3, m.cfg().nLayers, 6}, every.shape());
            String[] parts = {"resid_pre", "attn_out", "mlp_out"};
            for (int t = 0; t < 3; t++)
                for (int l = 0; l < m.cfg().nLayers; l++)
                    for (int p = 0; p < 6; p++)
                        assertEquals(fx.get(parts[t]).get("values").get(l * 6 + p).asDouble(), every.get(t, l, p), 1e-4, parts[t]);
            if (fx.has("attn_head_k_by_pos")) {
                Patching.Grid byPos = Patching.attnHeadByPosEvery(m, corrupted, c, metric, 8);
                int H = m.cfg().nHeads;
                // the pattern slice is TL's [layer, head, dest_pos] rearranged to [layer, pos, head]
                JsonNode pat = fx.get("attn_head_pattern_by_pos").get("values");
                for (int l = 0; l < m.cfg().nLayers; l++)
                    for (int h = 0; h < H; h++)
                        for (int p = 0; p < 6; p++) assertEquals(pat.get((l * H + h) * 6 + p).asDouble(), byPos.get(4, l, p, h), 1e-4, "pattern by pos");
                assertEquals(fx.get("attn_head_v_by_pos").get("values").get(5).asDouble(), byPos.get(3, 0, 1, 1), 1e-4, "v by pos");
                Patching.Grid allPos = Patching.attnHeadAllPosEvery(m, corrupted, c, metric, 8);
                assertEquals(fx.get("attn_head_k_all_pos").get("values").get(H + 2).asDouble(), allPos.get(2, 1, 2), 1e-4, "k all pos");
            } else {
                var e = assertThrows(IllegalArgumentException.class, () -> Patching.attnHeadAllPosEvery(m, corrupted, c, metric, 8));
                assertTrue(e.getMessage().contains("n_key_value_heads"), e.getMessage());
            }

            // the tutorials' normalised metric: 0 = corrupted, 1 = clean; patching every position's resid_pre of
            // layer 0 restores the clean run
            Patching.Grid norm = Patching.residPre(m, corrupted, c, metric, batch).normalised(cleanValue, corruptedValue);
            JsonNode tl = fx.get("resid_pre").get("values");
            for (int i = 0; i < norm.values().length; i++)
                assertEquals((tl.get(i).asDouble() - fx.get("corrupted").asDouble()) / (fx.get("clean").asDouble() - fx.get("corrupted").asDouble()),
                        norm.values()[i], 2e-3, "normalised resid_pre " + i);
            double[] all = Patching.genericActivationPatch(m, corrupted, c, metric, (a, off, cl, sh, idx) -> {
                for (int i = 0; i < cl.length; i++) a[off + i] = cl[i];
            }, "resid_pre", List.of("layer"), List.of(new int[] {0}), 1);
            assertEquals(1.0, Patching.normalised(all, cleanValue, corruptedValue)[0], 1e-4);
        }
        assertEquals(before, Tensor.liveBytes(), "sweeps free what they allocate");
    }

    private static void check(JsonNode fx, String key, Patching.Grid g) {
        JsonNode e = fx.get(key);
        assertNotNull(e, key + " missing from the fixture");
        int[] shape = JSON.convertValue(e.get("shape"), int[].class);
        if (shape.length > 1 || g.shape().length == 1) assertArrayEquals(shape, g.shape(), key + " shape");
        JsonNode v = e.get("values");
        assertEquals(v.size(), g.values().length, key + " size");
        for (int i = 0; i < v.size(); i++) {
            double tl = v.get(i).asDouble();
            assertEquals(tl, g.values()[i], 1e-4 * Math.max(1, Math.abs(tl)), key + " [" + i + "]");
        }
    }

    /** Every setter's batched start-at-layer sweep equals one full forward per index with the patch as a hook. */
    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama-gqa"})
    void sweepsEqualPatchingOneComponentAtATime(String name) throws Exception {
        int[][] clean = {{1, 7, 3, 11, 2, 9}, {4, 4, 8, 1, 0, 5}}, corrupted = {{3, 7, 5, 11, 2, 9}, {4, 6, 8, 1, 0, 2}};
        Metric metric = Metrics.logitDiff(new int[] {5, 9}, new int[] {7, 2});
        Random rnd = new Random(9);
        try (HookedTransformer m = load(name); var cleanRun = m.run(clean, new HookedTransformer.RunOptions().cacheAll())) {
            ActivationCache c = cleanRun.cache();
            int L = m.cfg().nLayers, H = m.cfg().nHeads, S = 6, F = m.cfg().dMlp;
            record Sweep(String act, Patching.PatchSetter setter, int[] ranges, List<String> axes) {}
            List<Sweep> sweeps = List.of(
                    new Sweep("resid_pre", Patching.LAYER_POS, new int[] {L, S}, List.of("layer", "pos")),
                    new Sweep("resid_post", Patching.LAYER_POS, new int[] {L, S}, List.of("layer", "pos")),
                    new Sweep("mlp_out", Patching.LAYER_POS, new int[] {L, S}, List.of("layer", "pos")),
                    new Sweep("z", Patching.LAYER_POS_HEAD_VECTOR, new int[] {L, S, H}, List.of("layer", "pos", "head")),
                    new Sweep("v", Patching.LAYER_HEAD_VECTOR, new int[] {L, m.cfg().nKvHeads()}, List.of("layer", "head")),
                    new Sweep("pattern", Patching.LAYER_HEAD_POS_PATTERN, new int[] {L, H, S}, List.of("layer", "head_index", "dest_pos")),
                    new Sweep("pattern", Patching.LAYER_HEAD_DEST_SRC_POS_PATTERN, new int[] {L, H, S, S}, List.of("layer", "head_index", "dest_pos", "src_pos")),
                    new Sweep("post", Patching.neuronAt(new int[] {2, 5}), new int[] {L, F}, List.of("layer", "neuron")));
            for (Sweep s : sweeps) {
                List<int[]> indices = new ArrayList<>();
                for (int i = 0; i < 7; i++) {
                    int[] idx = new int[s.ranges().length];
                    for (int d = 0; d < idx.length; d++) idx[d] = rnd.nextInt(s.ranges()[d]);
                    indices.add(idx);
                }
                double[] batched = Patching.genericActivationPatch(m, corrupted, c, metric, s.setter(), s.act(), s.axes(), indices, 4);
                for (int i = 0; i < indices.size(); i++) {
                    double one = oneFullForward(m, corrupted, c, metric, s.setter(), s.act(), indices.get(i));
                    assertEquals(one, batched[i], 1e-4 * Math.max(1, Math.abs(one)), s.act() + " " + java.util.Arrays.toString(indices.get(i)));
                }
                // a patch that changes nothing must not be mistaken for one that does: the patched values differ
                assertTrue(java.util.Arrays.stream(batched).distinct().count() > 1, s.act() + ": every patch gave the same value");
            }
        }
    }

    /** TL's way: the whole corrupted forward with the patch applied by a hook. */
    private static double oneFullForward(HookedTransformer m, int[][] corrupted, ActivationCache c, Metric metric,
                                         Patching.PatchSetter setter, String act, int[] index) {
        String hook = HookNames.actName(act, index[0]);
        Tensor cleanAct = c.get(hook);
        float[] cl = cleanAct.toFloatArray();
        Hooks h = Hooks.none().add(hook, (a, hp) -> {
            float[] x = a.toFloatArray();
            setter.patch(x, 0, cl, cleanAct.shape(), index);
            a.set(x);
            return null;
        });
        return Runs.metric(m, corrupted, metric, h);
    }

    @Test
    void batchedNeuronPatchingEqualsOneAtATime() throws Exception {
        int[][] clean = {{1, 7, 3, 11, 2, 9}}, corrupted = {{1, 7, 5, 11, 2, 9}};
        Metric metric = Metrics.logitDiff(5, 7);
        try (HookedTransformer m = load("llama-gqa"); var cleanRun = m.run(clean, new HookedTransformer.RunOptions().cacheAll())) {
            ActivationCache c = cleanRun.cache();
            int F = m.cfg().dMlp;
            Patching.Grid batched = Patching.mlpNeurons(m, corrupted, c, metric, 0, null, 10);
            Patching.Grid single = Patching.mlpNeurons(m, corrupted, c, metric, 0, null, 1);
            Patching.Grid whole = Patching.mlpNeurons(m, corrupted, c, metric, 0, null, F);
            for (int n = 0; n < F; n++) {
                double one = oneFullForward(m, corrupted, c, metric, Patching.neuronAt(null), "post", new int[] {0, n});
                assertEquals(one, batched.get(n), 1e-4, "neuron " + n + " batched by 10");
                assertEquals(one, single.get(n), 1e-4, "neuron " + n + " alone");
                assertEquals(one, whole.get(n), 1e-4, "neuron " + n + " all in one forward");
            }
        }
    }

    @Test
    void badInputIsRefusedWithAMessage() throws Exception {
        int[][] clean = {{1, 7, 3, 11, 2, 9}}, corrupted = {{1, 7, 5, 11, 2, 9}};
        Metric metric = Metrics.logitDiff(5, 7);
        long before = Tensor.liveBytes();
        try (HookedTransformer m = load("gpt2")) {
            try (var run = m.run(clean, new HookedTransformer.RunOptions().cacheNames("blocks.0.hook_resid_pre"))) {
                var e = assertThrows(IllegalArgumentException.class, () -> Patching.mlpOut(m, corrupted, run.cache(), metric, 4));
                assertTrue(e.getMessage().contains("blocks.0.hook_mlp_out"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> Patching.mlpNeurons(m, corrupted, run.cache(), metric, 2, null, 4));
                assertTrue(e.getMessage().contains("layer 2"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> Patching.mlpNeurons(m, corrupted, run.cache(), metric, 0, new int[] {6}, 4));
                assertTrue(e.getMessage().contains("position 6"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> Patching.residPre(m, corrupted, run.cache(), metric, 0));
                assertTrue(e.getMessage().contains("batch"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> Patching.residPre(m, new int[][] {{1, 2}}, run.cache(), metric, 4));
                assertTrue(e.getMessage().contains("same token length"), e.getMessage());
                // an index past its axis would land in another prompt's row: refused
                e = assertThrows(IllegalArgumentException.class, () -> Patching.genericActivationPatch(m, corrupted, run.cache(), metric,
                        Patching.LAYER_POS, "resid_pre", List.of("layer", "pos"), List.of(new int[] {0, 6}), 4));
                assertTrue(e.getMessage().contains("pos 6"), e.getMessage());
            }
            try (var run = m.run(clean, new HookedTransformer.RunOptions().cacheAll().cachePositions(Positions.last()))) {
                var e = assertThrows(IllegalArgumentException.class, () -> Patching.residPre(m, corrupted, run.cache(), metric, 4));
                assertTrue(e.getMessage().contains("every position"), e.getMessage());
            }
            var e = assertThrows(IllegalArgumentException.class, () -> Patching.normalised(new double[] {1}, 2.5, 2.5));
            assertTrue(e.getMessage().contains("equal"), e.getMessage());
        }
        assertEquals(before, Tensor.liveBytes(), "failed sweeps leak nothing");
    }
}
