package dev.lens4j.report;

import dev.lens4j.analysis.LinearFit;
import dev.lens4j.analysis.LinearProbe;
import dev.lens4j.analysis.Mat;
import dev.lens4j.analysis.Pca;
import dev.lens4j.analysis.Stats;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A grokking-style report on synthetic data with every chart type, run through the analysis classes the way a study
 * would. Shared by the HTML tests and the real-browser check; hostile strings are planted to test escaping.
 */
final class DemoReport {
    static final String HOSTILE = "<script>alert('x')</script> & <img src=x onerror=alert(1)>";
    /** Plots the demo contains; the tests check this count end to end. */
    static final int PLOTS = 18;

    private DemoReport() {}

    static Report build() {
        Random rng = new Random(598);
        int p = 10, dModel = 128, dMlp = 512;

        Report r = new Report("Grokking demo: a + b, p = " + p + " (synthetic data)")
                .description("Every chart type the studies use, on planted data. Prompt text is escaped: " + HOSTILE);
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("n_layers", 1);
        cfg.put("d_model", dModel);
        cfg.put("d_mlp", dMlp);
        cfg.put("act_fn", "relu");
        r.meta("model", "HookedTransformer (synthetic weights)").meta("config", cfg)
                .meta("seeds", Map.of("data", 598, "model", 999)).meta("versions", List.of("lens4j 0.1.0-SNAPSHOT", "java " + System.getProperty("java.version")))
                .meta("prompt", HOSTILE);

        // training curves: train falls steadily, test plateaus then drops (grokking)
        int epochs = 100;
        double[] ep = new double[epochs], train = new double[epochs], test = new double[epochs];
        for (int i = 0; i < epochs; i++) {
            ep[i] = i * 100;
            train[i] = 3.0 * Math.exp(-i / 6.0) + 1e-6;
            test[i] = 3.2 / (1 + Math.exp((i - 60) / 4.0)) + 2e-6 + 0.05 * Math.exp(-Math.pow((i - 62) / 2.0, 2));
        }
        r.section("Training").text("Full-batch AdamW. Train loss falls first; test loss stays near uniform (log 20) until it drops: grokking.")
                .lineChart(LineChart.of("Training curve").axes("epoch", "loss").logY()
                        .series("train", ep, train).series("test", ep, test).hline(Math.log(2 * p), "uniform loss"));

        // W_E with a linear direction and a quadratic one, as the seed finds
        double[] w = unit(dModel, rng), u = unit(dModel, rng);
        double[][] wE = new double[p][dModel];
        for (int k = 0; k < p; k++)
            for (int j = 0; j < dModel; j++) wE[k][j] = -0.9 * k * w[j] + 0.25 * (k - 4.5) * (k - 4.5) * u[j] + 0.05 * rng.nextGaussian();
        String[] tokens = new String[p];
        for (int k = 0; k < p; k++) tokens[k] = Integer.toString(k);
        Pca pca = Pca.fit(wE);
        double[][] scores = pca.transform(wE);
        double[] ratio = pca.explainedVarianceRatio(), cum = pca.cumulativeVarianceRatio();
        double[] pcIdx = new double[ratio.length];
        for (int i = 0; i < ratio.length; i++) pcIdx[i] = i + 1;
        double[] tokenIdx = new double[p];
        for (int k = 0; k < p; k++) tokenIdx[k] = k;
        Table pcTable = Table.of("component", "explained variance", "ratio", "cumulative");
        for (int i = 0; i < Math.min(5, ratio.length); i++) pcTable.row("PC" + (i + 1), pca.explainedVariance()[i], ratio[i], cum[i]);
        r.section("Embedding").text("W_E row for token 7, all rows as a heatmap, then PCA of W_E.")
                .bar(BarChart.of("W_E[7]").axes("component index", "value").bars("W_E[7]", wE[7]).signColors())
                .heatmap(Heatmap.of("W_E (transposed)").axes("input token k", "embedding dimension").matrix(Mat.transpose(wE))
                        .xLabels(tokens).colorLabel("component value").size(760, 520))
                .bar(BarChart.of("Scree plot").axes("principal component", "explained variance ratio").bars("individual", pcIdx, ratio)
                        .line("cumulative", pcIdx, cum).markers().hline(0.9, "90%").hline(0.95, "95%").yRange(0, 1.08))
                .row(ScatterChart.of("PC1 score vs token").axes("token k", "PC1").points(tokenIdx, Mat.column(scores, 0)).size(500, 340),
                        ScatterChart.of("PC2 score vs token").axes("token k", "PC2").points(tokenIdx, Mat.column(scores, 1)).size(500, 340))
                .scatter(ScatterChart.of("W_E in the PC1-PC2 plane").axes("PC1 (linear)", "PC2 (parabolic)")
                        .points(Mat.column(scores, 0), Mat.column(scores, 1)).colorBy(tokenIdx, "token k").labels(tokens).showLabels())
                .table(pcTable.caption("Largest components"));

        // probe and neurons: 100 (a, b) pairs, features carry a+b linearly
        int n = p * p;
        double[] sum = new double[n], a = new double[n], b = new double[n];
        double[][] resid = new double[n][64], acts = new double[n][dMlp];
        double[] dir = unit(64, rng);
        double[] gain = new double[dMlp], shift = new double[dMlp];
        for (int j = 0; j < dMlp; j++) { gain[j] = rng.nextGaussian(); shift[j] = rng.nextGaussian() * 9; }
        for (int i = 0; i < n; i++) {
            a[i] = i / p; b[i] = i % p; sum[i] = a[i] + b[i];
            for (int j = 0; j < 64; j++) resid[i][j] = sum[i] * dir[j] + 0.3 * rng.nextGaussian();
            for (int j = 0; j < dMlp; j++) acts[i][j] = Math.max(0, gain[j] * (sum[i] - 9) + shift[j] + rng.nextGaussian());
        }
        LinearProbe.Evaluation ev = LinearProbe.trainTest(resid, sum, 0.8, 598, 1e-2);
        double[] corr = Stats.pearsonColumns(acts, sum);
        int[] byCorr = Stats.argsort(corr), bySum = Stats.argsort(sum);
        double[][] sortedActs = new double[n][dMlp];
        for (int i = 0; i < n; i++) for (int j = 0; j < dMlp; j++) sortedActs[i][j] = acts[bySum[i]][byCorr[j]];
        r.section("Probe and neurons")
                .text("Ridge probe from resid_post to a+b, 80/20 split.")
                .table(Table.of("metric", "value").row("held-out R²", ev.r2()).row("held-out MSE", ev.mse())
                        .row("mean-baseline MSE", ev.baselineMse()).row("train R²", ev.trainR2()))
                .scatter(ScatterChart.of("Linear probe: true vs predicted").axes("true a+b", "predicted a+b")
                        .points("predictions", ev.testTargets(), ev.testPredictions()).abline(1, 0, "perfect prediction"))
                .histogram(HistogramChart.of("Neuron correlation with a+b").xLabel("Pearson r").values("neurons", corr, 40, -1, 1))
                .bar(BarChart.of("Neuron correlations, sorted").axes("neuron rank", "Pearson r").sortedStems("correlation", corr).signColors().yRange(-1.05, 1.05))
                .heatmap(Heatmap.of("MLP activations, sorted").axes("neurons (sorted by correlation)", "samples (sorted by a+b)")
                        .matrix(sortedActs).colorLabel("activation"));

        Heatmap[] top = new Heatmap[3];
        int[] topIdx = Stats.topKByAbs(corr, 3);
        for (int t = 0; t < 3; t++) {
            double[][] grid = new double[p][p];
            for (int i = 0; i < n; i++) grid[(int) a[i]][(int) b[i]] = acts[i][topIdx[t]];
            top[t] = Heatmap.of("neuron " + topIdx[t] + " (r = " + Fmt.num(corr[topIdx[t]]) + ")").axes("b", "a")
                    .matrix(grid).xLabels(tokens).yLabels(tokens).sequential().size(340, 320);
        }
        r.section("Top neurons").text("Activation of the most correlated neurons over all (a, b).").row(top);

        // ablation: failures over (a, b), NaN where the pair was in the training set
        double[][] fail = new double[p][p], logitDiff = new double[p][p];
        double[] pred = new double[n];
        for (int i = 0; i < n; i++) {
            int ai = (int) a[i], bi = (int) b[i];
            pred[i] = 2.0 / 3 * sum[i] + 3 + 0.4 * rng.nextGaussian();
            fail[ai][bi] = i % 4 == 0 ? Double.NaN : (Math.abs(Math.round(pred[i]) - sum[i]) > 0 ? 1 : 0);
            logitDiff[ai][bi] = 0.8 * (sum[i] - 9) + 0.3 * rng.nextGaussian();
        }
        LinearFit fit = LinearFit.simple(sum, pred);
        double[] xs = {0, 18};
        r.section("Ablating PC2").text("Failing pairs after removing PC2 (grey: training pairs), and the logit change for the correct answer.")
                .row(Heatmap.of("Failures after PC2 ablation").axes("input b", "input a").matrix(fail).xLabels(tokens).yLabels(tokens)
                                .colorScale(ColorScale.ramp("#f7f7f7", "#d62728")).range(0, 1).colorLabel("failed").size(480, 420),
                        Heatmap.of("Logit difference (orig - ablated)").axes("input b", "input a").matrix(logitDiff).xLabels(tokens)
                                .yLabels(tokens).diverging().showValues().colorLabel("Δ logit").size(480, 420))
                .scatter(ScatterChart.of("Ablated prediction vs true sum").axes("true sum a+b", "ablated prediction")
                        .points("ablated predictions", sum, pred)
                        .line("linear fit (R² = " + Fmt.num(fit.r2()) + ")", xs, new double[] {fit.predict(0), fit.predict(18)})
                        .abline(2.0 / 3, 3, "hypothesis m = 2/3, c = 3").abline(1, 0, "ideal y = x"));

        // attribution map with hostile token labels
        String[] pos = {"<bos>", "John", " is", " tall", ".", HOSTILE, " Mary", " is"};
        double[][] attr = new double[6][pos.length];
        for (int l = 0; l < 6; l++) for (int q = 0; q < pos.length; q++) attr[l][q] = Math.sin(l * 0.9 + q * 0.7) * (q == 3 ? 2 : 0.6);
        String[] layers = new String[6];
        for (int l = 0; l < 6; l++) layers[l] = "L" + l;
        r.section("Attribution " + HOSTILE).text(HOSTILE)
                .heatmap(Heatmap.of("Patching: layer × position " + HOSTILE).axes("position", "layer").matrix(attr).xLabels(pos)
                        .yLabels(layers).showValues().colorLabel("logit diff recovered").size(760, 360))
                .code("prompt = " + HOSTILE + "\n]]> --> <!-- \u0000\u0007 control chars");
        return r;
    }

    private static double[] unit(int d, Random rng) {
        double[] v = new double[d];
        for (int j = 0; j < d; j++) v[j] = rng.nextGaussian();
        double s = Mat.norm(v);
        for (int j = 0; j < d; j++) v[j] /= s;
        return v;
    }

    static int countPlots(String html) {
        return (int) Arrays.stream(html.split("class=\"plot\"", -1)).count() - 1;
    }
}
