package dev.lens4j.report;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Base64;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * A matrix as coloured cells, row 0 at the top (as imshow), with a colour bar: failing (a, b) pairs, a
 * layer × position attribution map, W_E. NaN cells are grey (e.g. pairs not in the test set). Values spanning
 * zero default to the diverging RdBu scale centred at 0, one-signed values to viridis.
 *
 * <p>Up to {@value #MAX_VECTOR_CELLS} cells are drawn as SVG rects with tooltips; bigger matrices (neurons ×
 * samples) are embedded as a PNG data URI inside the SVG, which keeps the page small and still offline.
 */
public final class Heatmap extends Chart<Heatmap> {
    static final int MAX_VECTOR_CELLS = 20_000;
    /** Mid grey: distinct from the white middle of RdBu and the light end of ramps. */
    private static final String NAN_COLOR = "#b8bec7";
    private double[][] z;
    private String[] xLabels, yLabels;
    private ColorScale scale;
    private double[] range;
    private boolean symmetric;
    private String colorLabel = "";
    private boolean showValues;

    private Heatmap(String title) { super(title); }

    public static Heatmap of(String title) { return new Heatmap(title); }

    /** The values, [rows][cols]: row i is drawn at the i-th row from the top, column j at the j-th from the left. */
    public Heatmap matrix(double[][] z) {
        if (z == null || z.length == 0 || z[0] == null || z[0].length == 0)
            throw new IllegalArgumentException("heatmap '" + title + "' needs a non-empty matrix");
        for (int i = 0; i < z.length; i++)
            if (z[i] == null || z[i].length != z[0].length)
                throw new IllegalArgumentException("heatmap '" + title + "': row " + i + " has " + (z[i] == null ? 0 : z[i].length) + " columns, expected " + z[0].length);
        this.z = new double[z.length][];
        for (int i = 0; i < z.length; i++) this.z[i] = z[i].clone();
        return this;
    }

    /** Column names (x axis); thinned when they would overlap. */
    public Heatmap xLabels(String... labels) { xLabels = labels.clone(); return this; }

    /** Row names (y axis). */
    public Heatmap yLabels(String... labels) { yLabels = labels.clone(); return this; }

    /** RdBu with the colour range symmetric around 0. */
    public Heatmap diverging() { scale = ColorScale.RDBU; symmetric = true; return this; }

    public Heatmap sequential() { scale = ColorScale.VIRIDIS; symmetric = false; return this; }

    public Heatmap colorScale(ColorScale s) { scale = s; symmetric = false; return this; }

    /** Fixes the value range the colours span (values outside are clamped). */
    public Heatmap range(double lo, double hi) {
        if (!(hi > lo)) throw new IllegalArgumentException("heatmap '" + title + "': range [" + lo + ", " + hi + "] is empty");
        range = new double[] {lo, hi};
        return this;
    }

    public Heatmap colorLabel(String label) { colorLabel = label == null ? "" : label; return this; }

    /** Print each value in its cell (only drawn when cells are big enough to read). */
    public Heatmap showValues() { showValues = true; return this; }

    @Override
    String kind() { return "heatmap"; }

    @Override
    void render(StringBuilder b, String id) {
        if (z == null) throw new IllegalStateException("heatmap '" + title + "' has no matrix");
        int rows = z.length, cols = z[0].length;
        check(xLabels, cols, "x");
        check(yLabels, rows, "y");
        double[] r = finiteRange(flat());
        if (r[0] > r[1]) r = new double[] {0, 1};
        ColorScale cs = scale;
        boolean sym = symmetric;
        if (cs == null) { sym = r[0] < 0 && r[1] > 0; cs = sym ? ColorScale.RDBU : ColorScale.VIRIDIS; }
        double lo = r[0], hi = r[1];
        if (range != null) { lo = range[0]; hi = range[1]; }
        else if (sym) { double m = Math.max(Math.abs(lo), Math.abs(hi)); lo = -m; hi = m; }
        if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }

        title(b);
        List<Scale.Tick> yt = ticks(yLabels, rows, 150), xt;
        double yTickW = 0;
        for (Scale.Tick t : yt) yTickW = Math.max(yTickW, textWidth(t.label(), 11));
        double left = 14 + (yLabel.isEmpty() ? 0 : 20) + yTickW + 8, right = width - 100, top = 40;
        double bottom = height - (xLabel.isEmpty() ? 28 : 50);
        double cw = (right - left) / cols, ch = (bottom - top) / rows;
        // token labels: every column while a few characters fit, else thin them out
        xt = cw >= 28 ? ticks(xLabels, cols, cw - 4) : thin(ticks(xLabels, cols, 90), cw, right - left);
        yt = thinY(yt, ch);

