package dev.lens4j.studies.secondorder;

import dev.lens4j.analysis.OrthogonalMatchingPursuit;
import dev.lens4j.model.Config;
import dev.lens4j.report.BarChart;
import dev.lens4j.report.HistogramChart;
import dev.lens4j.report.Report;
import dev.lens4j.report.Section;
import dev.lens4j.report.Table;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static dev.lens4j.studies.secondorder.SecondOrderResults.pct;

/** report.html of the second-order study: each measured number beside the seed's expectation, with its plot. */
final class SecondOrderReport {
    static final int PLOTS = 6;
    private final SecondOrderStudy.Result r;
    private final Config cfg;
    private Report report;

    SecondOrderReport(SecondOrderStudy.Result r, Config cfg) { this.r = r; this.cfg = cfg; }

    int plotCount() { return report.plotCount(); }

    Report build() {
        Characterisation ch = r.ch();
        report = new Report("Second-order effects of neurons on math and logic problems: " + r.modelName())
                .description("Seed 002 (Gandelsman et al.'s second-order effects, adapted to causal LMs): how much each MLP neuron contributes, "
                        + "through every later attention head, to the correctness direction at the last prompt token.");
        report.meta("model", cfg.modelName + ": " + cfg.nLayers + " layers, " + cfg.nHeads + " heads, d_model " + cfg.dModel + ", d_mlp " + cfg.dMlp)
                .meta("problems", r.problems().size() + " generated (sums, differences, products, comparisons, parity), seed " + r.options().seed)
                .meta("greedy accuracy", pct(CleanPass.fraction(r.clean().correct, null)) + " (first token " + pct(CleanPass.fraction(r.clean().firstCorrect, null)) + ")")
                .meta("correctness direction", r.directionSource())
                .meta("layers analysed", Arrays.toString(r.layers()) + (r.layersAuto() ? " (critical by mean-ablation)" : " (as asked)"))
                .meta("rank-1 neurons", r.neuronSelection());
        expectations();
        layers();
        sparsityAndRank1();
        accuracy();
        decomposition();
        method();
        if (report.plotCount() != PLOTS) throw new IllegalStateException("report has " + report.plotCount() + " plots, expected " + PLOTS);
        return report;
    }

    private void expectations() {
        Section s = report.section("Measured against the seed's expectations");
        Table t = Table.of("finding", "measured", "seed expects", "holds on this model", "note");
        for (SecondOrderResults.Expectation e : SecondOrderResults.expectations(r))
            t.row(e.finding(), e.finding().startsWith("accuracy drop") ? String.format(Locale.ROOT, "%+.1f points", 100 * e.measured()) : pct(e.measured()),
                    e.expected(), e.holds() ? "yes" : "no", e.note());
        s.table(t);
        long holds = SecondOrderResults.expectations(r).stream().filter(SecondOrderResults.Expectation::holds).count();
        s.text(holds + " of " + SecondOrderResults.expectations(r).size() + " expectations hold on this model. A small or untrained model "
                + "that solves few problems has a weak correctness direction; read the numbers with its accuracy in mind.");
    }

    private void layers() {
        Section s = report.section("Critical layers and layer concentration");
        int L = cfg.nLayers;
        String[] names = new String[L];
        double[] drop = new double[L], share = new double[L];
        double base = CleanPass.mean(r.clean().firstLogProb);
        for (int l = 0; l < L; l++) { names[l] = "L" + l; drop[l] = base - r.layerAblation()[l][1]; share[l] = r.ch().layerShare[l]; }
        s.text("Each MLP layer's output mean-ablated in turn (its mean over problems and positions): the drop in mean log p(first answer token). "
                + "Critical layers " + Arrays.toString(r.critical()) + ".");
        s.bar(BarChart.of("Drop in log p(answer) when the layer's MLP is mean-ablated").axes("layer", "drop in mean log-prob").categories("drop", names, drop));
        s.text(String.format(Locale.ROOT, "Share of the total |second-order effect| by source layer (the last layer has no later heads). The analysed layers hold %s.",
                pct(r.ch().selectedShare)));
        s.bar(BarChart.of("Share of Σ|φ| by layer").axes("layer", "share").categories("share", names, share));
    }

