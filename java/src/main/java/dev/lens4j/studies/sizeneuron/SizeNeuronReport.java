package dev.lens4j.studies.sizeneuron;

import dev.lens4j.analysis.NeuronCongruence;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.report.BarChart;
import dev.lens4j.report.Heatmap;
import dev.lens4j.report.HistogramChart;
import dev.lens4j.report.LineChart;
import dev.lens4j.report.Report;
import dev.lens4j.report.ScatterChart;
import dev.lens4j.report.Section;
import dev.lens4j.report.Table;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** report.html of the size-neuron study: every plot of seed 001, in the seed's order. */
final class SizeNeuronReport {
    /** Above this many neurons the congruence plots show each layer's extremes instead of every neuron. */
    static final int MAX_SCATTER_POINTS = 20_000;

    private final HookedTransformer model;
    private final SizeNeuronStudy.Options o;
    private final SizeNeuronStudy.Results r;
    private int plots;

    SizeNeuronReport(HookedTransformer model, SizeNeuronStudy.Options o, SizeNeuronStudy.Results r) {
        this.model = model;
        this.o = o;
        this.r = r;
    }

    int plotCount() { return plots; }

    Report build() {
        FamilyRun p = r.primary();
        Report rep = new Report("Size neurons (seed 001): " + p.family.name()).description("Does one MLP neuron, or several, carry the opposite "
                        + "size word? Logit lens and activation patching per prompt family, every neuron of the flagged layers patched, "
                        + "standout neurons compared across families, congruence with the answer tokens, ablation"
                        + (r.neuroscope == null ? "." : ", and the neuroscope of the standouts."))
                .meta("model", o.modelName).meta("config", model.cfg().toJson()).meta("families", r.runs.stream().map(f -> f.family.name()).toList())
                .meta("command", "study size-neuron");
        for (FamilyRun fr : r.runs) family(rep.section("Family " + fr.family.name()), fr, fr == p);
        neurons(rep.section("Every neuron of the flagged layers (" + p.family.name() + ")"));
        crossFamily(rep.section("Do the same neurons stand out in other families?"));
        ablation(rep.section("Ablating the top neurons"));
        congruence(rep.section("Congruence of every neuron with the answer and input tokens"));
        if (r.neuroscope != null) neuroscope(rep.section("Neuroscope of the top neurons"));
        plots = rep.plotCount();
        return rep;
    }

    private void family(Section s, FamilyRun fr, boolean primary) {
        s.text(fr.family.description() + ". Clean '" + fr.family.pairs().get(0).clean() + "' -> '" + fr.family.pairs().get(0).answer()
                + "'; corrupt '" + fr.family.pairs().get(0).corrupt() + "' -> '" + fr.family.pairs().get(0).wrong() + "'"
                + (fr.pairs > 1 ? " (and " + (fr.pairs - 1) + " more pairs)" : "") + String.format(Locale.ROOT,
                ". Logit difference: clean %.4f, corrupted %.4f.", fr.cleanMetric, fr.corruptMetric));
        String[] labels = fr.lensLabels.toArray(String[]::new);
        LineChart lens = LineChart.of("Logit lens: logit difference by layer").axes("accumulated residual", "logit difference")
                .series(fr.family.name(), fr.lens).markers().xTickLabels(labels);
        double[] jumps = SpikeDetection.jumps(fr.lens);
        BarChart jb = BarChart.of("Jump between consecutive layers (block l: resid_pre l+1 - resid_pre l)").axes("block", "jump in logit difference")
                .bars("jump", jumps).signColors();
        if (primary) {
            jb.hline(r.threshold, "spike threshold");
            for (SpikeDetection.Jump j : r.flagged) lens.vline(j.layer() + 0.5, "flagged block " + j.layer());
        }
        s.row(lens, jb);
        String[] pos = fr.positionLabels(model).toArray(String[]::new);
        List<Heatmap> maps = new ArrayList<>();
        for (var e : fr.blocks.entrySet())
            maps.add(Heatmap.of("Activation patching: " + e.getKey()).matrix(e.getValue()).diverging().xLabels(pos)
                    .yLabels(prefixed("L", e.getValue().length)).axes("position", "layer").colorLabel("normalised logit difference"));
        s.row(maps.toArray(Heatmap[]::new));
    }

