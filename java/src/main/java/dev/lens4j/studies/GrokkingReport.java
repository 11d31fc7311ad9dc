package dev.lens4j.studies;

import dev.lens4j.analysis.Mat;
import dev.lens4j.analysis.Stats;
import dev.lens4j.model.Config;
import dev.lens4j.report.BarChart;
import dev.lens4j.report.Heatmap;
import dev.lens4j.report.HistogramChart;
import dev.lens4j.report.LineChart;
import dev.lens4j.report.Report;
import dev.lens4j.report.ScatterChart;
import dev.lens4j.report.Section;
import dev.lens4j.report.Table;
import dev.lens4j.train.Trainer;

import java.util.Locale;

/** report.html of the grokking study: each analysis as a plot, with the numbers a reader needs beside it. */
final class GrokkingReport {
    /** Plots in the report (the test and the Chromium check expect exactly this many). */
    static final int PLOTS = 22, TRAINING_PLOTS = 2;

    private final GrokkingStudy.Options o;
    private final Config cfg;
    private final Trainer.History h;
    private final GrokkingAnalysis an;
    private final int[] trainIdx, testIdx;
    private Report report;

    GrokkingReport(GrokkingStudy.Options o, Config cfg, Trainer.History h, GrokkingAnalysis an, int[] trainIdx, int[] testIdx) {
        this.o = o; this.cfg = cfg; this.h = h; this.an = an; this.trainIdx = trainIdx; this.testIdx = testIdx;
    }

    int plotCount() { return report.plotCount(); }

    Report build() {
        int p = an.p;
        String task = o.task == GrokkingStudy.Task.SUM ? "a + b" : "(a + b) mod " + p;
        report = new Report("Grokking " + task + " (p = " + p + "): a one-layer transformer, trained and taken apart")
                .description("Seed 003 (TransformerLens's grokking demo) on lens4j's native kernels: train on " + pct(o.fracTrain())
                        + " of all pairs from tokens |a|b|=|, then look inside: the embedding, attention from '=', MLP neurons, a linear "
                        + "probe, the neuron-to-logit map and ablations.");
        report.meta("task", task + ", labels predicted at '='")
                .meta("pairs", p * p + " (" + trainIdx.length + " train, " + testIdx.length + " test)")
                .meta("model", "1 layer, " + cfg.nHeads + " heads, d_model " + cfg.dModel + ", d_head " + cfg.dHead + ", d_mlp " + cfg.dMlp
                        + ", relu, no normalisation, d_vocab " + cfg.dVocab + ", d_vocab_out " + cfg.dVocabOut())
                .meta("training", h == null ? "none: the model was trained elsewhere, loaded from " + o.model : o.epochs + (o.batchSize == 0 ? " full-batch" : " mini-batch (" + o.batchSize + ")") + " epochs, AdamW lr "
                        + o.lr + ", wd " + o.weightDecay + ", betas (" + o.beta1 + ", " + o.beta2 + "), biases frozen, "
                        + String.format(Locale.ROOT, "%.1f s", h.seconds()))
                .meta("seeds", "data " + o.dataSeed + ", model " + o.modelSeed + ", probe split " + GrokkingAnalysis.PROBE_SPLIT_SEED
                        + " (lens4j's own generators: torch's randperm / init streams are not reproduced)")
                .meta("result", String.format(Locale.ROOT, "train accuracy %s, test accuracy %s, all pairs %s",
                        pct(an.accuracyTrain), pct(an.accuracyTest), pct(an.accuracyAll)));
        training();
        embedding();
        attention();
        neurons();
        probe();
        logitMap();
        ablations();
        int want = PLOTS - (h == null ? TRAINING_PLOTS : 0);
        if (report.plotCount() != want) throw new IllegalStateException("report has " + report.plotCount() + " plots, expected " + want);
        return report;
    }

