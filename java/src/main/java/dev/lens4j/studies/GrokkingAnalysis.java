package dev.lens4j.studies;

import dev.lens4j.analysis.LinearFit;
import dev.lens4j.analysis.LinearProbe;
import dev.lens4j.analysis.Mat;
import dev.lens4j.analysis.Pca;
import dev.lens4j.analysis.Stats;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.HookedTransformer.RunOptions;
import dev.lens4j.model.Metrics;
import dev.lens4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;

/**
 * The seed's analyses of a trained grokking model over every (a, b) pair: embedding PCA, attention from '=',
 * MLP neurons at '=' against the target, a linear probe, the neuron-to-logit map W_L = W_out W_U, and ablations.
 * Plain data (double arrays) so the report and results.json read the same numbers.
 */
public final class GrokkingAnalysis {
    public static final int TOP_NEURONS = 10, HEATMAP_NEURONS = 3;
    public static final long PROBE_SPLIT_SEED = 42;
    public static final double PROBE_TRAIN_FRACTION = 0.7;
    /** Ridge penalty of the probe: d_mlp exceeds the number of pairs, so plain least squares is underdetermined. */
    public static final double PROBE_LAMBDA = 1e-2;

    public int p, vocabOut, dMlp, nHeads;
    public GrokkingStudy.Task task;
    /** Per pair (row a*p + b): a, b, a + b, the label, the value neurons are correlated with. */
    public double[] a, b, sum, label, target;
    public String targetName;

    // clean model
    public int[] predictions;
    public double accuracyAll, accuracyTrain, accuracyTest, lossAll;

    // embedding PCA (W_E without the '=' row)
    public double[][] embedding, pcaScores;
    public double[] explainedVarianceRatio, cumulativeVarianceRatio, pcaMean;
    public double[][] pcaComponents;
    /** R^2 of PC1 score ~ token (how linear PC1 is in the number) and of PC2 ~ (token - centre)^2. */
    public double pc1LinearR2, pc2QuadraticR2;
    /** For the first (up to) 3 PCs: R^2 of the score against the number, (number - centre)^2, and its parity. */
    public double[][] pcShapeR2;
    public static final String[] PC_SHAPES = {"linear", "quadratic", "parity"};

    // attention from '=' (query position 2) to positions a, b, '=': [head][3], averaged over all pairs
    public double[][] attentionFromEquals;

    // neurons (mlp.hook_post at '=')
    public double[][] neuronActs;           // [pairs][d_mlp]
    public double[] correlation;            // [d_mlp], 0 for dead neurons (the seed's nan_to_num)
    public int deadNeurons, above09, belowMinus09;
    public int[] topNeurons;                // by |correlation|, largest first
    public double[] fractionActive, meanActivation, maxActivation;
    public int[] neuronsByCorrelation;      // ascending correlation (the seed's np.argsort)

    // probe
    public LinearProbe.Evaluation probe;
    public int probeTrainRows, probeTestRows;

    // W_L = W_out @ W_U [d_mlp][d_vocab_out]
    public double[][] wL;

    // ablations
    public final List<Ablation> ablations = new ArrayList<>();
    public int[] sweepK;
    public double[] sweepAccuracy, sweepLoss;

    /** One intervention on the model, scored on every pair. */
    public static final class Ablation {
        public String key, title, shortTitle, description;
        public int[] predictions;
        public double accuracy, loss;
        public double[][] errorGrid;        // [a][b]: prediction - label (0 where right)
        public List<int[]> failing;         // {a, b, label, prediction}
        public LinearFit fitOnSum, fitOnAB;
    }

    static GrokkingAnalysis run(HookedTransformer model, GrokkingStudy.Options o, int[][] tokens, int[] labels,
                                int[] trainIdx, int[] testIdx) {
        GrokkingAnalysis an = new GrokkingAnalysis();
        an.compute(model, o, tokens, labels, trainIdx, testIdx);
        return an;
    }

