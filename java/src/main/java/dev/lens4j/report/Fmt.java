package dev.lens4j.report;

import java.math.BigDecimal;

/** Number formatting for ticks, tooltips and tables. */
final class Fmt {
    private Fmt() {}

    /** SVG coordinate: one decimal is sub-pixel at the sizes we draw, and keeps files small. */
    static String px(double v) {
        long t = Math.round(v * 10);
        if (t % 10 == 0) return Long.toString(t / 10);
        return (t < 0 ? "-" : "") + Math.abs(t) / 10 + "." + Math.abs(t) % 10;
    }

    /** A value for people: 4 significant digits, exponent form only when very large or very small. */
    static String num(double v) {
        if (Double.isNaN(v)) return "NaN";
        if (Double.isInfinite(v)) return v > 0 ? "inf" : "-inf";
        if (v == 0) return "0";
        double a = Math.abs(v);
        if (a >= 1e6 || a < 1e-4) return exp(v, 3);
        BigDecimal bd = new BigDecimal(v).round(new java.math.MathContext(4));
        return strip(bd.toPlainString());
    }

    /** A tick label: enough decimals to tell ticks {@code step} apart, no more. */
    static String tick(double v, double step) {
        if (Math.abs(v) < step * 1e-9) return "0";
        double a = Math.abs(v);
        if (a >= 1e6 || a < 1e-4) return exp(v, 2);
        // as many decimals as the step itself has: 0.25 needs two, or 0.75 would print as 0.8
        int decimals = 0;
        while (decimals < 10) {
            double scaled = step * Math.pow(10, decimals);
            if (Math.abs(scaled - Math.rint(scaled)) < 1e-6 * scaled) break;
            decimals++;
        }
        return strip(new BigDecimal(v).setScale(decimals, java.math.RoundingMode.HALF_EVEN).toPlainString());
    }

    /** The shortest of 3, 2 or 1 significant digits that fits {@code maxWidth} px at {@code size}; null if none does. */
    static String fitting(double v, double maxWidth, int size) {
        // plain forms first; dropping the leading zero (-0.009 -> -.009) only when nothing else fits
        for (boolean shorten : new boolean[] {false, true})
            for (int digits = 3; digits >= 1; digits--) {
                String s;
                double a = Math.abs(v);
                if (v == 0) s = "0";
                else if (a >= 1e5 || a < 1e-3) s = exp(v, digits - 1);
                else s = strip(new BigDecimal(v).round(new java.math.MathContext(digits)).toPlainString());
                if (shorten) s = s.replaceFirst("^(-?)0\\.", "$1.");
                if (Chart.textWidth(s, size) <= maxWidth) return s;
            }
        return null;
    }

    private static String exp(double v, int digits) {
        int e = (int) Math.floor(Math.log10(Math.abs(v)));
        double m = v / Math.pow(10, e);
        if (Math.abs(Math.round(m * Math.pow(10, digits))) >= 10 * Math.pow(10, digits)) { m /= 10; e++; }
        String ms = strip(new BigDecimal(m).setScale(digits, java.math.RoundingMode.HALF_EVEN).toPlainString());
        return ms + "e" + e;
    }

    private static String strip(String s) {
        if (s.indexOf('.') < 0) return s.equals("-0") ? "0" : s;
        s = s.replaceAll("0+$", "");
        if (s.endsWith(".")) s = s.substring(0, s.length() - 1);
        return s.equals("-0") ? "0" : s;
    }
}
