package dev.lens4j.analysis;

import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.hooks.Positions;
import dev.lens4j.model.Batches;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.PaddedBatch;
import dev.lens4j.model.Metric;
import dev.lens4j.model.Metrics;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.IntStream;

/**
 * Seed 000's gradient-weighted neuron scoring (Appendix C), for any block L. With m the forced-choice margin
 * logit(yes) - logit(no) at the last position, aligned by truth (x +1 when the answer is yes, -1 when no), and
 * g = dm/dr at blocks.L.hook_resid_post (last position; for the last block this is the gradient of
 * <LN_final(r), W_U[yes] - W_U[no]>, for earlier blocks m runs through the rest of the model):
 * c_j = h_j * (W_out[L][j] . g), with h = blocks.L.mlp.hook_post at the last position.
 * Positive c_j helps the true answer, negative harms it. Rankings, zero / mean ablation of the most harmful
 * neurons at the last position (where they were scored), and forced-choice accuracy before and after.
 */
public final class NeuronScoring {
    private NeuronScoring() {}

    /** Prompts per batch (prompts are batched by token length). */
    static final int BATCH = 16;

    /** One forced-choice prompt: tokens, the yes / no token ids (tokenised in context), the truth and a group label. */
    public record Prompt(int[] tokens, int yes, int no, boolean truthYes, String group) {
        public Prompt {
            if (tokens == null || tokens.length == 0) throw new IllegalArgumentException("empty prompt");
            if (group == null) group = "all";
        }

        /** From text: BOS prepended as the model does by default; yes / no must each be one token after the prompt. */
        public static Prompt of(HookedTransformer model, String text, String yes, String no, boolean truthYes, String group) {
            return new Prompt(model.toTokens(text), model.answerToken(text, yes), model.answerToken(text, no), truthYes, group);
        }
    }

    /** Per-prompt scores of one block. */
    public static final class Scores {
        public final int layer;
        private final List<Prompt> prompts;
        private final float[][] c, g;     // [prompt][d_mlp], [prompt][d_model]
        private final double[] margin;    // aligned margin per prompt

        Scores(int layer, List<Prompt> prompts, float[][] c, float[][] g, double[] margin) {
            this.layer = layer; this.prompts = List.copyOf(prompts); this.c = c; this.g = g; this.margin = margin;
        }

        public int size() { return prompts.size(); }
        public List<Prompt> prompts() { return prompts; }
        /** Truth-aligned c of prompt i, [d_mlp]. */
        public float[] c(int i) { return c[i].clone(); }
        /** Truth-aligned dm/dr at hook_resid_post of prompt i (last position), [d_model]. */
        public float[] g(int i) { return g[i].clone(); }
        /** Truth-aligned margin of prompt i (positive: the model prefers the true answer). */
        public double margin(int i) { return margin[i]; }

        /** c summed over all prompts. */
        public double[] totalC() { return sum(c, i -> true); }
        public double[] totalG() { return sum(g, i -> true); }
        /** c summed over one group's prompts. */
        public double[] groupC(String group) { return sum(c, i -> prompts.get(i).group().equals(group)); }

        /** The k neurons with the most negative summed c (most harmful first). */
        public int[] mostHarmful(int k) { return lowest(totalC(), k); }

        /** Per group (sorted by name): the k most harmful neurons on that group's prompts. */
        public Map<String, int[]> mostHarmfulByGroup(int k) {
            Map<String, int[]> out = new TreeMap<>();
            for (String grp : groups()) out.put(grp, lowest(groupC(grp), k));
            return out;
        }

        public List<String> groups() {
            return prompts.stream().map(Prompt::group).distinct().sorted().toList();
        }

        /** Fraction of prompts whose aligned margin is > 0. */
        public double accuracy() {
            return Arrays.stream(margin).filter(m -> m > 0).count() / (double) margin.length;
        }

        private double[] sum(float[][] v, java.util.function.IntPredicate which) {
            double[] s = new double[v.length == 0 ? 0 : v[0].length];
            for (int i = 0; i < v.length; i++) if (which.test(i)) for (int j = 0; j < s.length; j++) s[j] += v[i][j];
            return s;
        }
    }

