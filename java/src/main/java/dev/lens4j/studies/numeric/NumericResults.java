package dev.lens4j.studies.numeric;

import dev.lens4j.model.Config;
import dev.lens4j.studies.StudyJson;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** results.json of the numeric-compare study: model, config, dataset, seeds, versions, timings and every number. */
final class NumericResults {
    private NumericResults() {}

    static final List<String> SECTIONS = List.of("study", "versions", "model", "model_config", "config", "seeds", "data", "timings",
            "embedded_model", "baseline", "geometry", "probes", "readout", "patching", "neurons");

    static Path write(Path file, NumericCompareStudy.Analysis an, NumericOptions o, Config cfg) throws IOException {
        Collected c = an.collected;
        List<String> groups = c.groups;
        int L = c.layers;
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("study", "numeric-compare (seed 000)");
        r.put("versions", StudyJson.versions(dev.lens4j.backend.CpuBackend.get().numThreads()));
        r.put("model", an.embedded != null ? "embedded (trained by this run)" : an.modelName);
        r.put("model_config", StudyJson.JSON.readTree(cfg.toJson()));
        Map<String, Object> conf = new LinkedHashMap<>();
        conf.put("template", an.template);
        conf.put("chat", o.chat);
        conf.put("yes", o.yes());
        conf.put("no", o.no());
        conf.put("n_per_category", o.csv == null ? o.n : null);
        conf.put("csv", o.csv == null ? null : o.csv.toString());
        conf.put("batch", o.batch);
        conf.put("probe_folds", o.probeFolds);
        conf.put("probe_C", o.probeC);
        conf.put("top_global", o.topGlobal);
        conf.put("top_per_group", o.topPerGroup);
        conf.put("ablate_top_k", o.ablateTopK);
        conf.put("train_fraction", o.trainFraction);
        conf.put("position", "last token of each prompt (left-padded, length-sorted batches)");
        conf.put("layers", "blocks.{l}.hook_resid_post, l = 0.." + (L - 1));
        r.put("config", conf);
        Map<String, Object> seeds = new LinkedHashMap<>();
        seeds.put("data", o.seed);
        seeds.put("probe_folds", o.seed);
        seeds.put("train_validation_split", o.seed);
        if (an.embedded != null) { seeds.put("embedded_model", an.embedded.options().modelSeed); seeds.put("embedded_data", an.embedded.options().dataSeed); }
        r.put("seeds", seeds);
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("groups", groups);
        data.put("n", c.size());
        List<Object> rows = new ArrayList<>();
        for (int i = 0; i < c.size(); i++) {
            NumericDataset.Item it = an.items.get(i);
            rows.add(List.of(it.a(), it.b(), it.truthYes() ? "yes" : "no", it.group()));
        }
        data.put("rows_a_b_truth_group", rows);
        data.put("file", "dataset.csv");
        r.put("data", data);
        r.put("timings", an.seconds);

        if (an.embedded != null) {
            Map<String, Object> e = new LinkedHashMap<>();
            EmbeddedModel.Options eo = an.embedded.options();
            e.put("layers", eo.layers); e.put("d_model", eo.dModel); e.put("heads", eo.heads); e.put("d_mlp", eo.dMlp);
            e.put("tokens", "characters, plus ' Yes' and ' No' as single tokens");
            e.put("train_per_category", eo.trainPerCategory); e.put("epochs", eo.epochs); e.put("batch_size", eo.batchSize);
            e.put("lr", eo.lr); e.put("weight_decay", eo.weightDecay);
            e.put("train_seconds", an.embedded.history().seconds());
            e.put("train_loss", an.embedded.history().trainLoss());
            e.put("train_accuracy", an.embedded.history().trainAccuracy());
            e.put("test_accuracy", an.embedded.history().testAccuracy());
            Map<String, Object> byCat = new LinkedHashMap<>();
            for (int k = 0; k < NumericDataset.CATEGORIES.size(); k++) byCat.put(NumericDataset.CATEGORIES.get(k), an.embedded.testAccuracyByCategory()[k]);
            e.put("held_out_accuracy_by_category", byCat);
            r.put("embedded_model", e);
        } else r.put("embedded_model", null);

        r.put("baseline", cells(c, c.margin, false));

        Geometry g = an.geometry;
        Map<String, Object> geo = new LinkedHashMap<>();
        geo.put("pca_last_layer", pcas(g.pcaLast));
        geo.put("pca_second_to_last_layer", pcas(g.pcaSecondLast));
        List<Object> cross = new ArrayList<>();
        for (Geometry.Cross x : g.cross) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("source", x.source()); m.put("target", x.target()); m.put("pc1_auc", x.pc1Auc()); m.put("scores", x.scores()); m.put("rows", x.rows());
            cross.add(m);
        }
        geo.put("cross_projection", cross);
        geo.put("separation_by_layer_group", g.separation);
        geo.put("alignment_by_layer_group_group", g.alignment);
        r.put("geometry", geo);
        Map<String, Object> pr = new LinkedHashMap<>();
        pr.put("accuracy_per_dataset_by_layer_group", g.probePerGroup);
        pr.put("accuracy_pooled_by_layer_group", g.probePooled);
        pr.put("auc_per_dataset_by_layer_group", g.probeAucPerGroup);
        pr.put("auc_pooled_by_layer_group", g.probeAucPooled);
        double[][] delta = new double[L][groups.size()];
        for (int l = 0; l < L; l++) for (int k = 0; k < groups.size(); k++) delta[l][k] = g.probePooled[l][k] - g.probePerGroup[l][k];
        pr.put("pooled_minus_per_dataset_by_layer_group", delta);
        r.put("probes", pr);

