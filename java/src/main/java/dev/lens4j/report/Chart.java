package dev.lens4j.report;

/**
 * A plot rendered as inline SVG inside {@code <figure class="plot" data-testid="plot">}. Subclasses draw into a
 * viewBox of {@link #width} x {@link #height}; the figure scales to the page width.
 *
 * @param <T> the concrete chart, so the fluent setters return it
 */
public abstract class Chart<T extends Chart<T>> {
    static final String FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";
    static final String[] PALETTE = {"#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

    String title;
    String xLabel = "";
    String yLabel = "";
    String caption;
    int width = 760;
    int height = 420;

    Chart(String title) { this.title = title == null ? "" : title; }

    @SuppressWarnings("unchecked")
    final T self() { return (T) this; }

    public T xLabel(String label) { this.xLabel = label == null ? "" : label; return self(); }

    public T yLabel(String label) { this.yLabel = label == null ? "" : label; return self(); }

    /** Both axis titles at once. */
    public T axes(String xLabel, String yLabel) { return xLabel(xLabel).yLabel(yLabel); }

    /** Text under the plot, e.g. what to look for. */
    public T caption(String text) { this.caption = text; return self(); }

    /** The SVG viewBox size; the figure itself scales to the page. */
    public T size(int width, int height) {
        if (width < 200 || height < 150 || width > 4000 || height > 4000)
            throw new IllegalArgumentException("chart size " + width + "x" + height + " outside 200x150 .. 4000x4000");
        this.width = width;
        this.height = height;
        return self();
    }

    public String title() { return title; }

    /** Short name of the chart type, written as data-kind. */
    abstract String kind();

    /** Draws the SVG body; {@code id} is unique in the page, for clip paths and gradients. */
    abstract void render(StringBuilder svg, String id);

    final String toHtml(String id) {
        StringBuilder b = new StringBuilder();
        b.append("<figure class=\"plot\" data-testid=\"plot\" data-kind=\"").append(kind()).append("\" id=\"").append(id).append("\">");
        b.append("<svg viewBox=\"0 0 ").append(width).append(' ').append(height).append("\" width=\"").append(width)
                .append("\" height=\"").append(height).append("\" role=\"img\" aria-label=\"").append(Html.escape(title))
                .append("\" font-family=\"").append(Html.escape(FONT)).append("\">");
        render(b, id);
        b.append("</svg>");
        if (caption != null && !caption.isEmpty()) b.append("<figcaption>").append(Html.escape(caption)).append("</figcaption>");
        b.append("</figure>\n");
        return b.toString();
    }

    // ---- drawing helpers shared by the chart types ----

    static void text(StringBuilder b, double x, double y, String s, String anchor, int size, String fill, String extra) {
        b.append("<text x=\"").append(Fmt.px(x)).append("\" y=\"").append(Fmt.px(y)).append("\" font-size=\"").append(size)
                .append("\" fill=\"").append(fill).append('"');
        if (!"start".equals(anchor)) b.append(" text-anchor=\"").append(anchor).append('"');
        if (extra != null) b.append(' ').append(extra);
        b.append('>').append(Html.escape(s)).append("</text>");
    }

    static void line(StringBuilder b, double x1, double y1, double x2, double y2, String stroke, double width, String extra) {
        b.append("<line x1=\"").append(Fmt.px(x1)).append("\" y1=\"").append(Fmt.px(y1)).append("\" x2=\"").append(Fmt.px(x2))
                .append("\" y2=\"").append(Fmt.px(y2)).append("\" stroke=\"").append(stroke).append("\" stroke-width=\"")
                .append(width).append('"');
        if (extra != null) b.append(' ').append(extra);
        b.append("/>");
    }

    void title(StringBuilder b) {
        // bold 15px runs wider than the 0.56em estimate; the full title stays in aria-label
        text(b, width / 2.0, 24, fit(title, (width - 24) / 1.1, 15), "middle", 15, "#111827", "font-weight=\"600\"");
    }

    /** Shortens a label to fit {@code maxWidth} px, ending in an ellipsis; the tooltip keeps the full text. */
    static String fit(String s, double maxWidth, int size) {
        if (textWidth(s, size) <= maxWidth) return s;
        int chars = Math.max(1, (int) (maxWidth / (size * 0.56)) - 1);
        return chars >= s.length() ? s : s.substring(0, chars) + "…";
    }

    /** Rough width of a label in px, for layout (no font metrics without a browser). */
    static double textWidth(String s, int size) { return s.length() * size * 0.56; }

    /** A vertical colour bar with ticks, for heatmaps and coloured scatters. */
    static void colorbar(StringBuilder b, String id, double x, double y, double h, ColorScale cs, double lo, double hi, String label) {
        String gid = id + "-cb";
        b.append("<defs><linearGradient id=\"").append(gid).append("\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">");
        for (int i = 0; i <= 16; i++) {
            b.append("<stop offset=\"").append(Fmt.px(i / 16.0 * 100)).append("%\" stop-color=\"").append(cs.at(i / 16.0)).append("\"/>");
        }
        b.append("</linearGradient></defs>");
        b.append("<rect x=\"").append(Fmt.px(x)).append("\" y=\"").append(Fmt.px(y)).append("\" width=\"14\" height=\"").append(Fmt.px(h))
                .append("\" fill=\"url(#").append(gid).append(")\" stroke=\"#9ca3af\" stroke-width=\"0.5\"/>");
        Scale s = Scale.linear(lo, hi, y + h, y);
        for (Scale.Tick t : s.ticks(5, false)) {
            double ty = s.map(t.value());
            line(b, x + 14, ty, x + 18, ty, "#6b7280", 1, null);
            text(b, x + 21, ty + 4, t.label(), "start", 11, "#374151", null);
        }
        if (label != null && !label.isEmpty()) {
            double lx = x + 21 + maxTickWidth(s) + 14, ly = y + h / 2;
            text(b, lx, ly, label, "middle", 12, "#111827", "transform=\"rotate(-90 " + Fmt.px(lx) + ' ' + Fmt.px(ly) + ")\"");
        }
    }

    static double maxTickWidth(Scale s) {
        double w = 0;
        for (Scale.Tick t : s.ticks(5, false)) w = Math.max(w, textWidth(t.label(), 11));
        return w;
    }

    static double[] finiteRange(double[] v) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (double x : v) if (Double.isFinite(x)) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
        return new double[] {lo, hi};
    }
}