    /** The k indices with the lowest values, lowest first (ties by index). */
    static int[] lowest(double[] v, int k) {
        if (k < 0) throw new IllegalArgumentException("k must be >= 0, got " + k);
        return IntStream.range(0, v.length).boxed().sorted(Comparator.comparingDouble((Integer i) -> v[i]).thenComparing(i -> i))
                .limit(k).mapToInt(Integer::intValue).toArray();
    }

    /**
     * Scores of block `layer` on every prompt: one forward + backward per batch of length-sorted prompts, left-padded
     * (so every row's last real token is the last position; padding is masked and changes no row's scores).
     */
    public static Scores score(HookedTransformer model, int layer, List<Prompt> prompts) {
        Runs.checkLayer(model, layer);
        if (model.cfg().attnOnly) throw new IllegalArgumentException("an attention-only model has no MLP neurons to score");
        if (prompts.isEmpty()) throw new IllegalArgumentException("no prompts given");
        int F = model.cfg().dMlp, D = model.cfg().dModel, n = prompts.size();
        float[][] c = new float[n][], g = new float[n][];
        double[] margin = new double[n];
        String post = HookNames.mlpPost(layer), resid = HookNames.residPost(layer);
        try (Tensor wOut = wOut(model, layer)) {
            for (int[] batch : batches(prompts)) {
                PaddedBatch tokens = padded(model, prompts, batch);
                int B = batch.length, S = tokens.seq();
                double[] m = new double[B];
                var o = new HookedTransformer.RunOptions().cacheNames(post).cachePositions(Positions.last()).cacheGrads(resid::equals);
                try (var gr = model.backward(tokens, marginMetric(prompts, batch, m), o)) {
                    keep(gr, layer, wOut, F, D, S, batch, m, c, g, margin);
                }
            }
        }
        return new Scores(layer, prompts, c, g, margin);
    }

    /**
     * score() run from block `layer`'s cached input: batches of prompts of one token length each, with
     * blocks.{layer}.hook_resid_pre of each batch ([B * S * d_model], all positions); only blocks layer.. run,
     * forward and backward. The scores equal score()'s: they depend only on that input and the later blocks.
     */
    public static Scores scoreFromResidPre(HookedTransformer model, int layer, List<Prompt> prompts, List<int[]> batches,
                                           List<float[]> residPre) {
        Runs.checkLayer(model, layer);
        if (model.cfg().attnOnly) throw new IllegalArgumentException("an attention-only model has no MLP neurons to score");
        if (batches.size() != residPre.size())
            throw new IllegalArgumentException(batches.size() + " batches but " + residPre.size() + " cached residuals");
        int F = model.cfg().dMlp, D = model.cfg().dModel, n = prompts.size();
        float[][] c = new float[n][], g = new float[n][];
        double[] margin = new double[n];
        var o = new HookedTransformer.RunOptions().cacheNames(HookNames.mlpPost(layer)).cachePositions(Positions.last())
                .cacheGrads(HookNames.residPost(layer)::equals);
        try (Tensor wOut = wOut(model, layer)) {
            for (int k = 0; k < batches.size(); k++) {
                int[] batch = batches.get(k);
                float[] start = residPre.get(k);
                if (batch.length == 0 || start.length % ((long) batch.length * D) != 0)
                    throw new IllegalArgumentException("cached residual of batch " + k + " has " + start.length + " values, not " + batch.length + " x S x " + D);
                int S = start.length / (batch.length * D);
                for (int i : batch)
                    if (prompts.get(i).tokens().length != S)
                        throw new IllegalArgumentException("prompt " + i + " has " + prompts.get(i).tokens().length + " tokens, its batch " + S);
                double[] m = new double[batch.length];
                try (Tensor r = Tensor.of(start, batch.length, S, D);
                     var gr = model.backward((int[][]) null, marginMetric(prompts, batch, m), o.startAtLayer(layer, r))) {
                    keep(gr, layer, wOut, F, D, S, batch, m, c, g, margin);
                }
            }
        }
        for (int i = 0; i < n; i++) if (c[i] == null) throw new IllegalArgumentException("prompt " + i + " is in no batch");
        return new Scores(layer, prompts, c, g, margin);
    }

