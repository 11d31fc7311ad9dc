package dev.lens4j.report;

import java.util.ArrayList;
import java.util.List;

/**
 * A chart on numeric x/y axes holding layers (lines, points, bars, stems) and reference lines, drawn in the order
 * they were added. {@link LineChart}, {@link ScatterChart}, {@link BarChart} and {@link HistogramChart} are
 * presets of it, so any of them can carry overlays (a fit line on a scatter, a cumulative line on a scree plot).
 * Modifiers such as {@link #dashed()} or {@link #color(String)} apply to the layer added last.
 */
public abstract class XyChart<T extends XyChart<T>> extends Chart<T> {
    enum Kind { LINE, POINTS, BARS, STEMS }

    static final class Layer {
        final Kind kind;
        final String name;
        final double[] x, y;
        double[] left, right; // explicit bar edges (histograms)
        String color;
        boolean dashed, markers, signColors, showLabels;
        double[] colorValues;
        String colorLabel;
        String[] labels;

        Layer(Kind kind, String name, double[] x, double[] y) {
            this.kind = kind;
            this.name = name == null ? "" : name;
            this.x = x;
            this.y = y;
        }

        int n() { return y.length; }
    }

    record Ref(char kind, double a, double b, String name, String color) {}

    final List<Layer> layers = new ArrayList<>();
    final List<Ref> refs = new ArrayList<>();
    boolean logX, logY, forceLegend;
    double[] xRange, yRange;
    String[] xTickLabels;
    ColorScale colorScale = ColorScale.VIRIDIS;

    XyChart(String title) { super(title); }

    /** Log10 y axis; non-positive values are left out (lines break there). */
    public T logY() { logY = true; return self(); }

    public T logX() { logX = true; return self(); }

    public T xRange(double lo, double hi) { xRange = range(lo, hi); return self(); }

    public T yRange(double lo, double hi) { yRange = range(lo, hi); return self(); }

    /** Show the legend even for a single series (it shows by default from two named items). */
    public T legend() { forceLegend = true; return self(); }

    /** A line through the points (x[i], y[i]); NaN / infinite values break the line. */
    public T line(String name, double[] x, double[] y) { return add(new Layer(Kind.LINE, name, check(x, y), y)); }

    /** A line over x = 0, 1, 2, ... */
    public T line(String name, double[] y) { return line(name, index(y.length), y); }

    /** Markers at (x[i], y[i]). */
    public T points(String name, double[] x, double[] y) { return add(new Layer(Kind.POINTS, name, check(x, y), y)); }

    /** A dashed horizontal reference line, e.g. a 90% threshold or the uniform loss. */
    public T hline(double y, String name) { refs.add(new Ref('h', y, 0, name, nextRefColor())); return self(); }

    public T vline(double x, String name) { refs.add(new Ref('v', x, 0, name, nextRefColor())); return self(); }

    /** The dashed line y = slope·x + intercept across the plot, e.g. y = x for "perfect prediction". */
    public T abline(double slope, double intercept, String name) { refs.add(new Ref('a', slope, intercept, name, nextRefColor())); return self(); }

    /** Colour of the last layer (or reference line), as #rrggbb. */
    public T color(String hex) {
        Html.color(hex);
        if (!refs.isEmpty() && (layers.isEmpty() || lastWasRef)) {
            Ref r = refs.remove(refs.size() - 1);
            refs.add(new Ref(r.kind(), r.a(), r.b(), r.name(), hex));
        } else last().color = hex;
        return self();
    }

    /** Draw the last line layer dashed. */
    public T dashed() { last().dashed = true; return self(); }

    /** Draw markers on the last line layer's points. */
    public T markers() { last().markers = true; return self(); }

    /** Category names for x = 0, 1, 2, ... (thinned when they would overlap). */
    public T xTickLabels(String... labels) { xTickLabels = labels.clone(); return self(); }

    private boolean lastWasRef;

    T add(Layer l) {
        layers.add(l);
        lastWasRef = false;
        return self();
    }

    Layer last() {
        if (layers.isEmpty()) throw new IllegalStateException("chart '" + title + "' has no layer yet");
        return layers.get(layers.size() - 1);
    }

