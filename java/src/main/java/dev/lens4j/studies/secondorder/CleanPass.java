package dev.lens4j.studies.secondorder;

import dev.lens4j.hooks.Hooks;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;

import java.util.function.IntConsumer;

/**
 * What one clean forward over every problem gives: correctness (the greedy answer, by teacher forcing), the first
 * answer token's log-probability, the final residual at the query position (for the correctness direction), and per
 * neuron the statistics the seed's sampling uses (mean |activation| and variance at the query position) and the
 * means that mean-ablation substitutes (over every position up to the query).
 */
final class CleanPass {
    final boolean[] correct, firstCorrect;
    final double[] firstLogProb;
    final double[][] finalResid;          // [N][d_model]
    final double[][] meanAbsAct, varAct;  // [L][d_mlp] at the query position
    final float[][] meanPost;             // [L][d_mlp] over positions ≤ query
    final float[][] meanMlpOut;           // [L][d_model] over positions ≤ query

    CleanPass(HookedTransformer model, ProblemBatches data, IntConsumer progress) {
        var cfg = model.cfg();
        int n = data.size(), L = cfg.nLayers, dMlp = cfg.dMlp, d = cfg.dModel;
        correct = new boolean[n];
        firstCorrect = new boolean[n];
        firstLogProb = new double[n];
        finalResid = new double[n][];
        double[][] sumAbs = new double[L][dMlp], sum = new double[L][dMlp], sumSq = new double[L][dMlp], sumAll = new double[L][dMlp];
        double[][] sumOut = new double[L][d];
        long positions = 0;
        String[] names = new String[2 * L + 1];
        for (int l = 0; l < L; l++) { names[2 * l] = "blocks." + l + ".mlp.hook_post"; names[2 * l + 1] = "blocks." + l + ".hook_mlp_out"; }
        names[2 * L] = "blocks." + (L - 1) + ".hook_resid_post";
        int done = 0;
        for (int[] batch : data.batches) {
            int q = data.query[batch[0]];
            try (var out = model.run(data.tokens(batch), new HookedTransformer.RunOptions().cacheNames(names))) {
                scoreAnswers(out.logits(), data, batch, correct, firstCorrect, firstLogProb);
                float[] resid = out.cache().get(names[2 * L]).toFloatArray();
                int pos = data.sequences[batch[0]].length;
                for (int b = 0; b < batch.length; b++) {
                    double[] r = new double[d];
                    for (int j = 0; j < d; j++) r[j] = resid[(b * pos + q) * d + j];
                    finalResid[batch[b]] = r;
                }
                for (int l = 0; l < L; l++) {
                    float[] post = out.cache().get(names[2 * l]).toFloatArray();
                    float[] mo = out.cache().get(names[2 * l + 1]).toFloatArray();
                    for (int b = 0; b < batch.length; b++) {
                        for (int i = 0; i <= q; i++) {
                            int base = (b * pos + i) * dMlp;
                            for (int j = 0; j < dMlp; j++) sumAll[l][j] += post[base + j];
                            int ob = (b * pos + i) * d;
                            for (int j = 0; j < d; j++) sumOut[l][j] += mo[ob + j];
                        }
                        int base = (b * pos + q) * dMlp;
                        for (int j = 0; j < dMlp; j++) {
                            double a = post[base + j];
                            sumAbs[l][j] += Math.abs(a); sum[l][j] += a; sumSq[l][j] += a * a;
                        }
                    }
                }
                positions += (long) batch.length * (q + 1);
            }
            progress.accept(++done);
        }
        meanAbsAct = new double[L][dMlp];
        varAct = new double[L][dMlp];
        meanPost = new float[L][dMlp];
        meanMlpOut = new float[L][d];
        for (int l = 0; l < L; l++) {
            for (int j = 0; j < dMlp; j++) {
                meanAbsAct[l][j] = sumAbs[l][j] / n;
                double m = sum[l][j] / n;
                varAct[l][j] = Math.max(0, sumSq[l][j] / n - m * m);
                meanPost[l][j] = (float) (sumAll[l][j] / positions);
            }
            for (int j = 0; j < d; j++) meanMlpOut[l][j] = (float) (sumOut[l][j] / positions);
        }
    }