        Readout ro = an.readout;
        Map<String, Object> rd = new LinkedHashMap<>();
        rd.put("direction", "(W_U[:, yes] - W_U[:, no]) / norm, after ln_final");
        rd.put("accuracy_by_layer_group", ro.accuracy);
        rd.put("mean_gap_by_layer_group", ro.meanGap);
        rd.put("accuracy_by_layer_group_truth_no_yes", ro.accuracyByTruth);
        rd.put("mean_gap_by_layer_group_truth_no_yes", ro.meanGapByTruth);
        r.put("readout", rd);

        Causal ca = an.causal;
        Map<String, Object> pa = new LinkedHashMap<>();
        pa.put("from_layer", L - 2);
        pa.put("into_layer", L - 1);
        pa.put("positions", "all");
        pa.put("skipped_hooks", ca.skippedHooks);
        pa.put("before", summary(c, c.margin, false));
        Map<String, Object> after = new LinkedHashMap<>();
        ca.patched.forEach((h, m) -> after.put(h, summary(c, m, false)));
        pa.put("after", after);
        r.put("patching", pa);

        if (ca.scores != null) {
            Map<String, Object> ne = new LinkedHashMap<>();
            ne.put("layer", L - 1);
            ne.put("score", "c_j = h_j (W_out[j] . g), g = d margin / d resid_post, truth-aligned, summed over prompts (negative = harmful)");
            ne.put("c_total", ca.scores.totalC());
            ne.put("top_global_harmful", ca.topGlobal);
            ne.put("top_per_group_harmful", ca.topPerGroup);
            Map<String, Object> inter = new LinkedHashMap<>();
            ca.topPerGroup.forEach((grp, top) -> inter.put(grp, intersection(ca.topGlobal, top)));
            ne.put("intersection_with_global", inter);
            Map<String, Object> abl = new LinkedHashMap<>();
            abl.put("baseline", cells(c, c.margin, false));
            ca.ablated.forEach((k, m) -> abl.put(k, cells(c, m, true)));
            ne.put("ablation_accuracy", abl);
            Map<String, Object> split = new LinkedHashMap<>();
            split.put("train_rows", ca.trainRows);
            split.put("validation_rows", ca.validationRows);
            split.put("neurons_from_train", ca.splitNeurons);
            Map<String, Object> val = new LinkedHashMap<>();
            ca.splitValidation.forEach((k, m) -> val.put(k, cellsOf(c, ca.validationRows, m)));
            split.put("validation_accuracy", val);
            ne.put("train_validation", split);
            ne.put("decimals_diff_len_length_breakdown", NumericReport.lengthBreakdown(an));
            r.put("neurons", ne);
        } else r.put("neurons", null);

