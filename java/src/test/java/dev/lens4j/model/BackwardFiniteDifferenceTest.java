package dev.lens4j.model;

import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The reverse pass against central finite differences through the whole model: nudging one element of an
 * activation (with a forward hook) or of a weight changes the metric by gradient * nudge. A smoke test in
 * float32; exact parity with libtorch autograd is in the oracle tests.
 */
class BackwardFiniteDifferenceTest {
    static final int[][] TOKENS = {{1, 7, 3, 9, 4}, {2, 8, 8, 5, 11}};

    static HookedTransformer gpt2() {
        Config cfg = RandomWeights.gpt2Config(2, 16, 4, 23, 8);
        return new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 5));
    }

    static HookedTransformer llama() {
        Config cfg = RandomWeights.llamaConfig(2, 16, 4, 2, 24, 23, 8);
        return new HookedTransformer(cfg, RandomWeights.llama(cfg, 6));
    }

    static double metricWithNudge(HookedTransformer m, Metric metric, String hook, long flat, double eps) {
        Hooks h = Hooks.none().add(hook, (a, hp) -> {
            float[] v = a.toFloatArray();
            v[(int) flat] += (float) eps;
            a.set(v);
            return null;
        });
        try (var g = m.backward(TOKENS, metric, new HookedTransformer.RunOptions().hooks(h))) { return g.value(); }
    }

    @Test
    void hookPointGradientsMatchFiniteDifferences() {
        for (HookedTransformer m : List.of(gpt2(), llama())) {
            try (m) {
                Metric metric = Metrics.logitDiff(new int[] {3, 5}, new int[] {4, 6});
                try (var g = m.backward(TOKENS, metric, new HookedTransformer.RunOptions().cacheAllGrads())) {
                    SplittableRandom r = new SplittableRandom(1);
                    for (String name : List.of(HookNames.residPre(0), HookNames.mlpPost(1), HookNames.z(0), HookNames.v(1),
                            HookNames.residMid(1), HookNames.mlpPre(0), HookNames.EMBED, HookNames.pattern(1))) {
                        Tensor grad = g.grads().get(name);
                        float[] gv = grad.toFloatArray();
                        for (int trial = 0; trial < 3; trial++) {
                            int i = r.nextInt(gv.length);
                            if (name.endsWith("hook_pattern")) i = argmaxAbs(gv); // causal zeros elsewhere
                            double eps = 1e-2;
                            double fd = (metricWithNudge(m, metric, name, i, eps) - metricWithNudge(m, metric, name, i, -eps)) / (2 * eps);
                            assertEquals(fd, gv[i], 2e-3 + 2e-2 * Math.abs(fd), m.cfg().originalArchitecture + " " + name + "[" + i + "]");
                        }
                    }
                    assertEquals(HookNames.all(m.cfg()).size(), g.grads().size(), "a gradient at every hook point");
                }
            }
        }
    }

    @Test
    void weightGradientsMatchFiniteDifferencesAndAreOffByDefault() {
        for (HookedTransformer m : List.of(gpt2(), llama())) {
            try (m) {
                Metric metric = Metrics.crossEntropyLast(new int[] {3, 9});
                try (var none = m.backward(TOKENS, metric, new HookedTransformer.RunOptions())) {
                    assertThrows(IllegalStateException.class, none::weightGrads, "no weight gradients unless asked");
                }
                try (var g = m.backward(TOKENS, metric, new HookedTransformer.RunOptions().weightGrads(n -> !n.contains(".b_")))) {
                    assertFalse(g.weightGrads().has("blocks.0.attn.b_Q"), "frozen biases have no gradient");
                    SplittableRandom r = new SplittableRandom(2);
                    for (String name : g.weightGrads().names()) {
                        Tensor wt = m.weights().get(name);
                        float[] gv = g.weightGrads().get(name).toFloatArray();
                        int i = r.nextInt(gv.length);
                        float[] orig = wt.toFloatArray();
                        double eps = 1e-2;
                        float[] v = orig.clone();
                        v[i] = (float) (orig[i] + eps); wt.set(v); m.weightsChanged();
                        double up = value(m, metric);
                        v[i] = (float) (orig[i] - eps); wt.set(v); m.weightsChanged();
                        double down = value(m, metric);
                        wt.set(orig); m.weightsChanged();
                        double fd = (up - down) / (2 * eps);
                        assertEquals(fd, gv[i], 2e-3 + 2e-2 * Math.abs(fd), m.cfg().originalArchitecture + " d/d " + name + "[" + i + "]");
                    }
                }
            }
        }
    }

    @Test
    void backwardHookCanZeroAGradient() {
        try (HookedTransformer m = gpt2()) {
            Metric metric = Metrics.logitDiff(3, 4);
            Hooks zero = Hooks.none().add(HookNames.residMid(1), (g, hp) -> { g.set(new float[(int) g.numel()]); return null; });
            try (var g = m.backward(TOKENS, metric, new HookedTransformer.RunOptions().bwdHooks(zero).cacheAllGrads())) {
                for (float v : g.grads().get(HookNames.z(1)).toFloatArray()) assertEquals(0f, v, "upstream of a zeroed gradient");
                for (float v : g.grads().get(HookNames.residPre(1)).toFloatArray()) assertEquals(0f, v);
                boolean nonzero = false;
                for (float v : g.grads().get(HookNames.mlpPost(1)).toFloatArray()) nonzero |= v != 0;
                assertTrue(nonzero, "downstream of the hook is untouched");
            }
        }
    }

    @Test
    void gradientsCachedUnderTwoNamesAreSeparateTensors() {
        try (HookedTransformer m = gpt2()) {
            try (var g = m.backward(TOKENS, Metrics.logitDiff(3, 4), new HookedTransformer.RunOptions().cacheAllGrads())) {
                Tensor post = g.grads().get(HookNames.residPost(1)), mlpOut = g.grads().get(HookNames.mlpOut(1));
                assertArrayEquals(post.toFloatArray(), mlpOut.toFloatArray(), "resid_post's gradient flows unchanged into mlp_out");
                post.close();
                assertFalse(mlpOut.isClosed(), "closing one cached gradient must not free another");
            }
        }
    }

    @Test
    void backwardLeaksNothing() {
        try (HookedTransformer m = llama()) {
            long before = Tensor.liveBytes();
            for (int i = 0; i < 5; i++)
                try (var g = m.backward(TOKENS, Metrics.logitDiff(1, 2), new HookedTransformer.RunOptions().cacheAllGrads().cacheAll().allWeightGrads())) {
                    assertTrue(g.grads().size() > 0);
                }
            assertEquals(before, Tensor.liveBytes());
        }
    }

    static double value(HookedTransformer m, Metric metric) {
        try (var g = m.backward(TOKENS, metric, new HookedTransformer.RunOptions())) { return g.value(); }
    }

    static int argmaxAbs(float[] v) {
        int b = 0;
        for (int i = 1; i < v.length; i++) if (Math.abs(v[i]) > Math.abs(v[b])) b = i;
        return b;
    }
}
