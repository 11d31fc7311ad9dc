package dev.lens4j.analysis;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Probes on activations: any [n, d] matrix (typically one hook point at one position over a prompt set) with a
 * binary label per row. Seed 000's "cheap probe" (the Yes–No mean-difference axis and its separation, Appendix B),
 * cosine alignment between groups' axes, and L2-regularised logistic regression with stratified k-fold
 * cross-validation (accuracy and AUC), per group and pooled.
 */
public final class Probes {
    private Probes() {}

    // ---------------------------------------------------------------- mean difference

    /**
     * The mean-difference probe: delta = mean(x | y) - mean(x | !y), w = delta / |delta|, score(h) = h . w, and the
     * separation |E[score | y] - E[score | !y]| (which equals |delta|).
     */
    public record MeanDifference(double[] delta, double[] direction, double separation, double[] scores) {}

    public static MeanDifference meanDifference(double[][] x, boolean[] y) {
        int n = check(x, y), d = x[0].length;
        double[] pos = new double[d], neg = new double[d];
        int np = 0, nn = 0;
        for (int i = 0; i < n; i++) {
            double[] acc = y[i] ? pos : neg;
            for (int j = 0; j < d; j++) acc[j] += x[i][j];
            if (y[i]) np++; else nn++;
        }
        if (np == 0 || nn == 0) throw new IllegalArgumentException("mean difference needs both classes (" + np + " positive, " + nn + " negative)");
        double[] delta = new double[d];
        for (int j = 0; j < d; j++) delta[j] = pos[j] / np - neg[j] / nn;
        double norm = Math.sqrt(dot(delta, delta));
        double[] w = new double[d];
        if (norm > 0) for (int j = 0; j < d; j++) w[j] = delta[j] / norm;
        double[] scores = new double[n];
        double sp = 0, sn = 0;
        for (int i = 0; i < n; i++) {
            scores[i] = dot(x[i], w);
            if (y[i]) sp += scores[i]; else sn += scores[i];
        }
        return new MeanDifference(delta, w, Math.abs(sp / np - sn / nn), scores);
    }

    /** Cosine similarity (0 when either vector is zero). */
    public static double cosine(double[] a, double[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("vectors of " + a.length + " and " + b.length);
        double na = Math.sqrt(dot(a, a)), nb = Math.sqrt(dot(b, b));
        return na == 0 || nb == 0 ? 0 : dot(a, b) / (na * nb);
    }

    /** The matrix of cosine similarities between directions (e.g. each group's mean-difference axis at one layer). */
    public static double[][] alignment(List<double[]> directions) {
        int k = directions.size();
        double[][] m = new double[k][k];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) m[i][j] = cosine(directions.get(i), directions.get(j));
        return m;
    }

    // ---------------------------------------------------------------- logistic regression

    /** A fitted logistic regression: P(y) = sigmoid(x . w + b). */
    public record Logistic(double[] weights, double intercept, int iterations) {
        public double logit(double[] x) { return dot(x, weights) + intercept; }
        public double probability(double[] x) { return 1 / (1 + Math.exp(-logit(x))); }
        public boolean predict(double[] x) { return logit(x) > 0; }
    }

    /**
     * L2-regularised logistic regression, scikit-learn's objective: C * sum_i logloss_i + |w|^2 / 2 (intercept not
     * penalised), minimised by L-BFGS to a gradient norm of {@code tol}. Strictly convex, so the optimum is unique.
     */
    public static Logistic fitLogistic(double[][] x, boolean[] y, double c, double tol, int maxIter) {
        int n = check(x, y), d = x[0].length;
        if (!(c > 0) || Double.isInfinite(c)) throw new IllegalArgumentException("C must be finite and > 0, got " + c);
        double[] theta = new double[d + 1]; // weights then intercept
        Objective f = t -> {
            double[] g = new double[d + 1];
            double loss = 0;
            for (int j = 0; j < d; j++) { loss += 0.5 * t[j] * t[j]; g[j] = t[j]; }
            for (int i = 0; i < n; i++) {
                double z = t[d];
                for (int j = 0; j < d; j++) z += x[i][j] * t[j];
                double s = y[i] ? 1 : -1, m = s * z;
                loss += c * (m > 0 ? Math.log1p(Math.exp(-m)) : -m + Math.log1p(Math.exp(m)));
                double coef = -c * s / (1 + Math.exp(m)); // d loss / d z
                for (int j = 0; j < d; j++) g[j] += coef * x[i][j];
                g[d] += coef;
            }
            return new double[][] {{loss}, g};
        };
        int iters = lbfgs(f, theta, tol, maxIter);
        return new Logistic(Arrays.copyOf(theta, d), theta[d], iters);
    }