        StudyJson.write(file, r);
        return file;
    }

    /** Accuracy and count per group x truth (margins raw, or aligned). */
    static List<Object> cells(Collected c, double[] margins, boolean aligned) {
        List<Object> out = new ArrayList<>();
        for (String grp : c.groups)
            for (Boolean t : new Boolean[] {false, true}) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("group", grp);
                m.put("truth", t ? "yes" : "no");
                m.put("count", count(c, grp, t));
                m.put("accuracy", NumericCompareStudy.accuracy(c, margins, grp, t, aligned));
                out.add(m);
            }
        return out;
    }

    /** The same over a subset of rows whose margins (aligned) are given in row order. */
    static List<Object> cellsOf(Collected c, int[] rows, double[] aligned) {
        double[] full = new double[c.size()];
        java.util.Arrays.fill(full, Double.NaN);
        for (int i = 0; i < rows.length; i++) full[rows[i]] = aligned[i];
        List<Object> out = new ArrayList<>();
        for (String grp : c.groups)
            for (boolean t : new boolean[] {false, true}) {
                int g = c.groups.indexOf(grp), cnt = 0, hit = 0;
                for (int i : rows) if (c.group[i] == g && c.truth[i] == t) { cnt++; if (full[i] > 0) hit++; }
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("group", grp); m.put("truth", t ? "yes" : "no"); m.put("count", cnt);
                m.put("accuracy", cnt == 0 ? Double.NaN : (double) hit / cnt);
                out.add(m);
            }
        return out;
    }

    /** Accuracy and mean raw gap per group (and over all). */
    static Map<String, Object> summary(Collected c, double[] margins, boolean aligned) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (String grp : c.groups) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("accuracy", NumericCompareStudy.accuracy(c, margins, grp, null, aligned));
            x.put("mean_gap", meanGap(c, margins, grp));
            m.put(grp, x);
        }
        m.put("all", Map.of("accuracy", NumericCompareStudy.accuracy(c, margins, null, null, aligned), "mean_gap", meanGap(c, margins, null)));
        return m;
    }

    static double meanGap(Collected c, double[] margins, String group) {
        int g = group == null ? -1 : c.groups.indexOf(group), cnt = 0;
        double s = 0;
        for (int i = 0; i < c.size(); i++) if (g < 0 || c.group[i] == g) { s += margins[i]; cnt++; }
        return cnt == 0 ? Double.NaN : s / cnt;
    }

    static int count(Collected c, String grp, boolean truth) {
        int g = c.groups.indexOf(grp), n = 0;
        for (int i = 0; i < c.size(); i++) if (c.group[i] == g && c.truth[i] == truth) n++;
        return n;
    }

    static int intersection(int[] a, int[] b) {
        java.util.Set<Integer> s = new java.util.HashSet<>();
        for (int x : a) s.add(x);
        int n = 0;
        for (int x : b) if (s.contains(x)) n++;
        return n;
    }

    private static List<Object> pcas(List<Geometry.Projection> ps) {
        List<Object> out = new ArrayList<>();
        for (Geometry.Projection p : ps) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("group", p.group()); m.put("layer", p.layer()); m.put("explained_variance_ratio", p.explained());
            m.put("rows", p.rows()); m.put("scores", p.scores());
            out.add(m);
        }
        return out;
    }
}
