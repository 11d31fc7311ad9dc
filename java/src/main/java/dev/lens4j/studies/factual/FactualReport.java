package dev.lens4j.studies.factual;

import dev.lens4j.model.HookedTransformer;
import dev.lens4j.report.BarChart;
import dev.lens4j.report.Heatmap;
import dev.lens4j.report.LineChart;
import dev.lens4j.report.Report;
import dev.lens4j.report.Section;
import dev.lens4j.report.Table;

import java.util.List;
import java.util.Locale;

/** report.html of the factual-knowledge study: the seed's tables and plots, in its order, then DLA by head and patching. */
final class FactualReport {
    private final HookedTransformer model;
    private final FactualAnalysis an;
    private final FactualStudy.Options o;
    private Report report;

    FactualReport(HookedTransformer model, FactualAnalysis an, FactualStudy.Options o) { this.model = model; this.an = an; this.o = o; }

    int plotCount() { return report.plotCount(); }

    /** Plots: 2 metric bars + lens line + increase bars + DLA bars + heads heatmap, and per patched prompt one heatmap, plus the mean heads one. */
    static int expectedPlots(FactualAnalysis an) {
        long patched = an.prompts.stream().filter(p -> p.patchResidPre != null).count();
        return 6 + (patched > 0 ? (int) patched + 1 : 0);
    }

    Report build() {
        report = new Report("Factual knowledge (seed 004)")
                .description("True/False questions, answered through token sets that mean True (" + String.join(", ", quoted(an.trueTexts))
                        + ") and False (" + String.join(", ", quoted(an.falseTexts)) + "); every metric is aligned with the label.")
                .meta("model", o.model).meta("config", model.cfg().toJson()).meta("questions", o.questionsSource)
                .meta("answer map", o.answerMapSource).meta("study", "factual-knowledge");
        if (!an.droppedTexts.isEmpty()) report.meta("answer texts dropped (not one token here)", an.droppedTexts);
        testPrompts(report.section("test_prompt per question"));
        metrics(report.section("Logit and probability differences"));
        lens(report.section("Logit lens of the accumulated residual"));
        dla(report.section("Direct logit attribution"));
        if (an.patchedPrompts > 0) patching(report.section("Activation patching"));
        int want = expectedPlots(an);
        if (report.plotCount() != want) throw new IllegalStateException("report has " + report.plotCount() + " plots, expected " + want);
        return report;
    }

    private void testPrompts(Section s) {
        s.text("TransformerLens's test_prompt (BOS prepended): the top " + o.topK + " next tokens with logits and probabilities, "
                + "and the best rank of a token of the label's answer set.");
        for (int i = 0; i < an.prompts.size(); i++) {
            var p = an.prompts.get(i);
            var t = p.testPrompt;
            Table tab = Table.of("rank", "logit", "prob", "token").caption("#" + i + " " + oneLine(p.q.question()) + " (" + label(p.q.answer())
                    + "); tokens " + p.strTokens + "; best rank of the label's set: " + p.labelRank + " (|" + model.tokenizer().tokenString(p.labelRankToken) + "|)");
            for (var c : t.topK()) tab.row(c.rank(), f2(c.logit()), String.format(Locale.ROOT, "%.2f%%", 100 * c.prob()), "|" + c.str() + "|");
            s.table(tab);
        }
    }

    private void metrics(Section s) {
        int n = an.prompts.size();
        String[] names = new String[n];
        double[] ld = new double[n], pd = new double[n];
        Table tab = Table.of("#", "question", "label", "logit diff", "prob diff", "kept").caption("Per prompt (the filter keeps prob diff >= " + o.minProbDiff + ")");
        for (int i = 0; i < n; i++) {
            var p = an.prompts.get(i);
            names[i] = "#" + i;
            ld[i] = p.logitDiff;
            pd[i] = p.probDiff;
            tab.row(i, oneLine(p.q.question()), label(p.q.answer()), f3(p.logitDiff), f3(p.probDiff), p.kept ? "yes" : "dropped");
        }
        s.text("Summed logits (and probabilities) of the label's answer set minus the other set's, at the last position. Mean logit "
                + "difference " + f2(mean(ld)) + ", mean probability difference " + f3(mean(pd)) + " over all " + n + " prompts; "
                + an.kept().size() + " kept.");
        s.row(BarChart.of("Logit difference per prompt").axes("prompt", "summed logit difference").categories("logit diff", names, ld).signColors(),
                BarChart.of("Probability difference per prompt").axes("prompt", "summed probability difference").categories("prob diff", names, pd)
                        .signColors().hline(o.minProbDiff, "filter"));
        s.table(tab);
    }

