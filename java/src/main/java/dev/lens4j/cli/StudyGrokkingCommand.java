package dev.lens4j.cli;

import dev.lens4j.studies.GrokkingStudy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** `study grokking`: seed 003 (also what `demo` runs). */
@Command(name = "grokking", description = "Seed 003: train a one-layer transformer on a+b (or (a+b) mod p) until it grokks, then take it apart.")
final class StudyGrokkingCommand implements Callable<Integer> {
    @Option(names = "--task", defaultValue = "sum", description = "sum (labels a+b, the seed) or modular (labels (a+b) mod p)") String task;
    @Option(names = "--p", paramLabel = "P", description = "numbers 0..P-1 (default: 10 for sum, 113 for modular)") Integer p;
    @Option(names = "--frac-train", paramLabel = "F", description = "fraction of pairs to train on (default: 0.72 for sum, 0.3 for modular)") Double fracTrain;
    @Option(names = "--epochs", defaultValue = "10000", description = "full-batch epochs (default: ${DEFAULT-VALUE})") int epochs;
    @Option(names = "--seed", defaultValue = "999", description = "model seed (default: ${DEFAULT-VALUE})") long seed;
    @Option(names = "--data-seed", defaultValue = "598", description = "train/test split seed (default: ${DEFAULT-VALUE})") long dataSeed;
    @Option(names = "--lr", defaultValue = "1e-3") double lr;
    @Option(names = "--weight-decay", defaultValue = "1.0") double wd;
    @Option(names = "--batch-size", defaultValue = "0", description = "0: full batch (the seed)") int batchSize;
    @Option(names = "--checkpoint-every", defaultValue = "0", paramLabel = "N", description = "also save a checkpoint every N epochs (0: only the final model)") int checkpointEvery;
    @Option(names = "--d-model", defaultValue = "128") int dModel;
    @Option(names = "--n-heads", defaultValue = "4") int nHeads;
    @Option(names = "--d-mlp", defaultValue = "512") int dMlp;
    @Option(names = "--ablate-top-k", defaultValue = "20", description = "neurons zeroed in the top-k ablation (default: ${DEFAULT-VALUE})") int ablateTopK;
    @Option(names = "--threads", defaultValue = "1", description = "native threads while training (default: ${DEFAULT-VALUE}; the model is too small to gain from more)") int threads;
    @Option(names = "--out", paramLabel = "DIR", description = "output folder (default: lens4j-out/<study>)") Path out;
    @Option(names = "--model", paramLabel = "MODEL", description = "analyse this model instead of training one: a lens4j checkpoint, a TransformerLens state dict (.pth, or a directory with one and config.json) or a HF directory; it must fit the task") Path model;
    @Option(names = "--config", paramLabel = "CFG.json", description = "TransformerLens config JSON for a .pth --model (default: config.json beside it)") Path modelConfig;

    @Override public Integer call() throws Exception {
        GrokkingStudy.Options o = new GrokkingStudy.Options();
        o.task = switch (task.toLowerCase(Locale.ROOT)) {
            case "sum" -> GrokkingStudy.Task.SUM;
            case "modular", "mod" -> GrokkingStudy.Task.MODULAR;
            default -> throw new IllegalArgumentException("--task must be sum or modular, got '" + task + "'");
        };
        o.p = p;
        o.fracTrain = fracTrain;
        o.epochs = epochs;
        o.modelSeed = seed;
        o.dataSeed = dataSeed;
        o.lr = lr;
        o.weightDecay = wd;
        o.batchSize = batchSize;
        o.checkpointEvery = checkpointEvery;
        o.dModel = dModel;
        o.nHeads = nHeads;
        o.dMlp = dMlp;
        o.ablateTopK = ablateTopK;
        o.threads = threads;
        o.out = out != null ? out : Path.of("lens4j-out", "grokking");
        o.model = model;
        o.modelConfig = modelConfig;
        if (modelConfig != null && model == null) throw new IllegalArgumentException("--config needs --model");
        return runGrokking(o);
    }

    /** Runs the study with a progress bar and prints the summary; shared with `demo`. */
    static int runGrokking(GrokkingStudy.Options o) throws Exception {
        o.validate();
        GrokkingStudy.Summary s = GrokkingStudy.run(o, ProgressBar.forStderr(), System.err);
        printSummary(s);
        return 0;
    }

