package dev.lens4j.studies.numeric;

import dev.lens4j.analysis.Pca;
import dev.lens4j.analysis.Probes;

import java.util.ArrayList;
import java.util.List;

/**
 * Part I of seed 000 on the last-token residual: PCA per dataset (last and second-to-last layer), cross-projection
 * PCA, the Yes–No mean-difference axis per dataset and layer (separation, cosine alignment), and 5-fold logistic
 * probes per layer, per dataset and pooled.
 */
final class Geometry {
    /** PC scores of one dataset at one layer, with the variance each PC explains. */
    record Projection(String group, int layer, double[][] scores, double[] explained, int[] rows) {}

    /** Source dataset's PCA (last layer) applied to a target dataset: PC1/PC2 and the AUC of PC1 for the truth. */
    record Cross(String source, String target, double[][] scores, int[] rows, double pc1Auc) {}

    final List<Projection> pcaLast = new ArrayList<>(), pcaSecondLast = new ArrayList<>();
    final List<Cross> cross = new ArrayList<>();
    /** [layer][group] separation |E[score|Yes] - E[score|No]| (NaN when a group lacks a class). */
    double[][] separation;
    /** [layer][group][d_model] unit axes (zero when undefined). */
    double[][][] axes;
    /** [layer][group][group] cosine of the axes. */
    double[][][] alignment;
    /** [layer][group] cross-validated probe accuracy: per dataset, pooled. */
    double[][] probePerGroup, probePooled, probeAucPerGroup, probeAucPooled;

    static Geometry run(Collected c, NumericOptions o, StudyProgress progress) {
        Geometry g = new Geometry();
        int L = c.layers, G = c.groups.size();
        for (int k = 0; k < G; k++) {
            int[] rows = c.ofGroup(k);
            g.pcaLast.add(pca(c, k, L - 1, rows));
            if (L >= 2) g.pcaSecondLast.add(pca(c, k, L - 2, rows));
        }
        for (int s = 0; s < G; s++) {
            int[] src = c.ofGroup(s);
            if (src.length < 2) continue;
            Pca p = Pca.fit(c.rows(L - 1, src), 2);
            for (int t = 0; t < G; t++) {
                int[] rows = c.ofGroup(t);
                double[][] sc = pad2(p.transform(c.rows(L - 1, rows)));
                double[] pc1 = new double[rows.length];
                for (int i = 0; i < rows.length; i++) pc1[i] = sc[i][0];
                g.cross.add(new Cross(c.groups.get(s), c.groups.get(t), sc, rows, Probes.auc(pc1, c.truthOf(rows))));
            }
        }
        g.separation = new double[L][G];
        g.axes = new double[L][G][];
        g.alignment = new double[L][][];
        for (int l = 0; l < L; l++) {
            List<double[]> dirs = new ArrayList<>();
            for (int k = 0; k < G; k++) {
                int[] rows = c.ofGroup(k);
                boolean[] y = c.truthOf(rows);
                if (bothClasses(y)) {
                    Probes.MeanDifference md = Probes.meanDifference(c.rows(l, rows), y);
                    g.separation[l][k] = md.separation();
                    g.axes[l][k] = md.direction();
                } else {
                    g.separation[l][k] = Double.NaN;
                    g.axes[l][k] = new double[c.dModel];
                }
                dirs.add(g.axes[l][k]);
            }
            g.alignment[l] = Probes.alignment(dirs);
        }
        g.probePerGroup = new double[L][G];
        g.probePooled = new double[L][G];
        g.probeAucPerGroup = new double[L][G];
        g.probeAucPooled = new double[L][G];
        int[] all = c.all();
        progress.start("probes (layers)", L);
        for (int l = 0; l < L; l++) {
            for (double[] r : new double[][] {g.probePerGroup[l], g.probePooled[l], g.probeAucPerGroup[l], g.probeAucPooled[l]})
                java.util.Arrays.fill(r, Double.NaN);
            List<Probes.GroupResult> res = Probes.perGroupAndPooled(c.rows(l, all), c.truth, c.group, c.groups, o.probeFolds, o.probeC, o.seed);
            for (Probes.GroupResult r : res) {
                int k = c.groups.indexOf(r.group());
                g.probePerGroup[l][k] = r.perGroup().accuracy();
                g.probePooled[l][k] = r.pooled().accuracy();
                g.probeAucPerGroup[l][k] = r.perGroup().auc();
                g.probeAucPooled[l][k] = r.pooled().auc();
            }
            progress.update(l + 1);
        }
        return g;
    }

    private static Projection pca(Collected c, int group, int layer, int[] rows) {
        if (rows.length < 2) return new Projection(c.groups.get(group), layer, new double[rows.length][2], new double[] {0, 0}, rows);
        Pca p = Pca.fit(c.rows(layer, rows), 2);
        double[] ex = new double[2];
        for (int k = 0; k < Math.min(2, p.nComponents()); k++) ex[k] = p.explainedVarianceRatio()[k];
        return new Projection(c.groups.get(group), layer, pad2(p.transform(c.rows(layer, rows))), ex, rows);
    }

    /** Scores with at least 2 columns (a PCA of collinear points keeps one component). */
    private static double[][] pad2(double[][] s) {
        double[][] out = new double[s.length][2];
        for (int i = 0; i < s.length; i++) for (int k = 0; k < Math.min(2, s[i].length); k++) out[i][k] = s[i][k];
        return out;
    }

    static boolean bothClasses(boolean[] y) {
        boolean t = false, f = false;
        for (boolean v : y) if (v) t = true; else f = true;
        return t && f;
    }
}
