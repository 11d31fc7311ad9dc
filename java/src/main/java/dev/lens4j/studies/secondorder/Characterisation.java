package dev.lens4j.studies.secondorder;

import dev.lens4j.analysis.FactoredPca;
import dev.lens4j.analysis.OrthogonalMatchingPursuit;
import dev.lens4j.analysis.SecondOrderEffects;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;


/**
 * Seed 002's phase 3 and 4 on the computed effects: sparsity, layer concentration, rank-1 structure (PC1 of each
 * neuron's vector effect over the train problems), validation accuracy with effects replaced by their rank-1
 * approximation or their mean, and each principal direction sparsely coded over the concept dictionary.
 */
final class Characterisation {
    /** Share of Σ_x Σ_n |φ| per layer. */
    final double[] layerShare;
    final double selectedShare;
    /** [li][n]: share of problems where neuron n's |φ| exceeds significance × the problem's Σ|φ|. */
    final double[][] sparsity;
    /** [l][n]: mean |φ| over problems. */
    final double[][] meanAbsPhi;
    /** [li][s]: PC1 explained variance ratio of the rank-1 neurons; principal directions [li][s][d_model]. */
    final double[][] pc1;
    final double[][][] principal;
    final OrthogonalMatchingPursuit.Result[][] omp;
    final boolean[][] polysemantic;
    /** Validation first-token accuracy: clean (through the final residual), rank-1, second-order mean-ablated. */
    final double accClean, accRank1, accMeanSecondOrder;

    Characterisation(HookedTransformer model, SecondOrderEffects so, SecondOrderOptions o, ProblemBatches data, CleanPass clean,
                     SecondOrderPass pass, int[] layers, int[][] neurons, double[][] atoms, java.util.function.IntConsumer progress) {
        var cfg = model.cfg();
        int n = data.size(), L = cfg.nLayers, dMlp = cfg.dMlp, d = cfg.dModel;
        double[] tot = new double[n];
        layerShare = new double[L];
        meanAbsPhi = new double[L][dMlp];
        double all = 0;
        for (int l = 0; l < L; l++)
            for (int x = 0; x < n; x++)
                for (int j = 0; j < dMlp; j++) {
                    double a = Math.abs(pass.phi[l][x * dMlp + j]);
                    tot[x] += a; layerShare[l] += a; meanAbsPhi[l][j] += a / n;
                }
        for (double v : layerShare) all += v;
        double sel = 0;
        for (int l = 0; l < L; l++) layerShare[l] = all > 0 ? layerShare[l] / all : Double.NaN;
        for (int l : layers) sel += layerShare[l];
        selectedShare = sel;

        sparsity = new double[layers.length][dMlp];
        for (int li = 0; li < layers.length; li++)
            for (int x = 0; x < n; x++) {
                double thr = o.significance * tot[x];
                if (thr <= 0) continue;
                for (int j = 0; j < dMlp; j++) if (Math.abs(pass.phi[layers[li]][x * dMlp + j]) > thr) sparsity[li][j] += 1.0 / n;
            }

        boolean[] train = new boolean[n];
        int nTrain = 0;
        for (int x = 0; x < n; x++) if (train[x] = data.problems.get(x).train()) nTrain++;
        int[] val = new int[n - nTrain];
        for (int x = 0, v = 0; x < n; x++) if (!train[x]) val[v++] = x;
        double[][] dRank1 = new double[val.length][d], dMean = new double[val.length][d];
        pc1 = new double[layers.length][];
        principal = new double[layers.length][][];
        omp = new OrthogonalMatchingPursuit.Result[layers.length][];
        polysemantic = new boolean[layers.length][];
        for (int li = 0; li < layers.length; li++) {
            int s = neurons[li].length, k = so.laterHeads(layers[li]);
            double[][][] r = so.headVectors(model, layers[li], neurons[li]);
            pc1[li] = new double[s];
            principal[li] = new double[s][];
            omp[li] = new OrthogonalMatchingPursuit.Result[s];
            polysemantic[li] = new boolean[s];
            float[] mix = pass.mixing[li];
            for (int si = 0; si < s; si++) {
                double[][] m = new double[nTrain][k];
                for (int x = 0, t = 0; x < n; x++) {
                    if (!train[x]) continue;
                    for (int c = 0; c < k; c++) m[t][c] = mix[(x * s + si) * k + c];
                    t++;
                }
                FactoredPca p = FactoredPca.fit(m, r[si]);
                pc1[li][si] = p.explainedVarianceRatio();
                principal[li][si] = p.direction();
                for (int v = 0; v < val.length; v++) {
                    int x = val[v];
                    double score = 0;
                    double[] dev = new double[k];
                    for (int c = 0; c < k; c++) { dev[c] = mix[(x * s + si) * k + c] - p.meanCoefficients()[c]; score += dev[c] * p.projector()[c]; }
                    for (int c = 0; c < k; c++) {
                        double w = dev[c];
                        if (w == 0) continue;
                        double[] rc = r[si][c];
                        for (int e = 0; e < d; e++) { dRank1[v][e] -= w * rc[e]; dMean[v][e] -= w * rc[e]; }
                    }
                    for (int e = 0; e < d; e++) dRank1[v][e] += score * p.direction()[e];
                }
                if (Double.isNaN(p.explainedVarianceRatio())) continue;
                omp[li][si] = OrthogonalMatchingPursuit.fit(p.direction(), atoms, Math.min(o.ompAtoms, atoms.length));
                polysemantic[li][si] = strongConcepts(omp[li][si], p.direction(), atoms) >= 2;
            }
            progress.accept(li + 1);
        }
        accClean = accuracy(model, data, clean, val, null);
        accRank1 = accuracy(model, data, clean, val, dRank1);
        accMeanSecondOrder = accuracy(model, data, clean, val, dMean);
    }

