package dev.lens4j.analysis;

import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;

/**
 * Neuron-token congruence for every MLP neuron of every layer (seed 001's analysis), from the weights alone:
 * output congruence W_out[l][n] · W_U[:, t] (how much neuron n of layer l, firing at 1, raises token t's logit
 * directly) and input congruence W_E[t] · W_in[l][:, n] (how much token t's embedding drives the neuron's
 * pre-activation directly; W_in is the linear input, not W_gate, in gated MLPs). For each neuron the whole
 * distribution over the vocabulary W_out[l][n] @ W_U is computed in one streaming pass: blocks of neurons times W_U
 * as one GEMM each, never more than one block [rows, d_vocab] alive, and kept are its top and bottom k tokens and
 * its moments (mean, standard deviation, skew and excess kurtosis: heavy tails mark token-predicting neurons).
 * <p>The weights are used as the model holds them: with TL's processing (lens4j's and TL's from_pretrained default)
 * W_U includes ln_final's folded weight and is centred over the vocabulary (so each neuron's row has mean 0), W_out
 * and W_E are centred over d_model, and W_in includes ln2's weight.
 */
public final class NeuronCongruence {
    private NeuronCongruence() {}

    /** The most values kept per result array (each a float or int: 512 MB). */
    public static final long MAX_VALUES = 1L << 27;

    /**
     * Results, row-major. Neurons are indexed flat as l * d_mlp + n. output/input [L, d_mlp, T] for the chosen
     * tokens; topTokens/topValues and bottomTokens/bottomValues [L, d_mlp, k] (highest first / lowest first);
     * mean, std, skew, kurtosis [L, d_mlp].
     */
    public record Result(int nLayers, int dMlp, int[] tokens, int k, float[] output, float[] input,
                         int[] topTokens, float[] topValues, int[] bottomTokens, float[] bottomValues,
                         float[] mean, float[] std, float[] skew, float[] kurtosis) {
        public int nNeurons() { return nLayers * dMlp; }

        /** Flat neuron indices with the highest (or lowest) output congruence for tokens[t], best first. */
        public int[] topNeurons(int t, int count, boolean highest) {
            int T = tokens.length;
            if (t < 0 || t >= T) throw new IllegalArgumentException("token index " + t + " is outside 0.." + (T - 1));
            float[] col = new float[nNeurons()];
            for (int i = 0; i < col.length; i++) col[i] = output[i * T + t];
            return TopK.indices(col, Math.min(count, col.length), highest);
        }

        /** Flat neuron indices with the largest excess kurtosis of their vocabulary distribution, largest first. */
        public int[] heaviestTails(int count) { return TopK.indices(kurtosis, Math.min(count, kurtosis.length), true); }

        public String label(int flatNeuron) { return "L" + flatNeuron / dMlp + "N" + flatNeuron % dMlp; }
    }

    /** Every neuron of every layer, for the chosen tokens, keeping each neuron's top k tokens. */
    public static Result compute(HookedTransformer model, int[] tokens, int k) { return compute(model, tokens, k, 0); }

    /** As {@link #compute(HookedTransformer, int[], int)} with neurons streamed blockRows at a time (0: automatic). */
    public static Result compute(HookedTransformer model, int[] tokens, int k, int blockRows) {
        Config cfg = model.cfg();
        if (cfg.attnOnly) throw new IllegalArgumentException("this model is attention-only: it has no MLP neurons");
        int L = cfg.nLayers, F = cfg.dMlp, D = cfg.dModel;
        Tensor wu = model.weights().W_U();
        int V = (int) wu.size(1);
        if (tokens == null || tokens.length == 0) throw new IllegalArgumentException("congruence needs at least one token");
        for (int t : tokens)
            if (t < 0 || t >= Math.min(V, cfg.dVocab))
                throw new IllegalArgumentException("token id " + t + " is outside 0.." + (Math.min(V, cfg.dVocab) - 1));
        if (k < 1) throw new IllegalArgumentException("k (top tokens per neuron) must be >= 1, got " + k);
        k = Math.min(k, V);
        if (blockRows < 0) throw new IllegalArgumentException("block rows must be >= 0, got " + blockRows);
        int rows = blockRows > 0 ? Math.min(blockRows, F) : (int) Math.max(1, Math.min(F, (16L << 20) / V));
        int T = tokens.length, N = L * F;
        // results live on the heap: refuse sizes that cannot fit rather than fail deep inside
        if ((long) N * T > MAX_VALUES)
            throw new IllegalArgumentException(T + " tokens x " + N + " neurons is more than " + MAX_VALUES + " congruence values: choose fewer tokens");
        if ((long) N * k > MAX_VALUES)
            throw new IllegalArgumentException(k + " top tokens per neuron x " + N + " neurons is more than " + MAX_VALUES + " values: choose a smaller k");
        Result r = new Result(L, F, tokens.clone(), k, new float[N * T], new float[N * T], new int[N * k], new float[N * k],
                new int[N * k], new float[N * k], new float[N], new float[N], new float[N], new float[N]);
        try (Tensor block = model.backend().empty(rows, V); Tensor emb = model.backend().empty(T, D); Tensor in = model.backend().empty(T, F)) {
            model.backend().gather(model.weights().W_E(), 0, tokens, emb);             // the chosen tokens' rows of W_E
            float[] c = new float[Math.multiplyExact(rows, V)];
            for (int l = 0; l < L; l++) {
                Tensor wout = model.weights().W_out(l);
                for (int n0 = 0; n0 < F; n0 += rows) {
                    int m = Math.min(rows, F - n0);
                    model.backend().gemm(false, false, m, V, D, 1f, wout, (long) n0 * D, D, wu, 0, V, 0f, block, 0, V, null, 0);
                    if (block.device().isCpu()) block.floatPointer().get(c, 0, m * V);
                    else System.arraycopy(block.toFloatArray(), 0, c, 0, m * V);
                    final int first = l * F + n0;
                    // rows are independent: the per-neuron statistics run on every core between the GEMMs
                    java.util.stream.IntStream.range(0, m).parallel().forEach(i -> row(r, first + i, c, i * V, V));
                }
                model.backend().linear(emb, model.weights().W_in(l), null, in);        // [T, F]
                float[] x = in.toFloatArray();
                for (int t = 0; t < T; t++) for (int n = 0; n < F; n++) r.input()[(l * F + n) * T + t] = x[t * F + n];
            }
        }
        return r;
    }

