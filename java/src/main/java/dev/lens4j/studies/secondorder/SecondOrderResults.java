package dev.lens4j.studies.secondorder;

import dev.lens4j.analysis.OrthogonalMatchingPursuit;
import dev.lens4j.backend.CpuBackend;
import dev.lens4j.load.RegularFiles;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.Config;
import dev.lens4j.studies.StudyJson;
import dev.lens4j.tensor.Tensor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The second-order study's files: results.json, problems.jsonl and second_order.safetensors. */
final class SecondOrderResults {
    private SecondOrderResults() {}

    static final List<String> SECTIONS = List.of("study", "versions", "model", "config", "seeds", "data", "timings", "correctness_direction",
            "layer_ablation", "second_order", "sparsity", "rank1", "accuracy", "decomposition", "seed_expectations");

    /** A measured number beside the seed's expectation. */
    record Expectation(String finding, double measured, String expected, boolean holds, String note) {}

    static List<Expectation> expectations(SecondOrderStudy.Result r) {
        Characterisation ch = r.ch();
        double sp = meanOf(ch.sparsity), pc = meanOf(ch.pc1);
        double drop = ch.accClean - ch.accRank1;
        int poly = 0, coded = 0;
        for (int li = 0; li < ch.omp.length; li++)
            for (int s = 0; s < ch.omp[li].length; s++) if (ch.omp[li][s] != null) { coded++; if (ch.polysemantic[li][s]) poly++; }
        double polyShare = coded == 0 ? Double.NaN : (double) poly / coded;
        List<Expectation> e = new ArrayList<>();
        e.add(new Expectation("sparsity: mean share of problems where a neuron's effect is significant", sp, "< 5%", sp < 0.05,
                "significant: |φ| > " + r.options().significance + " x the problem's Σ|φ| over all neurons"));
        e.add(new Expectation("layer concentration: share of Σ|φ| in the " + (r.layersAuto() ? "critical" : "selected") + " layers", ch.selectedShare,
                "> 80%", ch.selectedShare > 0.8, "layers " + java.util.Arrays.toString(r.layers())));
        e.add(new Expectation("rank-1: mean PC1 explained variance per neuron", pc, "> 35%", pc > 0.35, "vector effects over the train problems"));
        e.add(new Expectation("accuracy drop with effects replaced by their rank-1 approximation", drop, "< 1 point", drop < 0.01,
                "validation first-token accuracy " + pct(ch.accClean) + " -> " + pct(ch.accRank1)));
        e.add(new Expectation("polysemantic neurons (>= 2 concepts with cos² >= " + Characterisation.STRONG_COS2 + " to PC1)", polyShare, "50-70%", polyShare >= 0.5 && polyShare <= 0.7,
                poly + " of " + coded + " decomposed neurons"));
        return e;
    }

    static double meanOf(double[][] x) {
        double s = 0;
        int n = 0;
        for (double[] row : x) for (double v : row) if (Double.isFinite(v)) { s += v; n++; }
        return n == 0 ? Double.NaN : s / n;
    }

    static String pct(double v) { return Double.isFinite(v) ? String.format(java.util.Locale.ROOT, "%.1f%%", 100 * v) : "n/a"; }