        if ((long) rows * cols <= MAX_VECTOR_CELLS) {
            b.append("<g shape-rendering=\"crispEdges\">");
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    double v = z[i][j];
                    String fill = Double.isFinite(v) ? cs.at((v - lo) / (hi - lo)) : NAN_COLOR;
                    // cells overlap by a hair so no background seams show between them
                    b.append("<rect x=\"").append(Fmt.px(left + j * cw)).append("\" y=\"").append(Fmt.px(top + i * ch))
                            .append("\" width=\"").append(Fmt.px(cw + 0.3)).append("\" height=\"").append(Fmt.px(ch + 0.3))
                            .append("\" fill=\"").append(fill).append("\"><title>")
                            .append(Html.escape(name(yLabels, i, yLabel) + ", " + name(xLabels, j, xLabel) + ": " + Fmt.num(v)))
                            .append("</title></rect>");
                }
            }
            b.append("</g>");
            if (showValues && cw >= 22 && ch >= 14) {
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < cols; j++) {
                        double v = z[i][j];
                        if (!Double.isFinite(v)) continue;
                        int rgb = cs.rgb((v - lo) / (hi - lo));
                        double lum = 0.299 * ((rgb >> 16) & 255) + 0.587 * ((rgb >> 8) & 255) + 0.114 * (rgb & 255);
                        String label = Fmt.fitting(v, cw - 4, 10);
                        if (label == null) continue;
                        text(b, left + (j + 0.5) * cw, top + (i + 0.5) * ch + 4, label, "middle", 10,
                                lum > 140 ? "#111827" : "#ffffff", "pointer-events=\"none\"");
                    }
            }
        } else {
            b.append("<image x=\"").append(Fmt.px(left)).append("\" y=\"").append(Fmt.px(top)).append("\" width=\"")
                    .append(Fmt.px(right - left)).append("\" height=\"").append(Fmt.px(bottom - top))
                    .append("\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,")
                    .append(png(cs, lo, hi)).append("\"/>");
        }
        b.append("<rect x=\"").append(Fmt.px(left)).append("\" y=\"").append(Fmt.px(top)).append("\" width=\"").append(Fmt.px(right - left))
                .append("\" height=\"").append(Fmt.px(bottom - top)).append("\" fill=\"none\" stroke=\"#9ca3af\" stroke-width=\"0.8\"/>");
        for (Scale.Tick t : yt) {
            double y = top + (t.value() + 0.5) * ch;
            line(b, left - 4, y, left, y, "#6b7280", 1, null);
            text(b, left - 7, y + 4, t.label(), "end", 11, "#374151", null);
        }
        for (Scale.Tick t : xt) {
            double x = left + (t.value() + 0.5) * cw;
            line(b, x, bottom, x, bottom + 4, "#6b7280", 1, null);
            text(b, x, bottom + 16, t.label(), "middle", 11, "#374151", null);
        }
        if (!xLabel.isEmpty()) text(b, (left + right) / 2, bottom + 38, xLabel, "middle", 12, "#111827", null);
        if (!yLabel.isEmpty()) {
            double x = 16, y = (top + bottom) / 2;
            text(b, x, y, yLabel, "middle", 12, "#111827", "transform=\"rotate(-90 " + Fmt.px(x) + ' ' + Fmt.px(y) + ")\"");
        }
        colorbar(b, id, right + 18, top, bottom - top, cs, lo, hi, colorLabel);
        boolean anyNan = false;
        for (double[] row : z) for (double v : row) anyNan |= Double.isNaN(v);
        if (anyNan && bottom + 24 < height) {
            b.append("<rect x=\"").append(Fmt.px(right + 18)).append("\" y=\"").append(Fmt.px(bottom + 8)).append("\" width=\"14\" height=\"10\" fill=\"")
                    .append(NAN_COLOR).append("\"/>");
            text(b, right + 36, bottom + 17, "no value", "start", 11, "#374151", null);
        }
    }

    private double[] flat() {
        double[] f = new double[z.length * z[0].length];
        int k = 0;
        for (double[] row : z) for (double v : row) f[k++] = v;
        return f;
    }

    private void check(String[] labels, int n, String axis) {
        if (labels != null && labels.length != n)
            throw new IllegalArgumentException("heatmap '" + title + "': " + labels.length + " " + axis + " labels for " + n + (axis.equals("x") ? " columns" : " rows"));
    }

    private static String name(String[] labels, int i, String axis) {
        if (labels != null) return labels[i];
        return (axis.isEmpty() ? "" : axis + " ") + i;
    }

    /** Every index with its label, or nice index steps when there are no labels. */
    private static List<Scale.Tick> ticks(String[] labels, int n, double maxWidth) {
        List<Scale.Tick> t = new java.util.ArrayList<>();
        if (labels != null) {
            for (int i = 0; i < n; i++) t.add(new Scale.Tick(i, fit(labels[i], maxWidth, 11)));
        } else {
            int step = (int) Math.max(1, Scale.niceStep(n / 10.0));
            for (int i = 0; i < n; i += step) t.add(new Scale.Tick(i, Integer.toString(i)));
        }
        return t;
    }

    private static List<Scale.Tick> thin(List<Scale.Tick> t, double cellW, double plotW) {
        double widest = 0;
        for (Scale.Tick k : t) widest = Math.max(widest, textWidth(k.label(), 11));
        int every = Math.max(1, (int) Math.ceil(t.size() * (widest + 8) / plotW));
        return every == 1 ? t : every(t, every);
    }

    private static List<Scale.Tick> thinY(List<Scale.Tick> t, double cellH) {
        if (t.size() < 2) return t;
        double gap = (t.get(1).value() - t.get(0).value()) * cellH;
        int every = Math.max(1, (int) Math.ceil(14 / gap));
        return every == 1 ? t : every(t, every);
    }

    private static List<Scale.Tick> every(List<Scale.Tick> t, int k) {
        List<Scale.Tick> r = new java.util.ArrayList<>();
        for (int i = 0; i < t.size(); i += k) r.add(t.get(i));
        return r;
    }

    private String png(ColorScale cs, double lo, double hi) {
        int rows = z.length, cols = z[0].length;
        BufferedImage img = new BufferedImage(cols, rows, BufferedImage.TYPE_INT_RGB);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                double v = z[i][j];
                img.setRGB(j, i, Double.isFinite(v) ? cs.rgb((v - lo) / (hi - lo)) : 0xb8bec7);
            }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(img, "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Base64.getEncoder().encodeToString(out.toByteArray());
    }
}
