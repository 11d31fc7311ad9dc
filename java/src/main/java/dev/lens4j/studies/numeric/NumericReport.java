package dev.lens4j.studies.numeric;

import dev.lens4j.model.Config;
import dev.lens4j.report.BarChart;
import dev.lens4j.report.Heatmap;
import dev.lens4j.report.LineChart;
import dev.lens4j.report.Report;
import dev.lens4j.report.ScatterChart;
import dev.lens4j.report.Section;
import dev.lens4j.report.Table;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** report.html of the numeric-compare study: every table and plot of seed 000, in its order. */
final class NumericReport {
    private final NumericCompareStudy.Analysis an;
    private final NumericOptions o;
    private final Config cfg;
    private final Collected c;
    private final List<String> groups;
    private final int L;
    private Report report;

    NumericReport(NumericCompareStudy.Analysis an, NumericOptions o, Config cfg) {
        this.an = an; this.o = o; this.cfg = cfg; this.c = an.collected; this.groups = c.groups; this.L = c.layers;
    }

    int plotCount() { return report.plotCount(); }

    Report build() {
        report = new Report("Numeric comparisons: does " + an.modelName + " know that a > b?")
                .description("Seed 000 (\"Debugging numeric comparisons in LLMs\") on lens4j: forced choice between the Yes and No "
                        + "tokens, the geometry of the last-token residual stream, the readout along the Yes–No unembedding direction, "
                        + "patching block " + (L - 2) + " into block " + (L - 1) + ", and the last block's harmful neurons.");
        report.meta("model", an.embedded != null ? "embedded: " + cfg.modelName + " (trained by this run, see below)" : an.modelName)
                .meta("shape", cfg.nLayers + " layers, d_model " + cfg.dModel + ", d_mlp " + cfg.dMlp + ", " + cfg.nHeads + " heads")
                .meta("prompts", c.size() + " in " + groups.size() + " datasets; template '" + an.template + "'" + (o.chat ? " in Gemma's chat turns" : ""))
                .meta("answers", "'" + o.yes() + "' vs '" + o.no() + "' (tokenised after the prompt)")
                .meta("seed", Long.toString(o.seed));
        if (an.embedded != null) embedded();
        baseline();
        geometry();
        probes();
        readout();
        patching();
        if (an.causal.scores != null) neurons();
        return report;
    }

    private void embedded() {
        EmbeddedModel.Trained e = an.embedded;
        Section s = report.section("The embedded model");
        StringBuilder acc = new StringBuilder();
        for (int k = 0; k < NumericDataset.CATEGORIES.size(); k++)
            acc.append(k == 0 ? "" : ", ").append(NumericDataset.CATEGORIES.get(k)).append(' ').append(pct(e.testAccuracyByCategory()[k]));
        s.text(String.format(Locale.ROOT, "No --model was given, so the study first trained a %d-layer character-level transformer "
                + "(d_model %d, d_mlp %d) to answer ' Yes' / ' No' at the last position, on %d pairs per category drawn with another seed, "
                + "for %d epochs (%.0f s). Held-out accuracy: %s.", e.options().layers, e.options().dModel, e.options().dMlp,
                e.options().trainPerCategory, e.options().epochs, e.history().seconds(), acc));
        s.lineChart(LineChart.of("Training").series("train accuracy", e.history().trainAccuracy())
                .series("held-out accuracy", e.history().testAccuracy()).axes("epoch - 1", "accuracy").legend());
    }

    private void baseline() {
        Section s = report.section("Baseline: forced choice between Yes and No");
        s.text("Accuracy per dataset and true answer, choosing whichever of the two answer tokens has the larger logit.");
        Table t = Table.of("dataset", "true answer", "count", "accuracy");
        double[][] v = new double[2][groups.size()];
        for (int g = 0; g < groups.size(); g++)
            for (int tr = 0; tr < 2; tr++) {
                boolean truth = tr == 1;
                v[tr][g] = NumericCompareStudy.accuracy(c, c.margin, groups.get(g), truth, false);
                t.row(groups.get(g), truth ? "Yes" : "No", NumericResults.count(c, groups.get(g), truth), pct(v[tr][g]));
            }
        s.table(t);
        s.bar(BarChart.of("Baseline accuracy by dataset and truth").grouped(names(), new String[] {"truth No", "truth Yes"}, v)
                .axes("dataset", "accuracy").yRange(0, 1).legend());
    }