    private void training() {
        if (h == null) {
            report.section("Model").text("Loaded from " + o.model + " (trained elsewhere): no training here, every analysis below runs on "
                    + "its weights as saved. Train/test accuracy use lens4j's split of data seed " + o.dataSeed + ", not necessarily the model's own.");
            return;
        }
        int n = h.epochs(), stride = Math.max(1, (n + 999) / 1000); // at most ~1000 points per curve
        int m = (n + stride - 1) / stride;
        double[] ep = new double[m], trL = new double[m], teL = new double[m], trA = new double[m], teA = new double[m];
        for (int i = 0; i < m; i++) {
            int e = Math.min(n - 1, i * stride);
            ep[i] = e + 1; trL[i] = h.trainLoss()[e]; teL[i] = h.testLoss()[e]; trA[i] = h.trainAccuracy()[e]; teA[i] = h.testAccuracy()[e];
        }
        Integer grok = GrokkingResults.firstAtLeast(h.testAccuracy(), 1.0);
        Section s = report.section("Training");
        s.text(String.format(Locale.ROOT, "Full-batch AdamW on the %d training pairs; the test loss is measured on the %d held-out pairs after "
                        + "every step. Final train loss %s, test loss %s (uniform guessing: ln %d = %.3f). Test accuracy first reached 100%% at %s.",
                trainIdx.length, testIdx.length, sci(h.finalTrainLoss()), sci(h.finalTestLoss()), cfg.dVocabOut(), Math.log(cfg.dVocabOut()),
                grok == null ? "no epoch" : "epoch " + grok));
        s.lineChart(LineChart.of("Training curve: loss (log scale)").axes("epoch", "cross-entropy loss").logY()
                .series("train", ep, trL).series("test", ep, teL).hline(Math.log(cfg.dVocabOut()), "uniform")
                .caption("Memorisation shows as train loss falling long before test loss; grokking is the later drop of the test loss."));
        s.lineChart(LineChart.of("Accuracy").axes("epoch", "accuracy").yRange(0, 1.02)
                .series("train", ep, trA).series("test", ep, teA));
    }

    private void embedding() {
        int p = an.p, k = an.explainedVarianceRatio.length;
        double[] tok = new double[p];
        String[] names = new String[p];
        for (int i = 0; i < p; i++) { tok[i] = i; names[i] = Integer.toString(i); }
        Section s = report.section("Embedding: PCA of W_E");
        s.text(String.format(Locale.ROOT, "PCA of the %d number embeddings (W_E without the '=' row). PC1 explains %s of the variance, "
                        + "PC2 %s%s. The table says which simple function of the number each PC's score is (R² of a linear fit); the seed "
                        + "found a linear PC1 and a parabolic PC2, but which shapes a run finds depends on its initialisation.",
                p, pct(an.explainedVarianceRatio[0]), k > 1 ? pct(an.explainedVarianceRatio[1]) : "n/a",
                k > 2 ? ", the first three together " + pct(an.cumulativeVarianceRatio[2]) : ""));
        Table shapes = Table.of("PC", "explained variance", "R² vs number", "R² vs (number − centre)²", "R² vs parity")
                .caption("Shape of each leading PC's score across the numbers 0 … " + (p - 1));
        for (int c = 0; c < an.pcShapeR2.length; c++)
            shapes.row("PC" + (c + 1), pct(an.explainedVarianceRatio[c]), num(an.pcShapeR2[c][0]), num(an.pcShapeR2[c][1]), num(an.pcShapeR2[c][2]));
        s.table(shapes);
        LineChart scores = LineChart.of("PC scores per token").axes("token (number)", "score");
        for (int c = 0; c < Math.min(3, k); c++) scores.series("PC" + (c + 1), tok, Mat.column(an.pcaScores, c)).markers();
        s.lineChart(scores);
        int shown = Math.min(k, 20);
        double[] idx = new double[shown], ratio = new double[shown], cum = new double[shown];
        for (int c = 0; c < shown; c++) { idx[c] = c + 1; ratio[c] = an.explainedVarianceRatio[c]; cum[c] = an.cumulativeVarianceRatio[c]; }
        s.bar(BarChart.of("Scree plot").axes("principal component", "explained variance ratio").yRange(0, 1.1)
                .bars("individual", idx, ratio).line("cumulative", idx, cum).markers().hline(0.9, "90%").hline(0.95, "95%"));
        double[] pc2 = k > 1 ? Mat.column(an.pcaScores, 1) : new double[p];
        s.scatter(ScatterChart.of("Embeddings on PC1 and PC2").axes("score on PC1", "score on PC2")
                .points(Mat.column(an.pcaScores, 0), pc2).colorBy(tok, "token").labels(names).showLabels().size(640, 460));
    }

    private void attention() {
        String[] heads = new String[an.nHeads];
        double[][] v = new double[3][an.nHeads];
        for (int h = 0; h < an.nHeads; h++) {
            heads[h] = "head " + h;
            for (int k = 0; k < 3; k++) v[k][h] = an.attentionFromEquals[h][k];
        }
        Section s = report.section("Attention from '='");
        s.text("Attention paid by the '=' position (where the answer is read out) to the a, b and '=' positions, per head, averaged over all "
                + p2() + " pairs. A head that splits its attention evenly between a and b moves a symmetric mix of both numbers into '='.");
        s.bar(BarChart.of("Average attention from '=' per head").axes("head", "attention weight").yRange(0, 1)
                .grouped(heads, new String[] {"to a", "to b", "to '='"}, v));
    }