    private void compute(HookedTransformer model, GrokkingStudy.Options o, int[][] tokens, int[] labels, int[] trainIdx, int[] testIdx) {
        p = o.p();
        task = o.task;
        vocabOut = model.cfg().dVocabOut();
        dMlp = model.cfg().dMlp;
        nHeads = model.cfg().nHeads;
        int n = p * p;
        a = new double[n]; b = new double[n]; sum = new double[n]; label = new double[n];
        for (int i = 0; i < n; i++) { a[i] = i / p; b[i] = i % p; sum[i] = a[i] + b[i]; label[i] = labels[i]; }
        target = task == GrokkingStudy.Task.SUM ? sum : label;
        targetName = task == GrokkingStudy.Task.SUM ? "a+b" : "(a+b) mod p";

        String patternName = HookNames.pattern(0), postName = HookNames.mlpPost(0), mlpOutName = HookNames.mlpOut(0);
        float[] mlpOut;
        try (Tensor tok = model.tokenTensor(tokens);
             HookedTransformer.Output run = model.run(tok, new RunOptions().cacheNames(patternName, postName, mlpOutName).logitsLastOnly(true))) {
            float[] lg = run.logits().toFloatArray();
            predictions = argmaxRows(lg, vocabOut);
            lossAll = Metrics.crossEntropyLast(labels).evaluate(lg, n, 1, vocabOut, new float[lg.length]);
            attention(run.cache().get(patternName).toFloatArray(), n);
            neuronActs = atPosition(run.cache().get(postName).toFloatArray(), n, 3, dMlp, 2);
            mlpOut = run.cache().get(mlpOutName).toFloatArray();
        }
        accuracyAll = accuracy(predictions, labels, null);
        accuracyTrain = accuracy(predictions, labels, trainIdx);
        accuracyTest = accuracy(predictions, labels, testIdx);

        embeddingPca(model);
        neurons();
        probe();
        neuronLogitMap(model);
        ablations(model, tokens, labels, mlpOut, o.ablateTopK);
    }

    // ------------------------------------------------------------------------------------------ pieces

    private void attention(float[] pattern, int n) {
        // [n, heads, q, k]: query '=' is position 2
        attentionFromEquals = new double[nHeads][3];
        for (int i = 0; i < n; i++)
            for (int h = 0; h < nHeads; h++)
                for (int k = 0; k < 3; k++) attentionFromEquals[h][k] += pattern[((i * nHeads + h) * 3 + 2) * 3 + k];
        for (double[] row : attentionFromEquals) for (int k = 0; k < 3; k++) row[k] /= n;
    }

    private void embeddingPca(HookedTransformer model) {
        int d = model.cfg().dModel;
        float[] wE = model.weights().W_E().toFloatArray();
        embedding = Mat.fromFlat(Arrays.copyOf(wE, p * d), p, d); // W_E[:-1]: the numbers, not '='
        Pca pca = Pca.fit(embedding);
        pcaMean = pca.mean();
        pcaComponents = pca.components();
        pcaScores = pca.transform(embedding);
        explainedVarianceRatio = pca.explainedVarianceRatio();
        cumulativeVarianceRatio = pca.cumulativeVarianceRatio();
        // a PC's sign is arbitrary: orient PC1 so its score grows with the number
        double[] tok = new double[p];
        for (int i = 0; i < p; i++) tok[i] = i;
        if (Stats.pearson(Mat.column(pcaScores, 0), tok) < 0) {
            for (double[] row : pcaScores) row[0] = -row[0];
            for (int j = 0; j < d; j++) pcaComponents[0][j] = -pcaComponents[0][j];
        }
        pc1LinearR2 = LinearFit.simple(tok, Mat.column(pcaScores, 0)).r2();
        // which simple function of the number each leading PC is (the seed found PC1 linear, PC2 parabolic)
        double[] sq = new double[p], par = new double[p];
        for (int i = 0; i < p; i++) { sq[i] = (i - (p - 1) / 2.0) * (i - (p - 1) / 2.0); par[i] = i % 2; }
        pcShapeR2 = new double[Math.min(3, pcaScores[0].length)][];
        for (int c = 0; c < pcShapeR2.length; c++) {
            double[] sc = Mat.column(pcaScores, c);
            pcShapeR2[c] = new double[] {r2(tok, sc), r2(sq, sc), r2(par, sc)};
        }
        pc2QuadraticR2 = pcShapeR2.length > 1 ? pcShapeR2[1][1] : Double.NaN;
    }

