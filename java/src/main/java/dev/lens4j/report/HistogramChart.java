package dev.lens4j.report;

import dev.lens4j.analysis.Stats;

/** Counts per bin as touching bars, e.g. the distribution of neuron correlations. */
public final class HistogramChart extends XyChart<HistogramChart> {
    private HistogramChart(String title) {
        super(title);
        yLabel = "count";
    }

    public static HistogramChart of(String title) { return new HistogramChart(title); }

    /** Bins the finite values into {@code bins} equal-width bins over their range. */
    public HistogramChart values(String name, double[] values, int bins) {
        return bins(name, Stats.histogram(values, bins));
    }

    /** Bins the values over a fixed range, e.g. [-1, 1] for correlations, so histograms compare. */
    public HistogramChart values(String name, double[] values, int bins, double lo, double hi) {
        return bins(name, Stats.histogram(values, bins, lo, hi));
    }

    /** Pre-computed bins; several calls overlay (semi-transparent) on the same axes. */
    public HistogramChart bins(String name, Stats.Bins bins) {
        int k = bins.counts().length;
        double[] x = new double[k], y = new double[k], l = new double[k], r = new double[k];
        for (int i = 0; i < k; i++) {
            l[i] = bins.edges()[i];
            r[i] = bins.edges()[i + 1];
            x[i] = 0.5 * (l[i] + r[i]);
            y[i] = bins.counts()[i];
        }
        Layer layer = new Layer(Kind.BARS, name, x, y);
        layer.left = l;
        layer.right = r;
        return add(layer);
    }

    @Override
    String kind() { return "histogram"; }
}
