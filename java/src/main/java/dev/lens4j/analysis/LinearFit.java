package dev.lens4j.analysis;

/**
 * Least-squares fits of a response against a few named regressors with an intercept, as the grokking seed does to
 * explain an ablated model's predictions: y ~ a·x + b, y ~ a·x1 + b·x2 + c, or any [n, k] feature matrix (e.g.
 * [a+b, a², b²]). R² and MSE are in-sample.
 */
public record LinearFit(double[] coefficients, double intercept, double r2, double mse) {

    /** y ~ a·x + b. */
    public static LinearFit simple(double[] x, double[] y) {
        return multiple(columns(x), y);
    }

    /** y ~ a·x1 + b·x2 + c. */
    public static LinearFit of(double[] x1, double[] x2, double[] y) {
        if (x1.length != x2.length) throw new IllegalArgumentException("x1 has " + x1.length + " values, x2 has " + x2.length);
        return multiple(columns(x1, x2), y);
    }

    /** y ~ features · coefficients + intercept, features [n, k]. */
    public static LinearFit multiple(double[][] features, double[] y) {
        LinearProbe p = LinearProbe.fit(features, y, 0);
        double[] pred = p.predict(features);
        return new LinearFit(p.weights(), p.intercept(), LinearProbe.r2(y, pred), LinearProbe.mse(y, pred));
    }

    /** The coefficient of a simple fit (its only regressor). */
    public double slope() {
        if (coefficients.length != 1) throw new IllegalStateException("slope() is for a one-regressor fit; this one has " + coefficients.length);
        return coefficients[0];
    }

    public double predict(double... x) {
        if (x.length != coefficients.length) throw new IllegalArgumentException("expected " + coefficients.length + " regressors, got " + x.length);
        return Mat.dot(coefficients, x) + intercept;
    }

    /** y − fitted, for residual plots. */
    public double[] residuals(double[][] features, double[] y) {
        double[] r = new double[y.length];
        for (int i = 0; i < y.length; i++) r[i] = y[i] - predict(features[i]);
        return r;
    }

    /** Stacks equal-length vectors as the columns of an [n, k] matrix. */
    public static double[][] columns(double[]... cols) {
        int n = cols[0].length;
        double[][] m = new double[n][cols.length];
        for (int j = 0; j < cols.length; j++) {
            if (cols[j].length != n) throw new IllegalArgumentException("column " + j + " has " + cols[j].length + " values, expected " + n);
            for (int i = 0; i < n; i++) m[i][j] = cols[j][i];
        }
        return m;
    }
}
