package dev.lens4j.report;

/**
 * Points, optionally coloured by a value (with a colour bar) and labelled (tooltips, or text beside each point),
 * e.g. PC1 vs PC2 scores coloured by token index, or a probe's predictions against the truth with a y = x line.
 */
public final class ScatterChart extends XyChart<ScatterChart> {
    private ScatterChart(String title) { super(title); }

    public static ScatterChart of(String title) { return new ScatterChart(title); }

    /** Unnamed points (no legend entry). */
    public ScatterChart points(double[] x, double[] y) { return points("", x, y); }

    /** Colours the last points layer by {@code values} on the chart's colour scale, with a colour bar. */
    public ScatterChart colorBy(double[] values, String label) {
        Layer l = last();
        if (values.length != l.n())
            throw new IllegalArgumentException("chart '" + title + "': " + values.length + " colour values for " + l.n() + " points");
        l.colorValues = values.clone();
        l.colorLabel = label;
        return this;
    }

    /** Colour scale for {@link #colorBy} (viridis by default). */
    public ScatterChart colorScale(ColorScale scale) { colorScale = scale; return this; }

    /** Per-point labels for the last layer, shown as tooltips. */
    public ScatterChart labels(String... labels) {
        Layer l = last();
        if (labels.length != l.n())
            throw new IllegalArgumentException("chart '" + title + "': " + labels.length + " labels for " + l.n() + " points");
        l.labels = labels.clone();
        return this;
    }

    /** Also write the labels beside the points (for a few dozen points at most). */
    public ScatterChart showLabels() {
        if (last().labels == null) throw new IllegalStateException("chart '" + title + "': call labels(...) before showLabels()");
        last().showLabels = true;
        return this;
    }

    @Override
    String kind() { return "scatter"; }
}