    private void geometry() {
        Section s = report.section("Part I: geometry of the last-token residual");
        s.text("PCA of blocks." + (L - 1) + ".hook_resid_post at the last token, fitted per dataset; coloured by the true answer, then by "
                + "the model's prediction, then the same at the second-to-last layer.");
        s.row(pcaPlots(an.geometry.pcaLast, false, "layer " + (L - 1) + ", by truth"));
        s.row(pcaPlots(an.geometry.pcaLast, true, "layer " + (L - 1) + ", by prediction"));
        s.row(pcaPlots(an.geometry.pcaSecondLast, false, "layer " + (L - 2) + ", by truth"));
        s.heading("Cross-projection PCA");
        s.text("Each dataset's PCA (last layer) applied to every other dataset's activations: does one dataset's separating axis reveal "
                + "the truth in another? Each plot pools the other datasets, coloured by truth; the heatmap gives the AUC of PC1 for the truth.");
        List<ScatterChart> cross = new ArrayList<>();
        double[][] auc = new double[groups.size()][groups.size()];
        for (String src : groups) {
            List<Double> yx = new ArrayList<>(), yy = new ArrayList<>(), nx = new ArrayList<>(), ny = new ArrayList<>();
            for (Geometry.Cross x : an.geometry.cross) {
                if (!x.source().equals(src)) continue;
                auc[groups.indexOf(src)][groups.indexOf(x.target())] = x.pc1Auc();
                if (x.target().equals(src)) continue;
                for (int i = 0; i < x.rows().length; i++) {
                    boolean t = c.truth[x.rows()[i]];
                    (t ? yx : nx).add(x.scores()[i][0]);
                    (t ? yy : ny).add(x.scores()[i][1]);
                }
            }
            cross.add(ScatterChart.of("in " + src + "'s PCA").points("Yes", arr(yx), arr(yy)).points("No", arr(nx), arr(ny)).axes("PC1", "PC2").legend());
        }
        s.row(cross.toArray(ScatterChart[]::new));
        s.heatmap(Heatmap.of("PC1 AUC for truth: source PCA (rows) on target dataset (columns)").matrix(auc).xLabels(names()).yLabels(names())
                .range(0, 1).showValues().colorLabel("AUC"));
        s.heading("The Yes–No mean-difference axis");
        s.text("Per dataset and layer, w = (mean Yes - mean No) / |...|; separation = |E[h.w | Yes] - E[h.w | No]| (Appendix B).");
        LineChart sep = LineChart.of("Layerwise separation along the Yes–No axis").axes("layer", "separation").legend();
        for (int g = 0; g < groups.size(); g++) sep.series(groups.get(g), layers(), column(an.geometry.separation, g));
        s.lineChart(sep);
        s.row(Heatmap.of("Cosine alignment of the axes, layer " + (L - 1)).matrix(an.geometry.alignment[L - 1]).xLabels(names()).yLabels(names())
                        .diverging().range(-1, 1).showValues(),
                Heatmap.of("Cosine alignment of the axes, layer " + (L - 2)).matrix(an.geometry.alignment[L - 2]).xLabels(names()).yLabels(names())
                        .diverging().range(-1, 1).showValues());
        LineChart al = LineChart.of("Layerwise alignment between datasets' axes").axes("layer", "cosine").yRange(-1, 1).legend();
        for (int a = 0; a < groups.size(); a++)
            for (int b = a + 1; b < groups.size(); b++) {
                double[] y = new double[L];
                for (int l = 0; l < L; l++) y[l] = an.geometry.alignment[l][a][b];
                al.series(groups.get(a) + " / " + groups.get(b), layers(), y);
            }
        s.lineChart(al);
    }

    private ScatterChart[] pcaPlots(List<Geometry.Projection> ps, boolean byPrediction, String what) {
        List<ScatterChart> out = new ArrayList<>();
        for (Geometry.Projection p : ps) {
            List<Double> yx = new ArrayList<>(), yy = new ArrayList<>(), nx = new ArrayList<>(), ny = new ArrayList<>();
            for (int i = 0; i < p.rows().length; i++) {
                int row = p.rows()[i];
                boolean yes = byPrediction ? c.predictedYes(row) : c.truth[row];
                (yes ? yx : nx).add(p.scores()[i][0]);
                (yes ? yy : ny).add(p.scores()[i][1]);
            }
            String lab = byPrediction ? "predicted " : "truth ";
            out.add(ScatterChart.of(p.group() + " (" + what + ")").points(lab + "Yes", arr(yx), arr(yy)).points(lab + "No", arr(nx), arr(ny))
                    .axes(String.format(Locale.ROOT, "PC1 (%.0f%%)", 100 * p.explained()[0]), String.format(Locale.ROOT, "PC2 (%.0f%%)", 100 * p.explained()[1]))
                    .legend());
        }
        return out.toArray(ScatterChart[]::new);
    }