    public static Logistic fitLogistic(double[][] x, boolean[] y, double c) { return fitLogistic(x, y, c, 1e-6, 1000); }

    /** Area under the ROC curve of scores for labels (ties count a half), via the rank-sum statistic. */
    public static double auc(double[] scores, boolean[] y) {
        int n = scores.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Double.compare(scores[a], scores[b]));
        double[] rank = new double[n];
        for (int i = 0; i < n; ) {
            int j = i;
            while (j + 1 < n && scores[order[j + 1]] == scores[order[i]]) j++;
            for (int k = i; k <= j; k++) rank[order[k]] = (i + j) / 2.0 + 1;
            i = j + 1;
        }
        long np = 0, nn = 0;
        double sum = 0;
        for (int i = 0; i < n; i++) if (y[i]) { np++; sum += rank[i]; } else nn++;
        if (np == 0 || nn == 0) return Double.NaN;
        return (sum - np * (np + 1) / 2.0) / ((double) np * nn);
    }

    /**
     * Stratified k folds: the rows of each stratum (label, or label within group) shuffled with the seed and dealt
     * round-robin, so every fold holds about 1/k of each stratum. Returns the fold of each row.
     */
    public static int[] stratifiedFolds(boolean[] y, int[] groups, int k, long seed) {
        int n = y.length;
        if (k < 2) throw new IllegalArgumentException("k-fold cross-validation needs k >= 2, got " + k);
        if (groups != null && groups.length != n) throw new IllegalArgumentException(groups.length + " groups for " + n + " rows");
        java.util.Map<Long, List<Integer>> strata = new java.util.TreeMap<>();
        for (int i = 0; i < n; i++) strata.computeIfAbsent((groups == null ? 0L : groups[i]) * 2 + (y[i] ? 1 : 0), s -> new ArrayList<>()).add(i);
        int[] fold = new int[n];
        Random r = new Random(seed);
        int offset = 0;
        for (List<Integer> rows : strata.values()) {
            java.util.Collections.shuffle(rows, r);
            for (int i = 0; i < rows.size(); i++) fold[rows.get(i)] = (offset + i) % k;
            offset += rows.size(); // continue the deal so small strata do not all start at fold 0
        }
        return fold;
    }

    /** Cross-validated accuracy and AUC (means over the folds, and each fold's). */
    public record CrossValidation(double accuracy, double auc, double[] foldAccuracy, double[] foldAuc) {}

    /** k-fold cross-validated logistic regression on (x, y), folds stratified by label. */
    public static CrossValidation crossValidate(double[][] x, boolean[] y, int k, double c, long seed) {
        int[] fold = stratifiedFolds(y, null, k, seed);
        return crossValidate(x, y, fold, k, c, null, -1);
    }

    /**
     * Per group and pooled probes on the same folds (stratified by group and label): for each group, a probe trained
     * on that group's training rows and one trained on every group's training rows (pooled), both scored on the
     * group's held-out rows. Seed 000's "pooled minus per-dataset" comparison.
     */
    public record GroupResult(String group, CrossValidation perGroup, CrossValidation pooled) {
        public double pooledMinusPerGroup() { return pooled.accuracy() - perGroup.accuracy(); }
    }

    public static List<GroupResult> perGroupAndPooled(double[][] x, boolean[] y, int[] groups, List<String> groupNames,
                                                      int k, double c, long seed) {
        int n = check(x, y);
        if (groups.length != n) throw new IllegalArgumentException(groups.length + " groups for " + n + " rows");
        int[] fold = stratifiedFolds(y, groups, k, seed);
        // the pooled probe of fold f is the same for every group (trained on all groups' rows outside f): fit it once
        double[] pooledLogit = new double[n];
        for (int f = 0; f < k; f++) {
            final int ff = f;
            int[] tr = java.util.stream.IntStream.range(0, n).filter(i -> fold[i] != ff).toArray();
            if (tr.length == n) continue;
            boolean[] ty = new boolean[tr.length];
            for (int i = 0; i < tr.length; i++) ty[i] = y[tr[i]];
            Logistic m = fitLogistic(java.util.Arrays.stream(tr).mapToObj(i -> x[i]).toArray(double[][]::new), ty, c);
            for (int i = 0; i < n; i++) if (fold[i] == f) pooledLogit[i] = m.logit(x[i]);
        }
        List<GroupResult> out = new ArrayList<>();
        for (int g = 0; g < groupNames.size(); g++) {
            final int gg = g;
            int[] rows = java.util.stream.IntStream.range(0, n).filter(i -> groups[i] == gg).toArray();
            if (rows.length == 0) continue;
            double[][] gx = new double[rows.length][];
            boolean[] gy = new boolean[rows.length];
            int[] gf = new int[rows.length];
            for (int i = 0; i < rows.length; i++) { gx[i] = x[rows[i]]; gy[i] = y[rows[i]]; gf[i] = fold[rows[i]]; }
            CrossValidation own = crossValidate(gx, gy, gf, k, c, null, -1);
            CrossValidation pooled = fromLogits(pooledLogit, y, fold, k, rows);
            out.add(new GroupResult(groupNames.get(g), own, pooled));
        }
        return out;
    }

    /** Accuracy and AUC per fold of held-out logits, over the given rows (folds without rows are skipped). */
    private static CrossValidation fromLogits(double[] logit, boolean[] y, int[] fold, int k, int[] rows) {
        double[] acc = new double[k], auc = new double[k];
        int used = 0;
        for (int f = 0; f < k; f++) {
            final int ff = f;
            int[] te = Arrays.stream(rows).filter(i -> fold[i] == ff).toArray();
            if (te.length == 0) continue;
            double[] s = new double[te.length];
            boolean[] sy = new boolean[te.length];
            int correct = 0;
            for (int i = 0; i < te.length; i++) {
                s[i] = logit[te[i]];
                sy[i] = y[te[i]];
                if ((s[i] > 0) == sy[i]) correct++;
            }
            acc[used] = (double) correct / te.length;
            auc[used] = auc(s, sy);
            used++;
        }
        double[] a = Arrays.copyOf(acc, used), u = Arrays.copyOf(auc, used);
        return new CrossValidation(mean(a), mean(Arrays.stream(u).filter(v -> !Double.isNaN(v)).toArray()), a, u);
    }

    /** Train on folds != f, test on fold f (restricted to `testGroup` when >= 0). */
    private static CrossValidation crossValidate(double[][] x, boolean[] y, int[] fold, int k, double c, int[] groups, int testGroup) {
        int n = y.length;
        int[] rows = java.util.stream.IntStream.range(0, n).filter(i -> testGroup < 0 || groups[i] == testGroup).toArray();
        double[] logit = new double[n];
        for (int f = 0; f < k; f++) {
            final int ff = f;
            if (Arrays.stream(rows).noneMatch(i -> fold[i] == ff)) continue;
            int[] tr = java.util.stream.IntStream.range(0, n).filter(i -> fold[i] != ff).toArray();
            boolean[] ty = new boolean[tr.length];
            for (int i = 0; i < tr.length; i++) ty[i] = y[tr[i]];
            Logistic m = fitLogistic(Arrays.stream(tr).mapToObj(i -> x[i]).toArray(double[][]::new), ty, c);
            for (int i : rows) if (fold[i] == f) logit[i] = m.logit(x[i]);
        }
        return fromLogits(logit, y, fold, k, rows);
    }

    // ---------------------------------------------------------------- L-BFGS

    private interface Objective { double[][] eval(double[] theta); } // {{value}, gradient}

    /** Limited-memory BFGS with a backtracking Armijo line search; returns the iterations used. */
    private static int lbfgs(Objective f, double[] x, double tol, int maxIter) {
        int m = 10, d = x.length;
        double[][] sHist = new double[m][], yHist = new double[m][];
        double[] rho = new double[m];
        int stored = 0, head = 0;
        double[][] fg = f.eval(x);
        double fx = fg[0][0];
        double[] g = fg[1];
        for (int it = 0; it < maxIter; it++) {
            if (norm(g) <= tol) return it;
            // two-loop recursion: direction = -H g
            double[] q = g.clone(), alpha = new double[m];
            for (int i = 0; i < stored; i++) {
                int j = Math.floorMod(head - 1 - i, m);
                alpha[j] = rho[j] * dot(sHist[j], q);
                axpy(-alpha[j], yHist[j], q);
            }
            if (stored > 0) {
                int j = Math.floorMod(head - 1, m);
                double gamma = dot(sHist[j], yHist[j]) / dot(yHist[j], yHist[j]);
                for (int i = 0; i < d; i++) q[i] *= gamma;
            } else {
                double s = 1 / Math.max(1, norm(g));
                for (int i = 0; i < d; i++) q[i] *= s;
            }
            for (int i = stored - 1; i >= 0; i--) {
                int j = Math.floorMod(head - 1 - i, m);
                double beta = rho[j] * dot(yHist[j], q);
                axpy(alpha[j] - beta, sHist[j], q);
            }
            for (int i = 0; i < d; i++) q[i] = -q[i];
            double slope = dot(g, q);
            if (slope >= 0) { // not a descent direction: restart from steepest descent
                for (int i = 0; i < d; i++) q[i] = -g[i];
                slope = dot(g, q);
                stored = 0;
            }
            double step = 1, fNew;
            double[] xNew = new double[d], gNew;
            while (true) {
                for (int i = 0; i < d; i++) xNew[i] = x[i] + step * q[i];
                double[][] r = f.eval(xNew);
                fNew = r[0][0];
                gNew = r[1];
                if (fNew <= fx + 1e-4 * step * slope || step < 1e-12) break;
                step *= 0.5;
            }
            double[] s = new double[d], yv = new double[d];
            for (int i = 0; i < d; i++) { s[i] = xNew[i] - x[i]; yv[i] = gNew[i] - g[i]; }
            double sy = dot(s, yv);
            if (sy > 1e-12) {
                sHist[head] = s; yHist[head] = yv; rho[head] = 1 / sy;
                head = (head + 1) % m;
                stored = Math.min(stored + 1, m);
            }
            System.arraycopy(xNew, 0, x, 0, d);
            if (Math.abs(fx - fNew) <= 1e-15 * Math.max(1, Math.abs(fx)) && norm(gNew) <= tol * 100) { fx = fNew; g = gNew; return it + 1; }
            fx = fNew;
            g = gNew;
        }
        return maxIter;
    }

    // ---------------------------------------------------------------- helpers

    private static int check(double[][] x, boolean[] y) {
        if (x == null || x.length == 0) throw new IllegalArgumentException("no rows");
        if (y.length != x.length) throw new IllegalArgumentException(x.length + " rows but " + y.length + " labels");
        int d = x[0].length;
        for (double[] r : x) {
            if (r.length != d) throw new IllegalArgumentException("rows of different lengths (" + d + " and " + r.length + ")");
            for (double v : r) if (!Double.isFinite(v)) throw new IllegalArgumentException("non-finite value in the activations");
        }
        return x.length;
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    private static double norm(double[] a) { return Math.sqrt(dot(a, a)); }

    private static void axpy(double a, double[] x, double[] y) { for (int i = 0; i < y.length; i++) y[i] += a * x[i]; }

    private static double mean(double[] a) {
        if (a.length == 0) return Double.NaN;
        double s = 0;
        for (double v : a) s += v;
        return s / a.length;
    }
}
