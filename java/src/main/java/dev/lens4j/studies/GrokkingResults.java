package dev.lens4j.studies;

import dev.lens4j.analysis.LinearFit;
import dev.lens4j.model.Config;
import dev.lens4j.train.Trainer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** results.json of the grokking study: config, seeds, versions, timings and every number the report shows. */
public final class GrokkingResults {
    private GrokkingResults() {}

    /** Top-level keys, in order (tests check every one is present). */
    static final List<String> SECTIONS = List.of("study", "versions", "config", "seeds", "model_config", "data", "timings",
            "training", "accuracy", "embedding_pca", "attention", "neurons", "probe", "neuron_logit_map", "ablations");

    static Path write(Path file, GrokkingStudy.Options o, Config cfg, Trainer.History h, GrokkingAnalysis an,
                      int[] trainIdx, int[] testIdx, Map<String, Object> timings, int threads) throws IOException {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("study", "grokking");
        r.put("versions", StudyJson.versions(threads));

        Map<String, Object> c = new LinkedHashMap<>();
        c.put("task", o.task == GrokkingStudy.Task.SUM ? "sum" : "modular");
        c.put("labels", o.task == GrokkingStudy.Task.SUM ? "a+b" : "(a+b) mod p");
        c.put("p", o.p());
        c.put("tokens", "|a|b|=| with '=' = p");
        c.put("frac_train", o.fracTrain());
        c.put("epochs", h == null ? 0 : o.epochs);
        c.put("model_source", o.model == null ? "trained by this run" : o.model.toString());
        c.put("batch_size", o.batchSize == 0 ? "full" : o.batchSize);
        c.put("optimizer", "AdamW (torch semantics)");
        c.put("lr", o.lr);
        c.put("weight_decay", o.weightDecay);
        c.put("betas", new double[] {o.beta1, o.beta2});
        c.put("eps", o.eps);
        c.put("frozen", "every bias (parameter names containing 'b_'), as the seed");
        c.put("loss", "cross-entropy at the last position, computed in double");
        c.put("checkpoint_every", o.checkpointEvery);
        c.put("ablate_top_k", o.ablateTopK);
        r.put("config", c);

        Map<String, Object> seeds = new LinkedHashMap<>();
        seeds.put("data", o.dataSeed);
        seeds.put("model", o.modelSeed);
        seeds.put("probe_split", GrokkingAnalysis.PROBE_SPLIT_SEED);
        seeds.put("note", "the split is lens4j's own permutation (Fisher-Yates over SplittableRandom(data seed)) and the init uses "
                + "lens4j's generator (TL's distribution); torch's randperm / normal_ streams are not reproduced");
        r.put("seeds", seeds);
        r.put("model_config", StudyJson.JSON.readTree(cfg.toJson()));

        Map<String, Object> data = new LinkedHashMap<>();
        data.put("n_pairs", o.p() * o.p());
        data.put("n_train", trainIdx.length);
        data.put("n_test", testIdx.length);
        data.put("row_index", "a*p + b");
        data.put("train_indices", trainIdx);
        data.put("test_indices", testIdx);
        r.put("data", data);
        r.put("timings", timings);

        Map<String, Object> t = new LinkedHashMap<>();
        if (h == null) { // --model: trained elsewhere
            t.put("skipped", true);
            t.put("model_source", o.model.toString());
            t.put("note", "the analyses ran on this model as loaded (no weight processing); train/test accuracy use lens4j's split of data_seed, "
                    + "which may differ from the split the model was trained on");
            r.put("training", t);
        } else {
        int last = h.epochs() - 1;
        t.put("epochs", h.epochs());
        t.put("final_train_loss", h.trainLoss()[last]);
        t.put("final_test_loss", h.testLoss()[last]);
        t.put("final_train_accuracy", h.trainAccuracy()[last]);
        t.put("final_test_accuracy", h.testAccuracy()[last]);
        t.put("uniform_loss", Math.log(cfg.dVocabOut()));
        t.put("first_epoch_test_accuracy_1", firstAtLeast(h.testAccuracy(), 1.0));
        t.put("curves_note", "index e is epoch e+1; train loss is measured before that epoch's step, test loss after it (as the seed)");
        t.put("train_loss", h.trainLoss());
        t.put("test_loss", h.testLoss());
        t.put("train_accuracy", h.trainAccuracy());
        t.put("test_accuracy", h.testAccuracy());
        t.put("checkpoint_epochs", h.checkpointEpochs());
        r.put("training", t);
        }

        Map<String, Object> acc = new LinkedHashMap<>();
        acc.put("all_pairs", an.accuracyAll);
        acc.put("train", an.accuracyTrain);
        acc.put("test", an.accuracyTest);
        acc.put("loss_all_pairs", an.lossAll);
        acc.put("predictions", an.predictions);
        r.put("accuracy", acc);

        Map<String, Object> pca = new LinkedHashMap<>();
        pca.put("input", "W_E[:-1] (the number tokens, without '='), centred");
        pca.put("explained_variance_ratio", an.explainedVarianceRatio);
        pca.put("cumulative_variance_ratio", an.cumulativeVarianceRatio);
        pca.put("scores", an.pcaScores);
        pca.put("pc1_linear_in_token_r2", an.pc1LinearR2);
        pca.put("pc2_quadratic_in_token_r2", an.pc2QuadraticR2);
        List<Object> shapes = new ArrayList<>();
        for (int i = 0; i < an.pcShapeR2.length; i++) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("pc", i + 1);
            for (int k = 0; k < GrokkingAnalysis.PC_SHAPES.length; k++) m.put(GrokkingAnalysis.PC_SHAPES[k] + "_r2", an.pcShapeR2[i][k]);
            shapes.add(m);
        }
        pca.put("pc_score_shapes", shapes);
        pca.put("sign_note", "PC1 is oriented so its score increases with the number");
        r.put("embedding_pca", pca);