    private void neurons() {
        Section s = report.section("MLP neurons at '=' against " + an.targetName);
        s.text(String.format(Locale.ROOT, "Pearson correlation of each of the %d neurons' activation (blocks.0.mlp.hook_post at '=') with %s "
                        + "over all pairs. %d neurons correlate above 0.9, %d below -0.9; %d never change (dead, counted as 0). "
                        + "Many strongly correlated neurons means the sum is represented in a distributed way.",
                an.dMlp, an.targetName, an.above09, an.belowMinus09, an.deadNeurons));
        s.histogram(HistogramChart.of("Neuron correlations with " + an.targetName).axes("Pearson correlation", "neurons")
                .values("neurons", an.correlation, 40, -1, 1));
        s.bar(BarChart.of("Neuron correlations, sorted").axes("neuron rank", "Pearson correlation").yRange(-1.05, 1.05)
                .sortedStems("correlation", an.correlation).signColors());
        Table t = Table.of("rank", "neuron", "correlation", "active on", "mean activation", "max activation")
                .caption("Top neurons by |correlation| with " + an.targetName);
        for (int i = 0; i < an.topNeurons.length; i++) {
            int j = an.topNeurons[i];
            t.row(i + 1, j, an.correlation[j], pct(an.fractionActive[j]) + " of pairs", an.meanActivation[j], an.maxActivation[j]);
        }
        s.table(t);
        int nh = Math.min(GrokkingAnalysis.HEATMAP_NEURONS, an.topNeurons.length);
        Heatmap[] maps = new Heatmap[nh];
        String[] labels = numbers(an.p);
        for (int i = 0; i < nh; i++) {
            int j = an.topNeurons[i];
            maps[i] = Heatmap.of(String.format(Locale.ROOT, "Neuron %d (corr %.3f)", j, an.correlation[j])).axes("b", "a")
                    .matrix(an.neuronGrid(j)).xLabels(labels).yLabels(labels).sequential().colorLabel("activation").size(380, 340);
            if (an.p <= 12) maps[i].showValues();
        }
        s.text("Activation of the top neurons over the (a, b) grid (row a, column b): a neuron that computes ReLU of a linear function of "
                + "a + b shows bands along the anti-diagonals, zero below its threshold.");
        s.row(maps);
        // inputs sorted by target (rows), neurons sorted by correlation (columns): the seed's "MLP activations (sorted)"
        int[] rows = Stats.argsort(an.target);
        double[][] sorted = new double[rows.length][an.dMlp];
        for (int i = 0; i < rows.length; i++)
            for (int c = 0; c < an.dMlp; c++) sorted[i][c] = an.neuronActs[rows[i]][an.neuronsByCorrelation[c]];
        s.heatmap(Heatmap.of("MLP activations at '=', sorted").axes("neurons, sorted by correlation", "pairs, sorted by " + an.targetName)
                .matrix(sorted).sequential().colorLabel("activation").size(900, 420)
                .caption("Left: neurons anti-correlated with the sum, right: correlated ones; rows go from the smallest sum (top) to the largest."));
    }

    private void probe() {
        var ev = an.probe;
        Section s = report.section("Linear probe: MLP state → " + an.targetName);
        s.text(String.format(Locale.ROOT, "Ridge regression (λ = %s) from the %d MLP activations at '=' to %s, fitted on %d pairs and scored on "
                        + "the %d held-out pairs (split seed %d). Held-out R² = %.4f, MSE = %s against %s for predicting the training mean "
                        + "(train R² %.4f). A high held-out R² means %s is linearly readable from the MLP state.",
                num(GrokkingAnalysis.PROBE_LAMBDA), an.dMlp, an.targetName, an.probeTrainRows, an.probeTestRows, GrokkingAnalysis.PROBE_SPLIT_SEED,
                ev.r2(), num(ev.mse()), num(ev.baselineMse()), ev.trainR2(), an.targetName));
        s.scatter(ScatterChart.of("Probe on held-out pairs: true vs predicted").axes("true " + an.targetName, "predicted")
                .points("held-out pairs", ev.testTargets(), ev.testPredictions()).abline(1, 0, "perfect prediction").size(620, 460));
    }

    private void logitMap() {
        int V = an.vocabOut;
        double[][] m = new double[V][an.dMlp];
        for (int v = 0; v < V; v++) for (int c = 0; c < an.dMlp; c++) m[v][c] = an.wL[an.neuronsByCorrelation[c]][v];
        Section s = report.section("Neuron → logit map W_L = W_out W_U");
        s.text("How much each neuron's activation adds to each output logit (the residual stream after the MLP goes straight to the "
                + "unembedding: no final norm). Neurons are sorted by their correlation with " + an.targetName + " (anti-correlated on the left); "
                + "rows are the output logits 0 … " + (V - 1) + ".");
        s.heatmap(Heatmap.of("W_L (transposed), neurons sorted by correlation").axes("neurons, sorted by correlation", "output logit")
                .matrix(m).yLabels(numbers(V)).diverging().colorLabel("logit per unit activation").size(900, 380));
    }