    private void lens(Section s) {
        String[] labels = an.lensLabels.toArray(String[]::new);
        double[] x = new double[labels.length];
        for (int i = 0; i < x.length; i++) x[i] = i / 2.0;
        LineChart c = LineChart.of("Logit Difference From Accumulated Residual Stream").axes("layer", "logit difference")
                .series("mean of kept prompts", x, an.meanLens).markers();
        for (var p : an.kept()) c.series("#" + an.prompts.indexOf(p), x, p.lens).dashed();
        s.text("The accumulated residual stream (0_pre, 0_mid, ..., final_post) at the last position, scaled by the final norm's cached "
                        + "scale and dotted with each prompt's label-aligned answer direction (sum of W_U columns of the label's set minus the other's).")
                .lineChart(c.hline(0, "0"));
        String[] layers = new String[an.nLayers];
        for (int l = 0; l < layers.length; l++) layers[l] = "L" + l;
        s.text(String.format(Locale.ROOT, "Summed increase in self-attention layers after layer 0: %.2f; in MLP layers after layer 0: %.2f "
                        + "(all layers: attention %.2f, MLP %.2f).", an.attnIncreaseAfterLayer0, an.mlpIncreaseAfterLayer0, an.attnIncreaseAll, an.mlpIncreaseAll))
                .bar(BarChart.of("Increase by layer type").axes("layer", "increase in logit difference")
                        .grouped(layers, new String[] {"attention", "MLP"}, new double[][] {an.attnIncrease, an.mlpIncrease}));
    }

    private void dla(Section s) {
        s.text("Each component's direct contribution along the label-aligned answer direction (cache.logit_attrs), mean over the kept prompts.")
                .bar(BarChart.of("Direct logit attribution by component").axes("component", "logit difference")
                        .categories("attribution", an.componentLabels.toArray(String[]::new), an.meanComponents).signColors());
        String[] ys = new String[an.nLayers], xs = new String[an.nHeads];
        for (int l = 0; l < an.nLayers; l++) ys[l] = "L" + l;
        for (int h = 0; h < an.nHeads; h++) xs[h] = "H" + h;
        s.heatmap(Heatmap.of("Direct logit attribution by head").matrix(FactualResults.grid(an.meanHeads, an.nHeads)).diverging()
                .xLabels(xs).yLabels(ys).axes("head", "layer").colorLabel("logit difference"));
        Table t = Table.of("head", "attribution").caption("Top heads by |attribution|");
        an.topHeads(o.topHeads).forEach((k, v) -> t.row(k, f3(v)));
        s.table(t);
    }

    private void patching(Section s) {
        s.text("Each slice of the clean question's run patched into its corrupt version's run; the label-aligned logit difference "
                + "normalised: 0 = corrupted, 1 = clean.");
        String[] ys = new String[an.nLayers], hs = new String[an.nHeads];
        for (int l = 0; l < an.nLayers; l++) ys[l] = "L" + l;
        for (int h = 0; h < an.nHeads; h++) hs[h] = "H" + h;
        for (int i = 0; i < an.prompts.size(); i++) {
            var p = an.prompts.get(i);
            if (p.patchResidPre == null) continue;
            String[] xs = new String[p.patchPositions];
            for (int j = 0; j < xs.length; j++) xs[j] = j + " " + p.strTokens.get(j) + (p.strTokens.get(j).equals(p.corruptStrTokens.get(j)) ? "" : "/" + p.corruptStrTokens.get(j));
            s.heatmap(Heatmap.of("#" + i + " resid_pre patching: " + oneLine(p.q.question())).matrix(FactualResults.grid(p.patchResidPre, p.patchPositions))
                    .diverging().xLabels(xs).yLabels(ys).axes("position (clean/corrupt token)", "layer").colorLabel("normalised logit difference"));
        }
        s.heatmap(Heatmap.of("Head output patching (all positions), mean over " + an.patchedPrompts + " prompts")
                .matrix(FactualResults.grid(an.patchHeadsMean, an.nHeads)).diverging().xLabels(hs).yLabels(ys).axes("head", "layer")
                .colorLabel("normalised logit difference"));
    }

    private static String label(boolean b) { return b ? "True" : "False"; }
    private static String oneLine(String s) { return s.replace("\n", "\\n"); }
    private static String f2(double v) { return String.format(Locale.ROOT, "%.2f", v); }
    private static String f3(double v) { return String.format(Locale.ROOT, "%.3f", v); }

    private static double mean(double[] v) {
        double s = 0;
        for (double x : v) s += x;
        return s / v.length;
    }

    private static List<String> quoted(List<String> xs) { return xs.stream().map(x -> "'" + oneLine(x) + "'").toList(); }
}