        List<Object> heads = new ArrayList<>();
        for (int hd = 0; hd < an.nHeads; hd++) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("head", hd);
            m.put("to_a", an.attentionFromEquals[hd][0]);
            m.put("to_b", an.attentionFromEquals[hd][1]);
            m.put("to_equals", an.attentionFromEquals[hd][2]);
            heads.add(m);
        }
        Map<String, Object> att = new LinkedHashMap<>();
        att.put("query", "'=' (position 2), averaged over all pairs");
        att.put("heads", heads);
        r.put("attention", att);

        Map<String, Object> nr = new LinkedHashMap<>();
        nr.put("hook", "blocks.0.mlp.hook_post at '=' (position 2)");
        nr.put("target", an.targetName);
        nr.put("dead_neurons", an.deadNeurons);
        nr.put("correlation_above_0.9", an.above09);
        nr.put("correlation_below_-0.9", an.belowMinus09);
        nr.put("correlation", an.correlation);
        List<Object> top = new ArrayList<>();
        for (int j : an.topNeurons) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("neuron", j);
            m.put("correlation", an.correlation[j]);
            m.put("fraction_active", an.fractionActive[j]);
            m.put("mean_activation", an.meanActivation[j]);
            m.put("max_activation", an.maxActivation[j]);
            top.add(m);
        }
        nr.put("top_by_abs_correlation", top);
        Map<String, Object> grids = new LinkedHashMap<>();
        for (int i = 0; i < Math.min(GrokkingAnalysis.HEATMAP_NEURONS, an.topNeurons.length); i++)
            grids.put(Integer.toString(an.topNeurons[i]), an.neuronGrid(an.topNeurons[i]));
        nr.put("top_neuron_activation_grids_a_by_b", grids);
        r.put("neurons", nr);

        Map<String, Object> pr = new LinkedHashMap<>();
        pr.put("features", "blocks.0.mlp.hook_post at '=' [" + an.dMlp + " neurons]");
        pr.put("target", an.targetName);
        pr.put("ridge_lambda", GrokkingAnalysis.PROBE_LAMBDA);
        pr.put("train_rows", an.probeTrainRows);
        pr.put("test_rows", an.probeTestRows);
        pr.put("test_r2", an.probe.r2());
        pr.put("test_mse", an.probe.mse());
        pr.put("baseline_mse", an.probe.baselineMse());
        pr.put("baseline", "predict the training mean");
        pr.put("train_r2", an.probe.trainR2());
        pr.put("test_targets", an.probe.testTargets());
        pr.put("test_predictions", an.probe.testPredictions());
        r.put("probe", pr);

        Map<String, Object> wl = new LinkedHashMap<>();
        wl.put("definition", "W_L = W_out @ W_U, [d_mlp, d_vocab_out]; rows in neuron order");
        wl.put("neurons_sorted_by_correlation", an.neuronsByCorrelation);
        wl.put("w_l", an.wL);
        r.put("neuron_logit_map", wl);

        Map<String, Object> abl = new LinkedHashMap<>();
        abl.put("clean_accuracy", an.accuracyAll);
        for (GrokkingAnalysis.Ablation ab : an.ablations) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("description", ab.description);
            m.put("accuracy", ab.accuracy);
            m.put("loss", ab.loss);
            m.put("n_failing", ab.failing.size());
            List<Object> f = new ArrayList<>();
            for (int[] x : ab.failing) f.add(Map.of("a", x[0], "b", x[1], "label", x[2], "prediction", x[3]));
            m.put("failing_pairs", f);
            m.put("prediction_minus_label_grid", ab.errorGrid);
            m.put("fit_prediction_on_sum", fit(ab.fitOnSum, "prediction ~ m*(a+b) + c", "m"));
            m.put("fit_prediction_on_a_b", fit(ab.fitOnAB, "prediction ~ wa*a + wb*b + c", "wa", "wb"));
            m.put("predictions", ab.predictions);
            abl.put(ab.key, m);
        }
        Map<String, Object> sw = new LinkedHashMap<>();
        sw.put("k", an.sweepK);
        sw.put("accuracy", an.sweepAccuracy);
        sw.put("loss", an.sweepLoss);
        abl.put("zero_top_k_sweep", sw);
        r.put("ablations", abl);

        StudyJson.write(file, r);
        return file;
    }

    private static Map<String, Object> fit(LinearFit f, String model, String... names) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", model);
        for (int i = 0; i < names.length; i++) m.put(names[i], f.coefficients()[i]);
        m.put("c", f.intercept());
        m.put("r2", f.r2());
        m.put("mse", f.mse());
        return m;
    }

    static Integer firstAtLeast(double[] v, double x) {
        for (int i = 0; i < v.length; i++) if (v[i] >= x) return i + 1;
        return null;
    }

}