    /**
     * c, g and the margin of each prompt of a batch from its backward (last position: each row's last real token).
     * c for the whole batch is one native kernel (DeviceKernels.neuronScores), on the device the run used.
     */
    private static void keep(HookedTransformer.Gradients gr, int layer, Tensor wOut, int F, int D, int S, int[] batch, double[] m,
                             float[][] c, float[][] g, double[] margin) {
        Tensor h = gr.cache().get(HookNames.mlpPost(layer));    // [B, 1, F]
        Tensor dr = gr.grads().get(HookNames.residPost(layer)); // [B, S, D]
        float[] scores, last;
        try (Tensor out = Tensor.empty(dr.device(), DType.F32, batch.length, F); Tensor lastPos = dr.narrow(1, S - 1, 1)) {
            DeviceKernels.neuronScores(h, wOut, dr, out);
            scores = out.toFloatArray();
            last = lastPos.toFloatArray();
        }
        for (int b = 0; b < batch.length; b++) {
            int i = batch[b];
            c[i] = Arrays.copyOfRange(scores, b * F, (b + 1) * F);
            g[i] = Arrays.copyOfRange(last, b * D, (b + 1) * D);
            margin[i] = m[b];
        }
    }

    /** W_out of block `layer` as an F32 tensor [d_mlp, d_model] (a copy: the weights may be bf16); the caller closes it. */
    private static Tensor wOut(HookedTransformer model, int layer) {
        Config cfg = model.cfg();
        return Tensor.of(model.readWeights(w -> w.W_out(layer).toFloatArray()), cfg.dMlp, cfg.dModel);
    }

    /** The aligned forced-choice margin of the prompts in batch, recording each prompt's value in m. */
    static Metric marginMetric(List<Prompt> prompts, int[] batch, double[] m) {
        return (logits, B, P, V, grad) -> {
            double total = 0;
            for (int b = 0; b < B; b++) {
                Prompt p = prompts.get(batch[b]);
                int off = (b * P + P - 1) * V;
                float[] row = Arrays.copyOfRange(logits, off, off + V), gr = new float[V];
                m[b] = Metrics.forcedChoiceMargin(p.yes(), p.no(), new boolean[] {p.truthYes()}).evaluate(row, 1, 1, V, gr);
                for (int v = 0; v < V; v++) grad[off + v] += gr[v];
                total += m[b];
            }
            return total;
        };
    }

    /** Indices of prompts sorted by token length, in chunks of at most BATCH (padded together: Batches.byLength). */
    static List<int[]> batches(List<Prompt> prompts) {
        List<int[]> seqs = new ArrayList<>(prompts.size());
        for (Prompt p : prompts) seqs.add(p.tokens());
        return Batches.byLength(seqs, BATCH);
    }

    /** The prompts of a batch left-padded: each row's last real token sits at the last position. */
    static PaddedBatch padded(HookedTransformer model, List<Prompt> prompts, int[] batch) {
        List<int[]> seqs = new ArrayList<>(prompts.size());
        for (Prompt p : prompts) seqs.add(p.tokens());
        return Batches.pad(seqs, batch, PaddedBatch.Side.LEFT, model.padTokenId());
    }

    // ------------------------------------------------------------------------------------------ ablation

    public enum Ablation { ZERO, MEAN }

    /** Mean of blocks.L.mlp.hook_post at the last position over the prompts (the mean-ablation values), [d_mlp]. */
    public static float[] meanActivations(HookedTransformer model, int layer, List<Prompt> prompts) {
        Runs.checkLayer(model, layer);
        int F = model.cfg().dMlp;
        double[] s = new double[F];
        String post = HookNames.mlpPost(layer);
        for (int[] batch : batches(prompts)) {
            PaddedBatch tokens = padded(model, prompts, batch);
            var o = new HookedTransformer.RunOptions().cacheNames(post).cachePositions(Positions.last()).stopAtLayer(layer + 1);
            try (var out = model.run(tokens, o)) {
                float[] h = out.cache().get(post).toFloatArray();
                for (int i = 0; i < h.length; i++) s[i % F] += h[i];
            }
        }
        float[] mean = new float[F];
        for (int j = 0; j < F; j++) mean[j] = (float) (s[j] / prompts.size());
        return mean;
    }

