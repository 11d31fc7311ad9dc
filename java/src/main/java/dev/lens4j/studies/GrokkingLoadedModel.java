package dev.lens4j.studies;

import dev.lens4j.backend.CpuBackend;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * `study grokking --model M`: every analysis of the study on a model trained elsewhere (a lens4j checkpoint, or a
 * TransformerLens state dict such as TL's modular-addition model), loaded as saved. Training is skipped; the model
 * must fit the task (one layer with an MLP, d_vocab p + 1, d_vocab_out of the task, n_ctx >= 3).
 */
final class GrokkingLoadedModel {
    private GrokkingLoadedModel() {}

    static GrokkingStudy.Summary run(GrokkingStudy.Options o, PrintStream log) throws IOException {
        long t0 = System.nanoTime();
        Path out = o.out.toAbsolutePath().normalize();
        GrokkingStudy.checkWritable(out);
        int p = o.p();
        int[][] all = GrokkingStudy.dataset(p);
        int[] y = GrokkingStudy.labels(p, o.task);
        int[] perm = GrokkingStudy.permutation(p * p, o.dataSeed);
        int cutoff = (int) (p * p * o.fracTrain());
        int[] trainIdx = Arrays.copyOfRange(perm, 0, cutoff), testIdx = Arrays.copyOfRange(perm, cutoff, p * p);
        // weights as saved: the seed's analyses read W_E, W_out, W_U of the trained model itself
        LoadOptions lo = LoadOptions.noProcessing().config(o.modelConfig);
        try (HookedTransformer model = HookedTransformer.fromPretrained(o.model, null, lo, CpuBackend.get())) {
            Config cfg = model.cfg();
            checkFits(cfg, o);
            if (log != null)
                log.printf("grokking: %s, p = %d: analysing %s (1 layer, %d heads, d_model %d, d_mlp %d); training skipped%n",
                        o.task == GrokkingStudy.Task.SUM ? "a+b" : "(a+b) mod p", p, o.model, cfg.nHeads, cfg.dModel, cfg.dMlp);
            long a0 = System.nanoTime();
            GrokkingAnalysis an = GrokkingAnalysis.run(model, o, all, y, trainIdx, testIdx);
            double analysisS = (System.nanoTime() - a0) / 1e9;
            long r0 = System.nanoTime();
            GrokkingReport rep = new GrokkingReport(o, cfg, null, an, trainIdx, testIdx);
            Path html = rep.build().write(out.resolve("report.html"));
            double reportS = (System.nanoTime() - r0) / 1e9, totalS = (System.nanoTime() - t0) / 1e9;
            Map<String, Object> timings = new LinkedHashMap<>();
            timings.put("train_s", 0.0);
            timings.put("analysis_s", analysisS);
            timings.put("report_s", reportS);
            timings.put("total_s", totalS);
            Path json = GrokkingResults.write(out.resolve("results.json"), o, cfg, null, an, trainIdx, testIdx, timings, CpuBackend.get().numThreads());
            return new GrokkingStudy.Summary(o, null, an, out, json, html, o.model, rep.plotCount(), 0, totalS);
        }
    }

    /** Every way the model does not fit the task, in one message. */
    static void checkFits(Config cfg, GrokkingStudy.Options o) {
        int p = o.p();
        List<String> bad = new ArrayList<>();
        if (cfg.nLayers != 1) bad.add("n_layers is " + cfg.nLayers + " (the study analyses a one-layer model)");
        if (cfg.attnOnly || cfg.dMlp < 1) bad.add("it has no MLP (the study reads its neurons)");
        if (cfg.dVocab != p + 1) bad.add("d_vocab is " + cfg.dVocab + " (the task needs p + 1 = " + (p + 1) + ": the numbers and '=')");
        if (cfg.dVocabOut() != o.dVocabOut())
            bad.add("d_vocab_out is " + cfg.dVocabOut() + " (--task " + (o.task == GrokkingStudy.Task.SUM ? "sum needs 2p = " : "modular needs p = ") + o.dVocabOut() + ")");
        if (cfg.nCtx < 3) bad.add("n_ctx is " + cfg.nCtx + " (the inputs |a|b|=| are 3 tokens)");
        if (cfg.dMlp >= 1 && o.ablateTopK > cfg.dMlp) bad.add("--ablate-top-k " + o.ablateTopK + " exceeds d_mlp " + cfg.dMlp);
        if (!bad.isEmpty())
            throw new IllegalArgumentException("--model " + o.model + " does not fit --task " + o.task.name().toLowerCase() + " --p " + p + ": "
                    + String.join("; ", bad));
    }
}