    private void ablations() {
        Section s = report.section("Ablations");
        s.text(String.format(Locale.ROOT, "Interventions scored on all %s pairs (clean accuracy %s). For each, the pairs the ablated model gets "
                + "wrong and linear fits of its predictions on a + b and on (a, b), as the seed does for its PC2 ablation.", p2(), pct(an.accuracyAll)));
        Table t = Table.of("ablation", "accuracy", "loss", "failing pairs", "fit on a+b: m", "c", "R²", "fit on (a, b): wa", "wb", "R²");
        t.row("none (clean)", pct(an.accuracyAll), an.lossAll, an.p * an.p - Math.round(an.accuracyAll * an.p * an.p), "", "", "", "", "", "");
        String[] names = new String[an.ablations.size() + 1];
        double[] acc = new double[names.length];
        names[0] = "clean";
        acc[0] = an.accuracyAll;
        for (int i = 0; i < an.ablations.size(); i++) {
            GrokkingAnalysis.Ablation ab = an.ablations.get(i);
            t.row(ab.title, pct(ab.accuracy), ab.loss, ab.failing.size(), ab.fitOnSum.coefficients()[0], ab.fitOnSum.intercept(),
                    num(ab.fitOnSum.r2()), ab.fitOnAB.coefficients()[0], ab.fitOnAB.coefficients()[1], num(ab.fitOnAB.r2()));
            names[i + 1] = ab.shortTitle;
            acc[i + 1] = ab.accuracy;
        }
        s.table(t);
        s.bar(BarChart.of("Accuracy under each ablation").axes("", "accuracy on all pairs").yRange(0, 1.05).categories("accuracy", names, acc));
        double[] k = new double[an.sweepK.length];
        for (int i = 0; i < k.length; i++) k[i] = an.sweepK[i];
        s.lineChart(LineChart.of("Zeroing the top-k neurons by |correlation|").axes("neurons zeroed (k)", "accuracy on all pairs")
                .yRange(0, 1.05).series("accuracy", k, an.sweepAccuracy).markers()
                .caption("How many of the most sum-correlated neurons can go before the model breaks: a measure of how distributed the computation is."));
        String[] labels = numbers(an.p);
        for (GrokkingAnalysis.Ablation ab : an.ablations) {
            s.heading(ab.title);
            s.text(ab.description + String.format(Locale.ROOT, " Accuracy %s (%d failing pairs). Predictions ≈ %.3f·(a+b) + %.3f (R² %s); "
                            + "≈ %.3f·a + %.3f·b + %.3f (R² %s).", pct(ab.accuracy), ab.failing.size(), ab.fitOnSum.coefficients()[0],
                    ab.fitOnSum.intercept(), num(ab.fitOnSum.r2()), ab.fitOnAB.coefficients()[0], ab.fitOnAB.coefficients()[1],
                    ab.fitOnAB.intercept(), num(ab.fitOnAB.r2())));
            double maxErr = 1;
            for (double[] row : ab.errorGrid) for (double v : row) maxErr = Math.max(maxErr, Math.abs(v));
            Heatmap err = Heatmap.of("Prediction − label").axes("b", "a").matrix(ab.errorGrid).xLabels(labels).yLabels(labels)
                    .diverging().range(-maxErr, maxErr).colorLabel("prediction − label").size(420, 380);
            if (an.p <= 12) err.showValues();
            ScatterChart fit = ScatterChart.of("Ablated prediction vs a + b").axes("a + b", "prediction")
                    .points("pairs", an.sum, Mat.toDouble(toFloat(ab.predictions)))
                    .abline(ab.fitOnSum.coefficients()[0], ab.fitOnSum.intercept(), "linear fit")
                    .abline(o.task == GrokkingStudy.Task.SUM ? 1 : 0, 0, o.task == GrokkingStudy.Task.SUM ? "y = x" : "y = 0").size(460, 380);
            s.row(err, fit);
        }
    }

    // ------------------------------------------------------------------------------------------ formatting

    private String p2() { return Integer.toString(an.p * an.p); }

    private static String[] numbers(int n) {
        String[] s = new String[n];
        for (int i = 0; i < n; i++) s[i] = Integer.toString(i);
        return s;
    }

    private static float[] toFloat(int[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = v[i];
        return f;
    }

    static String pct(double v) { return Double.isFinite(v) ? String.format(Locale.ROOT, "%.1f%%", 100 * v) : "n/a"; }

    static String sci(double v) { return Double.isFinite(v) ? String.format(Locale.ROOT, "%.3g", v) : "n/a"; }

    static String num(double v) { return Double.isFinite(v) ? String.format(Locale.ROOT, "%.4g", v) : "n/a"; }
}