    static void printSummary(GrokkingStudy.Summary s) {
        var an = s.analysis();
        var h = s.history();
        var out = System.out;
        Path cwd = Path.of("").toAbsolutePath();
        if (h == null) { printLoaded(s, cwd); return; }
        out.printf(Locale.ROOT, "%nGrokking %s, p = %d: %d epochs in %.1f s (%.2f ms/epoch)%n",
                an.task == GrokkingStudy.Task.SUM ? "a+b" : "(a+b) mod p", an.p, h.epochs(), s.trainSeconds(), s.trainSeconds() * 1000 / h.epochs());
        out.printf(Locale.ROOT, "  final   train loss %.3g, accuracy %.1f%% | test loss %.3g, accuracy %.1f%%%n",
                h.finalTrainLoss(), 100 * h.trainAccuracy()[h.epochs() - 1], h.finalTestLoss(), 100 * h.testAccuracy()[h.epochs() - 1]);
        out.printf(Locale.ROOT, "  W_E PCA PC1 %.1f%%, PC2 %.1f%% of variance (PC1 linear in the number: R^2 %.3f)%n",
                100 * an.explainedVarianceRatio[0], an.explainedVarianceRatio.length > 1 ? 100 * an.explainedVarianceRatio[1] : 0.0, an.pc1LinearR2);
        int top = an.topNeurons[0];
        out.printf(Locale.ROOT, "  neurons top neuron %d correlates %.3f with %s; %d of %d above 0.9%n",
                top, an.correlation[top], an.targetName, an.above09, an.dMlp);
        out.printf(Locale.ROOT, "  probe   MLP state -> %s: held-out R^2 %.4f (MSE %.3g vs %.3g for the mean)%n",
                an.targetName, an.probe.r2(), an.probe.mse(), an.probe.baselineMse());
        StringBuilder ab = new StringBuilder();
        for (var a : an.ablations) ab.append(ab.length() == 0 ? "" : "; ").append(a.title).append(String.format(Locale.ROOT, " %.0f%%", 100 * a.accuracy));
        out.printf(Locale.ROOT, "  ablations (accuracy, clean %.0f%%): %s%n", 100 * an.accuracyAll, ab);
        out.printf("wrote %s%n", rel(cwd, s.outDir()));
        String[][] files = {
                {rel(cwd, s.resultsJson()), "every number, config, seeds, versions, timings"},
                {rel(cwd, s.report()), s.plots() + " plots, one self-contained file: open it in a browser"},
                {rel(cwd, s.checkpoint()), "the trained model: ./lens4j info --model " + rel(cwd, s.checkpoint())}};
        int w = 0;
        for (String[] f : files) w = Math.max(w, f[0].length());
        for (String[] f : files) out.printf("  %-" + w + "s  %s%n", f[0], f[1]);
    }

    /** The summary of `--model` (no training). */
    private static void printLoaded(GrokkingStudy.Summary s, Path cwd) {
        var an = s.analysis();
        var out = System.out;
        out.printf(Locale.ROOT, "%nGrokking %s, p = %d: analysed %s (training skipped) in %.1f s%n",
                an.task == GrokkingStudy.Task.SUM ? "a+b" : "(a+b) mod p", an.p, s.checkpoint(), s.totalSeconds());
        out.printf(Locale.ROOT, "  accuracy all pairs %.1f%%, lens4j's train split %.1f%%, test split %.1f%%%n",
                100 * an.accuracyAll, 100 * an.accuracyTrain, 100 * an.accuracyTest);
        int top = an.topNeurons[0];
        out.printf(Locale.ROOT, "  neurons top neuron %d correlates %.3f with %s; %d of %d above 0.9%n", top, an.correlation[top], an.targetName, an.above09, an.dMlp);
        out.printf("wrote %s: results.json, report.html (%d plots)%n", rel(cwd, s.outDir()), s.plots());
    }

    private static String rel(Path cwd, Path p) {
        return p.startsWith(cwd) ? cwd.relativize(p).toString() : p.toString();
    }
}