    private String nextRefColor() {
        lastWasRef = true;
        String[] ref = {"#6b7280", "#e15759", "#59a14f", "#b07aa1"};
        return ref[refs.size() % ref.length];
    }

    double[] check(double[] x, double[] y) {
        if (x == null || y == null) throw new IllegalArgumentException("chart '" + title + "': x and y are required");
        if (x.length != y.length)
            throw new IllegalArgumentException("chart '" + title + "': x has " + x.length + " values, y has " + y.length);
        return x;
    }

    static double[] index(int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) x[i] = i;
        return x;
    }

    private double[] range(double lo, double hi) {
        if (!(hi > lo) || !Double.isFinite(lo) || !Double.isFinite(hi))
            throw new IllegalArgumentException("chart '" + title + "': range [" + lo + ", " + hi + "] is empty");
        return new double[] {lo, hi};
    }

    String layerColor(int i) {
        Layer l = layers.get(i);
        if (l.color != null) return l.color;
        int k = 0;
        for (int j = 0; j < i; j++) if (layers.get(j).color == null) k++;
        return PALETTE[k % PALETTE.length];
    }

    // ---------------------------------------------------------------- rendering

    private record LegendItem(String name, String color, Kind kind, boolean dashed, boolean markers) {}

    @Override
    void render(StringBuilder b, String id) {
        title(b);
        Layer colored = null;
        for (Layer l : layers) if (l.colorValues != null) { colored = l; break; }

        // legend entries, laid out in rows above the plot so they never cover data
        List<LegendItem> items = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            if (l.name.isEmpty()) continue;
            if (l.signColors) {
                items.add(new LegendItem(l.name + " ≥ 0", PALETTE[0], l.kind, false, false));
                items.add(new LegendItem(l.name + " < 0", PALETTE[2], l.kind, false, false));
            } else if (l.colorValues == null) {
                items.add(new LegendItem(l.name, layerColor(i), l.kind, l.dashed, l.markers));
            }
        }
        for (Ref r : refs) if (r.name() != null && !r.name().isEmpty()) items.add(new LegendItem(r.name(), r.color(), Kind.LINE, true, false));
        boolean showLegend = !items.isEmpty() && (forceLegend || items.size() >= 2);

        // domains first: the y tick labels decide the left margin
        double[] xd = xDomain(), yd = yDomain();
        Scale yProbe = logY ? Scale.log(yd[0], yd[1], 0, 1) : Scale.linear(yd[0], yd[1], 0, 1);
        double yTickW = 0;
        for (Scale.Tick t : yProbe.ticks(6, false)) yTickW = Math.max(yTickW, textWidth(t.label(), 11));
        double left = 14 + (yLabel.isEmpty() ? 0 : 20) + yTickW + 8;
        double right = width - 18 - (colored != null ? 90 : 0);
        double top = 40;
        List<List<LegendItem>> rows = new ArrayList<>();
        if (showLegend) {
            double avail = right - left, used = 0;
            List<LegendItem> row = new ArrayList<>();
            for (LegendItem it : items) {
                double w = 30 + textWidth(it.name(), 12) + 16;
                if (!row.isEmpty() && used + w > avail) { rows.add(row); row = new ArrayList<>(); used = 0; }
                row.add(it);
                used += w;
            }
            rows.add(row);
            top += rows.size() * 18 + 4;
        }
        double bottom = height - (xLabel.isEmpty() ? 28 : 50);
        if (bottom - top < 60) throw new IllegalStateException("chart '" + title + "' is too small for its legend");

        Scale xs = logX ? Scale.log(xd[0], xd[1], left, right) : Scale.linear(xd[0], xd[1], left, right);
        Scale ys = logY ? Scale.log(yd[0], yd[1], bottom, top) : Scale.linear(yd[0], yd[1], bottom, top);

        axes(b, xs, ys, left, right, top, bottom);

        String clip = id + "-clip";
        b.append("<defs><clipPath id=\"").append(clip).append("\"><rect x=\"").append(Fmt.px(left - 4)).append("\" y=\"")
                .append(Fmt.px(top - 4)).append("\" width=\"").append(Fmt.px(right - left + 8)).append("\" height=\"")
                .append(Fmt.px(bottom - top + 8)).append("\"/></clipPath></defs>");
        b.append("<g clip-path=\"url(#").append(clip).append(")\">");
        double[] cRange = colored == null ? null : finiteRange(colored.colorValues);
        for (int i = 0; i < layers.size(); i++) drawLayer(b, layers.get(i), layerColor(i), xs, ys, cRange);
        for (Ref r : refs) drawRef(b, r, xs, ys, left, right, top, bottom);
        b.append("</g>");
        for (int i = 0; i < layers.size(); i++) if (layers.get(i).showLabels) drawLabels(b, layers.get(i), xs, ys);

        if (showLegend) {
            double y = 48;
            for (List<LegendItem> row : rows) {
                double x = left;
                for (LegendItem it : row) {
                    swatch(b, it, x, y);
                    text(b, x + 26, y + 4, it.name(), "start", 12, "#374151", null);
                    x += 30 + textWidth(it.name(), 12) + 16;
                }
                y += 18;
            }
        }
        if (colored != null) colorbar(b, id, right + 22, top, bottom - top, colorScale, cRange[0], cRange[1], colored.colorLabel);
    }

    private double[] xDomain() {
        if (xRange != null) return xRange;
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        boolean barsOnly = true, any = false;
        for (Layer l : layers) {
            if (l.kind != Kind.BARS) barsOnly = false;
            for (int i = 0; i < l.n(); i++) {
                if (!Double.isFinite(l.y[i])) continue;
                double a = l.left != null ? l.left[i] : l.x[i], c = l.right != null ? l.right[i] : l.x[i];
                if (logX && a <= 0) continue;
                lo = Math.min(lo, a);
                hi = Math.max(hi, c);
                any = true;
            }
        }
        for (Ref r : refs) if (r.kind() == 'v' && (!logX || r.a() > 0)) { lo = Math.min(lo, r.a()); hi = Math.max(hi, r.a()); any = true; }
        if (!any) return logX ? new double[] {1, 10} : new double[] {0, 1};
        double half = barHalfWidth();
        if (half > 0 && !logX) { lo -= half; hi += half; }
        boolean hasPoints = layers.stream().anyMatch(l -> l.kind == Kind.POINTS || l.kind == Kind.STEMS || l.markers);
        double pad = barsOnly ? 0 : hasPoints ? 0.04 : 0.0;
        return padded(lo, hi, pad, logX);
    }

    private double[] yDomain() {
        if (yRange != null) return yRange;
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        boolean zeroBased = false;
        for (Layer l : layers) {
            if (l.kind == Kind.BARS || l.kind == Kind.STEMS) zeroBased = !logY;
            for (double v : l.y) if (Double.isFinite(v) && (!logY || v > 0)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
        }
        for (Ref r : refs) if (r.kind() == 'h' && (!logY || r.a() > 0)) { lo = Math.min(lo, r.a()); hi = Math.max(hi, r.a()); }
        if (lo > hi) return logY ? new double[] {1, 10} : new double[] {0, 1};
        if (zeroBased) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
        double[] d = padded(lo, hi, 0.05, logY);
        if (zeroBased && lo >= 0) d[0] = 0; // bars stand on the axis
        if (zeroBased && hi <= 0) d[1] = 0;
        return d;
    }

    private static double[] padded(double lo, double hi, double pad, boolean log) {
        if (log) {
            double a = Math.log10(lo), c = Math.log10(hi), p = Math.max(c - a, 0.5) * pad;
            if (c == a) { a -= 0.5; c += 0.5; }
            return new double[] {Math.pow(10, a - p), Math.pow(10, c + p)};
        }
        if (hi == lo) { double h = lo == 0 ? 1 : Math.abs(lo) * 0.1; return new double[] {lo - h, hi + h}; }
        double p = (hi - lo) * pad;
        return new double[] {lo - p, hi + p};
    }

    /** Half the width of an implicit-width bar: 40% of the smallest gap between bar positions. */
    double barHalfWidth() {
        double gap = Double.POSITIVE_INFINITY;
        boolean bars = false;
        for (Layer l : layers) {
            if (l.kind != Kind.BARS || l.left != null) continue;
            bars = true;
            double[] xs = l.x.clone();
            java.util.Arrays.sort(xs);
            for (int i = 1; i < xs.length; i++) if (xs[i] > xs[i - 1]) gap = Math.min(gap, xs[i] - xs[i - 1]);
        }
        if (!bars) return 0;
        if (!Double.isFinite(gap)) gap = 1;
        int n = layers.stream().filter(l -> l.kind == Kind.BARS).mapToInt(Layer::n).max().orElse(1);
        return gap * (n > 120 ? 0.5 : 0.4); // dense bars touch, so they stay visible
    }

    private void axes(StringBuilder b, Scale xs, Scale ys, double left, double right, double top, double bottom) {
        List<Scale.Tick> yt = ys.ticks(Math.max(3, (int) ((bottom - top) / 55)), false);
        for (Scale.Tick t : yt) {
            double y = ys.map(t.value());
            line(b, left, y, right, y, "#e5e7eb", 1, null);
            line(b, left - 4, y, left, y, "#6b7280", 1, null);
            text(b, left - 7, y + 4, t.label(), "end", 11, "#374151", null);
        }
        List<Scale.Tick> xt = xTicks(xs, right - left);
        for (Scale.Tick t : xt) {
            double x = xs.map(t.value());
            line(b, x, top, x, bottom, "#f1f2f4", 1, null);
            line(b, x, bottom, x, bottom + 4, "#6b7280", 1, null);
            text(b, x, bottom + 16, t.label(), "middle", 11, "#374151", null);
        }
        line(b, left, bottom, right, bottom, "#6b7280", 1, null);
        line(b, left, top, left, bottom, "#6b7280", 1, null);
        if (!xLabel.isEmpty()) text(b, (left + right) / 2, bottom + 38, xLabel, "middle", 12, "#111827", null);
        if (!yLabel.isEmpty()) {
            double x = 16, y = (top + bottom) / 2;
            text(b, x, y, yLabel, "middle", 12, "#111827", "transform=\"rotate(-90 " + Fmt.px(x) + ' ' + Fmt.px(y) + ")\"");
        }
    }

    private List<Scale.Tick> xTicks(Scale xs, double plotWidth) {
        if (xTickLabels != null) {
            double widest = 0;
            for (String s : xTickLabels) widest = Math.min(90, Math.max(widest, textWidth(s, 11)));
            int n = xTickLabels.length;
            double slot = Math.abs(xs.map(1) - xs.map(0));
            int every = slot >= 28 ? 1 : Math.max(1, (int) Math.ceil((widest + 8) / slot));
            double maxW = every == 1 ? Math.min(slot - 4, 90) : 90;
            List<Scale.Tick> t = new ArrayList<>();
            for (int i = 0; i < n; i += every)
                if (i >= xs.dataMin() - 1e-9 && i <= xs.dataMax() + 1e-9) t.add(new Scale.Tick(i, fit(xTickLabels[i], maxW, 11)));
            return t;
        }
        boolean ints = !layers.isEmpty();
        for (Layer l : layers) for (double v : l.x) if (Double.isFinite(v) && v != Math.rint(v)) { ints = false; break; }
        List<Scale.Tick> t = xs.ticks(Math.max(3, (int) (plotWidth / 80)), ints);
        // long labels (1e-5, 12,345) need more room: thin until they fit
        double widest = 0;
        for (Scale.Tick k : t) widest = Math.max(widest, textWidth(k.label(), 11));
        if (t.size() > 1 && widest * t.size() > plotWidth * 0.8) t = xs.ticks(Math.max(2, (int) (plotWidth * 0.8 / widest / 1.5)), ints);
        return t;
    }

    private void drawLayer(StringBuilder b, Layer l, String color, Scale xs, Scale ys, double[] cRange) {
        int n = l.n();
        boolean tips = n <= 3000; // tooltips for every mark make huge files beyond this
        switch (l.kind) {
            case BARS -> {
                double half = barHalfWidth();
                double base = ys.mapClamped(logY ? ys.dataMin() : 0);
                b.append("<g fill-opacity=\"0.85\">");
                for (int i = 0; i < n; i++) {
                    if (!ys.valid(l.y[i])) continue;
                    double x0 = xs.map(l.left != null ? l.left[i] : l.x[i] - half), x1 = xs.map(l.right != null ? l.right[i] : l.x[i] + half);
                    double y = ys.mapClamped(l.y[i]);
                    String c = l.signColors ? (l.y[i] >= 0 ? PALETTE[0] : PALETTE[2]) : color;
                    double w = Math.max(0.6, x1 - x0 - (l.left != null && x1 - x0 > 4 ? 1 : 0));
                    b.append("<rect x=\"").append(Fmt.px(x0)).append("\" y=\"").append(Fmt.px(Math.min(y, base))).append("\" width=\"")
                            .append(Fmt.px(w)).append("\" height=\"").append(Fmt.px(Math.max(Math.abs(base - y), 0.5)))
                            .append("\" fill=\"").append(c).append('"');
                    closeWithTip(b, tips, l, i, "rect");
                }
                b.append("</g>");
            }
            case STEMS -> {
                double base = ys.mapClamped(0);
                double r = n <= 150 ? 2.6 : n <= 600 ? 1.8 : 1.2;
                for (int i = 0; i < n; i++) {
                    if (!xs.valid(l.x[i]) || !ys.valid(l.y[i])) continue;
                    String c = l.signColors ? (l.y[i] >= 0 ? PALETTE[0] : PALETTE[2]) : color;
                    double x = xs.map(l.x[i]), y = ys.map(l.y[i]);
                    line(b, x, base, x, y, c, n > 300 ? 0.8 : 1.2, "stroke-opacity=\"0.75\"");
                    circle(b, x, y, r, c, null);
                    closeWithTip(b, tips, l, i, "circle");
                }
                line(b, xs.r0, base, xs.r1, base, "#6b7280", 0.8, null);
            }
            case LINE -> {
                StringBuilder pts = new StringBuilder();
                for (int i = 0; i <= n; i++) {
                    boolean ok = i < n && xs.valid(l.x[i]) && ys.valid(l.y[i]);
                    if (ok) pts.append(Fmt.px(xs.map(l.x[i]))).append(',').append(Fmt.px(ys.map(l.y[i]))).append(' ');
                    else if (pts.length() > 0) {
                        b.append("<polyline points=\"").append(pts.toString().trim()).append("\" fill=\"none\" stroke=\"").append(color)
                                .append("\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"");
                        if (l.dashed) b.append(" stroke-dasharray=\"6 4\"");
                        b.append("><title>").append(Html.escape(l.name)).append("</title></polyline>");
                        pts.setLength(0);
                    }
                }
                if (l.markers) for (int i = 0; i < n; i++) {
                    if (!xs.valid(l.x[i]) || !ys.valid(l.y[i])) continue;
                    circle(b, xs.map(l.x[i]), ys.map(l.y[i]), 3.2, color, "stroke=\"#fff\" stroke-width=\"1\"");
                    closeWithTip(b, tips, l, i, "circle");
                }
            }
            case POINTS -> {
                double r = n <= 200 ? 4.5 : n <= 2000 ? 3 : 2;
                for (int i = 0; i < n; i++) {
                    if (!xs.valid(l.x[i]) || !ys.valid(l.y[i])) continue;
                    String c = color;
                    if (l.colorValues != null) {
                        double v = l.colorValues[i];
                        c = Double.isFinite(v) ? colorScale.at((v - cRange[0]) / (cRange[1] - cRange[0] == 0 ? 1 : cRange[1] - cRange[0])) : "#c0c4cc";
                    }
                    circle(b, xs.map(l.x[i]), ys.map(l.y[i]), r, c, "fill-opacity=\"0.8\" stroke=\"#fff\" stroke-width=\"0.6\"");
                    closeWithTip(b, tips, l, i, "circle");
                }
            }
        }
    }

    private static void circle(StringBuilder b, double x, double y, double r, String fill, String extra) {
        b.append("<circle cx=\"").append(Fmt.px(x)).append("\" cy=\"").append(Fmt.px(y)).append("\" r=\"").append(r)
                .append("\" fill=\"").append(fill).append('"');
        if (extra != null) b.append(' ').append(extra);
    }

    /** Ends an open element, with a native SVG tooltip (no script needed) naming the point. */
    private void closeWithTip(StringBuilder b, boolean tips, Layer l, int i, String tag) {
        if (!tips) { b.append("/>"); return; }
        StringBuilder t = new StringBuilder();
        if (l.labels != null) t.append(l.labels[i]).append(": ");
        else if (!l.name.isEmpty()) t.append(l.name).append(": ");
        if (l.left != null && l.labels == null) t.append('[').append(Fmt.num(l.left[i])).append(", ").append(Fmt.num(l.right[i])).append(") ");
        else if (l.left == null) t.append(xTickLabels != null && l.x[i] == Math.rint(l.x[i]) && l.x[i] >= 0 && l.x[i] < xTickLabels.length
                ? xTickLabels[(int) l.x[i]] : Fmt.num(l.x[i])).append(", ");
        t.append(Fmt.num(l.y[i]));
        if (l.colorValues != null) t.append(" (").append(l.colorLabel == null ? "colour" : l.colorLabel).append(' ').append(Fmt.num(l.colorValues[i])).append(')');
        b.append("><title>").append(Html.escape(t.toString())).append("</title></").append(tag).append('>');
    }

    private void drawLabels(StringBuilder b, Layer l, Scale xs, Scale ys) {
        if (l.labels == null) return;
        for (int i = 0; i < l.n(); i++) {
            if (!xs.valid(l.x[i]) || !ys.valid(l.y[i])) continue;
            text(b, xs.map(l.x[i]) + 6, ys.map(l.y[i]) - 6, l.labels[i], "start", 10, "#374151", null);
        }
    }

    private void drawRef(StringBuilder b, Ref r, Scale xs, Scale ys, double left, double right, double top, double bottom) {
        String dash = "stroke-dasharray=\"5 4\"";
        switch (r.kind()) {
            case 'h' -> { if (ys.valid(r.a())) line(b, left, ys.map(r.a()), right, ys.map(r.a()), r.color(), 1.5, dash); }
            case 'v' -> { if (xs.valid(r.a())) line(b, xs.map(r.a()), top, xs.map(r.a()), bottom, r.color(), 1.5, dash); }
            default -> {
                // sample along x so the line is right on log axes too
                StringBuilder pts = new StringBuilder();
                for (int i = 0; i <= 64; i++) {
                    double t = xs.d0 + (xs.d1 - xs.d0) * i / 64.0, x = xs.log ? Math.pow(10, t) : t, y = r.a() * x + r.b();
                    if (!ys.valid(y)) continue;
                    double py = Math.max(top - 50, Math.min(bottom + 50, ys.map(y)));
                    pts.append(Fmt.px(xs.map(x))).append(',').append(Fmt.px(py)).append(' ');
                }
                if (pts.length() > 0) b.append("<polyline points=\"").append(pts.toString().trim()).append("\" fill=\"none\" stroke=\"")
                        .append(r.color()).append("\" stroke-width=\"1.5\" ").append(dash).append("/>");
            }
        }
    }

    private void swatch(StringBuilder b, LegendItem it, double x, double y) {
        switch (it.kind()) {
            case BARS -> b.append("<rect x=\"").append(Fmt.px(x + 4)).append("\" y=\"").append(Fmt.px(y - 5)).append("\" width=\"14\" height=\"10\" fill=\"")
                    .append(it.color()).append("\" fill-opacity=\"0.85\"/>");
            case POINTS, STEMS -> { circle(b, x + 11, y, 4.5, it.color(), null); b.append("/>"); }
            default -> {
                line(b, x, y, x + 22, y, it.color(), 2, it.dashed() ? "stroke-dasharray=\"5 3\"" : null);
                if (it.markers()) { circle(b, x + 11, y, 3.2, it.color(), null); b.append("/>"); }
            }
        }
    }
}