    static Path write(Path file, SecondOrderStudy.Result r, Config cfg, double totalSeconds) throws IOException {
        SecondOrderOptions o = r.options();
        Characterisation ch = r.ch();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("study", "second-order (seed 002)");
        m.put("versions", StudyJson.versions(CpuBackend.get().numThreads()));
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("name", r.modelName());
        model.put("config", StudyJson.JSON.readTree(cfg.toJson()));
        m.put("model", model);
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("problems", o.problems);
        c.put("train_fraction", o.trainFraction);
        c.put("layers", r.layersAuto() ? "auto" : r.layers());
        c.put("critical_layers_kept", o.criticalCount(cfg.nLayers));
        c.put("sample_neurons", o.sampleNeurons);
        c.put("rank1_budget_bytes", o.rank1BudgetBytes);
        c.put("significance", o.significance);
        c.put("omp_atoms", o.ompAtoms);
        c.put("batch_size", o.batchSize);
        c.put("concepts_source", o.conceptsSource);
        c.put("norm_approximation", "ln1 of each later block frozen at the clean run: the neuron's write is divided by the cached "
                + "ln1.hook_scale at its position; LayerNorm centring applied to W_out rows; attention patterns frozen (cached)");
        c.put("correctness", "the greedy answer equals the answer token for token (teacher-forced); interventions are judged on the first answer token");
        m.put("config", c);
        m.put("seeds", Map.of("problems", o.seed, "note", "problems and the train/validation split come from SplittableRandom(seed)"));

        Map<String, Object> data = new LinkedHashMap<>();
        data.put("n_problems", r.problems().size());
        int nTrain = 0;
        for (var p : r.problems()) if (p.train()) nTrain++;
        data.put("n_train", nTrain);
        data.put("n_validation", r.problems().size() - nTrain);
        data.put("file", "problems.jsonl");
        data.put("accuracy_greedy", CleanPass.fraction(r.clean().correct, null));
        data.put("accuracy_first_token", CleanPass.fraction(r.clean().firstCorrect, null));
        Map<String, Object> byKind = new LinkedHashMap<>();
        for (MathProblems.Kind k : MathProblems.Kind.values()) {
            boolean[] mask = new boolean[r.problems().size()];
            for (var p : r.problems()) mask[p.index()] = p.kind() == k;
            byKind.put(k.name().toLowerCase(), CleanPass.fraction(r.clean().correct, mask));
        }
        data.put("accuracy_by_kind", byKind);
        m.put("data", data);
        Map<String, Object> t = new LinkedHashMap<>();
        String[] names = {"clean_pass_s", "layer_ablation_s", "second_order_pass_s", "characterisation_s", "neuron_ablation_s", "outputs_s"};
        for (int i = 0; i < names.length; i++) t.put(names[i], r.timings()[i]);
        t.put("total_s", totalSeconds);
        m.put("timings", t);
        m.put("correctness_direction", Map.of("source", r.directionSource(), "norm", norm(r.direction()), "vector", r.direction()));

        Map<String, Object> la = new LinkedHashMap<>();
        la.put("method", "hook_mlp_out replaced by its mean over problems and positions; metric: mean log p(first answer token)");
        la.put("clean_mean_log_prob", CleanPass.mean(r.clean().firstLogProb));
        la.put("clean_first_token_accuracy", CleanPass.fraction(r.clean().firstCorrect, null));
        List<Object> rows = new ArrayList<>();
        for (int l = 0; l < r.layerAblation().length; l++)
            rows.add(Map.of("layer", l, "first_token_accuracy", r.layerAblation()[l][0], "mean_log_prob", r.layerAblation()[l][1]));
        la.put("layers", rows);
        la.put("critical_layers", r.critical());
        la.put("selected_layers", r.layers());
        m.put("layer_ablation", la);

        Map<String, Object> so = new LinkedHashMap<>();
        so.put("definition", "phi[n,l](x) = sum_{l'>l} sum_h sum_{i<=T} p[n,i] a[T->i] / s[l',i] * (d . w_n W_V W_O), d = correctness direction");
        so.put("layer_share_of_abs_effect", ch.layerShare);
        so.put("selected_layers_share", ch.selectedShare);
        so.put("mean_abs_phi_per_layer", rowMeans(ch.meanAbsPhi));
        so.put("top_neurons", topNeurons(r, 20));
        so.put("tensors", "second_order.safetensors: phi.{layer} [problems, d_mlp]");
        m.put("second_order", so);

        Map<String, Object> sp = new LinkedHashMap<>();
        sp.put("definition", "share of problems where |phi| > significance x the problem's sum of |phi| over all neurons and layers");
        for (int li = 0; li < r.layers().length; li++) {
            Map<String, Object> one = new LinkedHashMap<>();
            one.put("mean", mean(ch.sparsity[li]));
            one.put("share_of_neurons_below_5pct", below(ch.sparsity[li], 0.05));
            one.put("per_neuron", ch.sparsity[li]);
            sp.put("layer_" + r.layers()[li], one);
        }
        sp.put("mean", meanOf(ch.sparsity));
        m.put("sparsity", sp);

        Map<String, Object> rk = new LinkedHashMap<>();
        rk.put("neuron_selection", r.neuronSelection());
        for (int li = 0; li < r.layers().length; li++) {
            Map<String, Object> one = new LinkedHashMap<>();
            one.put("neurons", r.neurons()[li]);
            one.put("pc1_explained_variance", ch.pc1[li]);
            one.put("mean_pc1", mean(ch.pc1[li]));
            rk.put("layer_" + r.layers()[li], one);
        }
        rk.put("mean_pc1", meanOf(ch.pc1));
        m.put("rank1", rk);

        Map<String, Object> acc = new LinkedHashMap<>();
        acc.put("split", "validation problems, first answer token");
        acc.put("clean", ch.accClean);
        acc.put("rank1_effects", ch.accRank1);
        acc.put("second_order_mean_ablated", ch.accMeanSecondOrder);
        acc.put("neurons_mean_ablated", r.accNeuronMeanAblated());
        acc.put("method", "effects substituted in the final residual at the query position (frozen attention and norms), then ln_final and W_U; "
                + "neurons_mean_ablated reruns the model with the rank-1 neurons' hook_post replaced by their means");
        m.put("accuracy", acc);

        Map<String, Object> dec = new LinkedHashMap<>();
        dec.put("dictionary", "concept directions = mean over the concept's tokens of W_U[:, t] minus the mean column");
        dec.put("concepts", r.concepts());
        dec.put("m", o.ompAtoms);
        List<Object> neurons = new ArrayList<>();
        for (int li = 0; li < r.layers().length; li++)
            for (int s = 0; s < r.neurons()[li].length; s++) {
                OrthogonalMatchingPursuit.Result res = ch.omp[li][s];
                if (res == null) continue;
                Map<String, Object> one = new LinkedHashMap<>();
                one.put("layer", r.layers()[li]);
                one.put("neuron", r.neurons()[li][s]);
                one.put("concepts", conceptNames(r, res));
                one.put("coefficients", res.coefficients());
                one.put("cosine", res.cosine());
                one.put("polysemantic", ch.polysemantic[li][s]);
                neurons.add(one);
            }
        dec.put("neurons", neurons);
        m.put("decomposition", dec);

        List<Object> ex = new ArrayList<>();
        for (Expectation e : expectations(r)) {
            Map<String, Object> one = new LinkedHashMap<>();
            one.put("finding", e.finding());
            one.put("measured", e.measured());
            one.put("seed_expects", e.expected());
            one.put("holds", e.holds());
            one.put("note", e.note());
            ex.add(one);
        }
        m.put("seed_expectations", ex);
        StudyJson.write(file, m);
        return file;
    }

