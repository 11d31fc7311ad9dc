package dev.lens4j.oracle;

import dev.lens4j.hooks.ActivationCache;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.hooks.Positions;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.HookedTransformer.Output;
import dev.lens4j.model.HookedTransformer.RunOptions;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.opentest4j.AssertionFailedError;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * lens4j vs the libtorch oracle at every hook point and the logits. Tolerance (see {@link Compare#REL}):
 * per tensor, max abs error <= 1e-4 * max(1, max |oracle tensor|); masked scores must be -inf in both.
 */
class OracleParityTest {
    static final int B = 2, S = 7;
    static final long SEED = 1234;
    static final Map<String, String> REPORT = new LinkedHashMap<>();

    static Stream<String> configs() { return TinyModels.configs().keySet().stream(); }

    static HookedTransformer model(String label) {
        TinyModels.Tiny t = TinyModels.build(label, SEED + label.hashCode());
        return new HookedTransformer(t.cfg(), t.weights());
    }

    static int[][] tokens(Config cfg) { return TinyModels.tokens(SEED ^ 0x5eed, B, S, cfg.dVocab); }

    @AfterAll static void report() {
        REPORT.forEach((k, v) -> System.out.println("[oracle] " + k + ": " + v));
    }

    /** Compares every cached tensor and the logits; returns the worst (error, name). */
    static String compareAll(String what, Output out, TorchOracle.Result ref) {
        ActivationCache cache = out.cache();
        assertEquals(new TreeSet<>(ref.acts().keySet()), new TreeSet<>(cache.keys()), what + ": cached names vs oracle names");
        double worst = 0;
        String worstName = "";
        for (Map.Entry<String, TorchOracle.Act> e : ref.acts().entrySet()) {
            double err = Compare.assertClose(what + " " + e.getKey(), cache.get(e.getKey()), e.getValue());
            if (err > worst) { worst = err; worstName = e.getKey(); }
        }
        double lErr = Compare.assertClose(what + " logits", out.logits(), ref.logits());
        return String.format("max abs err %.2e (%s), logits %.2e, %d hook points", worst, worstName, lErr, ref.acts().size());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void everyHookPointAndLogitsMatchTheOracle(String label) {
        try (HookedTransformer m = model(label)) {
            Config cfg = m.cfg();
            int[][] tokens = tokens(cfg);
            TorchOracle.Result ref = TorchOracle.run(cfg, m.weights(), tokens);
            assertEquals(HookNames.all(cfg), new ArrayList<>(ref.acts().keySet()), "oracle fires exactly HookNames.all(cfg), in order");
            try (Output out = m.run(tokens, new RunOptions().cacheAll())) {
                REPORT.put(label, compareAll(label, out, ref));
            }
            // loss_per_token vs the oracle's cross-entropy
            try (Tensor loss = m.lossPerToken(tokens)) {
                assertArrayEquals(new long[] {B, S - 1}, loss.shape());
                double[][] want = TorchOracle.lossPerToken(ref.logits(), tokens);
                double[] flat = Stream.of(want).flatMapToDouble(java.util.Arrays::stream).toArray();
                Compare.assertClose(label + " loss_per_token", loss.toFloatArray(), flat);
            }
        }
    }

    // ------------------------------------------------------------------ interventions

    static final int HEAD = 2;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gpt2", "llama", "gemma2-like"})
    void zeroAblatingOneHeadsZMatchesTheOracle(String label) {
        try (HookedTransformer m = model(label)) {
            int[][] tokens = tokens(m.cfg());
            String name = HookNames.z(1);
            long dh = m.cfg().dHead, nH = m.cfg().nHeads;
            Hooks hooks = Hooks.none().add(name, (a, hp) -> {
                float[] d = a.toFloatArray(); // in place, as a TL hook writing z[:, :, HEAD] = 0
                for (int i = 0; i < d.length; i++) if ((i / dh) % nH == HEAD) d[i] = 0;
                a.set(d);
                return null;
            });
            TorchOracle.Result ref = TorchOracle.run(m.cfg(), m.weights(), tokens, (n, shape, d) -> {
                if (!n.equals(name)) return null;
                for (int i = 0; i < d.length; i++) if ((i / dh) % nH == HEAD) d[i] = 0;
                return d;
            });
            try (Tensor logits = m.runWithHooks(tokens, hooks)) {
                Compare.assertClose(label + " ablated logits", logits, ref.logits());
            }
            try (Output out = m.run(tokens, new RunOptions().hooks(hooks).cacheAll())) {
                REPORT.put(label + " z-ablation", compareAll(label + " z-ablation", out, ref));
            }
            assertChanged(m, tokens, ref);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gpt2", "llama", "gemma2-like"})
    void replacingThePatternAndScalingScoresMatchTheOracle(String label) {
        try (HookedTransformer m = model(label)) {
            int[][] tokens = tokens(m.cfg());
            String pat = HookNames.pattern(0), sc = HookNames.attnScores(2);
            Hooks hooks = Hooks.none()
                .add(pat, (a, hp) -> Tensor.of(toFloat(uniformCausal(a.shape())), a.shape()))
                .add(sc, (a, hp) -> { float[] d = a.toFloatArray(); for (int i = 0; i < d.length; i++) d[i] *= 0.5f; a.set(d); return null; });
            TorchOracle.Result ref = TorchOracle.run(m.cfg(), m.weights(), tokens, (n, shape, d) -> {
                if (n.equals(pat)) return uniformCausal(shape);
                if (n.equals(sc)) { for (int i = 0; i < d.length; i++) d[i] *= 0.5; return d; }
                return null;
            });
            try (Tensor logits = m.runWithHooks(tokens, hooks)) {
                Compare.assertClose(label + " pattern-hooked logits", logits, ref.logits());
            }
            try (Output out = m.run(tokens, new RunOptions().hooks(hooks).cacheAll())) {
                REPORT.put(label + " pattern+scores hooks", compareAll(label + " pattern+scores hooks", out, ref));
            }
            assertChanged(m, tokens, ref);
        }
    }

    /** The intervention must actually change the output (else the test would prove nothing). */
    static void assertChanged(HookedTransformer m, int[][] tokens, TorchOracle.Result hooked) {
        try (Tensor clean = m.forward(tokens)) {
            float[] c = clean.toFloatArray();
            double diff = 0;
            for (int i = 0; i < c.length; i++) diff = Math.max(diff, Math.abs(c[i] - hooked.logits().data()[i]));
            assertTrue(diff > 1e-3, "intervention had no effect on the logits (max diff " + diff + ")");
        }
    }

    static double[] uniformCausal(long[] shape) { // [batch, head, q, k]
        long Q = shape[2], K = shape[3];
        double[] d = new double[(int) Tensor.numel(shape)];
        for (int i = 0; i < d.length; i++) {
            long k = i % K, q = (i / K) % Q;
            d[i] = k <= q ? 1.0 / (q + 1) : 0;
        }
        return d;
    }

    static float[] toFloat(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    // ------------------------------------------------------------------ cache options

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gpt2", "llama", "gemma2-like"})
    void lastPositionCacheIsTheLastSliceOfTheFullCache(String label) {
        try (HookedTransformer m = model(label)) {
            int[][] tokens = tokens(m.cfg());
            try (Output full = m.run(tokens, new RunOptions().cacheAll());
                 Output last = m.run(tokens, new RunOptions().cacheAll().cachePositions(Positions.last()))) {
                assertEquals(full.cache().keys(), last.cache().keys());
                for (String n : full.cache().keys()) {
                    Tensor f = full.cache().get(n), l = last.cache().get(n);
                    int dim = n.endsWith("hook_attn_scores") || n.endsWith("hook_pattern") ? 2 : 1; // query dim for [b, h, q, k]
                    long[] want = f.shape();
                    want[dim] = 1;
                    assertArrayEquals(want, l.shape(), n + " shape with Positions.last()");
                    float[] slice = Compare.slice(f.toFloatArray(), f.shape(), dim, S - 1);
                    double[] sd = new double[slice.length];
                    for (int i = 0; i < sd.length; i++) sd[i] = slice[i];
                    Compare.assertClose(n + " last position", l.toFloatArray(), sd);
                }
                assertArrayEquals(full.logits().toFloatArray(), last.logits().toFloatArray(), "positions do not change logits");
            }
        }
    }

    @Test
    void cacheNamesKeepsExactlyOneTensor() {
        try (HookedTransformer m = model("gpt2")) {
            int[][] tokens = tokens(m.cfg());
            String n = "blocks.0.mlp.hook_post";
            TorchOracle.Result ref = TorchOracle.run(m.cfg(), m.weights(), tokens);
            try (Output out = m.run(tokens, new RunOptions().cacheNames(n))) {
                assertEquals(Set.of(n), out.cache().keys());
                Compare.assertClose(n, out.cache().get(n), ref.acts().get(n));
                Compare.assertClose("logits", out.logits(), ref.logits());
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gpt2", "llama", "gemma2-like"})
    void stopAtLayerReturnsResidPre(String label) {
        try (HookedTransformer m = model(label)) {
            int[][] tokens = tokens(m.cfg());
            TorchOracle.Result ref = TorchOracle.run(m.cfg(), m.weights(), tokens);
            int L = m.cfg().nLayers;
            for (int k = 0; k <= L; k++) {
                try (Output out = m.run(tokens, new RunOptions().stopAtLayer(k))) {
                    assertNull(out.logits(), "no logits with stop_at_layer");
                    assertNotNull(out.residual());
                    TorchOracle.Act want = k < L ? ref.acts().get(HookNames.residPre(k)) : ref.acts().get(HookNames.residPost(L - 1));
                    Compare.assertClose(label + " stop_at_layer " + k, out.residual(), want);
                }
                if (k < L) try (Output out = m.run(tokens, new RunOptions().stopAtLayer(k).cacheAll())) {
                    // blocks >= k never run, so they cache nothing
                    for (String n : out.cache().keys())
                        assertTrue(!n.startsWith("blocks.") || Integer.parseInt(n.split("\\.")[1]) < k, n + " cached after stop_at_layer " + k);
                    Compare.assertClose("residual vs own cache", out.residual().toFloatArray(),
                            k == 0 ? toDouble(out.residual().toFloatArray()) : toDouble(out.cache().get(HookNames.residPost(k - 1)).toFloatArray()));
                }
            }
        }
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    /** Negative control: the comparison must notice a convention mismatch (rotary pairing, partial rotary_dim). */
    @Test
    void theComparisonCatchesConventionMismatches() {
        try (HookedTransformer m = model("llama"); HookedTransformer neox = model("neox-partial-rotary")) {
            int[][] tokens = tokens(m.cfg());
            Config flipped = m.cfg().clone();
            flipped.rotaryAdjacentPairs = true;
            TorchOracle.Result wrong = TorchOracle.run(flipped, m.weights(), tokens);
            Config wider = neox.cfg().clone();
            wider.rotaryDim = 6;
            TorchOracle.Result wrong2 = TorchOracle.run(wider, neox.weights(), tokens);
            try (Output out = m.runWithCache(tokens); Output out2 = neox.runWithCache(tokens)) {
                Compare.assertClose("hook_q (before rotary)", out.cache().get(HookNames.q(0)), wrong.acts().get(HookNames.q(0)));
                assertThrows(AssertionFailedError.class,
                        () -> Compare.assertClose("rot_q", out.cache().get(HookNames.rotQ(0)), wrong.acts().get(HookNames.rotQ(0))));
                assertThrows(AssertionFailedError.class,
                        () -> Compare.assertClose("logits", out.logits(), wrong.logits()));
                assertThrows(AssertionFailedError.class,
                        () -> Compare.assertClose("rot_k", out2.cache().get(HookNames.rotK(0)), wrong2.acts().get(HookNames.rotK(0))));
            }
        }
    }
}
