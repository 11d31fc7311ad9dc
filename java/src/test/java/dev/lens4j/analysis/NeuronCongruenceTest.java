package dev.lens4j.analysis;

import dev.lens4j.load.RandomWeights;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Comparator;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Neuron congruence against a plain-Java double-precision reference on small random GPT-2 and Llama models, and the
 * identity that streaming in blocks of any size gives the full [d_mlp, d_vocab] matrix's values.
 */
class NeuronCongruenceTest {

    private static HookedTransformer gpt2() {
        Config cfg = RandomWeights.gpt2Config(3, 16, 4, 40, 16);
        return new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 5));
    }

    @Test
    void matchesAPlainJavaReference() {
        long before = Tensor.liveBytes();
        Config llamaCfg = RandomWeights.llamaConfig(2, 16, 4, 2, 24, 30, 16);
        for (HookedTransformer model : new HookedTransformer[] {gpt2(), new HookedTransformer(llamaCfg, RandomWeights.llama(llamaCfg, 9))}) {
            try (model) {
                Config cfg = model.cfg();
                int L = cfg.nLayers, F = cfg.dMlp, D = cfg.dModel, V = cfg.dVocabOut(), k = 4;
                int[] tokens = {3, 17, 0};
                int T = tokens.length;
                NeuronCongruence.Result r = NeuronCongruence.compute(model, tokens, k, 5);
                float[] wu = model.weights().W_U().toFloatArray(), we = model.weights().W_E().toFloatArray();
                for (int l = 0; l < L; l++) {
                    float[] wout = model.weights().W_out(l).toFloatArray(), win = model.weights().W_in(l).toFloatArray();
                    for (int n = 0; n < F; n++) {
                        int i = l * F + n;
                        double[] row = new double[V];
                        for (int v = 0; v < V; v++) for (int d = 0; d < D; d++) row[v] += (double) wout[n * D + d] * wu[d * V + v];
                        for (int t = 0; t < T; t++) {
                            assertEquals(row[tokens[t]], r.output()[i * T + t], 1e-5, "output congruence " + r.label(i));
                            double in = 0;
                            for (int d = 0; d < D; d++) in += (double) we[tokens[t] * D + d] * win[d * F + n];
                            assertEquals(in, r.input()[i * T + t], 1e-5, "input congruence " + r.label(i));
                        }
                        Integer[] order = new Integer[V];
                        for (int v = 0; v < V; v++) order[v] = v;
                        Arrays.sort(order, Comparator.comparingDouble(v -> -row[v]));
                        for (int j = 0; j < k; j++) {
                            assertEquals(row[order[j]], r.topValues()[i * k + j], 1e-5, "top value " + j + " of " + r.label(i));
                            assertEquals(row[order[V - 1 - j]], r.bottomValues()[i * k + j], 1e-5, "bottom value " + j + " of " + r.label(i));
                            assertEquals(row[r.topTokens()[i * k + j]], r.topValues()[i * k + j], 1e-5, "top token's value");
                        }
                        double mean = Arrays.stream(row).average().orElseThrow(), m2 = 0, m4 = 0;
                        for (double x : row) { m2 += (x - mean) * (x - mean) / V; m4 += Math.pow(x - mean, 4) / V; }
                        assertEquals(mean, r.mean()[i], 1e-5);
                        assertEquals(Math.sqrt(m2), r.std()[i], 1e-5);
                        assertEquals(m4 / (m2 * m2) - 3, r.kurtosis()[i], 1e-3);
                    }
                }
                // top neurons per token over all layers: the highest output congruences, in order
                int[] top = r.topNeurons(1, 5, true);
                float[] col = new float[L * F];
                for (int i = 0; i < col.length; i++) col[i] = r.output()[i * T + 1];
                float[] sorted = col.clone();
                Arrays.sort(sorted);
                for (int j = 0; j < 5; j++) assertEquals(sorted[sorted.length - 1 - j], col[top[j]]);
                int[] bottom = r.topNeurons(1, 5, false);
                for (int j = 0; j < 5; j++) assertEquals(sorted[j], col[bottom[j]]);
            }
        }
        assertEquals(before, Tensor.liveBytes(), "the streamed blocks are freed");
    }

    @Test
    void streamingInAnyBlockSizeEqualsTheFullMatrix() {
        try (HookedTransformer model = gpt2()) {
            int F = model.cfg().dMlp, V = model.cfg().dVocabOut(), L = model.cfg().nLayers, k = 6;
            int[] tokens = new int[V];
            for (int v = 0; v < V; v++) tokens[v] = v;       // every token: the output block is the whole matrix
            NeuronCongruence.Result whole = NeuronCongruence.compute(model, tokens, k, F);
            for (int rows : new int[] {1, 7, F - 1, 0}) {
                NeuronCongruence.Result s = NeuronCongruence.compute(model, tokens, k, rows);
                // GEMM paths for different row counts may round the last bit differently
                assertArrayEquals(whole.output(), s.output(), 1e-6f, "output, blocks of " + rows);
                assertArrayEquals(whole.topTokens(), s.topTokens(), "top tokens, blocks of " + rows);
                assertArrayEquals(whole.kurtosis(), s.kurtosis(), 1e-4f, "kurtosis, blocks of " + rows);
            }
            for (int l = 0; l < L; l++) {
                float[] full = NeuronCongruence.outputCongruence(model, l);
                for (int n = 0; n < F; n++)
                    for (int v = 0; v < V; v++)
                        assertEquals(full[n * V + v], whole.output()[(l * F + n) * V + v], 1e-5f, "layer " + l);
            }
        }
    }

    @Test
    void badInputIsRefusedWithAMessage() {
        try (HookedTransformer model = gpt2()) {
            var e = assertThrows(IllegalArgumentException.class, () -> NeuronCongruence.compute(model, new int[] {40}, 3));
            assertTrue(e.getMessage().contains("token id 40"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> NeuronCongruence.compute(model, new int[] {-1}, 3));
            assertThrows(IllegalArgumentException.class, () -> NeuronCongruence.compute(model, new int[0], 3));
            assertThrows(IllegalArgumentException.class, () -> NeuronCongruence.compute(model, new int[] {1}, 0));
            assertThrows(IllegalArgumentException.class, () -> NeuronCongruence.outputCongruence(model, 3));
        }
        try (HookedTransformer planted = HeadDetectorTest.plantedModel()) {
            var e = assertThrows(IllegalArgumentException.class, () -> NeuronCongruence.compute(planted, new int[] {1}, 3));
            assertTrue(e.getMessage().contains("attention-only"), e.getMessage());
        }
    }
}