    static List<String> conceptNames(SecondOrderStudy.Result r, OrthogonalMatchingPursuit.Result res) {
        List<String> names = new ArrayList<>();
        for (int a : res.support()) names.add(r.concepts().get(a));
        return names;
    }

    /** The k neurons with the largest mean |φ| over every layer: [layer, neuron, mean |φ|]. */
    static List<Map<String, Object>> topNeurons(SecondOrderStudy.Result r, int k) {
        double[][] m = r.ch().meanAbsPhi;
        int dMlp = m[0].length;
        double[] flat = new double[m.length * dMlp];
        for (int l = 0; l < m.length; l++) System.arraycopy(m[l], 0, flat, l * dMlp, dMlp);
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i : dev.lens4j.analysis.Stats.argsortDescending(flat)) {
            if (out.size() >= k) break;
            out.add(Map.of("layer", i / dMlp, "neuron", i % dMlp, "mean_abs_phi", flat[i]));
        }
        return out;
    }

    static double[] rowMeans(double[][] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = mean(x[i]);
        return out;
    }

    static double mean(double[] x) {
        double s = 0;
        int n = 0;
        for (double v : x) if (Double.isFinite(v)) { s += v; n++; }
        return n == 0 ? Double.NaN : s / n;
    }

    static double below(double[] x, double t) {
        int k = 0;
        for (double v : x) if (v < t) k++;
        return (double) k / x.length;
    }

    static double norm(double[] v) {
        double s = 0;
        for (double x : v) s += x * x;
        return Math.sqrt(s);
    }

    static Path writeProblems(Path file, SecondOrderStudy.Result r) {
        StringBuilder b = new StringBuilder();
        for (var p : r.problems()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("index", p.index());
            row.put("kind", p.kind().name().toLowerCase());
            row.put("prompt", p.prompt());
            row.put("answer", p.answer());
            row.put("split", p.train() ? "train" : "validation");
            row.put("correct", r.clean().correct[p.index()]);
            row.put("first_token_correct", r.clean().firstCorrect[p.index()]);
            row.put("answer_tokens", r.data().answers[p.index()]);
            try {
                b.append(StudyJson.JSON.writeValueAsString(row)).append('\n');
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        RegularFiles.writeBytes(file, b.toString().getBytes(StandardCharsets.UTF_8));
        return file;
    }

    static Path writeTensors(Path file, SecondOrderStudy.Result r, Config cfg) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        int n = r.problems().size();
        try {
            for (int l = 0; l < cfg.nLayers - 1; l++) t.put("phi." + l, Tensor.of(r.pass().phi[l], n, cfg.dMlp));
            t.put("correctness_direction", Tensor.of(toFloat(r.direction()), cfg.dModel));
            for (int li = 0; li < r.layers().length; li++) {
                int l = r.layers()[li], s = r.neurons()[li].length;
                float[] dirs = new float[s * cfg.dModel];
                for (int i = 0; i < s; i++) {
                    double[] d = r.ch().principal[li][i];
                    for (int e = 0; e < cfg.dModel; e++) dirs[i * cfg.dModel + e] = (float) d[e];
                }
                t.put("principal_directions." + l, Tensor.of(dirs, s, cfg.dModel));
                t.put("pc1_explained_variance." + l, Tensor.of(toFloat(r.ch().pc1[li]), s));
                t.put("sparsity." + l, Tensor.of(toFloat(r.ch().sparsity[li]), cfg.dMlp));
                t.put("rank1_neurons." + l, Tensor.ofInts(r.neurons()[li], s));
            }
            SafeTensors.write(file, t, Map.of("study", "second-order", "model", r.modelName()));
        } finally {
            for (Tensor x : t.values()) x.close();
        }
        return file;
    }

    static float[] toFloat(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }
}
