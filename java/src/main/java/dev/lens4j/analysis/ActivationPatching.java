package dev.lens4j.analysis;

import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metric;
import dev.lens4j.tensor.Tensor;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * True activation patching of one component at a time: run the clean prompts with that component's activation
 * replaced by its value on the corrupt prompts, and report metric(patched) - metric(clean). One forward per
 * component: the ground truth that {@link AttributionPatching} estimates to first order.
 */
public final class ActivationPatching {
    private ActivationPatching() {}

    public enum Kind { MLP_NEURON, HEAD, RESID_PRE }

    /** One neuron (all positions), one head (all positions, all of d_head), or one residual position (all of d_model). */
    public record Component(Kind kind, int layer, int index) {
        public static Component neuron(int layer, int neuron) { return new Component(Kind.MLP_NEURON, layer, neuron); }
        public static Component head(int layer, int head) { return new Component(Kind.HEAD, layer, head); }
        public static Component residPre(int layer, int position) { return new Component(Kind.RESID_PRE, layer, position); }

        public String hookName() {
            return switch (kind) {
                case MLP_NEURON -> HookNames.mlpPost(layer);
                case HEAD -> HookNames.z(layer);
                case RESID_PRE -> HookNames.residPre(layer);
            };
        }

        void check(Config cfg, int S) {
            if (layer < 0 || layer >= cfg.nLayers)
                throw new IllegalArgumentException(this + ": layer out of range, the model has " + cfg.nLayers + " blocks");
            int n = switch (kind) {
                case MLP_NEURON -> { if (cfg.attnOnly) throw new IllegalArgumentException("attention-only model has no MLP neurons"); yield cfg.dMlp; }
                case HEAD -> cfg.nHeads;
                case RESID_PRE -> S;
            };
            if (index < 0 || index >= n) throw new IllegalArgumentException(this + ": index out of range [0, " + n + ")");
        }
    }

    /** metric(clean with c patched from corrupt) - metric(clean). */
    public static double effect(HookedTransformer model, int[][] clean, int[][] corrupt, Metric metric, Component c) {
        return effects(model, clean, corrupt, metric, List.of(c), Hooks.none())[0];
    }

    /**
     * The patching effect of each component, reusing one corrupt run (with corruptHooks applied to it, as in
     * {@link AttributionPatching#run(HookedTransformer, int[][], int[][], Metric, Hooks)}).
     */
    public static double[] effects(HookedTransformer model, int[][] clean, int[][] corrupt, Metric metric,
                                   List<Component> components, Hooks corruptHooks) {
        AttributionPatching.checkPairs(clean, corrupt);
        int S = clean[0].length;
        Set<String> names = new LinkedHashSet<>();
        for (Component c : components) { c.check(model.cfg(), S); names.add(c.hookName()); }
        double base = Runs.metric(model, clean, metric, Hooks.none());
        double[] out = new double[components.size()];
        var opts = new HookedTransformer.RunOptions().hooks(corruptHooks).cacheNames(names.toArray(String[]::new)).noLogits(true);
        try (var corruptRun = model.run(corrupt, opts)) {
            var cache = corruptRun.cache();
            for (int i = 0; i < out.length; i++) {
                Component c = components.get(i);
                Tensor src = cache.get(c.hookName());
                Hooks patch = Hooks.none().add(c.hookName(), (act, hp) -> { patchInPlace(act, src, c); return null; });
                out[i] = Runs.metric(model, clean, metric, patch) - base;
            }
        }
        return out;
    }

    /** Copies the component's slice of src into act (both [batch, pos, ...]). */
    static void patchInPlace(Tensor act, Tensor src, Component c) {
        float[] a = act.toFloatArray(), s = src.toFloatArray();
        long[] sh = act.shape();
        int B = (int) sh[0], S = (int) sh[1];
        switch (c.kind()) {
            case MLP_NEURON -> {
                int F = (int) sh[2];
                for (int r = 0; r < B * S; r++) a[r * F + c.index()] = s[r * F + c.index()];
            }
            case HEAD -> {
                int H = (int) sh[2], dh = (int) sh[3];
                for (int r = 0; r < B * S; r++) {
                    int o = (r * H + c.index()) * dh;
                    System.arraycopy(s, o, a, o, dh);
                }
            }
            case RESID_PRE -> {
                int D = (int) sh[2];
                for (int b = 0; b < B; b++) {
                    int o = (b * S + c.index()) * D;
                    System.arraycopy(s, o, a, o, D);
                }
            }
        }
        act.set(a);
    }
}
