package dev.lens4j.analysis;

import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Weights;

/**
 * Per-head weight circuits as TransformerLens's model.OV, model.QK and all_composition_scores. OV = W_V @ W_O and
 * QK = W_Q @ W_Kᵀ, [n_layers, n_heads, d_model, d_model] as {@link FactoredMatrix}es (biases and rotary are not part
 * of them, as in TL). Under grouped-query attention query head h uses key/value head h / (n_heads / n_kv_heads),
 * which is TL's repeat_interleave of _W_K / _W_V.
 */
public final class Circuits {
    private Circuits() {}

    /** all_composition_scores' mode: what of the later head reads the earlier head's OV output. */
    public enum Composition { Q, K, V }

    public static FactoredMatrix OV(HookedTransformer model) { return circuit(model, -1, true); }

    public static FactoredMatrix QK(HookedTransformer model) { return circuit(model, -1, false); }

    /** One layer's heads, [n_heads, d_model, d_model]. */
    public static FactoredMatrix OV(HookedTransformer model, int layer) { return circuit(model, checkLayer(model, layer), true); }

    public static FactoredMatrix QK(HookedTransformer model, int layer) { return circuit(model, checkLayer(model, layer), false); }

    private static int checkLayer(HookedTransformer model, int layer) {
        int L = model.cfg().nLayers;
        if (layer < 0 || layer >= L) throw new IllegalArgumentException("layer " + layer + " is outside 0.." + (L - 1));
        return layer;
    }

    private static FactoredMatrix circuit(HookedTransformer model, int layer, boolean ov) {
        Config cfg = model.cfg();
        int H = cfg.nHeads, D = cfg.dModel, dh = cfg.dHead;
        int l0 = layer < 0 ? 0 : layer, l1 = layer < 0 ? cfg.nLayers : layer + 1, n = (l1 - l0) * H;
        double[] A = new double[n * D * dh], B = new double[n * dh * D];
        for (int l = l0; l < l1; l++) {
            Heads w = Heads.of(model, l);
            for (int h = 0; h < H; h++) {
                int i = (l - l0) * H + h;
                if (ov) {
                    System.arraycopy(w.wv(h), 0, A, i * D * dh, D * dh);
                    System.arraycopy(w.wo(h), 0, B, i * dh * D, dh * D);
                } else {
                    System.arraycopy(w.wq(h), 0, A, i * D * dh, D * dh);
                    System.arraycopy(Lapack.transpose(w.wk(h), D, dh), 0, B, i * dh * D, dh * D);
                }
            }
        }
        int[] lead = layer < 0 ? new int[] {cfg.nLayers, H} : new int[] {H};
        return new FactoredMatrix(A, B, lead, D, dh, D);
    }

    /**
     * TL's all_composition_scores(mode): [n_layers, n_heads, n_layers, n_heads], entry [l1, h1, l2, h2] the
     * composition of head (l1, h1)'s OV circuit into head (l2, h2)'s query (Q: QK), key (K: QKᵀ) or value (V: OV)
     * side, ‖M₁ M₂‖_F / (‖M₁‖_F ‖M₂‖_F); zero unless l1 < l2, as TL masks it. Flat, row-major.
     */
    public static double[] allCompositionScores(HookedTransformer model, Composition mode) {
        Config cfg = model.cfg();
        int L = cfg.nLayers, H = cfg.nHeads, D = cfg.dModel, dh = cfg.dHead;
        Side[] left = new Side[L * H], right = new Side[L * H];
        for (int l = 0; l < L; l++) {
            Heads w = Heads.of(model, l);
            for (int h = 0; h < H; h++) {
                left[l * H + h] = new Side(w.wv(h), Lapack.transpose(w.wo(h), dh, D), D, dh);
                right[l * H + h] = switch (mode) {
                    case Q -> new Side(w.wq(h), w.wk(h), D, dh);
                    case K -> new Side(w.wk(h), w.wq(h), D, dh);
                    case V -> new Side(w.wv(h), Lapack.transpose(w.wo(h), dh, D), D, dh);
                };
            }
        }
        double[] out = new double[L * H * L * H];
        for (int l1 = 0; l1 < L - 1; l1++)
            for (int h1 = 0; h1 < H; h1++) {
                int i = l1 * H + h1;
                double[] row = scores(left[i], right, (l1 + 1) * H, L * H);
                System.arraycopy(row, 0, out, i * L * H + (l1 + 1) * H, row.length);
            }
        return out;
    }