    /** A hook setting neurons of blocks.L.mlp.hook_post at the last position to values[j] (null: zero). */
    public static Hooks ablate(int layer, int[] neurons, float[] values) {
        int[] ns = neurons.clone();
        return Hooks.none().add(HookNames.mlpPost(layer), (act, hp) -> {
            int B = (int) act.size(0), S = (int) act.size(1), F = (int) act.size(2);
            for (int j : ns) if (j < 0 || j >= F) throw new IllegalArgumentException("neuron " + j + " is outside [0, " + F + ")");
            for (int b = 0; b < B; b++)
                for (int j : ns) act.put(values == null ? 0f : values[j], b, S - 1, j);
            return null;
        });
    }

    /** Forced-choice accuracy and margins of prompts under hooks. */
    public record Evaluation(double accuracy, double meanMargin, double[] margins, Map<String, Double> accuracyByGroup) {}

    public static Evaluation evaluate(HookedTransformer model, List<Prompt> prompts, Hooks hooks) {
        if (prompts.isEmpty()) throw new IllegalArgumentException("no prompts given");
        double[] m = new double[prompts.size()];
        for (int[] batch : batches(prompts)) {
            PaddedBatch tokens = padded(model, prompts, batch);
            double[] v = Runs.metricPerPrompt(model, tokens, b -> {
                Prompt p = prompts.get(batch[b]);
                return Metrics.forcedChoiceMargin(p.yes(), p.no(), new boolean[] {p.truthYes()});
            }, hooks);
            for (int b = 0; b < batch.length; b++) m[batch[b]] = v[b];
        }
        Map<String, double[]> byGroup = new TreeMap<>(); // group -> {correct, count}
        int correct = 0;
        double sum = 0;
        for (int i = 0; i < m.length; i++) {
            double[] gc = byGroup.computeIfAbsent(prompts.get(i).group(), k -> new double[2]);
            gc[1]++;
            if (m[i] > 0) { correct++; gc[0]++; }
            sum += m[i];
        }
        Map<String, Double> acc = new TreeMap<>();
        byGroup.forEach((k, v) -> acc.put(k, v[0] / v[1]));
        return new Evaluation(correct / (double) m.length, sum / m.length, m, acc);
    }

    /** Neurons chosen on the training prompts, ablated, and judged on both sets. */
    public record SplitReport(int layer, Ablation ablation, int[] neurons, Evaluation trainBefore, Evaluation trainAfter,
                              Evaluation validationBefore, Evaluation validationAfter) {}

    /**
     * Seed 000's verification: score block `layer` on the training prompts only, ablate its k most harmful neurons
     * (zero, or the mean over the training prompts), and report forced-choice accuracy before / after on both sets.
     */
    public static SplitReport trainValidation(HookedTransformer model, int layer, List<Prompt> train, List<Prompt> validation,
                                              int k, Ablation ablation) {
        Scores s = score(model, layer, train);
        int[] top = s.mostHarmful(k);
        Hooks h = ablate(layer, top, ablation == Ablation.MEAN ? meanActivations(model, layer, train) : null);
        return new SplitReport(layer, ablation, top, evaluate(model, train, Hooks.none()), evaluate(model, train, h),
                evaluate(model, validation, Hooks.none()), evaluate(model, validation, h));
    }

    /** Scores as tensors c [d_mlp] and g [d_model] (summed over prompts), plus c_per_prompt [n, d_mlp]; the caller closes them. */
    public static Map<String, Tensor> toTensors(Scores s) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("c", Tensor.of(floats(s.totalC()), s.c[0].length));
        m.put("g", Tensor.of(floats(s.totalG()), s.g[0].length));
        float[] all = new float[s.size() * s.c[0].length];
        for (int i = 0; i < s.size(); i++) System.arraycopy(s.c[i], 0, all, i * s.c[i].length, s.c[i].length);
        m.put("c_per_prompt", Tensor.of(all, s.size(), s.c[0].length));
        float[] margins = new float[s.size()];
        for (int i = 0; i < margins.length; i++) margins[i] = (float) s.margin[i];
        m.put("margin", Tensor.of(margins, s.size()));
        return m;
    }

    static float[] floats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }
}