    private void probes() {
        Section s = report.section("Part I: logistic probes per layer");
        s.text(o.probeFolds + "-fold cross-validated L2 logistic regression (C = " + o.probeC + ") on each layer's last-token residual, "
                + "trained per dataset and pooled over all datasets (same folds), scored on each dataset's held-out rows.");
        LineChart p = LineChart.of("Probe accuracy: per dataset (solid) and pooled (dashed)").axes("layer", "accuracy").yRange(0, 1).legend();
        for (int g = 0; g < groups.size(); g++) {
            p.series(groups.get(g), layers(), column(an.geometry.probePerGroup, g));
            p.series(groups.get(g) + " pooled", layers(), column(an.geometry.probePooled, g)).dashed();
        }
        s.lineChart(p);
        double[][] delta = new double[groups.size()][L];
        for (int g = 0; g < groups.size(); g++) for (int l = 0; l < L; l++) delta[g][l] = an.geometry.probePooled[l][g] - an.geometry.probePerGroup[l][g];
        s.heatmap(Heatmap.of("Pooled minus per-dataset probe accuracy").matrix(delta).xLabels(layerLabels()).yLabels(names()).diverging()
                .colorLabel("delta accuracy").axes("layer", "dataset"));
    }

    private void readout() {
        Section s = report.section("Part II: readout along the Yes–No unembedding direction");
        s.text("Each layer's last-token residual through ln_final, projected on r = (W_U[Yes] - W_U[No]) / |...|: the logit gap "
                + "(positive leans Yes) and the forced-choice accuracy of its sign.");
        LineChart acc = LineChart.of("Forced-choice accuracy of the readout per layer").axes("layer", "accuracy").yRange(0, 1).legend();
        LineChart gap = LineChart.of("Mean logit gap per layer").axes("layer", "<LN(h), r>").legend();
        for (int g = 0; g < groups.size(); g++) {
            acc.series(groups.get(g), layers(), column(an.readout.accuracy, g));
            gap.series(groups.get(g), layers(), column(an.readout.meanGap, g));
        }
        s.lineChart(acc);
        s.lineChart(gap.hline(0, "no bias"));
        int first = Math.max(0, L - 3);
        String[] cats = new String[groups.size() * 2];
        for (int g = 0; g < groups.size(); g++) { cats[2 * g] = groups.get(g) + " / No"; cats[2 * g + 1] = groups.get(g) + " / Yes"; }
        String[] series = new String[L - first];
        double[][] a = new double[L - first][cats.length], m = new double[L - first][cats.length];
        for (int l = first; l < L; l++) {
            series[l - first] = "layer " + l;
            for (int g = 0; g < groups.size(); g++)
                for (int t = 0; t < 2; t++) {
                    a[l - first][2 * g + t] = an.readout.accuracyByTruth[l][g][t];
                    m[l - first][2 * g + t] = an.readout.meanGapByTruth[l][g][t];
                }
        }
        s.row(BarChart.of("Final layers: readout accuracy by dataset / truth").grouped(cats, series, a).axes("dataset / truth", "accuracy").yRange(0, 1).legend(),
                BarChart.of("Final layers: mean gap by dataset / truth").grouped(cats, series, m).axes("dataset / truth", "mean gap").legend());
    }

    private void patching() {
        Causal ca = an.causal;
        Section s = report.section("Part III: patching block " + (L - 2) + " into block " + (L - 1));
        s.text("Block " + (L - 1) + "'s activation at each hook point replaced (all positions) by block " + (L - 2) + "'s, one hook at a time."
                + (ca.skippedHooks.isEmpty() ? "" : " Not in this model: " + String.join(", ", ca.skippedHooks) + "."));
        String[] series = new String[ca.patched.size() + 1];
        double[][] acc = new double[series.length][groups.size()], gap = new double[series.length][groups.size()];
        series[0] = "before";
        for (int g = 0; g < groups.size(); g++) {
            acc[0][g] = NumericCompareStudy.accuracy(c, c.margin, groups.get(g), null, false);
            gap[0][g] = NumericResults.meanGap(c, c.margin, groups.get(g));
        }
        int k = 1;
        for (var e : ca.patched.entrySet()) {
            series[k] = e.getKey();
            for (int g = 0; g < groups.size(); g++) {
                acc[k][g] = NumericCompareStudy.accuracy(c, e.getValue(), groups.get(g), null, false);
                gap[k][g] = NumericResults.meanGap(c, e.getValue(), groups.get(g));
            }
            k++;
        }
        s.bar(BarChart.of("Accuracy before and after patching, per hook").grouped(names(), series, acc).axes("dataset", "accuracy").yRange(0, 1).legend());
        s.bar(BarChart.of("Mean logit gap (Yes - No) before and after patching").grouped(names(), series, gap).axes("dataset", "mean gap").legend());
    }