    private void sparsityAndRank1() {
        Section s = report.section("Sparsity and rank-1 structure");
        List<Double> sp = new ArrayList<>(), pc = new ArrayList<>();
        for (double[] row : r.ch().sparsity) for (double v : row) sp.add(v);
        for (double[] row : r.ch().pc1) for (double v : row) if (Double.isFinite(v)) pc.add(v);
        s.text("Per neuron of the analysed layers: the share of problems where its effect is significant (|φ| above "
                + r.options().significance + " of the problem's Σ|φ|). The seed expects under 5%.");
        s.histogram(HistogramChart.of("Share of problems with a significant effect, per neuron").axes("share of problems", "neurons")
                .values("neurons", sp.stream().mapToDouble(Double::doubleValue).toArray(), 30, 0, 1));
        s.text("Per neuron: the share of its vector effect's variance (over the train problems) on the first principal component. The seed expects over 35%.");
        s.histogram(HistogramChart.of("PC1 explained variance per neuron").axes("PC1 share", "neurons")
                .values("neurons", pc.isEmpty() ? new double[] {0} : pc.stream().mapToDouble(Double::doubleValue).toArray(), 30, 0, 1));
    }

    private void accuracy() {
        Characterisation ch = r.ch();
        Section s = report.section("Accuracy with effects replaced");
        s.text("Validation problems, first answer token. Rank-1: each analysed neuron's vector effect replaced by its mean plus its projection on PC1; "
                + "second-order mean: replaced by its mean (both substituted in the final residual, attention and norms frozen); neurons mean-ablated: "
                + "the model rerun with those neurons' activations replaced by their means.");
        s.bar(BarChart.of("Validation first-token accuracy").axes("", "accuracy").categories("accuracy",
                new String[] {"clean", "rank-1 effects", "second-order mean", "neurons mean-ablated"},
                new double[] {ch.accClean, ch.accRank1, ch.accMeanSecondOrder, r.accNeuronMeanAblated()}));
    }

    private void decomposition() {
        Section s = report.section("Sparse decomposition over concepts");
        s.text("Each principal direction coded by orthogonal matching pursuit (m = " + r.options().ompAtoms + ") over " + r.concepts().size()
                + " concept directions (unembedding of " + r.options().conceptsSource + "). The neurons with the largest mean |φ|:");
        Table t = Table.of("neuron", "mean |φ|", "PC1", "top concepts (γ)", "cosine", "polysemantic");
        List<double[]> order = new ArrayList<>();
        for (int li = 0; li < r.layers().length; li++)
            for (int si = 0; si < r.neurons()[li].length; si++)
                order.add(new double[] {li, si, r.ch().meanAbsPhi[r.layers()[li]][r.neurons()[li][si]]});
        order.sort((a, b) -> Double.compare(b[2], a[2]));
        double[] top = new double[Math.min(30, order.size())];
        for (int i = 0; i < top.length; i++) {
            int li = (int) order.get(i)[0], si = (int) order.get(i)[1];
            top[i] = order.get(i)[2];
            OrthogonalMatchingPursuit.Result res = r.ch().omp[li][si];
            StringBuilder c = new StringBuilder();
            if (res != null)
                for (int k = 0; k < Math.min(3, res.support().length); k++)
                    c.append(k == 0 ? "" : ", ").append(r.concepts().get(res.support()[k])).append(String.format(Locale.ROOT, " (%.2f)", res.coefficients()[k]));
            t.row("L" + r.layers()[li] + "N" + r.neurons()[li][si], String.format(Locale.ROOT, "%.3g", order.get(i)[2]), pct(r.ch().pc1[li][si]),
                    c.toString(), res == null ? "" : String.format(Locale.ROOT, "%.2f", res.cosine()), r.ch().polysemantic[li][si] ? "yes" : "");
        }
        s.table(t);
        s.bar(BarChart.of("Mean |φ| of the top neurons").axes("rank", "mean |φ|").bars("mean |φ|", top));
    }

    private void method() {
        Section s = report.section("Method and approximations");
        s.bullets("φ(x) = Σ_{l'>l} Σ_h Σ_{i≤T} p_i · a_{T→i} / s_i · [d · W_OV w_n], one GEMM per layer and batch (analysis.SecondOrderEffects).",
                "Norms: ln1 of each later block is frozen at the clean run (the neuron's write divided by the cached hook_scale at its position; "
                        + "LayerNorm centring applied to W_out's rows); attention patterns are cached, so the effect is the linear OV path.",
                "Correctness: the greedy answer equals the answer (teacher forcing); direction: " + r.directionSource() + ".",
                "Per-stage seconds: " + Map.of("clean", r.timings()[0], "layer ablation", r.timings()[1], "second-order pass", r.timings()[2],
                        "characterisation", r.timings()[3], "neuron ablation", r.timings()[4]));
    }
}
