package dev.lens4j.studies;

import dev.lens4j.backend.CpuBackend;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.train.Lens4jCheckpoint;
import dev.lens4j.train.Trainer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Seed 003 (TransformerLens's Grokking demo, extended): train a one-layer transformer on a + b from tokens
 * |a|b|=|, then take it apart (embedding PCA, attention from '=', neurons that correlate with the sum, a linear
 * probe, the neuron-to-logit map, ablations). Writes results.json, report.html and the final checkpoint.
 *
 * <p>Differences from the notebook, by necessity: the train/test split is lens4j's own seeded permutation
 * (SplittableRandom(data_seed)) and the initial weights come from lens4j's generator seeded with the model seed;
 * torch's random streams (randperm, normal_) are not reproduced, so the split and the trained weights differ
 * from a PyTorch run with the same seeds while following the same distributions.
 */
public final class GrokkingStudy {
    private GrokkingStudy() {}

    public enum Task {
        /** labels a + b (the seed), d_vocab_out = 2p */
        SUM,
        /** labels (a + b) mod p (Nanda et al.'s grokking task), d_vocab_out = p */
        MODULAR
    }

    /** Study options; null p / fracTrain pick the task's defaults (sum: 10 / 0.72; modular: 113 / 0.3). */
    public static final class Options {
        public Task task = Task.SUM;
        public Integer p;
        public Double fracTrain;
        public int epochs = 10_000;
        public long dataSeed = 598, modelSeed = 999;
        public double lr = 1e-3, weightDecay = 1.0, beta1 = 0.9, beta2 = 0.98, eps = 1e-8;
        public int batchSize = 0;
        public int checkpointEvery = 0;
        public int dModel = 128, nHeads = 4, dMlp = 512;
        /** Neurons zeroed in the detailed top-k ablation. */
        public int ablateTopK = 20;
        /** Native threads while training (1: the model is too small for threads to pay, see the README). */
        public int threads = 1;
        public Path out = Path.of("lens4j-out", "grokking");
        /** A model trained elsewhere (lens4j checkpoint, TL state dict .pth or HF directory): training is skipped. */
        public Path model;
        /** TransformerLens config JSON for a .pth state dict (default: config.json beside it). */
        public Path modelConfig;

        public int p() { return p != null ? p : task == Task.SUM ? 10 : 113; }
        public double fracTrain() { return fracTrain != null ? fracTrain : task == Task.SUM ? 0.72 : 0.3; }
        public int dVocabOut() { return task == Task.SUM ? 2 * p() : p(); }

        /** Throws IllegalArgumentException with a message a user can act on. */
        public Options validate() {
            int p = p();
            if (p < 2) throw new IllegalArgumentException("--p must be >= 2 (a and b range over [0, p)), got " + p);
            if (p > 1000) throw new IllegalArgumentException("--p must be <= 1000 (the dataset has p^2 pairs), got " + p);
            double f = fracTrain();
            if (!(f > 0 && f < 1)) throw new IllegalArgumentException("--frac-train must be in (0, 1), got " + f);
            int nTrain = (int) (p * p * f);
            if (nTrain < 1 || nTrain >= p * p)
                throw new IllegalArgumentException("--frac-train " + f + " with p = " + p + " leaves " + nTrain + " of " + p * p
                        + " pairs for training; both train and test need at least one");
            if (epochs < 1) throw new IllegalArgumentException("--epochs must be >= 1, got " + epochs);
            if (batchSize < 0) throw new IllegalArgumentException("--batch-size must be >= 0 (0: full batch), got " + batchSize);
            if (checkpointEvery < 0) throw new IllegalArgumentException("--checkpoint-every must be >= 0, got " + checkpointEvery);
            if (dModel < 1 || nHeads < 1 || dModel % nHeads != 0)
                throw new IllegalArgumentException("--d-model (" + dModel + ") must be a positive multiple of --n-heads (" + nHeads + ")");
            if (dMlp < 3) throw new IllegalArgumentException("--d-mlp must be >= 3, got " + dMlp);
            if (ablateTopK < 1 || (model == null && ablateTopK > dMlp)) throw new IllegalArgumentException("--ablate-top-k must be in [1, d_mlp = " + dMlp + "], got " + ablateTopK);
            if (threads < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
            if (!(lr > 0) || !(weightDecay >= 0)) throw new IllegalArgumentException("lr must be > 0 and weight decay >= 0");
            if (out == null) throw new IllegalArgumentException("no output folder given");
            return this;
        }
    }

    /** What the run produced, for the terminal summary and tests. */
    public record Summary(Options options, Trainer.History history, GrokkingAnalysis analysis, Path outDir, Path resultsJson,
                          Path report, Path checkpoint, int plots, double trainSeconds, double totalSeconds) {}

    /** The tokens |a|b|=| for every pair, row a*p + b (the notebook's order), '=' = p. */
    public static int[][] dataset(int p) {
        int[][] t = new int[p * p][];
        for (int a = 0; a < p; a++) for (int b = 0; b < p; b++) t[a * p + b] = new int[] {a, b, p};
        return t;
    }

    public static int[] labels(int p, Task task) {
        int[] y = new int[p * p];
        for (int a = 0; a < p; a++) for (int b = 0; b < p; b++) y[a * p + b] = task == Task.SUM ? a + b : (a + b) % p;
        return y;
    }

    /** A seeded permutation of [0, n) (Fisher-Yates over SplittableRandom(seed)); the first cutoff rows train. */
    public static int[] permutation(int n, long seed) {
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
        }
        return perm;
    }

    /** The seed's HookedTransformerConfig. */
    public static Config modelConfig(Options o) {
        Config c = new Config();
        c.modelName = "grokking-" + o.task.name().toLowerCase() + "-p" + o.p();
        c.nLayers = 1;
        c.nHeads = o.nHeads;
        c.dModel = o.dModel;
        c.dHead = o.dModel / o.nHeads;
        c.dMlp = o.dMlp;
        c.actFn = "relu";
        c.normalizationType = null;
        c.dVocab = o.p() + 1;
        c.dVocabOut = o.dVocabOut();
        c.nCtx = 3;
        c.seed = o.modelSeed;
        c.defaultPrependBos = false;
        return c.validate();
    }

    /** Fails early (before training) when the output folder cannot be written. */
    public static void checkWritable(Path out) {
        try {
            Files.createDirectories(out);
            Path probe = Files.createTempFile(out, ".lens4j-write-check", ".tmp");
            Files.delete(probe);
        } catch (IOException | SecurityException e) {
            throw new IllegalArgumentException("output folder " + out + " is not writable: " + describe(e));
        }
    }

    private static String describe(Exception e) {
        if (e instanceof java.nio.file.FileAlreadyExistsException f) return f.getFile() + " exists and is not a directory";
        if (e instanceof java.nio.file.AccessDeniedException a) return "permission denied (" + a.getFile() + ")";
        return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }

    /** Runs the study; progress (may be null) sees every epoch, log (may be null) gets status lines. */
    public static Summary run(Options o, Consumer<Trainer.Progress> progress, PrintStream log) throws IOException {
        o.validate();
        if (o.model != null) return GrokkingLoadedModel.run(o, log);
        long t0 = System.nanoTime();
        Path out = o.out.toAbsolutePath().normalize();
        checkWritable(out);
        int p = o.p();
        int[][] all = dataset(p);
        int[] y = labels(p, o.task);
        int[] perm = permutation(p * p, o.dataSeed);
        int cutoff = (int) (p * p * o.fracTrain());
        int[] trainIdx = java.util.Arrays.copyOfRange(perm, 0, cutoff), testIdx = java.util.Arrays.copyOfRange(perm, cutoff, p * p);
        Trainer.Dataset train = subset(all, y, trainIdx), test = subset(all, y, testIdx);
        Config cfg = modelConfig(o);
        if (log != null)
            log.printf("grokking: %s, p = %d: %d train / %d test pairs; 1 layer, %d heads, d_model %d, d_mlp %d; %d %s epochs%n",
                    o.task == Task.SUM ? "a+b" : "(a+b) mod p", p, train.size(), test.size(), o.nHeads, o.dModel, o.dMlp, o.epochs,
                    o.batchSize == 0 ? "full-batch" : "mini-batch (" + o.batchSize + ")");

        CpuBackend be = CpuBackend.get();
        int oldThreads = be.numThreads();
        be.setNumThreads(o.threads);
        try (HookedTransformer model = HookedTransformer.fromConfig(cfg)) {
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("study", "grokking");
            meta.put("data_seed", Long.toString(o.dataSeed));
            Trainer.Options to = new Trainer.Options().epochs(o.epochs).batchSize(o.batchSize).lr(o.lr).betas(o.beta1, o.beta2)
                    .eps(o.eps).weightDecay(o.weightDecay).trainable(GrokkingStudy::trainable).shuffleSeed(o.dataSeed)
                    .progress(progress).checkpointMetadata(meta);
            if (o.checkpointEvery > 0) to.checkpoints(o.checkpointEvery, out.resolve("checkpoints"));
            Trainer.History h = Trainer.train(model, train, test, to);
            double trainS = h.seconds();

            long a0 = System.nanoTime();
            GrokkingAnalysis an = GrokkingAnalysis.run(model, o, all, y, trainIdx, testIdx);
            double analysisS = (System.nanoTime() - a0) / 1e9;

            Path ckpt = out.resolve("model");
            meta.put("epochs", Integer.toString(o.epochs));
            Lens4jCheckpoint.save(cfg, model.weights(), ckpt, meta);

            long r0 = System.nanoTime();
            GrokkingReport rep = new GrokkingReport(o, cfg, h, an, trainIdx, testIdx);
            Path html = rep.build().write(out.resolve("report.html"));
            double reportS = (System.nanoTime() - r0) / 1e9;
            double totalS = (System.nanoTime() - t0) / 1e9;
            Map<String, Object> timings = new LinkedHashMap<>();
            timings.put("train_s", trainS);
            timings.put("ms_per_epoch", trainS * 1000 / o.epochs);
            timings.put("analysis_s", analysisS);
            timings.put("report_s", reportS);
            timings.put("total_s", totalS);
            Path json = GrokkingResults.write(out.resolve("results.json"), o, cfg, h, an, trainIdx, testIdx, timings, be.numThreads());
            return new Summary(o, h, an, out, json, html, ckpt, rep.plotCount(), trainS, totalS);
        } finally {
            be.setNumThreads(oldThreads);
        }
    }

    /** The seed freezes every bias: `if "b_" in name: requires_grad = False`. */
    static boolean trainable(String name) { return !name.contains("b_"); }

    private static Trainer.Dataset subset(int[][] all, int[] y, int[] idx) {
        int[][] t = new int[idx.length][];
        int[] l = new int[idx.length];
        for (int i = 0; i < idx.length; i++) { t[i] = all[idx[i]]; l[i] = y[idx[i]]; }
        return new Trainer.Dataset(t, l);
    }
}
