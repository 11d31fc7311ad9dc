package dev.lens4j.report;

/** One or more series as lines, e.g. train and test loss against epoch on a log y axis. */
public final class LineChart extends XyChart<LineChart> {
    private LineChart(String title) { super(title); }

    public static LineChart of(String title) { return new LineChart(title); }

    /** A named series; same as {@link #line(String, double[], double[])}. */
    public LineChart series(String name, double[] x, double[] y) { return line(name, x, y); }

    /** A named series over x = 0, 1, 2, ... */
    public LineChart series(String name, double[] y) { return line(name, y); }

    @Override
    String kind() { return "line"; }
}