    /** A concept counts as strong when it alone explains at least this share of the direction (cos² ≥ 0.1). */
    static final double STRONG_COS2 = 0.1;

    /** Chosen concepts that are strong for the direction: polysemantic neurons have at least two. */
    static int strongConcepts(OrthogonalMatchingPursuit.Result r, double[] direction, double[][] atoms) {
        if (r == null) return 0;
        int k = 0;
        for (int a : r.support()) {
            double dot = 0, na = 0, nd = 0;
            for (int e = 0; e < direction.length; e++) { dot += direction[e] * atoms[a][e]; na += atoms[a][e] * atoms[a][e]; nd += direction[e] * direction[e]; }
            if (na > 0 && nd > 0 && dot * dot / (na * nd) >= STRONG_COS2) k++;
        }
        return k;
    }

    /** First-token accuracy on the given problems from their final residual plus delta, through ln_final and W_U. */
    static double accuracy(HookedTransformer model, ProblemBatches data, CleanPass clean, int[] rows, double[][] delta) {
        int d = model.cfg().dModel, hit = 0;
        for (int start = 0; start < rows.length; start += 256) {
            int b = Math.min(256, rows.length - start);
            float[] resid = new float[b * d];
            for (int i = 0; i < b; i++)
                for (int e = 0; e < d; e++)
                    resid[i * d + e] = (float) (clean.finalResid[rows[start + i]][e] + (delta == null ? 0 : delta[start + i][e]));
            try (Tensor r = Tensor.of(resid, b, 1, d);
                 var out = model.run((int[][]) null, new HookedTransformer.RunOptions().startAtLayer(model.cfg().nLayers, r))) {
                float[] lg = out.logits().toFloatArray();
                int v = (int) out.logits().size(2);
                for (int i = 0; i < b; i++)
                    if (CleanPass.argmax(lg, i * v, v) == data.answers[rows[start + i]][0]) hit++;
            }
        }
        return rows.length == 0 ? Double.NaN : (double) hit / rows.length;
    }
}