    private void neurons() {
        Causal ca = an.causal;
        Section s = report.section("Part III: harmful neurons of block " + (L - 1));
        s.text("Appendix C: c_j = h_j (W_out[j] . g), g the gradient of the forced-choice margin at resid_post, aligned by truth and "
                + "summed over prompts; negative is harmful. The most harmful neurons are zero- or mean-ablated at the last token.");
        s.bar(BarChart.of("Neuron scores, sorted").sortedStems("c (summed)", ca.scores.totalC()).signColors().axes("rank", "c"));
        Table t = Table.of("neurons", "count", "intersection with global top " + ca.topGlobal.length, "most harmful first");
        t.row("global", ca.topGlobal.length, "", list(ca.topGlobal));
        ca.topPerGroup.forEach((grp, top) -> t.row(grp, top.length, NumericResults.intersection(ca.topGlobal, top), list(top)));
        s.table(t);
        String[] cats = cellNames();
        List<String> series = new ArrayList<>(List.of("baseline"));
        List<double[]> vals = new ArrayList<>(List.of(cellAcc(c.margin, false)));
        ca.ablated.forEach((k, m) -> { series.add(k); vals.add(cellAcc(m, true)); });
        s.bar(BarChart.of("Accuracy after ablation, by dataset / truth").grouped(cats, series.toArray(String[]::new), vals.toArray(double[][]::new))
                .axes("dataset / truth", "accuracy").yRange(0, 1).legend());
        double[][] delta = new double[vals.size() - 1][];
        for (int i = 1; i < vals.size(); i++) {
            delta[i - 1] = new double[cats.length];
            for (int j = 0; j < cats.length; j++) delta[i - 1][j] = vals.get(i)[j] - vals.get(0)[j];
        }
        s.bar(BarChart.of("Accuracy change after ablation").grouped(cats, series.subList(1, series.size()).toArray(String[]::new), delta)
                .axes("dataset / truth", "delta accuracy").legend());

        s.heading("Train / validation check");
        s.text("Neurons (and mean values) chosen on " + ca.trainRows.length + " training prompts, ablated and measured on the "
                + ca.validationRows.length + " held-out prompts.");
        List<String> vs = new ArrayList<>();
        List<double[]> va = new ArrayList<>(), vm = new ArrayList<>();
        ca.splitValidation.forEach((k, m) -> { vs.add(k); va.add(cellAccOf(ca.validationRows, m)); vm.add(cellMarginOf(ca.validationRows, m)); });
        if (!vs.isEmpty()) {
            s.bar(BarChart.of("Validation accuracy by dataset / truth").grouped(cats, vs.toArray(String[]::new), va.toArray(double[][]::new))
                    .axes("dataset / truth", "accuracy").yRange(0, 1).legend());
            double[][] d = new double[vs.size() - 1][cats.length], dm = new double[vs.size() - 1][cats.length];
            for (int i = 1; i < vs.size(); i++)
                for (int j = 0; j < cats.length; j++) { d[i - 1][j] = va.get(i)[j] - va.get(0)[j]; dm[i - 1][j] = vm.get(i)[j] - vm.get(0)[j]; }
            String[] cond = vs.subList(1, vs.size()).toArray(String[]::new);
            s.bar(BarChart.of("Validation accuracy change").grouped(cats, cond, d).axes("dataset / truth", "delta accuracy").legend());
            s.heatmap(Heatmap.of("Validation: change of the mean aligned margin").matrix(dm).xLabels(cats).yLabels(cond).diverging()
                    .colorLabel("delta margin").showValues());
        }
        s.heading("decimals_diff_len: does the decimal part's length matter?");
        Map<String, Map<String, Double>> lb = lengthBreakdown(an);
        if (lb.isEmpty()) s.text("No decimals_diff_len prompts in this run.");
        else {
            String[] lc = lb.keySet().toArray(String[]::new);
            List<String> conds = new ArrayList<>(lb.values().iterator().next().keySet());
            double[][] v = new double[conds.size()][lc.length];
            for (int i = 0; i < conds.size(); i++) for (int j = 0; j < lc.length; j++) v[i][j] = lb.get(lc[j]).get(conds.get(i));
            s.bar(BarChart.of("decimals_diff_len accuracy by truth and the first number's decimal length").grouped(lc, conds.toArray(String[]::new), v)
                    .axes("truth / first decimal part", "accuracy").yRange(0, 1).legend());
        }
    }

