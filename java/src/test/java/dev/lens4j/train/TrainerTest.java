package dev.lens4j.train;

import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Short training runs on a small a+b task with the grokking seed's architecture, shrunk. */
class TrainerTest {
    static final int P = 5;

    /** The seed's config (no normalisation, relu, d_vocab_out != d_vocab, n_ctx 3), smaller widths. */
    static Config cfg(long seed) {
        Config c = new Config();
        c.nLayers = 1; c.nHeads = 2; c.dModel = 32; c.dHead = 16; c.dMlp = 64; c.actFn = "relu";
        c.normalizationType = null; c.dVocab = P + 1; c.dVocabOut = 2 * P; c.nCtx = 3; c.seed = seed;
        c.defaultPrependBos = false;
        return c;
    }

    static Trainer.Dataset all() {
        int[][] t = new int[P * P][];
        int[] y = new int[P * P];
        for (int a = 0; a < P; a++) for (int b = 0; b < P; b++) { t[a * P + b] = new int[] {a, b, P}; y[a * P + b] = a + b; }
        return new Trainer.Dataset(t, y);
    }

    static Trainer.Options opts(int epochs) {
        return new Trainer.Options().epochs(epochs).lr(3e-3).betas(0.9, 0.98).weightDecay(1).trainable(n -> !n.contains(".b_"));
    }

    @Test
    void shortRunLowersTheLossAndKeepsBiasesFrozen() {
        try (HookedTransformer m = HookedTransformer.fromConfig(cfg(1))) {
            float[] bIn = m.weights().b_in(0).toFloatArray();
            List<Trainer.Progress> seen = new ArrayList<>();
            Trainer.History h = Trainer.train(m, all(), all(), opts(150).progress(seen::add));
            assertEquals(150, h.epochs());
            assertEquals(150, seen.size());
            assertEquals(150, seen.get(149).epoch());
            assertTrue(h.trainLoss()[0] > Math.log(2 * P) * 0.8, "starts near uniform: " + h.trainLoss()[0]);
            assertTrue(h.finalTrainLoss() < 0.5 * h.trainLoss()[0], "loss " + h.trainLoss()[0] + " -> " + h.finalTrainLoss());
            assertTrue(h.trainAccuracy()[149] > h.trainAccuracy()[0]);
            // train == test set here, so the test loss after step e is the train loss before step e+1
            assertEquals(h.testLoss()[10], h.trainLoss()[11], 1e-9);
            assertArrayEquals(bIn, m.weights().b_in(0).toFloatArray(), "biases frozen");
            double[] la = Trainer.evaluate(m, all());
            assertEquals(h.finalTestLoss(), la[0], 1e-12);
            assertEquals(h.testAccuracy()[149], la[1], 1e-12);
        }
    }

    @Test
    void miniBatchTrainingAlsoLearns() {
        try (HookedTransformer m = HookedTransformer.fromConfig(cfg(2))) {
            Trainer.History h = Trainer.train(m, all(), null, opts(60).batchSize(8).shuffleSeed(5));
            assertTrue(h.finalTrainLoss() < 0.7 * h.trainLoss()[0], "loss " + h.trainLoss()[0] + " -> " + h.finalTrainLoss());
            assertTrue(Double.isNaN(h.finalTestLoss()), "no test set");
        }
    }

    @Test
    void sameSeedsGiveBitIdenticalWeights() {
        float[][] runs = new float[2][];
        double[][] losses = new double[2][];
        for (int r = 0; r < 2; r++) {
            try (HookedTransformer m = HookedTransformer.fromConfig(cfg(7))) {
                Trainer.History h = Trainer.train(m, all(), all(), opts(40).batchSize(10).shuffleSeed(3));
                losses[r] = h.trainLoss();
                List<Float> all = new ArrayList<>();
                for (Tensor t : m.weights().asMap().values()) for (float v : t.toFloatArray()) all.add(v);
                runs[r] = new float[all.size()];
                for (int i = 0; i < all.size(); i++) runs[r][i] = all.get(i);
            }
        }
        assertArrayEquals(losses[0], losses[1]);
        for (int i = 0; i < runs[0].length; i++)
            assertEquals(Float.floatToRawIntBits(runs[0][i]), Float.floatToRawIntBits(runs[1][i]), "weight value " + i);
    }

    @Test
    void checkpointsRoundTripWithEqualLogits(@TempDir Path dir) {
        try (HookedTransformer m = HookedTransformer.fromConfig(cfg(3))) {
            Trainer.History h = Trainer.train(m, all(), all(), opts(30).checkpoints(10, dir.resolve("ck")));
            assertArrayEquals(new int[] {10, 20, 30}, h.checkpointEpochs());
            Path last = h.checkpoints().get(2);
            assertTrue(Files.isRegularFile(last.resolve(Lens4jCheckpoint.WEIGHTS_FILE)));
            int[][] toks = all().tokens();
            try (HookedTransformer back = HookedTransformer.fromPretrained(last);
                 Tensor a = m.forward(toks); Tensor b = back.forward(toks)) {
                assertEquals(m.cfg().dVocabOut(), back.cfg().dVocabOut());
                assertNull(back.cfg().normalizationType);
                assertArrayEquals(a.toFloatArray(), b.toFloatArray(), "bit-equal logits");
            }
            // an earlier checkpoint differs from the final weights
            try (HookedTransformer first = HookedTransformer.fromPretrained(h.checkpoints().get(0));
                 Tensor a = m.forward(toks); Tensor b = first.forward(toks)) {
                assertFalse(java.util.Arrays.equals(a.toFloatArray(), b.toFloatArray()));
            }
        }
    }

    @Test
    void attnOnlyAndLayerNormConfigsTrain() {
        for (String norm : new String[] {"LN", null}) {
            Config c = cfg(4);
            c.attnOnly = true;
            c.normalizationType = norm;
            try (HookedTransformer m = HookedTransformer.fromConfig(c)) {
                Trainer.History h = Trainer.train(m, all(), null, opts(40).trainable(n -> true));
                assertTrue(h.finalTrainLoss() < h.trainLoss()[0], norm + ": " + h.trainLoss()[0] + " -> " + h.finalTrainLoss());
            }
        }
    }

    @Test
    void badOptionsAreRejected() {
        try (HookedTransformer m = HookedTransformer.fromConfig(cfg(1))) {
            assertThrows(IllegalArgumentException.class, () -> Trainer.train(m, all(), null, opts(-1)));
            assertThrows(IllegalArgumentException.class, () -> Trainer.train(m, all(), null, opts(1).batchSize(-2)));
            assertThrows(IllegalArgumentException.class, () -> Trainer.train(m, all(), null, opts(1).checkpoints(5, null)));
        }
    }
}
