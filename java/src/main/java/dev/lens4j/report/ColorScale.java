package dev.lens4j.report;

/** A continuous colour map from [0, 1] to #rrggbb, interpolated in RGB between fixed stops. */
public final class ColorScale {
    private final int[] stops;
    private final String name;

    private ColorScale(String name, int... stops) {
        this.name = name;
        this.stops = stops;
    }

    /** Perceptually uniform, colour-blind safe; for one-signed values. */
    public static final ColorScale VIRIDIS = new ColorScale("viridis",
            0x440154, 0x472d7b, 0x3b528b, 0x2c728e, 0x21918c, 0x28ae80, 0x5ec962, 0xaddc30, 0xfde725);
    /** ColorBrewer RdBu: negative red, zero white, positive blue (TransformerLens demos' imshow convention). */
    public static final ColorScale RDBU = new ColorScale("RdBu",
            0x67001f, 0xb2182b, 0xd6604d, 0xf4a582, 0xfddbc7, 0xf7f7f7, 0xd1e5f0, 0x92c5de, 0x4393c3, 0x2166ac, 0x053061);

    /** A two-colour ramp, e.g. white to red for a boolean "failed" map. */
    public static ColorScale ramp(String low, String high) {
        return new ColorScale("ramp", parse(low), parse(high));
    }

    private static int parse(String hex) {
        String h = Html.color(hex).substring(1);
        if (h.length() == 3) h = "" + h.charAt(0) + h.charAt(0) + h.charAt(1) + h.charAt(1) + h.charAt(2) + h.charAt(2);
        return Integer.parseInt(h, 16);
    }

    public String name() { return name; }

    /** Colour at t in [0, 1] (clamped). */
    public String at(double t) {
        int rgb = rgb(t);
        return String.format("#%06x", rgb);
    }

    int rgb(double t) {
        if (Double.isNaN(t)) t = 0.5;
        t = Math.max(0, Math.min(1, t));
        double pos = t * (stops.length - 1);
        int i = Math.min((int) pos, stops.length - 2);
        double f = pos - i;
        int a = stops[i], b = stops[i + 1];
        int r = (int) Math.round(((a >> 16) & 255) * (1 - f) + ((b >> 16) & 255) * f);
        int g = (int) Math.round(((a >> 8) & 255) * (1 - f) + ((b >> 8) & 255) * f);
        int bl = (int) Math.round((a & 255) * (1 - f) + (b & 255) * f);
        return (r << 16) | (g << 8) | bl;
    }
}
