package dev.lens4j.analysis;

import java.util.Random;

/**
 * A linear probe: ridge / least-squares regression from features [n, d] (activations at a hook point) to a scalar
 * target [n] (e.g. a+b), with an unpenalised intercept. Solved through the normal equations on centred data,
 * (XcᵀXc + λI) w = Xcᵀ yc, by Cholesky; b = ȳ − x̄·w. Use λ &gt; 0 when d is close to or above the number of
 * training samples (λ = 0 then fails loudly rather than returning an arbitrary solution).
 */
public final class LinearProbe {
    private final double[] weights;
    private final double intercept;
    private final double lambda;

    private LinearProbe(double[] weights, double intercept, double lambda) {
        this.weights = weights;
        this.intercept = intercept;
        this.lambda = lambda;
    }

    /** Train / test row indices. */
    public record Split(int[] train, int[] test) {}

    /** How a probe fitted on the train split does on the held-out split. */
    public record Evaluation(LinearProbe probe, double r2, double mse, double baselineMse, double trainR2,
                             double[] testTargets, double[] testPredictions) {
        /** How much better than predicting the training mean: 1 − mse / baselineMse. */
        public double improvementOverBaseline() { return 1 - mse / baselineMse; }
    }

    /** Ordinary least squares (λ = 0). */
    public static LinearProbe fit(double[][] x, double[] y) { return fit(x, y, 0); }

    /** Ridge regression with penalty {@code lambda} on the weights (not the intercept). */
    public static LinearProbe fit(double[][] x, double[] y, double lambda) {
        int n = Mat.rows(x), d = Mat.cols(x);
        if (y.length != n) throw new IllegalArgumentException("x has " + n + " rows, y has " + y.length);
        if (!(lambda >= 0) || Double.isInfinite(lambda)) throw new IllegalArgumentException("lambda must be finite and >= 0, got " + lambda);
        Mat.requireFinite(x, "x");
        Mat.requireFinite(y, "y");
        double[] mx = new double[d];
        for (double[] row : x) for (int j = 0; j < d; j++) mx[j] += row[j];
        for (int j = 0; j < d; j++) mx[j] /= n;
        double my = Stats.mean(y);
        double[][] xc = new double[n][d];
        double[] xty = new double[d];
        for (int i = 0; i < n; i++) {
            double yc = y[i] - my;
            for (int j = 0; j < d; j++) {
                xc[i][j] = x[i][j] - mx[j];
                xty[j] += xc[i][j] * yc;
            }
        }
        double[][] a = Linalg.gramCols(xc);
        for (int j = 0; j < d; j++) a[j][j] += lambda;
        double[] w = Linalg.choleskySolve(a, xty);
        return new LinearProbe(w, my - Mat.dot(mx, w), lambda);
    }

    /** A seeded random split: {@code round(n · trainFraction)} rows train, the rest test, both non-empty. */
    public static Split split(int n, double trainFraction, long seed) {
        if (n < 2) throw new IllegalArgumentException("need at least 2 rows to split, got " + n);
        if (!(trainFraction > 0 && trainFraction < 1)) throw new IllegalArgumentException("trainFraction must be in (0, 1), got " + trainFraction);
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        Random rng = new Random(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
        }
        int nTrain = (int) Math.max(1, Math.min(n - 1, Math.round(n * trainFraction)));
        int[] train = new int[nTrain], test = new int[n - nTrain];
        System.arraycopy(perm, 0, train, 0, nTrain);
        System.arraycopy(perm, nTrain, test, 0, n - nTrain);
        return new Split(train, test);
    }

    /** Fits on {@code split.train()} and scores on {@code split.test()}; the baseline predicts the training mean. */
    public static Evaluation trainTest(double[][] x, double[] y, Split split, double lambda) {
        double[][] xTrain = Mat.rows(x, split.train()), xTest = Mat.rows(x, split.test());
        double[] yTrain = Mat.select(y, split.train()), yTest = Mat.select(y, split.test());
        LinearProbe probe = fit(xTrain, yTrain, lambda);
        double[] pred = probe.predict(xTest);
        double trainMean = Stats.mean(yTrain);
        double[] baseline = new double[yTest.length];
        java.util.Arrays.fill(baseline, trainMean);
        return new Evaluation(probe, r2(yTest, pred), mse(yTest, pred), mse(yTest, baseline),
                r2(yTrain, probe.predict(xTrain)), yTest, pred);
    }

    /** Convenience: seeded split, then {@link #trainTest}. */
    public static Evaluation trainTest(double[][] x, double[] y, double trainFraction, long seed, double lambda) {
        return trainTest(x, y, split(x.length, trainFraction, seed), lambda);
    }

    public double predict(double[] features) {
        if (features.length != weights.length) throw new IllegalArgumentException("expected " + weights.length + " features, got " + features.length);
        return Mat.dot(weights, features) + intercept;
    }

    public double[] predict(double[][] x) {
        double[] p = new double[x.length];
        for (int i = 0; i < x.length; i++) p[i] = predict(x[i]);
        return p;
    }

    public double[] weights() { return weights.clone(); }

    public double intercept() { return intercept; }

    public double lambda() { return lambda; }

    /** Mean squared error. */
    public static double mse(double[] y, double[] pred) {
        if (y.length != pred.length) throw new IllegalArgumentException("length " + y.length + " vs " + pred.length);
        double s = 0;
        for (int i = 0; i < y.length; i++) s += (y[i] - pred[i]) * (y[i] - pred[i]);
        return s / y.length;
    }

    /**
     * Coefficient of determination 1 − SS_res / SS_tot against y's own mean (sklearn's r2_score); NaN when y is
     * constant, since then no fit can explain any variance.
     */
    public static double r2(double[] y, double[] pred) {
        double my = Stats.mean(y), ssTot = 0, ssRes = 0;
        for (int i = 0; i < y.length; i++) {
            ssTot += (y[i] - my) * (y[i] - my);
            ssRes += (y[i] - pred[i]) * (y[i] - pred[i]);
        }
        return ssTot == 0 ? Double.NaN : 1 - ssRes / ssTot;
    }
}
