package dev.lens4j.oracle;

import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.HookedTransformer.Gradients;
import dev.lens4j.model.HookedTransformer.RunOptions;
import dev.lens4j.model.Metric;
import dev.lens4j.model.Metrics;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.opentest4j.AssertionFailedError;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * lens4j's reverse pass vs libtorch autograd on the float64 oracle: the gradient of a metric at every hook point
 * and at every weight. Tolerance per tensor: max abs error <= 1e-4 * max(1, max |oracle tensor|) ({@link Compare#REL});
 * the metric's value likewise. hook_attn_scores is compared on the causal (j <= i) entries only, and lens4j must
 * report 0 above the diagonal; hook_pattern is compared everywhere.
 */
class OracleGradientParityTest {
    static final int B = 2, S = 7;
    static final long SEED = 1234;
    static final Map<String, String> REPORT = new LinkedHashMap<>();

    @AfterAll static void report() { REPORT.forEach((k, v) -> System.out.println("[grad-oracle] " + k + ": " + v)); }

    record Case(String name, Metric lens, TorchOracle.TorchMetric torch) {}

    /** Every metric of dev.lens4j.model.Metrics, twice: as lens4j computes it and in torch ops. */
    static List<Case> metrics(int V, int[][] tokens) {
        int[] ans = {3 % V, 10 % V}, wrong = {5 % V, 7 % V}, setA = {1, 4, 9}, setB = {2, 6};
        int[] targets = {11 % V, 2};
        boolean[] truth = {true, false};
        return List.of(
            new Case("logit-diff", Metrics.logitDiff(ans, wrong), TorchOracle.logitDiff(ans, wrong)),
            new Case("cross-entropy-last", Metrics.crossEntropyLast(targets), TorchOracle.crossEntropyLast(targets)),
            new Case("prob-set-diff", Metrics.probSetDiff(setA, setB), TorchOracle.probSetDiff(setA, setB)),
            new Case("forced-choice", Metrics.forcedChoiceMargin(8 % V, 12 % V, truth), TorchOracle.forcedChoiceMargin(8 % V, 12 % V, truth)),
            new Case("logit-set-diff", Metrics.logitSetDiff(setA, setB), TorchOracle.logitSetDiff(setA, setB)),
            new Case("next-token-loss", Metrics.nextTokenLoss(tokens), TorchOracle.nextTokenLoss(tokens)));
    }

    /** Worst errors over a group of comparisons. */
    static final class Worst {
        double hookErr, hookRel, weightErr, weightRel;
        String hookAt = "-", weightAt = "-";
        int tensors;

        void hook(String at, double err, double scale) {
            tensors++;
            if (err > hookErr) { hookErr = err; hookAt = at; }
            hookRel = Math.max(hookRel, err / scale);
        }

        void weight(String at, double err, double scale) {
            tensors++;
            if (err > weightErr) { weightErr = err; weightAt = at; }
            weightRel = Math.max(weightRel, err / scale);
        }

        @Override public String toString() {
            return String.format("hooks max abs err %.2e (%s), max err/max|oracle| %.2e; weights max abs err %.2e (%s), max err/max|oracle| %.2e; %d tensors",
                    hookErr, hookAt, hookRel, weightErr, weightAt, weightRel, tensors);
        }
    }

    static void compare(String what, HookedTransformer m, int[][] tokens, Case c, boolean weights, Worst worst) {
        compare(what, m, tokens, c, weights, worst, null, null);
    }

    /**
     * Backward in lens4j and in the oracle; compares value, every hook-point gradient and (optionally) weight gradient.
     * With forward hooks (and the same intervention in the oracle), both treat a hook as the identity for gradients.
     */
    static void compare(String what, HookedTransformer m, int[][] tokens, Case c, boolean weights, Worst worst,
                        Hooks fwdHooks, TorchOracle.Intervention iv) {
        Config cfg = m.cfg();
        TorchOracle.GradResult ref = TorchOracle.runWithGrad(cfg, m.weights(), tokens, c.torch(), iv);
        assertEquals(HookNames.all(cfg), new ArrayList<>(ref.grads().keySet()), "oracle has a gradient at exactly HookNames.all(cfg)");
        RunOptions o = new RunOptions().cacheAllGrads().hooks(fwdHooks);
        if (weights) o.allWeightGrads();
        try (Gradients g = m.backward(tokens, c.lens(), o)) {
            String w = what + " " + c.name();
            assertEquals(ref.value(), g.value(), Compare.REL * Math.max(1, Math.abs(ref.value())), w + " metric value");
            assertEquals(new TreeSet<>(HookNames.all(cfg)), new TreeSet<>(g.grads().keys()), w + ": gradient names");
            List<String> names = new ArrayList<>(HookNames.all(cfg));
            java.util.Collections.reverse(names); // reverse-pass order: the first failure is where they diverge
            for (String name : names) {
                Tensor got = g.grads().get(name);
                TorchOracle.Act want = ref.grads().get(name);
                assertArrayEquals(want.shape(), got.shape(), w + " " + name + " grad shape");
                float[] gv = got.toFloatArray();
                double[] wv = want.data();
                if (name.endsWith("hook_attn_scores")) { // causal entries only; masked ones are 0 in lens4j
                    double[] fwd = ref.acts().get(name).data();
                    int n = 0;
                    for (int i = 0; i < fwd.length; i++) if (Double.isFinite(fwd[i])) n++;
                    float[] g2 = new float[n];
                    double[] w2 = new double[n];
                    for (int i = 0, j = 0; i < fwd.length; i++) {
                        if (Double.isFinite(fwd[i])) { g2[j] = gv[i]; w2[j++] = wv[i]; }
                        else assertEquals(0f, gv[i], w + " " + name + "[" + i + "] above the diagonal");
                    }
                    gv = g2;
                    wv = w2;
                }
                double err = Compare.assertClose(w + " d/d " + name, gv, wv);
                worst.hook(c.name() + " " + name, err, scale(wv));
            }
            double g0 = new TorchOracle.Act(null, ref.grads().get(HookNames.residPre(0)).data()).maxAbsFinite();
            assertTrue(g0 > 1e-6, w + ": no gradient reaches resid_pre(0) (" + g0 + ")");
            if (!weights) return;
            assertEquals(m.weights().names(), g.weightGrads().names(), w + ": weight gradient names");
            assertEquals(new TreeSet<>(m.weights().names()), new TreeSet<>(ref.weightGrads().keySet()), w + ": oracle parameters");
            for (String name : m.weights().names()) {
                Tensor got = g.weightGrads().get(name);
                TorchOracle.Act want = ref.weightGrads().get(name);
                double err = Compare.assertClose(w + " d/d " + name, got, want);
                worst.weight(c.name() + " " + name, err, scale(want.data()));
            }
        }
    }

    static double scale(double[] d) {
        double m = 1;
        for (double v : d) if (Double.isFinite(v)) m = Math.max(m, Math.abs(v));
        return m;
    }

    static Stream<String> configs() { return TinyModels.configs().keySet().stream(); }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void everyHookPointAndWeightGradientMatchesAutograd(String label) {
        TinyModels.Tiny t = TinyModels.build(label, SEED + label.hashCode());
        try (HookedTransformer m = new HookedTransformer(t.cfg(), t.weights())) {
            int[][] tokens = TinyModels.tokens(SEED ^ 0x5eed, B, S, m.cfg().dVocab);
            Worst worst = new Worst();
            for (Case c : metrics(m.cfg().dVocabOut(), tokens)) compare(label, m, tokens, c, true, worst);
            REPORT.put(label, worst.toString());
        }
    }

    /** Forward hooks (z ablation; pattern replaced and scores scaled, the split attention path) then backward. */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"gpt2", "llama", "gemma2-like"})
    void gradientsUnderForwardInterventionsMatchAutograd(String label) {
        TinyModels.Tiny t = TinyModels.build(label, SEED + label.hashCode());
        try (HookedTransformer m = new HookedTransformer(t.cfg(), t.weights())) {
            int[][] tokens = TinyModels.tokens(SEED ^ 0x5eed, B, S, m.cfg().dVocab);
            long dh = m.cfg().dHead, nH = m.cfg().nHeads;
            String zName = HookNames.z(1), pat = HookNames.pattern(0), sc = HookNames.attnScores(2);
            Hooks hooks = Hooks.none()
                .add(zName, (a, hp) -> {
                    float[] d = a.toFloatArray();
                    for (int i = 0; i < d.length; i++) if ((i / dh) % nH == 2) d[i] = 0;
                    a.set(d);
                    return null;
                })
                .add(pat, (a, hp) -> Tensor.of(OracleParityTest.toFloat(OracleParityTest.uniformCausal(a.shape())), a.shape()))
                .add(sc, (a, hp) -> { float[] d = a.toFloatArray(); for (int i = 0; i < d.length; i++) d[i] *= 0.5f; a.set(d); return null; });
            TorchOracle.Intervention iv = (n, shape, d) -> {
                if (n.equals(zName)) { for (int i = 0; i < d.length; i++) if ((i / dh) % nH == 2) d[i] = 0; return d; }
                if (n.equals(pat)) return OracleParityTest.uniformCausal(shape);
                if (n.equals(sc)) { for (int i = 0; i < d.length; i++) d[i] *= 0.5; return d; }
                return null;
            };
            Worst worst = new Worst();
            for (Case c : metrics(m.cfg().dVocabOut(), tokens).subList(0, 3)) compare(label + " hooked", m, tokens, c, true, worst, hooks, iv);
            REPORT.put(label + " with forward hooks", worst.toString());
        }
    }

    /** Tiny HF checkpoints loaded with TL's default processing (folded LN, centred unembed, ...) and without. */
    @Test
    void processedAndUnprocessedCheckpointsMatchAutograd(@TempDir Path dir) {
        Path[] ckpts = {TestCheckpoints.gpt2(dir.resolve("gpt2"), 31), TestCheckpoints.llama(dir.resolve("llama"), 32)};
        int[][] tokens = {{0, 5, 9, 3, 17, 2, 30, 8}, {1, 1, 4, 20, 36, 11, 7, 6}};
        for (Path p : ckpts)
            for (LoadOptions opts : new LoadOptions[] {LoadOptions.defaults(), LoadOptions.noProcessing()}) {
                try (HookedTransformer m = HookedTransformer.fromPretrained(p, null, opts, null)) {
                    String what = p.getFileName() + " " + m.cfg().normalizationType
                            + (m.cfg().lnFolded ? " processed" : " unprocessed");
                    Worst worst = new Worst();
                    for (Case c : metrics(m.cfg().dVocabOut(), tokens)) compare(what, m, tokens, c, true, worst);
                    REPORT.put(what, worst.toString());
                }
            }
    }

    /** The real stories260K (llama2.c), processed and not, with a logit difference between two tokens. */
    @Test
    void stories260KLogitDiffMatchesAutograd() {
        Path bin = TestCheckpoints.stories260K();
        for (LoadOptions opts : new LoadOptions[] {LoadOptions.noProcessing(), LoadOptions.defaults()}) {
            try (HookedTransformer m = HookedTransformer.fromPretrained(bin, null, opts, null)) {
                int[][] tokens = {m.toTokens("Once upon a time, there was a little girl named Lily. She")};
                int he = lastToken(m, "He"), she = lastToken(m, "She");
                assertNotEquals(he, she);
                Case c = new Case("logit-diff", Metrics.logitDiff(she, he), TorchOracle.logitDiff(new int[] {she}, new int[] {he}));
                Worst worst = new Worst();
                compare("stories260K", m, tokens, c, true, worst);
                REPORT.put("stories260K " + (m.cfg().lnFolded ? "processed" : "unprocessed"), worst.toString());
            }
        }
    }

    static int lastToken(HookedTransformer m, String text) {
        int[] ids = m.toTokens(text, false);
        return ids[ids.length - 1];
    }

    /** Negative controls: the comparison notices a wrong metric and a partial (q-only) ln1 gradient. */
    @Test
    void theComparisonCatchesWrongGradients() {
        TinyModels.Tiny t = TinyModels.build("gpt2", SEED);
        try (HookedTransformer m = new HookedTransformer(t.cfg(), t.weights())) {
            int[][] tokens = TinyModels.tokens(SEED, B, S, m.cfg().dVocab);
            Case swapped = new Case("swapped", Metrics.logitDiff(3, 5), TorchOracle.logitDiff(new int[] {5}, new int[] {3}));
            assertThrows(AssertionFailedError.class, () -> compare("control", m, tokens, swapped, false, new Worst()));
            // TL's per-use ln1 hook would see only the q share of the gradient: that must not pass as the total
            Case c = new Case("logit-diff", Metrics.logitDiff(3, 5), TorchOracle.logitDiff(new int[] {3}, new int[] {5}));
            TorchOracle.GradResult ref = TorchOracle.runWithGrad(m.cfg(), m.weights(), tokens, c.torch());
            String ln1 = HookNames.lnNormalized(1, 1);
            double[] qShare = qOnlyShare(m, ref, 1);
            try (Gradients g = m.backward(tokens, c.lens(), new RunOptions().cacheAllGrads())) {
                Compare.assertClose("total", g.grads().get(ln1).toFloatArray(), ref.grads().get(ln1).data());
                assertThrows(AssertionFailedError.class, () -> Compare.assertClose("q share", g.grads().get(ln1).toFloatArray(), qShare));
            }
        }
    }

    /** dq @ W_Q^T for layer l: the gradient one TL ln1 hook (the q input) would see. */
    static double[] qOnlyShare(HookedTransformer m, TorchOracle.GradResult ref, int l) {
        long D = m.cfg().dModel, dh = m.cfg().dHead, nH = m.cfg().nHeads;
        double[] dq = ref.grads().get(HookNames.q(l)).data();
        float[] wq = m.weights().W_Q(l).toFloatArray(); // [nH, D, dh]
        int rows = dq.length / (int) (nH * dh);
        double[] out = new double[(int) (rows * D)];
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < nH; h++)
                for (int d = 0; d < D; d++) {
                    double s = 0;
                    for (int e = 0; e < dh; e++) s += dq[(int) ((r * nH + h) * dh + e)] * wq[(int) ((h * D + d) * dh + e)];
                    out[(int) (r * D + d)] += s;
                }
        return out;
    }
}
