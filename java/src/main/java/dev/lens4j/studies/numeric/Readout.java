package dev.lens4j.studies.numeric;

import dev.lens4j.analysis.NeuronScoring.Prompt;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;

import java.util.HashMap;
import java.util.Map;

/**
 * Part II of seed 000: every layer's last-token residual, through ln_final, projected on the unit Yes–No
 * unembedding direction r = (W_U[:, yes] - W_U[:, no]) / |...|: the logit gap <LN(h), r> and the forced-choice
 * accuracy of its sign, per layer and dataset (and by truth for the final layers).
 */
final class Readout {
    /** [layer][prompt] gap. */
    double[][] gap;
    /** [layer][group] accuracy and mean gap. */
    double[][] accuracy, meanGap;
    /** [layer][group][truth: 0 No, 1 Yes] accuracy and mean gap. */
    double[][][] accuracyByTruth, meanGapByTruth;

    static Readout run(HookedTransformer model, Collected c) { // W_U: only the yes / no columns, never all of it
        Config cfg = model.cfg();
        int L = c.layers, D = c.dModel, G = c.groups.size(), n = c.size();
        float[] lnW = model.readWeights(w -> w.has("ln_final.w") ? w.get("ln_final.w").toFloatArray() : null);
        float[] lnB = model.readWeights(w -> w.has("ln_final.b") ? w.get("ln_final.b").toFloatArray() : null);
        YesNoMargin yesNo = c.yesNo != null ? c.yesNo : new YesNoMargin(model);
        Map<Long, double[]> dirs = new HashMap<>();
        Readout r = new Readout();
        r.gap = new double[L][n];
        double[] h = new double[D];
        for (int i = 0; i < n; i++) {
            Prompt p = c.prompts.get(i);
            double[] dir = dirs.computeIfAbsent(((long) p.yes() << 32) | p.no(), k -> direction(yesNo.columns(p.yes(), p.no()), D, 2, 0, 1));
            for (int l = 0; l < L; l++) {
                for (int d = 0; d < D; d++) h[d] = c.resid[l][i * D + d];
                normalize(cfg, h, lnW, lnB);
                double s = 0;
                for (int d = 0; d < D; d++) s += h[d] * dir[d];
                r.gap[l][i] = s;
            }
        }
        r.accuracy = new double[L][G];
        r.meanGap = new double[L][G];
        r.accuracyByTruth = new double[L][G][2];
        r.meanGapByTruth = new double[L][G][2];
        for (int l = 0; l < L; l++) {
            double[][] cnt = new double[G][2], hit = new double[G][2], sum = new double[G][2];
            for (int i = 0; i < n; i++) {
                int g = c.group[i], t = c.truth[i] ? 1 : 0;
                cnt[g][t]++;
                sum[g][t] += r.gap[l][i];
                if ((r.gap[l][i] > 0) == c.truth[i]) hit[g][t]++;
            }
            for (int g = 0; g < G; g++) {
                double all = cnt[g][0] + cnt[g][1];
                r.accuracy[l][g] = (hit[g][0] + hit[g][1]) / all;
                r.meanGap[l][g] = (sum[g][0] + sum[g][1]) / all;
                for (int t = 0; t < 2; t++) {
                    r.accuracyByTruth[l][g][t] = cnt[g][t] == 0 ? Double.NaN : hit[g][t] / cnt[g][t];
                    r.meanGapByTruth[l][g][t] = cnt[g][t] == 0 ? Double.NaN : sum[g][t] / cnt[g][t];
                }
            }
        }
        return r;
    }

    static double[] direction(float[] wU, int D, int V, int yes, int no) {
        double[] r = new double[D];
        double norm = 0;
        for (int d = 0; d < D; d++) { r[d] = (double) wU[d * V + yes] - wU[d * V + no]; norm += r[d] * r[d]; }
        norm = Math.sqrt(norm);
        if (norm > 0) for (int d = 0; d < D; d++) r[d] /= norm;
        return r;
    }

    /** ln_final in place: centre (LayerNorm), divide by the RMS (with eps), then its weight and bias when not folded. */
    static void normalize(Config cfg, double[] h, float[] w, float[] b) {
        if (cfg.normalizationType == null) return;
        int D = h.length;
        if (cfg.isLayerNorm()) {
            double mean = 0;
            for (double v : h) mean += v;
            mean /= D;
            for (int d = 0; d < D; d++) h[d] -= mean;
        }
        double ss = 0;
        for (double v : h) ss += v * v;
        double scale = Math.sqrt(ss / D + cfg.eps);
        for (int d = 0; d < D; d++) {
            h[d] /= scale;
            if (w != null) h[d] *= w[d];
            if (b != null) h[d] += b[d];
        }
    }
}