    private void neurons(Section s) {
        s.text(String.format(Locale.ROOT, "Flagged blocks: %s (threshold %.4g). Each neuron's mlp.hook_post patched from the clean into the "
                + "corrupted run at every position; z-score over the layer's neurons; a neuron stands out at z >= %.1f.",
                r.flagged.stream().map(j -> j.layer() + String.format(Locale.ROOT, " (jump %.4g)", j.jump())).toList(), r.threshold, o.zThreshold));
        for (var e : r.ranked.entrySet()) {
            int layer = e.getKey();
            double[] v = r.primary().neurons.get(layer);
            ScatterChart sc = ScatterChart.of("Layer " + layer + ": every neuron patched").axes("neuron", "normalised logit difference")
                    .points("neurons", index(v.length), v);
            List<Standouts.Neuron> mine = r.top.stream().filter(n -> n.layer() == layer).toList();
            if (!mine.isEmpty()) {
                double[] x = new double[mine.size()], y = new double[mine.size()];
                String[] l = new String[mine.size()];
                for (int i = 0; i < x.length; i++) {
                    x[i] = mine.get(i).neuron();
                    y[i] = mine.get(i).value();
                    l[i] = String.format(Locale.ROOT, "Neuron %d stands out (z %.1f)", mine.get(i).neuron(), mine.get(i).z());
                }
                sc.points("top neurons", x, y).labels(l).showLabels();
            }
            s.row(sc, HistogramChart.of("Layer " + layer + ": distribution").axes("normalised logit difference", "neurons").values("neurons", v, 40));
        }
        Table t = Table.of("neuron", "normalised value", "z-score", "gap to next", "rank in layer", "stands out").caption("Top neurons by z-score");
        for (Standouts.Neuron n : r.top)
            t.row(n.label(), f(n.value()), f(n.z()), f(n.gap()), n.rank(), n.z() >= o.zThreshold ? "yes" : "no");
        s.table(t);
    }

    private void crossFamily(Section s) {
        if (r.runs.size() == 1) {
            s.text("Only one family was run: nothing to compare.");
            return;
        }
        String[] fams = r.runs.stream().map(f -> f.family.name()).toArray(String[]::new);
        String[] cats = r.top.stream().map(Standouts.Neuron::label).toArray(String[]::new);
        double[][] val = new double[fams.length][cats.length], z = new double[fams.length][cats.length];
        Table t = Table.of("family", "its top neuron", "value", "z-score", "same as " + fams[0] + "'s top", "sum of " + fams[0] + "'s top neurons here")
                .caption("Each family's own top neuron in the flagged layers");
        for (int f = 0; f < fams.length; f++) {
            Map<Integer, List<Standouts.Neuron>> ranked = r.rankedByFamily.get(fams[f]);
            for (int c = 0; c < cats.length; c++) {
                Standouts.Neuron n = SizeNeuronOutputs.find(ranked, r.top.get(c));
                val[f][c] = n.value();
                z[f][c] = n.z();
            }
            Standouts.Neuron own = Standouts.top(new ArrayList<>(ranked.values()), 1).get(0);
            t.row(fams[f], own.label(), f(own.value()), f(own.z()), own.label().equals(cats[0]) ? "yes" : "no", f(java.util.Arrays.stream(val[f]).sum()));
        }
        s.row(BarChart.of("Top neurons' patching value in each family").axes("neuron", "normalised logit difference").grouped(cats, fams, val),
                BarChart.of("Top neurons' z-score in each family").axes("neuron", "z-score").grouped(cats, fams, z).hline(o.zThreshold, "stands out"));
        s.table(t);
    }

    private void ablation(Section s) {
        String[] fams = r.runs.stream().map(f -> f.family.name()).toArray(String[]::new);
        List<String> cats = new ArrayList<>(r.top.stream().map(Standouts.Neuron::label).toList());
        cats.add("all together");
        double[][] d = new double[fams.length][cats.size()];
        Table t = Table.of("family", "clean logit difference", "ablated", "change").caption("Zero-ablation of mlp.hook_post at every position");
        for (int f = 0; f < fams.length; f++) {
            double[] v = r.ablation.get(fams[f]);
            for (int c = 0; c < cats.size(); c++) {
                d[f][c] = v[c + 1] - v[0];
                t.row(fams[f], f(v[0]), cats.get(c) + ": " + f(v[c + 1]), f(d[f][c]));
            }
        }
        s.bar(BarChart.of("Change in the logit difference when the neuron is zeroed").axes("ablated", "change in logit difference")
                .grouped(cats.toArray(String[]::new), fams, d));
        s.table(t);
    }

