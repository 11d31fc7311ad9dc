package dev.lens4j.analysis;

import dev.lens4j.analysis.ActivationPatching.Component;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metric;
import dev.lens4j.model.Metrics;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Attribution patching against true activation patching: equal in the linear regime, correlated on real prompts. */
class AttributionPatchingTest {

    /** A hook adding eps * fixed Gaussian noise to hook_embed: the corrupt run is the clean prompt, slightly moved. */
    static Hooks noise(double eps, long seed) {
        return Hooks.none().add(HookNames.EMBED, (act, hp) -> {
            Random r = new Random(seed);
            float[] a = act.toFloatArray();
            for (int i = 0; i < a.length; i++) a[i] += (float) (eps * r.nextGaussian());
            act.set(a);
            return null;
        });
    }

    static List<Component> all(Config cfg, int S) {
        List<Component> cs = new ArrayList<>();
        for (int l = 0; l < cfg.nLayers; l++) {
            for (int j = 0; j < cfg.dMlp; j++) cs.add(Component.neuron(l, j));
            for (int h = 0; h < cfg.nHeads; h++) cs.add(Component.head(l, h));
            for (int p = 0; p < S; p++) cs.add(Component.residPre(l, p));
        }
        return cs;
    }

    static double attribution(AttributionPatching.Result r, Component c) {
        return switch (c.kind()) {
            case MLP_NEURON -> r.mlpNeuron(c.layer(), c.index());
            case HEAD -> r.head(c.layer(), c.index());
            case RESID_PRE -> r.residPre(c.layer(), c.index());
        };
    }

    void linearRegime(HookedTransformer model) {
        Config cfg = model.cfg();
        int[][] clean = {{1, 7, 3, 9, 12, 4, 8, 2}, {5, 6, 11, 3, 3, 20, 7, 1}};
        Metric metric = Metrics.logitDiff(new int[] {3, 4}, new int[] {5, 6});
        Hooks corrupt = noise(1e-2, 42);
        AttributionPatching.Result r = AttributionPatching.run(model, clean, clean, metric, corrupt);
        List<Component> cs = all(cfg, 8);
        double[] truth = ActivationPatching.effects(model, clean, clean, metric, cs, corrupt);
        for (ActivationPatching.Kind kind : ActivationPatching.Kind.values()) {
            double max = 0, err = 0;
            for (int i = 0; i < cs.size(); i++) {
                if (cs.get(i).kind() != kind) continue;
                max = Math.max(max, Math.abs(truth[i]));
                err = Math.max(err, Math.abs(truth[i] - attribution(r, cs.get(i))));
            }
            assertTrue(max > 1e-4, kind + ": patching effects too small to compare (" + max + ")");
            assertTrue(err <= 0.05 * max, kind + ": attribution differs from patching by " + err + " (largest effect " + max + ")");
        }
        // patching every position of resid_pre[l] is the whole corrupt run: the sum over positions estimates the total effect
        // (terms cancel, so the second-order error is measured against the sum of their sizes)
        double total = r.corruptMetric() - r.cleanMetric();
        for (int l = 0; l < cfg.nLayers; l++) {
            double s = 0, size = 0;
            for (int p = 0; p < 8; p++) { s += r.residPre(l, p); size += Math.abs(r.residPre(l, p)); }
            assertEquals(total, s, 0.05 * size, "resid_pre " + l);
        }
    }

