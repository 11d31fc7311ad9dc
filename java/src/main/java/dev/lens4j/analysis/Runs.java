package dev.lens4j.analysis;

import dev.lens4j.hooks.Hooks;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metric;

/** Small shared pieces of the analyses: a metric on a forward pass, batch checks. */
final class Runs {
    private Runs() {}

    /** The metric's value on a forward pass with these hooks (logits of the last position only when that is all it reads). */
    static double metric(HookedTransformer model, int[][] tokens, Metric metric, Hooks hooks) {
        var o = new HookedTransformer.RunOptions().hooks(hooks).logitsLastOnly(metric.lastPositionOnly());
        try (var out = model.run(tokens, o)) {
            var l = out.logits();
            float[] lg = l.toFloatArray();
            return metric.evaluate(lg, (int) l.size(0), (int) l.size(1), (int) l.size(2), new float[lg.length]);
        }
    }

    /** Per-prompt values of a metric that sums over the batch: one forward, the metric applied row by row. */
    static double[] metricPerPrompt(HookedTransformer model, int[][] tokens, java.util.function.IntFunction<Metric> metricOf, Hooks hooks) {
        var o = new HookedTransformer.RunOptions().hooks(hooks).logitsLastOnly(true);
        try (var out = model.run(tokens, o)) { return perRow(out, metricOf); }
    }

    /** The same over a padded batch: each row's metric at its last real token. */
    static double[] metricPerPrompt(HookedTransformer model, dev.lens4j.model.PaddedBatch tokens, java.util.function.IntFunction<Metric> metricOf, Hooks hooks) {
        var o = new HookedTransformer.RunOptions().hooks(hooks).logitsLastOnly(true);
        try (var out = model.run(tokens, o)) { return perRow(out, metricOf); }
    }

    private static double[] perRow(HookedTransformer.Output out, java.util.function.IntFunction<Metric> metricOf) {
        {
            var l = out.logits();
            int B = (int) l.size(0), V = (int) l.size(2);
            float[] lg = l.toFloatArray();
            double[] v = new double[B];
            for (int b = 0; b < B; b++) {
                float[] row = java.util.Arrays.copyOfRange(lg, b * V, (b + 1) * V);
                v[b] = metricOf.apply(b).evaluate(row, 1, 1, V, new float[V]);
            }
            return v;
        }
    }

    /** Every row of a batch has one length (rectangular), with an error naming the row that differs. */
    static int rectangular(int[][] tokens, String what) {
        if (tokens == null || tokens.length == 0) throw new IllegalArgumentException("no " + what + " prompts given");
        int S = tokens[0].length;
        for (int b = 1; b < tokens.length; b++)
            if (tokens[b].length != S)
                throw new IllegalArgumentException(what + " prompt " + b + " has " + tokens[b].length + " tokens, " + what
                        + " prompt 0 has " + S + ": a batch must have one length (run prompts of other lengths separately)");
        return S;
    }

    static void checkLayer(HookedTransformer model, int layer) {
        int L = model.cfg().nLayers;
        if (layer < 0 || layer >= L)
            throw new IllegalArgumentException("layer " + layer + " is out of range: the model has " + L + " blocks (0.." + (L - 1) + ")");
    }
}