    /** The full output congruence of one layer, [d_mlp, d_vocab] = W_out[l] @ W_U, formed (for small models and checks). */
    public static float[] outputCongruence(HookedTransformer model, int layer) {
        Config cfg = model.cfg();
        if (cfg.attnOnly) throw new IllegalArgumentException("this model is attention-only: it has no MLP neurons");
        if (layer < 0 || layer >= cfg.nLayers) throw new IllegalArgumentException("layer " + layer + " is outside 0.." + (cfg.nLayers - 1));
        Tensor wu = model.weights().W_U();
        try (Tensor out = model.backend().empty(cfg.dMlp, wu.size(1))) {
            model.backend().linear(model.weights().W_out(layer), wu, null, out);
            return out.toFloatArray();
        }
    }

    private static void row(Result r, int neuron, float[] c, int off, int V) {
        int T = r.tokens().length, k = r.k();
        for (int t = 0; t < T; t++) r.output()[neuron * T + t] = c[off + r.tokens()[t]];
        double mean = 0;
        for (int v = 0; v < V; v++) mean += c[off + v];
        mean /= V;
        double m2 = 0, m3 = 0, m4 = 0;
        for (int v = 0; v < V; v++) {
            double d = c[off + v] - mean, d2 = d * d;
            m2 += d2;
            m3 += d2 * d;
            m4 += d2 * d2;
        }
        m2 /= V;
        m3 /= V;
        m4 /= V;
        r.mean()[neuron] = (float) mean;
        r.std()[neuron] = (float) Math.sqrt(m2);
        r.skew()[neuron] = m2 > 0 ? (float) (m3 / Math.pow(m2, 1.5)) : Float.NaN;
        r.kurtosis()[neuron] = m2 > 0 ? (float) (m4 / (m2 * m2) - 3) : Float.NaN;
        TopK.into(c, off, V, k, true, r.topTokens(), r.topValues(), neuron * k);
        TopK.into(c, off, V, k, false, r.bottomTokens(), r.bottomValues(), neuron * k);
    }

    /** Small top-k selection by insertion: O(n + k log-ish) for the k << n the analyses use. Ties keep the lower index. */
    static final class TopK {
        private TopK() {}

        static void into(float[] x, int off, int n, int k, boolean highest, int[] idxOut, float[] valOut, int outOff) {
            int[] idx = new int[k];
            float[] val = new float[k];
            int size = 0;
            for (int i = 0; i < n; i++) {
                float v = x[off + i];
                if (Float.isNaN(v)) continue;
                if (size == k && !(highest ? v > val[k - 1] : v < val[k - 1])) continue;
                int p = size == k ? k - 1 : size++;
                while (p > 0 && (highest ? v > val[p - 1] : v < val[p - 1])) {
                    val[p] = val[p - 1];
                    idx[p] = idx[p - 1];
                    p--;
                }
                val[p] = v;
                idx[p] = i;
            }
            for (int i = size; i < k; i++) { idx[i] = -1; val[i] = Float.NaN; }
            System.arraycopy(idx, 0, idxOut, outOff, k);
            System.arraycopy(val, 0, valOut, outOff, k);
        }

        static int[] indices(float[] x, int k, boolean highest) {
            int[] idx = new int[k];
            into(x, 0, x.length, k, highest, idx, new float[k], 0);
            int n = 0;
            while (n < k && idx[n] >= 0) n++;         // NaNs are never selected: fewer than k may be found
            return java.util.Arrays.copyOf(idx, n);
        }
    }
}
