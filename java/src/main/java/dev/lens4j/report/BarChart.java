package dev.lens4j.report;

/**
 * Bars or stems, e.g. an embedding vector's components, a scree plot (with a cumulative line overlay), or neuron
 * correlations sorted by value as stems coloured by sign.
 */
public final class BarChart extends XyChart<BarChart> {
    private BarChart(String title) { super(title); }

    public static BarChart of(String title) { return new BarChart(title); }

    /** Bars at x = 0, 1, 2, ... */
    public BarChart bars(String name, double[] y) { return bars(name, index(y.length), y); }

    public BarChart bars(String name, double[] x, double[] y) { return add(new Layer(Kind.BARS, name, check(x, y), y)); }

    /** Bars for named categories (x = 0, 1, ... with the names as tick labels). */
    public BarChart categories(String name, String[] categories, double[] y) {
        if (categories.length != y.length)
            throw new IllegalArgumentException("chart '" + title + "': " + categories.length + " categories for " + y.length + " values");
        xTickLabels(categories);
        return bars(name, y);
    }

    /**
     * Side-by-side bars: per category, one bar for each series (e.g. attention from '=' to a, b and '=' per head).
     * values[s][c] is series s in category c.
     */
    public BarChart grouped(String[] categories, String[] series, double[][] values) {
        if (values.length != series.length)
            throw new IllegalArgumentException("chart '" + title + "': " + series.length + " series names for " + values.length + " series");
        double slot = 0.8 / series.length;
        for (int s = 0; s < series.length; s++) {
            if (values[s].length != categories.length)
                throw new IllegalArgumentException("chart '" + title + "': series '" + series[s] + "' has " + values[s].length
                        + " values for " + categories.length + " categories");
            int n = categories.length;
            double[] x = new double[n], l = new double[n], r = new double[n];
            for (int c = 0; c < n; c++) {
                l[c] = c - 0.4 + s * slot;
                r[c] = l[c] + slot;
                x[c] = (l[c] + r[c]) / 2;
            }
            Layer layer = new Layer(Kind.BARS, series[s], x, values[s].clone());
            layer.left = l;
            layer.right = r;
            layer.labels = new String[n];
            for (int c = 0; c < n; c++) layer.labels[c] = series[s] + ", " + categories[c];
            add(layer);
        }
        return xTickLabels(categories);
    }

    /** Stems (a line from 0 with a dot) at x = 0, 1, 2, ... */
    public BarChart stems(String name, double[] y) { return stems(name, index(y.length), y); }

    public BarChart stems(String name, double[] x, double[] y) { return add(new Layer(Kind.STEMS, name, check(x, y), y)); }

    /** The values sorted descending as stems, x = rank: the seed's "sorted correlation" plot. */
    public BarChart sortedStems(String name, double[] values) {
        double[] s = values.clone();
        java.util.Arrays.sort(s);
        for (int i = 0, j = s.length - 1; i < j; i++, j--) { double t = s[i]; s[i] = s[j]; s[j] = t; }
        return stems(name, s);
    }

    /** Colour the last bar/stem layer by sign: blue for ≥ 0, red for &lt; 0 (with two legend entries). */
    public BarChart signColors() { last().signColors = true; return this; }

    @Override
    String kind() { return "bar"; }
}