    @Test
    void equalsTruePatchingForSmallPerturbationsGpt2() {
        Config cfg = RandomWeights.gpt2Config(2, 16, 4, 37, 12);
        try (HookedTransformer m = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 3))) { linearRegime(m); }
    }

    @Test
    void equalsTruePatchingForSmallPerturbationsLlama() {
        Config cfg = TestCheckpoints.tinyLlamaConfig();
        try (HookedTransformer m = new HookedTransformer(cfg, RandomWeights.llama(cfg, 4))) { linearRegime(m); }
    }

    @Test
    void shapesAndTensors() {
        Config cfg = RandomWeights.gpt2Config(2, 16, 4, 37, 12);
        try (HookedTransformer m = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 3))) {
            long live = Tensor.liveBytes();
            var r = AttributionPatching.run(m, new int[][] {{1, 2, 3}}, new int[][] {{1, 5, 3}}, Metrics.logitDiff(3, 4));
            assertEquals(live, Tensor.liveBytes(), "attribution frees what it allocates");
            var t = r.toTensors();
            try {
                assertArrayEquals(new long[] {2, 64}, t.get("mlp_neurons").shape());
                assertArrayEquals(new long[] {2, 4}, t.get("heads").shape());
                assertArrayEquals(new long[] {2, 3}, t.get("resid_pre").shape());
            } finally { t.values().forEach(Tensor::close); }
            // position 0 is the same token in both prompts, so nothing to patch there
            assertEquals(0, r.residPre(0, 0), 0);
        }
    }

    @Test
    void mismatchedPromptsAreClearErrors() {
        Config cfg = RandomWeights.gpt2Config(2, 16, 4, 37, 12);
        try (HookedTransformer m = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 3))) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> AttributionPatching.run(m, new int[][] {{1, 2, 3}}, new int[][] {{1, 2}}, Metrics.logitDiff(3, 4)));
            assertTrue(e.getMessage().contains("same token length"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> AttributionPatching.run(m, new int[][] {{1, 2}, {1, 2}}, new int[][] {{1, 2}}, Metrics.logitDiff(3, 4)));
            assertTrue(e.getMessage().contains("1 corrupt prompts for 2 clean prompts"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> ActivationPatching.effect(m, new int[][] {{1, 2}}, new int[][] {{1, 3}}, Metrics.logitDiff(3, 4), Component.head(2, 0)));
            assertTrue(e.getMessage().contains("layer out of range"), e.getMessage());
        }
    }

    /** The real stories260K on a name-swap task: attributions are estimates, so report the correlation. */
    @Test
    void correlatesWithTruePatchingOnRealPrompts() {
        try (HookedTransformer m = HookedTransformer.fromPretrained(TestCheckpoints.stories260K())) {
            // " Lily" and " Tim" are single tokens of its 512-token vocabulary (" Tom" is not)
            String clean = "Lily and Tim went to the park. Lily gave the ball to", corrupt = "Lily and Tim went to the park. Tim gave the ball to";
            int[] c = m.toTokens(clean), k = m.toTokens(corrupt);
            Assumptions.assumeTrue(c.length == k.length, "names tokenise to different lengths");
            Metric metric = Metrics.logitDiff(m.answerToken(clean, " Tim"), m.answerToken(clean, " Lily"));
            var r = AttributionPatching.run(m, new int[][] {c}, new int[][] {k}, metric);
            List<Component> cs = all(m.cfg(), c.length);
            double[] truth = ActivationPatching.effects(m, new int[][] {c}, new int[][] {k}, metric, cs, Hooks.none());
            StringBuilder report = new StringBuilder("stories260K name swap, metric clean " + r.cleanMetric() + " corrupt " + r.corruptMetric() + ":");
            for (ActivationPatching.Kind kind : ActivationPatching.Kind.values()) {
                List<double[]> pairs = new ArrayList<>();
                for (int i = 0; i < cs.size(); i++) if (cs.get(i).kind() == kind) pairs.add(new double[] {attribution(r, cs.get(i)), truth[i]});
                double corr = pearson(pairs);
                report.append(String.format(" %s r=%.3f (n=%d)", kind, corr, pairs.size()));
                assertTrue(corr > 0.5, kind + " correlation " + corr);
            }
            System.out.println(report);
        }
    }

    static double pearson(List<double[]> xy) {
        double mx = 0, my = 0;
        for (double[] p : xy) { mx += p[0]; my += p[1]; }
        mx /= xy.size(); my /= xy.size();
        double sxy = 0, sxx = 0, syy = 0;
        for (double[] p : xy) { sxy += (p[0] - mx) * (p[1] - my); sxx += (p[0] - mx) * (p[0] - mx); syy += (p[1] - my) * (p[1] - my); }
        return sxy / Math.sqrt(sxx * syy);
    }
}
