package dev.lens4j.oracle;

import dev.lens4j.hooks.HookNames;
import dev.lens4j.load.Checkpoint;
import dev.lens4j.load.HfCheckpointWriter;
import dev.lens4j.load.Llama2cCheckpoint;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The real stories260K (llama2.c file) against the libtorch oracle, its Hugging Face twin, and processed vs
 * unprocessed weights. Tolerance as in OracleParityTest: max abs error <= 1e-4 * max(1, max |reference|).
 */
class RealModelParityTest {
    @Test
    void stories260KGreedyDecodeEqualsOracle() {
        Path bin = TestCheckpoints.stories260K();
        try (HookedTransformer m = HookedTransformer.fromPretrainedNoProcessing(bin)) {
            int steps = 40;
            int[] ours = m.generate(new int[] {1}, steps);
            int[] oracle = {1};
            for (int i = 0; i < steps; i++) {
                TorchOracle.Act logits = TorchOracle.run(m.cfg(), m.weights(), new int[][] {oracle}).logits();
                int V = (int) logits.shape()[2], last = oracle.length - 1, best = 0;
                for (int v = 1; v < V; v++) if (logits.data()[last * V + v] > logits.data()[last * V + best]) best = v;
                oracle = Arrays.copyOf(oracle, oracle.length + 1);
                oracle[oracle.length - 1] = best;
                if (best == 2) break;
            }
            assertArrayEquals(oracle, ours, "greedy tokens differ from the libtorch oracle");
            assertTrue(m.toString(ours).startsWith("<s>Once upon a time, there was a little girl named Lily."), m.toString(ours));
        }
    }

    @Test
    void stories260KEveryHookPointMatchesOracleProcessedAndUnprocessed() {
        Path bin = TestCheckpoints.stories260K();
        for (LoadOptions opts : new LoadOptions[] {LoadOptions.noProcessing(), LoadOptions.defaults()}) {
            try (HookedTransformer m = HookedTransformer.fromPretrained(bin, null, opts, null)) {
                int[][] tokens = {m.toTokens("Once upon a time, there was a little girl named Lily. She")};
                TorchOracle.Result want = TorchOracle.run(m.cfg(), m.weights(), tokens);
                try (HookedTransformer.Output out = m.runWithCache(tokens)) {
                    assertEquals(want.acts().keySet(), out.cache().keys());
                    for (String name : HookNames.all(m.cfg()))
                        Compare.assertClose(opts + " " + name, out.cache().get(name), want.acts().get(name));
                    Compare.assertClose(opts + " logits", out.logits(), want.logits());
                }
            }
        }
    }

    @Test
    void stories260KWrittenAsHuggingFaceLlamaGivesEqualLogits(@TempDir Path dir) {
        Path bin = TestCheckpoints.stories260K();
        try (Checkpoint raw = Llama2cCheckpoint.load(bin, LoadOptions.noProcessing())) {
            HfCheckpointWriter.writeLlama(raw, dir);
        }
        for (LoadOptions opts : new LoadOptions[] {LoadOptions.noProcessing(), LoadOptions.defaults()}) {
            try (HookedTransformer c = HookedTransformer.fromPretrained(bin, null, opts, null);
                 HookedTransformer hf = HookedTransformer.fromPretrained(dir, null, opts, null)) {
                assertFalse(hf.cfg().rotaryAdjacentPairs, "the HF path uses rotate-half");
                assertTrue(c.cfg().rotaryAdjacentPairs, "llama2.c uses adjacent pairs");
                int[][] tokens = {c.toTokens("The cat sat on the mat and looked at the big red ball.")};
                try (Tensor a = c.forward(tokens); Tensor b = hf.forward(tokens)) {
                    float[] x = a.toFloatArray(), y = b.toFloatArray();
                    Compare.assertClose(opts + " HF-layout logits", y, toDouble(x));
                }
            }
        }
    }

    @Test
    void processedAndUnprocessedWeightsGiveEqualLogProbs(@TempDir Path dir) {
        Path gpt2 = TestCheckpoints.gpt2(dir.resolve("gpt2"), 11);
        Path llama = TestCheckpoints.llama(dir.resolve("llama"), 12);
        for (Path p : new Path[] {gpt2, llama}) {
            try (HookedTransformer raw = HookedTransformer.fromPretrainedNoProcessing(p);
                 HookedTransformer proc = HookedTransformer.fromPretrained(p)) {
                assertTrue(proc.cfg().lnFolded && proc.cfg().unembedCentered && proc.cfg().valueBiasesFolded, p.toString());
                int[][] tokens = {{0, 5, 9, 3, 17, 2, 30, 8}, {1, 1, 4, 20, 36, 11, 7, 6}};
                try (Tensor a = raw.forward(tokens); Tensor b = proc.forward(tokens)) {
                    double[] la = logSoftmax(a), lb = logSoftmax(b);
                    double max = 0;
                    for (int i = 0; i < la.length; i++) max = Math.max(max, Math.abs(la[i] - lb[i]));
                    assertTrue(max < 1e-4, p + ": processed vs unprocessed log-probs differ by " + max);
                    // the raw logits do differ (center_unembed shifts them), so this compares something real
                    float[] ra = a.toFloatArray(), rb = b.toFloatArray();
                    double diff = 0;
                    for (int i = 0; i < ra.length; i++) diff = Math.max(diff, Math.abs(ra[i] - rb[i]));
                    assertTrue(diff > 1e-3, p + ": processing changed nothing");
                }
            }
        }
    }

    @Test
    void processedGpt2MatchesOracleAtEveryHookPoint(@TempDir Path dir) {
        Path gpt2 = TestCheckpoints.gpt2(dir, 21);
        try (HookedTransformer m = HookedTransformer.fromPretrained(gpt2)) {
            assertEquals("LNPre", m.cfg().normalizationType);
            int[][] tokens = {{0, 5, 9, 3, 17, 2, 30}, {36, 1, 4, 20, 2, 11, 7}};
            TorchOracle.Result want = TorchOracle.run(m.cfg(), m.weights(), tokens);
            try (HookedTransformer.Output out = m.runWithCache(tokens)) {
                for (String name : HookNames.all(m.cfg())) Compare.assertClose(name, out.cache().get(name), want.acts().get(name));
                Compare.assertClose("logits", out.logits(), want.logits());
            }
        }
    }

    private static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }

    private static double[] logSoftmax(Tensor logits) {
        float[] x = logits.toFloatArray();
        int V = (int) logits.size(-1);
        double[] out = new double[x.length];
        for (int r = 0; r < x.length / V; r++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int v = 0; v < V; v++) max = Math.max(max, x[r * V + v]);
            for (int v = 0; v < V; v++) sum += Math.exp(x[r * V + v] - max);
            double lse = max + Math.log(sum);
            for (int v = 0; v < V; v++) out[r * V + v] = x[r * V + v] - lse;
        }
        return out;
    }
}
