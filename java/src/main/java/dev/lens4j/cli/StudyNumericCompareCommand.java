package dev.lens4j.cli;

import dev.lens4j.backend.CpuBackend;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.studies.numeric.ChatTemplate;
import dev.lens4j.studies.numeric.EmbeddedModel;
import dev.lens4j.studies.numeric.NumericCompareStudy;
import dev.lens4j.studies.numeric.NumericDataset;
import dev.lens4j.studies.numeric.NumericOptions;
import dev.lens4j.studies.numeric.StudyProgress;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** `study numeric-compare`: seed 000 on a given model, or on a small model it trains first. */
@Command(name = "numeric-compare", description = "Seed 000: is a > b? Forced choice between Yes and No, residual geometry, probes, "
        + "the Yes-No readout per layer, patching the second-to-last block into the last, harmful neurons.")
final class StudyNumericCompareCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "MODEL", description = "checkpoint to study (as other commands); default: train a small character-level model first") Path model;
    @Option(names = "--tokenizer", paramLabel = "FILE", description = "tokenizer.json or llama2.c tokenizer .bin (default: found beside the model)") Path tokenizer;
    @Option(names = "--config", paramLabel = "CFG.json", description = "TransformerLens config JSON for a .pth/.pt state dict") Path config;
    @Option(names = "--no-process-weights", description = "load without TransformerLens's weight processing") boolean noProcessWeights;
    @Option(names = "--n", defaultValue = "500", description = "prompts per category (default: ${DEFAULT-VALUE}, the seed's)") int n;
    @Option(names = "--seed", defaultValue = "0", description = "seed of the pairs, probe folds and train/validation split (default: ${DEFAULT-VALUE})") long seed;
    @Option(names = "--template", paramLabel = "T", description = "prompt with {a} and {b} (default: '" + NumericDataset.TEMPLATE
            + "'; the embedded model: '" + NumericOptions.EMBEDDED_TEMPLATE + "')") String template;
    @Option(names = "--chat", description = "wrap each prompt in the model's chat template (Gemma's turns)") boolean chat;
    @Option(names = "--csv", paramLabel = "FILE", description = "pairs from a CSV: a,b,truth,group per line (instead of the generator)") Path csv;
    @Option(names = "--yes", paramLabel = "TEXT", description = "the Yes answer (default: ' Yes', after --chat 'Yes')") String yes;
    @Option(names = "--no", paramLabel = "TEXT", description = "the No answer (default: ' No', after --chat 'No')") String no;
    @Option(names = "--batch", defaultValue = "16", description = "prompts per padded batch (default: ${DEFAULT-VALUE})") int batch;
    @Option(names = "--train-epochs", defaultValue = "6", description = "embedded model: training epochs (default: ${DEFAULT-VALUE})") int trainEpochs;
    @Option(names = "--train-per-category", defaultValue = "2000", description = "embedded model: training pairs per category (default: ${DEFAULT-VALUE})") int trainPerCategory;
    @Option(names = "--threads", paramLabel = "N", description = "native threads (default: all cores; training the embedded model uses 1)") Integer threads;
    @Option(names = "--out", paramLabel = "DIR", description = "output folder (default: lens4j-out/numeric-compare)") Path out;

    @Override public Integer call() throws Exception {
        NumericOptions o = new NumericOptions();
        o.n = n; o.seed = seed; o.template = template; o.chat = chat; o.csv = csv; o.yes = yes; o.no = no; o.batch = batch;
        o.out = out != null ? out : Path.of("lens4j-out", "numeric-compare");
        o.validate();
        OutDir.check(o.out, "results.json", "report.html", "dataset.csv", "numeric.safetensors");
        if (csv != null) NumericCompareStudy.items(o); // a bad CSV fails before any model work
        PrintStream err = System.err;
        StudyProgress progress = new StudyProgress(err, System.console() != null && !"dumb".equals(System.getenv("TERM")));
        CpuBackend be = CpuBackend.get();
        if (threads != null) be.setNumThreads(threads);
        NumericCompareStudy.Summary s;
        if (model == null) {
            if (chat) throw new IllegalArgumentException("--chat: the embedded model has no chat template; give --model or drop --chat");
            if (tokenizer != null || config != null) throw new IllegalArgumentException("--tokenizer / --config need --model");
            EmbeddedModel.Options eo = new EmbeddedModel.Options();
            eo.epochs = trainEpochs;
            eo.trainPerCategory = trainPerCategory;
            String tpl = template != null ? template : NumericOptions.EMBEDDED_TEMPLATE;
            int old = be.numThreads();
            be.setNumThreads(1); // small GEMMs: one thread is faster (see the grokking study)
            EmbeddedModel.Trained tr;
            err.printf("numeric-compare: no --model, training the embedded %d-layer character model (%d pairs per category, %d epochs)%n",
                    eo.layers, eo.trainPerCategory, eo.epochs);
            try {
                tr = EmbeddedModel.train(eo, tpl, ProgressBar.forStderr());
            } finally {
                be.setNumThreads(threads != null ? threads : old);
            }
            try (HookedTransformer m = tr.model()) {
                s = NumericCompareStudy.run(m, o, tpl, tr, progress, err);
            }
        } else {
            if (chat) ChatTemplate.requireGemma(model, tokenizer);
            LoadOptions lo = (noProcessWeights ? LoadOptions.noProcessing() : LoadOptions.defaults()).config(config);
            try (HookedTransformer m = HookedTransformer.fromPretrained(model, tokenizer, lo, be)) {
                s = NumericCompareStudy.run(m, o, template != null ? template : NumericDataset.TEMPLATE, null, progress, err);
            }
        }
        print(s);
        return 0;
    }

    private static void print(NumericCompareStudy.Summary s) {
        PrintStream out = System.out;
        NumericCompareStudy.Analysis an = s.analysis();
        int L = an.layers();
        out.printf(Locale.ROOT, "Numeric comparisons on %s: %d prompts, %d layers, %.1f s%n", an.modelName, an.items.size(), L, s.seconds());
        if (an.embedded() != null) {
            StringBuilder b = new StringBuilder();
            for (int k = 0; k < NumericDataset.CATEGORIES.size(); k++)
                b.append(k == 0 ? "" : ", ").append(NumericDataset.CATEGORIES.get(k)).append(String.format(Locale.ROOT, " %.0f%%", 100 * an.embedded().testAccuracyByCategory()[k]));
            out.printf(Locale.ROOT, "  embedded model (trained %.0f s), held-out accuracy: %s%n", an.embedded().history().seconds(), b);
        }
        out.printf("  %-20s %9s %13s %13s %12s%n", "dataset", "baseline", "readout L" + (L - 2), "probe L" + (L - 1), "sep L" + (L - 1));
        for (String g : an.groups())
            out.printf(Locale.ROOT, "  %-20s %8.1f%% %12.1f%% %12.1f%% %12.3f%n", g, 100 * an.baselineAccuracy(g, null),
                    100 * an.readoutAccuracy(L - 2, g), 100 * an.probeAccuracy(L - 1, g), an.separation(L - 1, g));
        out.printf(Locale.ROOT, "  patched L%d->L%d (all datasets): resid_post %.1f%%, baseline %.1f%%%n", L - 2, L - 1,
                100 * an.patchedAccuracy("resid_post", null), 100 * an.baselineAccuracy(null, null));
        out.printf("wrote %s%n", s.outDir());
        out.printf("  results.json         every number, model, config, dataset, seeds, versions, timings%n");
        out.printf("  report.html          %d plots, one self-contained file: open it in a browser%n", s.plots());
        out.printf("  dataset.csv          the pairs (a,b,truth,group)%n");
        out.printf("  numeric.safetensors  last-token residuals per layer, readout gaps, margins, axes, neuron scores%n");
    }
}
