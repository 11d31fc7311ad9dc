package dev.lens4j.analysis;

import java.util.Arrays;
import java.util.Comparator;

/** Descriptive statistics over double[] (use {@link Mat#toDouble(float[])} for tensor data). */
public final class Stats {
    private Stats() {}

    /** Histogram bins: {@code counts[i]} values fell in [edges[i], edges[i+1]) (the last bin includes its right edge). */
    public record Bins(double[] edges, int[] counts) {
        public int total() { return Arrays.stream(counts).sum(); }
        public double[] centres() {
            double[] c = new double[counts.length];
            for (int i = 0; i < c.length; i++) c[i] = 0.5 * (edges[i] + edges[i + 1]);
            return c;
        }
    }

    public static double mean(double[] x) {
        if (x.length == 0) throw new IllegalArgumentException("mean of no values");
        double s = 0;
        for (double v : x) s += v;
        return s / x.length;
    }

    /** Population variance (denominator n), as numpy's default. */
    public static double variance(double[] x) {
        double m = mean(x), s = 0;
        for (double v : x) s += (v - m) * (v - m);
        return s / x.length;
    }

    /** Sample variance (denominator n − 1). */
    public static double sampleVariance(double[] x) {
        if (x.length < 2) throw new IllegalArgumentException("sample variance needs 2 values, got " + x.length);
        return variance(x) * x.length / (x.length - 1);
    }

    public static double std(double[] x) { return Math.sqrt(variance(x)); }

    public static double min(double[] x) { return Arrays.stream(x).min().orElseThrow(); }

    public static double max(double[] x) { return Arrays.stream(x).max().orElseThrow(); }

    /** Pearson correlation; NaN when either vector is constant (the correlation is undefined). */
    public static double pearson(double[] x, double[] y) {
        if (x.length != y.length) throw new IllegalArgumentException("length " + x.length + " vs " + y.length);
        if (x.length < 2) throw new IllegalArgumentException("correlation needs 2 values, got " + x.length);
        double mx = mean(x), my = mean(y), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.length; i++) {
            double dx = x[i] - mx, dy = y[i] - my;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        if (sxx == 0 || syy == 0) return Double.NaN;
        return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
    }

    /**
     * Correlation of each column of m [n, d] with y [n] (e.g. every neuron's activation against a+b), [d].
     * Constant columns (dead neurons) give 0, as the grokking seed's {@code np.nan_to_num} does, so the result
     * can be sorted, plotted and written to JSON.
     */
    public static double[] pearsonColumns(double[][] m, double[] y) {
        int n = Mat.rows(m), d = Mat.cols(m);
        if (y.length != n) throw new IllegalArgumentException("matrix has " + n + " rows, target has " + y.length);
        double my = mean(y), syy = 0;
        double[] dy = new double[n];
        for (int i = 0; i < n; i++) { dy[i] = y[i] - my; syy += dy[i] * dy[i]; }
        double[] mx = new double[d], sxy = new double[d], sxx = new double[d];
        for (double[] row : m) for (int j = 0; j < d; j++) mx[j] += row[j];
        for (int j = 0; j < d; j++) mx[j] /= n;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                double dx = m[i][j] - mx[j];
                sxy[j] += dx * dy[i];
                sxx[j] += dx * dx;
            }
        }
        double[] r = new double[d];
        for (int j = 0; j < d; j++) {
            r[j] = (sxx[j] == 0 || syy == 0) ? 0 : Math.max(-1, Math.min(1, sxy[j] / Math.sqrt(sxx[j] * syy)));
        }
        return r;
    }

    /** Equal-width histogram over [min, max] of the finite values (NaN and ±inf are skipped). */
    public static Bins histogram(double[] x, int bins) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (double v : x) if (Double.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
        if (lo > hi) { lo = 0; hi = 1; }
        if (lo == hi) { lo -= 0.5; hi += 0.5; } // one distinct value: a unit-wide bin around it
        return histogram(x, bins, lo, hi);
    }

    /** Equal-width histogram over [lo, hi]; values outside the range are not counted. */
    public static Bins histogram(double[] x, int bins, double lo, double hi) {
        if (bins < 1) throw new IllegalArgumentException("bins must be >= 1, got " + bins);
        if (!(hi > lo) || !Double.isFinite(lo) || !Double.isFinite(hi))
            throw new IllegalArgumentException("histogram range [" + lo + ", " + hi + "] is empty");
        double[] edges = new double[bins + 1];
        for (int i = 0; i <= bins; i++) edges[i] = lo + (hi - lo) * i / bins;
        int[] counts = new int[bins];
        for (double v : x) {
            if (!(v >= lo && v <= hi)) continue;
            int b = (int) ((v - lo) / (hi - lo) * bins);
            counts[Math.min(b, bins - 1)]++;
        }
        return new Bins(edges, counts);
    }

    /** Indices that sort x ascending (stable; NaN last). */
    public static int[] argsort(double[] x) {
        return sortedIndices(x, Comparator.comparingDouble(i -> x[i]));
    }

    /** Indices that sort x descending (stable; NaN last). */
    public static int[] argsortDescending(double[] x) {
        return sortedIndices(x, (a, b) -> {
            boolean na = Double.isNaN(x[a]), nb = Double.isNaN(x[b]);
            if (na || nb) return Boolean.compare(na, nb);
            return Double.compare(x[b], x[a]);
        });
    }

    /** The indices of the k values largest in magnitude, largest first (NaN never chosen). */
    public static int[] topKByAbs(double[] x, int k) {
        if (k < 0) throw new IllegalArgumentException("k must be >= 0, got " + k);
        double[] a = new double[x.length];
        for (int i = 0; i < x.length; i++) a[i] = Math.abs(x[i]);
        int[] order = argsortDescending(a);
        int finite = 0;
        while (finite < order.length && !Double.isNaN(a[order[finite]])) finite++;
        return Arrays.copyOf(order, Math.min(k, finite));
    }

    private static int[] sortedIndices(double[] x, Comparator<Integer> cmp) {
        Integer[] idx = new Integer[x.length];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        Arrays.sort(idx, cmp); // object sort is stable
        int[] r = new int[idx.length];
        for (int i = 0; i < r.length; i++) r[i] = idx[i];
        return r;
    }
}