    private void neurons() {
        int n = neuronActs.length;
        correlation = Stats.pearsonColumns(neuronActs, target);
        fractionActive = new double[dMlp];
        meanActivation = new double[dMlp];
        maxActivation = new double[dMlp];
        for (int j = 0; j < dMlp; j++) {
            double mn = Double.POSITIVE_INFINITY, mx = Double.NEGATIVE_INFINITY, s = 0;
            int active = 0;
            for (double[] row : neuronActs) {
                double v = row[j];
                s += v;
                mn = Math.min(mn, v);
                mx = Math.max(mx, v);
                if (v > 0) active++;
            }
            if (mx == mn) deadNeurons++;
            fractionActive[j] = (double) active / n;
            meanActivation[j] = s / n;
            maxActivation[j] = mx;
            if (correlation[j] > 0.9) above09++;
            if (correlation[j] < -0.9) belowMinus09++;
        }
        topNeurons = Stats.topKByAbs(correlation, Math.min(TOP_NEURONS, dMlp));
        neuronsByCorrelation = Stats.argsort(correlation);
    }

    /** Activation of neuron j over the (a, b) grid, [a][b]. */
    public double[][] neuronGrid(int j) {
        double[][] g = new double[p][p];
        for (int i = 0; i < p * p; i++) g[i / p][i % p] = neuronActs[i][j];
        return g;
    }

    private void probe() {
        LinearProbe.Split split = LinearProbe.split(p * p, PROBE_TRAIN_FRACTION, PROBE_SPLIT_SEED);
        probeTrainRows = split.train().length;
        probeTestRows = split.test().length;
        probe = LinearProbe.trainTest(neuronActs, target, split, PROBE_LAMBDA);
    }

    private void neuronLogitMap(HookedTransformer model) {
        int d = model.cfg().dModel;
        double[][] wOut = Mat.fromFlat(model.weights().W_out(0).toFloatArray(), dMlp, d);
        double[][] wU = Mat.fromFlat(model.weights().W_U().toFloatArray(), d, vocabOut);
        wL = new double[dMlp][vocabOut];
        for (int i = 0; i < dMlp; i++)
            for (int k = 0; k < d; k++) {
                double w = wOut[i][k];
                for (int v = 0; v < vocabOut; v++) wL[i][v] += w * wU[k][v];
            }
    }

    private void ablations(HookedTransformer model, int[][] tokens, int[] labels, float[] mlpOut, int topK) {
        int n = p * p, d = model.cfg().dModel;
        // 1. hook_mlp_out replaced by its mean over the dataset (per position)
        float[] mean = new float[3 * d];
        for (int i = 0; i < n; i++) for (int j = 0; j < 3 * d; j++) mean[j] += mlpOut[i * 3 * d + j];
        for (int j = 0; j < 3 * d; j++) mean[j] /= n;
        float[] meanAll = new float[n * 3 * d];
        for (int i = 0; i < n; i++) System.arraycopy(mean, 0, meanAll, i * 3 * d, 3 * d);
        ablations.add(ablate(model, tokens, labels, "mean_mlp_out", "MLP output mean-ablated", "mean MLP out",
                "blocks.0.hook_mlp_out replaced by its mean over all pairs (per position): the MLP no longer sees a or b.",
                new Hooks().add(HookNames.mlpOut(0), (t, hp) -> t.set(meanAll))));

        // 2. zero the top-k neurons most correlated with the target (by |corr|), at every position
        int[] top = Stats.topKByAbs(correlation, topK);
        ablations.add(ablate(model, tokens, labels, "zero_top_k", "Top-" + topK + " neurons zeroed", "top-" + topK + " zeroed",
                "blocks.0.mlp.hook_post set to 0 for the " + topK + " neurons with the largest |correlation| with " + targetName + ".",
                zeroNeurons(top)));

        // 3. the seed's PC2 ablation: the a and b embeddings keep only their PC1 component
        double[] pc1 = pcaComponents[0];
        ablations.add(ablate(model, tokens, labels, "pc1_only_embedding", "Embeddings reduced to PC1", "PC1-only embed",
                "hook_embed at the a and b positions replaced by mean + (PC1 score) * PC1 of W_E[:-1]: PC2 and the rest removed (the seed's PC2 ablation).",
                new Hooks().add(HookNames.EMBED, (t, hp) -> {
                    float[] e = t.toFloatArray();
                    for (int i = 0; i < e.length / (3 * d); i++)
                        for (int pos = 0; pos < 2; pos++) {
                            int off = (i * 3 + pos) * d;
                            double s = 0;
                            for (int j = 0; j < d; j++) s += (e[off + j] - pcaMean[j]) * pc1[j];
                            for (int j = 0; j < d; j++) e[off + j] = (float) (pcaMean[j] + s * pc1[j]);
                        }
                    return t.set(e);
                })));

        // accuracy as more and more of the top neurons are zeroed
        TreeSet<Integer> ks = new TreeSet<>();
        for (int k : new int[] {0, 1, 2, 5, 10, 20, 50, 100, 200, 300, 400, 512, 1024, 2048}) if (k <= dMlp) ks.add(k);
        ks.add(dMlp);
        sweepK = ks.stream().mapToInt(Integer::intValue).toArray();
        sweepAccuracy = new double[sweepK.length];
        sweepLoss = new double[sweepK.length];
        for (int i = 0; i < sweepK.length; i++) {
            double[] r = score(model, tokens, labels, zeroNeurons(Stats.topKByAbs(correlation, sweepK[i])), null);
            sweepAccuracy[i] = r[0];
            sweepLoss[i] = r[1];
        }
    }