    private void congruence(Section s) {
        NeuronCongruence.Result c = r.congruence;
        int T = c.tokens().length, N = c.nNeurons();
        s.text("Output congruence W_out[l][n] . W_U[:, t] of every neuron of every layer" + (N > MAX_SCATTER_POINTS
                ? " (" + N + " neurons: each layer's highest and lowest shown)" : "") + "; the top neurons are marked.");
        List<ScatterChart> charts = new ArrayList<>();
        for (int t = 0; t < T; t++) {
            if (!r.congruenceTokenRoles.get(t).startsWith("answer") && !r.congruenceTokenRoles.get(t).startsWith("wrong")) continue;
            String tok = SizeNeuronOutputs.tokenStr(model, c.tokens()[t]);
            ScatterChart sc = ScatterChart.of("Congruence with '" + tok + "' (" + r.congruenceTokenRoles.get(t) + ")").axes("layer * d_mlp + neuron", "congruence");
            double[] x, y;
            if (N <= MAX_SCATTER_POINTS) {
                x = index(N);
                y = new double[N];
                for (int i = 0; i < N; i++) y[i] = c.output()[i * T + t];
            } else {
                x = new double[2 * c.nLayers()];
                y = new double[x.length];
                for (int l = 0; l < c.nLayers(); l++) {
                    int hi = l * c.dMlp(), lo = hi;
                    for (int n = l * c.dMlp(); n < (l + 1) * c.dMlp(); n++) {
                        if (c.output()[n * T + t] > c.output()[hi * T + t]) hi = n;
                        if (c.output()[n * T + t] < c.output()[lo * T + t]) lo = n;
                    }
                    x[2 * l] = hi;
                    y[2 * l] = c.output()[hi * T + t];
                    x[2 * l + 1] = lo;
                    y[2 * l + 1] = c.output()[lo * T + t];
                }
            }
            sc.points("neurons", x, y);
            double[] tx = new double[r.top.size()], ty = new double[r.top.size()];
            String[] tl = new String[r.top.size()];
            for (int i = 0; i < tx.length; i++) {
                int flat = r.top.get(i).layer() * c.dMlp() + r.top.get(i).neuron();
                tx[i] = flat;
                ty[i] = c.output()[flat * T + t];
                tl[i] = r.top.get(i).label();
            }
            charts.add(sc.points("top neurons", tx, ty).labels(tl).showLabels());
        }
        s.row(charts.toArray(ScatterChart[]::new));
        Table tails = Table.of("token", "role", "highest output congruence", "lowest output congruence", "highest input congruence")
                .caption("The tails: neurons with the most extreme congruence per token");
        for (int t = 0; t < T; t++)
            tails.row(SizeNeuronOutputs.tokenStr(model, c.tokens()[t]), r.congruenceTokenRoles.get(t), labels(c, c.topNeurons(t, 5, true)),
                    labels(c, c.topNeurons(t, 5, false)), labels(c, SizeNeuronOutputs.topInput(c, t, 5)));
        s.table(tails);
        Standouts.Neuron top = r.top.get(0);
        int flat = top.layer() * c.dMlp() + top.neuron();
        String[] toks = new String[c.k()];
        double[] vals = new double[c.k()];
        for (int i = 0; i < c.k(); i++) {
            int tok = c.topTokens()[flat * c.k() + i];
            toks[i] = tok < 0 ? "" : SizeNeuronOutputs.tokenStr(model, tok);
            vals[i] = tok < 0 ? 0 : c.topValues()[flat * c.k() + i];
        }
        s.bar(BarChart.of(top.label() + "'s top output tokens").axes("token", "W_out . W_U").categories("congruence", toks, vals));
        Table tt = Table.of("neuron", "top output tokens", "bottom output tokens").caption("Each top neuron's output tokens over the whole vocabulary");
        for (Standouts.Neuron n : r.top) {
            int fl = n.layer() * c.dMlp() + n.neuron();
            tt.row(n.label(), tokens(c, fl, true), tokens(c, fl, false));
        }
        s.table(tt);
    }

    private void neuroscope(Section s) {
        Neuroscope.Result ns = r.neuroscope;
        s.text("Scan of " + ns.tokens() + " corpus tokens over " + ns.hooks() + "; the neuron browser is scan/browser/index.html beside this "
                + "report (each top neuron's page is listed below). Content words: the most frequent non-function words in the "
                + o.scanContext + " tokens up to each top activation.");
        Table t = Table.of("neuron", "page", "max activation", "mean", "most frequent content words").caption("The top neurons in the corpus");
        for (Neuroscope.NeuronPage p : ns.neurons())
            t.row(p.label(), p.page(), f(p.max()), f(p.mean()), String.join(", ", p.words().stream().map(w -> w.word() + " (" + w.count() + ")").toList()));
        s.table(t);
        for (Neuroscope.NeuronPage p : ns.neurons()) {
            if (p.words().isEmpty()) continue;
            s.bar(BarChart.of(p.label() + ": content words of its top contexts").axes("word", "count")
                    .categories("count", p.words().stream().map(ContentWords.Count::word).toArray(String[]::new),
                            p.words().stream().mapToDouble(ContentWords.Count::count).toArray()));
        }
        if (!ns.neurons().isEmpty() && !ns.neurons().get(0).contexts().isEmpty())
            s.heading(ns.neurons().get(0).label() + "'s top contexts").code(String.join("\n", ns.neurons().get(0).contexts()));
    }

    private String labels(NeuronCongruence.Result c, int[] neurons) {
        List<String> out = new ArrayList<>();
        for (int n : neurons) out.add(c.label(n));
        return String.join(", ", out);
    }

    private String tokens(NeuronCongruence.Result c, int flat, boolean highest) {
        List<String> out = new ArrayList<>();
        for (Object e : SizeNeuronOutputs.topTokens(model, c, flat, highest)) out.add("'" + ((Map<?, ?>) e).get("str") + "'");
        return String.join(", ", out);
    }

    private static String f(double v) { return String.format(Locale.ROOT, "%.4g", v); }

    private static double[] index(int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) x[i] = i;
        return x;
    }

    private static String[] prefixed(String p, int n) {
        String[] out = new String[n];
        for (int i = 0; i < n; i++) out[i] = p + i;
        return out;
    }
}
