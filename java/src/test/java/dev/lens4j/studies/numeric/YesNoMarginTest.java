package dev.lens4j.studies.numeric;

import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Positions;
import dev.lens4j.load.Checkpoint;
import dev.lens4j.load.HfCheckpoint;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.oracle.HfTestCheckpoints;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The study's two-column margins against the model's own full unembedding (Gemma 2: RMS ln_final and the final soft
 * cap), and the study's results the same whatever the batch size.
 */
class YesNoMarginTest {
    @TempDir Path tmp;

    @Test void twoColumnMarginsEqualTheFullUnembeddingsWithTheSoftCap() throws Exception {
        HfTestCheckpoints.gemma2(tmp.resolve("gemma2"), 9, DType.F32);
        Checkpoint ck = HfCheckpoint.load(tmp.resolve("gemma2"));
        try (HookedTransformer model = new HookedTransformer(ck.config(), ck.weights())) {
            assertTrue(model.cfg().outputLogitsSoftCap > 0, "the test model caps its logits");
            int L = model.cfg().nLayers, D = model.cfg().dModel, B = 3, S = 8;
            Random r = new Random(4);
            int[][] toks = new int[B][S];
            for (int[] row : toks) for (int s = 0; s < S; s++) row[s] = 3 + r.nextInt(50);
            String post = HookNames.residPost(L - 1);
            try (var o = model.run(toks, new HookedTransformer.RunOptions().cacheNames(post).cachePositions(Positions.last()).logitsLastOnly(true))) {
                float[] h = o.cache().get(post).toFloatArray(), lg = o.logits().toFloatArray();
                int V = (int) o.logits().size(2);
                YesNoMargin m = new YesNoMargin(model);
                double maxAbs = 0;
                for (int b = 0; b < B; b++)
                    for (int[] yn : new int[][] {{5, 9}, {9, 5}, {0, 60}, {17, 18}}) {
                        double want = (double) lg[b * V + yn[0]] - lg[b * V + yn[1]];
                        assertEquals(want, m.of(h, b * D, yn[0], yn[1]), 1e-5 * Math.max(1, Math.abs(want)), "row " + b + " pair " + yn[0] + "," + yn[1]);
                        maxAbs = Math.max(maxAbs, Math.abs(want));
                    }
                assertTrue(maxAbs > 1e-2, "margins are not all zero");
            }
        }
    }

    @Test void aNonFiniteModelIsAnErrorNotNaNMargins() throws Exception {
        CharTokenizer tok = new CharTokenizer();
        Config cfg = RandomWeights.gpt2Config(2, 32, 4, tok.vocabSize(), 64);
        long live = Tensor.liveBytes();
        try (HookedTransformer model = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 5), tok, null)) {
            float[] w = model.weights().W_out(1).toFloatArray();
            w[7] = Float.NaN;
            model.editWeights(x -> x.W_out(1).set(w));
            NumericOptions o = new NumericOptions();
            o.n = 2;
            o.out = tmp.resolve("nan");
            var e = assertThrows(ArithmeticException.class, () -> NumericCompareStudy.run(model, o, NumericDataset.TEMPLATE, null, StudyProgress.none(), null));
            assertTrue(e.getMessage().contains("not finite"), e.getMessage());
        }
        assertEquals(live, Tensor.liveBytes(), "no native memory left behind");
    }

    @Test void resultsDoNotDependOnTheBatchSize() throws Exception {
        CharTokenizer tok = new CharTokenizer();
        Config cfg = RandomWeights.gpt2Config(3, 32, 4, tok.vocabSize(), 64);
        cfg.dMlp = 64;
        try (HookedTransformer model = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 13), tok, null)) {
            NumericCompareStudy.Analysis[] an = new NumericCompareStudy.Analysis[2];
            int[] batch = {1, 16};
            for (int k = 0; k < 2; k++) {
                NumericOptions o = new NumericOptions();
                o.n = 6;
                o.batch = batch[k];
                o.out = tmp.resolve("b" + batch[k]);
                an[k] = NumericCompareStudy.run(model, o, NumericDataset.TEMPLATE, null, StudyProgress.none(), null).analysis();
            }
            assertTrue(an[1].collected.batches.size() < an[0].collected.batches.size(), "batch 16 really groups prompts");
            assertArrayEquals(an[0].margins(), an[1].margins(), 1e-4);
            for (String h : an[0].causal.patched.keySet()) assertArrayEquals(an[0].patchedMargins(h), an[1].patchedMargins(h), 1e-4, h);
            for (Map.Entry<String, double[]> e : an[0].ablatedMargins().entrySet())
                assertArrayEquals(e.getValue(), an[1].ablatedMargins().get(e.getKey()), 1e-4, e.getKey());
            assertArrayEquals(an[0].topHarmful(), an[1].topHarmful());
            for (int l = 0; l < 3; l++) assertArrayEquals(an[0].readoutGap(l), an[1].readoutGap(l), 1e-4);
            assertTrue(Math.abs(an[0].margins()[0]) > 1e-3, "margins are not all zero");
        }
    }
}