    private Hooks zeroNeurons(int[] idx) {
        return new Hooks().add(HookNames.mlpPost(0), (t, hp) -> {
            if (idx.length == 0) return null;
            float[] v = t.toFloatArray();
            for (int r = 0; r < v.length / dMlp; r++) for (int j : idx) v[r * dMlp + j] = 0;
            return t.set(v);
        });
    }

    private Ablation ablate(HookedTransformer model, int[][] tokens, int[] labels, String key, String title, String shortTitle,
                            String desc, Hooks hooks) {
        Ablation ab = new Ablation();
        ab.key = key; ab.title = title; ab.shortTitle = shortTitle; ab.description = desc;
        int[][] predOut = new int[1][];
        double[] r = score(model, tokens, labels, hooks, predOut);
        ab.accuracy = r[0];
        ab.loss = r[1];
        ab.predictions = predOut[0];
        ab.errorGrid = new double[p][p];
        ab.failing = new ArrayList<>();
        double[] pred = new double[p * p];
        for (int i = 0; i < p * p; i++) {
            pred[i] = ab.predictions[i];
            ab.errorGrid[i / p][i % p] = ab.predictions[i] - labels[i];
            if (ab.predictions[i] != labels[i]) ab.failing.add(new int[] {i / p, i % p, labels[i], ab.predictions[i]});
        }
        ab.fitOnSum = LinearFit.simple(sum, pred);
        ab.fitOnAB = LinearFit.of(a, b, pred);
        return ab;
    }

    /** {accuracy, loss} on every pair under the hooks; predictions into predOut[0] when given. */
    private double[] score(HookedTransformer model, int[][] tokens, int[] labels, Hooks hooks, int[][] predOut) {
        try (Tensor tok = model.tokenTensor(tokens); HookedTransformer.Output o = model.run(tok, new RunOptions().hooks(hooks).logitsLastOnly(true))) {
            float[] lg = o.logits().toFloatArray();
            int[] pred = argmaxRows(lg, vocabOut);
            if (predOut != null) predOut[0] = pred;
            double loss = Metrics.crossEntropyLast(labels).evaluate(lg, labels.length, 1, vocabOut, new float[lg.length]);
            return new double[] {accuracy(pred, labels, null), loss};
        }
    }

    // ------------------------------------------------------------------------------------------ helpers

    /** R^2 of y ~ x; NaN when x is constant (e.g. (number - centre)^2 for p = 2), which has no fit. */
    private static double r2(double[] x, double[] y) {
        if (Stats.variance(x) == 0) return Double.NaN;
        return LinearFit.simple(x, y).r2();
    }

    static int[] argmaxRows(float[] logits, int v) {
        int n = logits.length / v;
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int k = 1; k < v; k++) if (logits[i * v + k] > logits[i * v + best]) best = k;
            out[i] = best;
        }
        return out;
    }

    static double accuracy(int[] pred, int[] labels, int[] idx) {
        int n = idx == null ? labels.length : idx.length, ok = 0;
        for (int j = 0; j < n; j++) {
            int i = idx == null ? j : idx[j];
            if (pred[i] == labels[i]) ok++;
        }
        return n == 0 ? Double.NaN : (double) ok / n;
    }

    /** Rows of [n, S, F] at one position, as [n][F]. */
    static double[][] atPosition(float[] x, int n, int S, int F, int pos) {
        double[][] out = new double[n][F];
        for (int i = 0; i < n; i++) for (int j = 0; j < F; j++) out[i][j] = x[(i * S + pos) * F + j];
        return out;
    }
}
