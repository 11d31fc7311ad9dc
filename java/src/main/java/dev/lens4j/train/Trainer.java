package dev.lens4j.train;

import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.HookedTransformer.RunOptions;
import dev.lens4j.model.Metric;
import dev.lens4j.model.Metrics;
import dev.lens4j.model.PaddedBatch;
import dev.lens4j.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Trains a {@link HookedTransformer} to classify each sequence by the token predicted at its last position (the
 * grokking seed's task): cross-entropy at the last position in double, {@link AdamW} with torch's semantics,
 * frozen parameter groups, full-batch or mini-batch. Records train and test loss and accuracy every epoch, saves
 * {@link Lens4jCheckpoint}s every N epochs, and reports progress through a callback.
 *
 * <p>As in the seed notebook, an epoch's train loss is the loss of the forward pass that produced the gradients
 * (before the step) and its test loss is measured after the step. Bit-for-bit reproducible for the same seeds on
 * the same machine: the kernels split work by output blocks only, and mini-batches are shuffled from
 * {@link Options#shuffleSeed}.
 */
public final class Trainer {
    private Trainer() {}

    /** Sequences [n][pos] and the class each one's last position should predict. */
    public record Dataset(int[][] tokens, int[] labels) {
        public Dataset {
            if (tokens == null || labels == null || tokens.length != labels.length)
                throw new IllegalArgumentException("dataset needs one label per sequence");
        }
        public int size() { return labels.length; }
    }

    /** One finished epoch (1-based), for progress display. */
    public record Progress(int epoch, int epochs, double trainLoss, double testLoss, double trainAccuracy,
                           double testAccuracy, double elapsedSeconds) {}

    /** Per-epoch curves (index e = epoch e + 1) and the checkpoints written. */
    public record History(double[] trainLoss, double[] testLoss, double[] trainAccuracy, double[] testAccuracy,
                          int[] checkpointEpochs, List<Path> checkpoints, double seconds) {
        public int epochs() { return trainLoss.length; }
        public double finalTrainLoss() { return trainLoss[trainLoss.length - 1]; }
        public double finalTestLoss() { return testLoss[testLoss.length - 1]; }
    }

    /** Training options; defaults are torch.optim.AdamW's, full batch, every parameter trained. */
    public static final class Options {
        int epochs = 1000;
        int batchSize = 0;
        double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0.01;
        Predicate<String> trainable = n -> true;
        int checkpointEvery = 0;
        Path checkpointDir;
        long shuffleSeed = 0;
        Consumer<Progress> progress;
        Map<String, String> checkpointMetadata = new LinkedHashMap<>();

        public Options epochs(int n) { epochs = n; return this; }
        /** Sequences per step; 0 (or at least the dataset size) trains full-batch. */
        public Options batchSize(int n) { batchSize = n; return this; }
        public Options lr(double v) { lr = v; return this; }
        public Options betas(double b1, double b2) { beta1 = b1; beta2 = b2; return this; }
        public Options eps(double v) { eps = v; return this; }
        public Options weightDecay(double v) { weightDecay = v; return this; }
        /** Which parameters (TL names) are trained; the rest are frozen (the seed: n -> !n.contains(".b_")). */
        public Options trainable(Predicate<String> p) { trainable = p; return this; }
        /** Save a checkpoint to dir/epoch-NNNNNN every n epochs (0: never). */
        public Options checkpoints(int every, Path dir) { checkpointEvery = every; checkpointDir = dir; return this; }
        public Options checkpointMetadata(Map<String, String> m) { checkpointMetadata = new LinkedHashMap<>(m); return this; }
        /** Seed of the mini-batch shuffle (unused full-batch). */
        public Options shuffleSeed(long s) { shuffleSeed = s; return this; }
        /** Called after every epoch. */
        public Options progress(Consumer<Progress> c) { progress = c; return this; }

        void validate() {
            if (epochs < 0) throw new IllegalArgumentException("epochs must be >= 0, got " + epochs);
            if (batchSize < 0) throw new IllegalArgumentException("batch size must be >= 0, got " + batchSize);
            if (checkpointEvery < 0) throw new IllegalArgumentException("checkpoint interval must be >= 0, got " + checkpointEvery);
            if (checkpointEvery > 0 && checkpointDir == null) throw new IllegalArgumentException("checkpoints need a directory");
        }
    }

    /** Trains in place (the model's weights are updated) and returns the curves. test may be null or empty. */
    public static History train(HookedTransformer model, Dataset train, Dataset test, Options o) {
        o.validate();
        if (train.size() == 0) throw new IllegalArgumentException("empty training set");
        int n = train.size();
        int bs = o.batchSize == 0 || o.batchSize >= n ? n : o.batchSize;
        boolean hasTest = test != null && test.size() > 0;
        double[] trL = new double[o.epochs], teL = new double[o.epochs], trA = new double[o.epochs], teA = new double[o.epochs];
        List<Integer> ckEpochs = new ArrayList<>();
        List<Path> ckDirs = new ArrayList<>();
        RunOptions gradOpts = new RunOptions().weightGrads(o.trainable);
        RunOptions evalOpts = new RunOptions().logitsLastOnly(true);
        SplittableRandom shuffle = new SplittableRandom(o.shuffleSeed);
        long t0 = System.nanoTime();
        // full batch: the token tensors are built once
        // ragged sequences (prompts of several lengths) train and evaluate as left-padded batches
        boolean ragged = isRagged(train.tokens()) || hasTest && isRagged(test.tokens());
        try (Tensor trainT = bs == n && !ragged ? model.tokenTensor(train.tokens()) : null;
             Tensor testT = hasTest && !ragged ? model.tokenTensor(test.tokens()) : null;
             AdamW opt = new AdamW(o.lr, o.beta1, o.beta2, o.eps, o.weightDecay)) {
            int[] order = identity(n);
            for (int e = 0; e < o.epochs; e++) {
                double lossSum = 0;
                long correct = 0;
                if (bs == n && !ragged) {
                    Tapped m = new Tapped(train.labels());
                    lossSum = step(model, trainT, m, gradOpts, opt) * n;
                    correct = m.correct;
                } else {
                    shuffle(order, shuffle);
                    for (int s = 0; s < n; s += bs) {
                        int len = Math.min(bs, n - s);
                        int[][] tok = new int[len][];
                        int[] lab = new int[len];
                        for (int i = 0; i < len; i++) { tok[i] = train.tokens()[order[s + i]]; lab[i] = train.labels()[order[s + i]]; }
                        Tapped m = new Tapped(lab);
                        if (ragged) lossSum += step(model, leftPadded(model, tok), m, gradOpts, opt) * len;
                        else try (Tensor t = model.tokenTensor(tok)) { lossSum += step(model, t, m, gradOpts, opt) * len; }
                        correct += m.correct;
                    }
                }
                trL[e] = lossSum / n;
                trA[e] = (double) correct / n;
                if (hasTest) {
                    double[] la = ragged ? evaluate(model, test) : evaluate(model, testT, test.labels(), evalOpts);
                    teL[e] = la[0];
                    teA[e] = la[1];
                } else {
                    teL[e] = teA[e] = Double.NaN;
                }
                if (o.checkpointEvery > 0 && (e + 1) % o.checkpointEvery == 0) {
                    Path dir = o.checkpointDir.resolve(String.format("epoch-%06d", e + 1));
                    Map<String, String> meta = new LinkedHashMap<>(o.checkpointMetadata);
                    meta.put("epoch", Integer.toString(e + 1));
                    meta.put("train_loss", Double.toString(trL[e]));
                    meta.put("test_loss", Double.toString(teL[e]));
                    Lens4jCheckpoint.save(model.cfg(), model.weights(), dir, meta);
                    ckEpochs.add(e + 1);
                    ckDirs.add(dir);
                }
                if (o.progress != null)
                    o.progress.accept(new Progress(e + 1, o.epochs, trL[e], teL[e], trA[e], teA[e], (System.nanoTime() - t0) / 1e9));
            }
        }
        return new History(trL, teL, trA, teA, ckEpochs.stream().mapToInt(Integer::intValue).toArray(), List.copyOf(ckDirs),
                (System.nanoTime() - t0) / 1e9);
    }

    /** Forward, backward and one AdamW step; returns the batch's mean loss. */
    private static double step(HookedTransformer model, Tensor tokens, Metric metric, RunOptions gradOpts, AdamW opt) {
        double loss;
        try (HookedTransformer.Gradients g = model.backward(tokens, metric, gradOpts)) {
            loss = g.value();
            // under the model's exclusive guard: other threads' runs see the weights wholly before or after the step
            model.editWeights(w -> opt.step(w, g.weightGrads()));
        }
        return loss;
    }

    /** One step on a left-padded batch (each row's last real token is the last position; pad keys are masked). */
    private static double step(HookedTransformer model, PaddedBatch tokens, Metric metric, RunOptions gradOpts, AdamW opt) {
        try (HookedTransformer.Gradients g = model.backward(tokens, metric, gradOpts)) {
            model.editWeights(w -> opt.step(w, g.weightGrads()));
            return g.value();
        }
    }

    private static PaddedBatch leftPadded(HookedTransformer model, int[][] tokens) {
        return PaddedBatch.of(java.util.Arrays.asList(tokens), PaddedBatch.Side.LEFT, model.padTokenId());
    }

    private static boolean isRagged(int[][] tokens) {
        for (int[] t : tokens) if (t.length != tokens[0].length) return true;
        return false;
    }

    /** {mean cross-entropy at the last position (double), accuracy} of a dataset (ragged ones as a left-padded batch). */
    public static double[] evaluate(HookedTransformer model, Dataset d) {
        if (isRagged(d.tokens())) {
            try (HookedTransformer.Output out = model.run(leftPadded(model, d.tokens()), new RunOptions().logitsLastOnly(true))) {
                return lossAndAccuracy(out, d.labels());
            }
        }
        try (Tensor t = model.tokenTensor(d.tokens())) { return evaluate(model, t, d.labels(), new RunOptions().logitsLastOnly(true)); }
    }

    private static double[] evaluate(HookedTransformer model, Tensor tokens, int[] labels, RunOptions evalOpts) {
        try (HookedTransformer.Output out = model.run(tokens, evalOpts)) { return lossAndAccuracy(out, labels); }
    }

    private static double[] lossAndAccuracy(HookedTransformer.Output out, int[] labels) {
        {
            Tensor l = out.logits();
            int B = (int) l.size(0), V = (int) l.size(2);
            float[] lg = l.toFloatArray();
            Tapped m = new Tapped(labels);
            double loss = m.evaluate(lg, B, 1, V, new float[lg.length]);
            return new double[] {loss, (double) m.correct / B};
        }
    }

    /** The seed's loss (cross-entropy at the last position, in double) that also counts argmax hits. */
    private static final class Tapped implements Metric {
        final int[] labels;
        final Metric ce;
        long correct;

        Tapped(int[] labels) { this.labels = labels; this.ce = Metrics.crossEntropyLast(labels); }

        @Override public double evaluate(float[] logits, int B, int P, int V, float[] grad) {
            double v = ce.evaluate(logits, B, P, V, grad);
            for (int b = 0; b < B; b++) {
                int row = (b * P + P - 1) * V, best = 0;
                for (int k = 1; k < V; k++) if (logits[row + k] > logits[row + best]) best = k;
                if (best == labels[b]) correct++;
            }
            return v;
        }
    }

    private static int[] identity(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        return a;
    }

    private static void shuffle(int[] a, SplittableRandom r) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = a[i]; a[i] = a[j]; a[j] = t;
        }
    }
}