    /** Teacher-forced correctness, first-token correctness and log p(first answer token) for a batch. */
    static void scoreAnswers(Tensor logits, ProblemBatches data, int[] batch, boolean[] correct, boolean[] first, double[] logProb) {
        int pos = (int) logits.size(1), v = (int) logits.size(2);
        float[] lg = logits.toFloatArray();
        for (int b = 0; b < batch.length; b++) {
            int x = batch[b], q = data.query[x];
            int[] ans = data.answers[x];
            boolean all = true;
            for (int j = 0; j < ans.length; j++) {
                int base = (b * pos + q + j) * v;
                boolean hit = argmax(lg, base, v) == ans[j];
                if (j == 0) {
                    if (first != null) first[x] = hit;
                    if (logProb != null) logProb[x] = logSoftmaxAt(lg, base, v, ans[0]);
                }
                all &= hit;
            }
            if (correct != null) correct[x] = all;
        }
    }

    static int argmax(float[] a, int base, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (a[base + i] > a[base + best]) best = i;
        return best;
    }

    static double logSoftmaxAt(float[] a, int base, int n, int k) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, a[base + i]);
        double s = 0;
        for (int i = 0; i < n; i++) s += Math.exp(a[base + i] - max);
        return a[base + k] - max - Math.log(s);
    }

    /**
     * Mean-ablates one MLP layer (hook_mlp_out replaced by its mean over problems and positions) and returns
     * {first-token accuracy, mean log p(first answer token)} over every problem.
     */
    static double[] ablateLayer(HookedTransformer model, ProblemBatches data, int layer, float[] mean) {
        int n = data.size(), d = mean.length;
        boolean[] first = new boolean[n];
        double[] lp = new double[n];
        Hooks hooks = Hooks.none().add("blocks." + layer + ".hook_mlp_out", (act, hook) -> {
            float[] fill = new float[(int) act.numel()];
            for (int i = 0; i < fill.length; i++) fill[i] = mean[i % d];
            act.set(fill);
            return null;
        });
        for (int[] batch : data.batches)
            try (Tensor logits = model.runWithHooks(data.tokens(batch), hooks)) {
                scoreAnswers(logits, data, batch, null, first, lp);
            }
        return new double[] {fraction(first, null), mean(lp)};
    }

    /** Mean-ablates the given neurons of each layer (hook_post columns replaced by their means); first-token correctness per problem. */
    static boolean[] ablateNeurons(HookedTransformer model, ProblemBatches data, int[] layers, int[][] neurons, float[][] meanPost,
                                   IntConsumer progress) {
        Hooks hooks = Hooks.none();
        int dMlp = model.cfg().dMlp;
        for (int li = 0; li < layers.length; li++) {
            int[] ns = neurons[li];
            float[] means = meanPost[layers[li]];
            hooks = hooks.add("blocks." + layers[li] + ".mlp.hook_post", (act, hook) -> {
                float[] a = act.toFloatArray();
                for (int row = 0; row < a.length / dMlp; row++) for (int j : ns) a[row * dMlp + j] = means[j];
                act.set(a);
                return null;
            });
        }
        boolean[] first = new boolean[data.size()];
        int done = 0;
        for (int[] batch : data.batches) {
            try (Tensor logits = model.runWithHooks(data.tokens(batch), hooks)) {
                scoreAnswers(logits, data, batch, null, first, null);
            }
            progress.accept(++done);
        }
        return first;
    }

    static double fraction(boolean[] b, boolean[] mask) {
        int k = 0, n = 0;
        for (int i = 0; i < b.length; i++) {
            if (mask != null && !mask[i]) continue;
            n++;
            if (b[i]) k++;
        }
        return n == 0 ? Double.NaN : (double) k / n;
    }

    static double mean(double[] x) {
        double s = 0;
        for (double v : x) s += v;
        return s / x.length;
    }
}