    /**
     * TL's utils.composition_scores(left, right) with broadcast_dims: [left's matrices, right's matrices], flat;
     * needs left.rdim == right.ldim.
     */
    public static double[] compositionScores(FactoredMatrix left, FactoredMatrix right) {
        if (left.rdim() != right.ldim())
            throw new IllegalArgumentException("Composition scores require left.rdim==right.ldim, shapes were left: "
                    + java.util.Arrays.toString(left.shape()) + ", right: " + java.util.Arrays.toString(right.shape()));
        Side[] rs = new Side[right.batchSize()];
        double[] ra = right.A(), rb = right.B();
        int l = right.ldim(), m = right.mdim(), r = right.rdim();
        for (int j = 0; j < rs.length; j++) rs[j] = new Side(Lapack.slice(ra, j, l * m), Lapack.transpose(Lapack.slice(rb, j, m * r), m, r), l, m);
        double[] la = left.A(), lb = left.B();
        int ll = left.ldim(), lm = left.mdim(), lr = left.rdim();
        double[] out = new double[left.batchSize() * rs.length];
        for (int i = 0; i < left.batchSize(); i++) {
            Side s = new Side(Lapack.slice(la, i, ll * lm), Lapack.transpose(Lapack.slice(lb, i, lm * lr), lm, lr), ll, lm);
            System.arraycopy(scores(s, rs, 0, rs.length), 0, out, i * rs.length, rs.length);
        }
        return out;
    }

    /**
     * One factored matrix M = a @ bᵀ with a [outer, inner] and b [other, inner] (b stored transposed, so both factors'
     * outer dimension comes first) and the Gram matrices that give Frobenius norms in inner-sized work:
     * ‖a X bᵀ‖² = tr(Xᵀ (aᵀa) X (bᵀb)), ‖M‖² = Σ (aᵀa) ⊙ (bᵀb).
     */
    private record Side(double[] a, double[] bt, int outer, int inner, double[] gramA, double[] gramB) {
        Side(double[] a, double[] bt, int outer, int inner) {
            this(a, bt, outer, inner, Lapack.gemm(true, false, inner, inner, outer, a, a),
                    Lapack.gemm(true, false, inner, inner, bt.length / inner, bt, bt));
        }

        double norm() {
            double s = 0;
            for (int i = 0; i < gramA.length; i++) s += gramA[i] * gramB[i];
            return Math.sqrt(Math.max(s, 0));
        }
    }

    /** Scores of one left matrix with right matrices [from, to): X = b_Lᵀ a_R for all of them in one GEMM. */
    private static double[] scores(Side left, Side[] right, int from, int to) {
        int n = to - from;
        double[] out = new double[n];
        if (n == 0) return out;
        int D = right[from].outer(), mL = left.inner(), mR = right[from].inner();
        if (left.bt().length / mL != D) throw new IllegalArgumentException("composition: left's output dimension " + left.bt().length / mL
                + " is not the right's input dimension " + D);
        // stack the right a's as [D, n * mR]
        double[] stack = new double[D * n * mR];
        for (int j = 0; j < n; j++) {
            double[] a = right[from + j].a();
            for (int d = 0; d < D; d++) System.arraycopy(a, d * mR, stack, d * n * mR + j * mR, mR);
        }
        double[] x = Lapack.gemm(true, false, mL, n * mR, D, left.bt(), stack);             // [mL, n*mR]
        double[] y = Lapack.gemm(false, false, mL, n * mR, mL, left.gramA(), x);             // gramA X
        double leftNorm = left.norm();
        double[] xj = new double[mL * mR];
        for (int j = 0; j < n; j++) {
            Side r = right[from + j];
            for (int p = 0; p < mL; p++) System.arraycopy(x, p * n * mR + j * mR, xj, p * mR, mR);
            double[] xg = Lapack.gemm(false, false, mL, mR, mR, xj, r.gramB());              // X gramB
            double s = 0;
            for (int p = 0; p < mL; p++) {
                int row = p * n * mR + j * mR;
                for (int c = 0; c < mR; c++) s += y[row + c] * xg[p * mR + c];
            }
            out[j] = Math.sqrt(Math.max(s, 0)) / leftNorm / r.norm();
        }
        return out;
    }

    /** A layer's per-head factors as row-major doubles; key/value heads mapped to query heads as TL does. */
    private record Heads(float[] q, float[] k, float[] v, float[] o, int D, int dh, int group) {
        static Heads of(HookedTransformer model, int l) {
            Config cfg = model.cfg();
            Weights w = model.weights();
            return new Heads(w.W_Q(l).toFloatArray(), w.W_K(l).toFloatArray(), w.W_V(l).toFloatArray(), w.W_O(l).toFloatArray(),
                    cfg.dModel, cfg.dHead, cfg.nHeads / cfg.nKvHeads());
        }

        double[] wq(int h) { return part(q, h, D * dh); }
        double[] wk(int h) { return part(k, h / group, D * dh); }
        double[] wv(int h) { return part(v, h / group, D * dh); }
        double[] wo(int h) { return part(o, h, dh * D); }

        private static double[] part(float[] x, int i, int n) {
            double[] out = new double[n];
            for (int j = 0; j < n; j++) out[j] = x[i * n + j];
            return out;
        }
    }
}