    /**
     * decimals_diff_len accuracy by truth x (first number's decimal part longer / shorter), at baseline and after each
     * ablation: {cell: {condition: accuracy}}; empty without such prompts.
     */
    static Map<String, Map<String, Double>> lengthBreakdown(NumericCompareStudy.Analysis an) {
        Collected c = an.collected;
        Map<String, Map<String, Double>> out = new LinkedHashMap<>();
        int g = c.groups.indexOf("decimals_diff_len");
        if (g < 0) return out;
        Map<String, double[]> conds = new LinkedHashMap<>();
        conds.put("baseline", aligned(c, c.margin));
        conds.putAll(an.causal.ablated);
        for (boolean t : new boolean[] {false, true})
            for (boolean longer : new boolean[] {true, false}) {
                Map<String, Double> m = new LinkedHashMap<>();
                for (var e : conds.entrySet()) {
                    int cnt = 0, hit = 0;
                    for (int i = 0; i < c.size(); i++) {
                        if (c.group[i] != g || c.truth[i] != t) continue;
                        NumericDataset.Item it = an.items.get(i);
                        if ((decimals(it.a()) > decimals(it.b())) != longer) continue;
                        cnt++;
                        if (e.getValue()[i] > 0) hit++;
                    }
                    m.put(e.getKey(), cnt == 0 ? Double.NaN : (double) hit / cnt);
                }
                out.put((t ? "Yes" : "No") + " / first " + (longer ? "longer" : "shorter"), m);
            }
        return out;
    }

    static int decimals(String x) { int dot = x.indexOf('.'); return dot < 0 ? 0 : x.length() - dot - 1; }

    private static double[] aligned(Collected c, double[] raw) {
        double[] a = new double[raw.length];
        for (int i = 0; i < raw.length; i++) a[i] = c.truth[i] ? raw[i] : -raw[i];
        return a;
    }

    private String[] cellNames() {
        String[] cats = new String[groups.size() * 2];
        for (int g = 0; g < groups.size(); g++) { cats[2 * g] = groups.get(g) + " / No"; cats[2 * g + 1] = groups.get(g) + " / Yes"; }
        return cats;
    }

    private double[] cellAcc(double[] margins, boolean isAligned) {
        double[] v = new double[groups.size() * 2];
        for (int g = 0; g < groups.size(); g++)
            for (int t = 0; t < 2; t++) v[2 * g + t] = NumericCompareStudy.accuracy(c, margins, groups.get(g), t == 1, isAligned);
        return v;
    }

    private double[] cellAccOf(int[] rows, double[] alignedMargins) { return cellOf(rows, alignedMargins, true); }
    private double[] cellMarginOf(int[] rows, double[] alignedMargins) { return cellOf(rows, alignedMargins, false); }

    private double[] cellOf(int[] rows, double[] m, boolean accuracy) {
        double[] sum = new double[groups.size() * 2], cnt = new double[groups.size() * 2];
        for (int i = 0; i < rows.length; i++) {
            int cell = 2 * c.group[rows[i]] + (c.truth[rows[i]] ? 1 : 0);
            cnt[cell]++;
            sum[cell] += accuracy ? (m[i] > 0 ? 1 : 0) : m[i];
        }
        for (int k = 0; k < sum.length; k++) sum[k] = cnt[k] == 0 ? Double.NaN : sum[k] / cnt[k];
        return sum;
    }

    private String[] names() { return groups.toArray(String[]::new); }

    private double[] layers() {
        double[] x = new double[L];
        for (int l = 0; l < L; l++) x[l] = l;
        return x;
    }

    private String[] layerLabels() {
        String[] s = new String[L];
        for (int l = 0; l < L; l++) s[l] = Integer.toString(l);
        return s;
    }

    private static double[] column(double[][] m, int k) {
        double[] v = new double[m.length];
        for (int i = 0; i < m.length; i++) v[i] = m[i][k];
        return v;
    }

    private static double[] arr(List<Double> l) { return l.stream().mapToDouble(Double::doubleValue).toArray(); }

    private static String list(int[] a) {
        StringBuilder b = new StringBuilder();
        for (int x : a) b.append(b.length() == 0 ? "" : ", ").append(x);
        return b.toString();
    }

    static String pct(double v) { return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.1f%%", 100 * v); }
}
