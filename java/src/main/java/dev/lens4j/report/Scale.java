package dev.lens4j.report;

import java.util.ArrayList;
import java.util.List;

/** Maps data values to pixels along one axis, linear or log10, and chooses readable ticks. */
final class Scale {
    record Tick(double value, String label) {}

    final boolean log;
    final double d0, d1; // domain; in log10 units when log
    final double r0, r1; // pixel range

    private Scale(boolean log, double d0, double d1, double r0, double r1) {
        this.log = log;
        this.d0 = d0;
        this.d1 = d1;
        this.r0 = r0;
        this.r1 = r1;
    }

    /** A linear scale over [lo, hi] (data units), widened when empty. */
    static Scale linear(double lo, double hi, double r0, double r1) {
        if (!(hi > lo)) {
            double c = Double.isFinite(lo) ? lo : 0, h = c == 0 ? 1 : Math.abs(c) * 0.5;
            lo = c - h;
            hi = c + h;
        }
        return new Scale(false, lo, hi, r0, r1);
    }

    /** A log10 scale over [lo, hi], both > 0. */
    static Scale log(double lo, double hi, double r0, double r1) {
        double a = Math.log10(lo), b = Math.log10(hi);
        if (!(b > a)) { a -= 0.5; b += 0.5; }
        return new Scale(true, a, b, r0, r1);
    }

    boolean valid(double v) { return Double.isFinite(v) && (!log || v > 0); }

    double map(double v) {
        double t = log ? Math.log10(v) : v;
        return r0 + (t - d0) / (d1 - d0) * (r1 - r0);
    }

    /** Pixel position clamped to the range (bars that start below a log axis' floor, etc). */
    double mapClamped(double v) {
        double p = valid(v) ? map(v) : (log ? r0 : Double.NaN);
        double lo = Math.min(r0, r1), hi = Math.max(r0, r1);
        return Math.max(lo, Math.min(hi, p));
    }

    double dataMin() { return log ? Math.pow(10, d0) : d0; }

    double dataMax() { return log ? Math.pow(10, d1) : d1; }

    List<Tick> ticks(int target, boolean integersOnly) {
        return log ? logTicks() : linearTicks(target, integersOnly);
    }

    private List<Tick> linearTicks(int target, boolean integersOnly) {
        double step = niceStep((d1 - d0) / Math.max(1, target));
        if (integersOnly) step = Math.max(1, Math.round(step));
        List<Tick> t = new ArrayList<>();
        double first = Math.ceil(d0 / step - 1e-9) * step;
        for (int i = 0; i < 1000; i++) {
            double v = first + i * step;
            if (v > d1 + step * 1e-9) break;
            t.add(new Tick(v, Fmt.tick(v, step)));
        }
        return t;
    }

    private List<Tick> logTicks() {
        List<Tick> t = new ArrayList<>();
        int lo = (int) Math.ceil(d0 - 1e-9), hi = (int) Math.floor(d1 + 1e-9);
        int decades = hi - lo + 1;
        if (decades >= 2) {
            int every = Math.max(1, (int) Math.ceil(decades / 7.0));
            for (int e = lo; e <= hi; e++) if ((e - lo) % every == 0) t.add(new Tick(Math.pow(10, e), Fmt.num(Math.pow(10, e))));
        } else {
            // under two decades: 1-2-5 steps so there are still a few labels
            for (int e = (int) Math.floor(d0) - 1; e <= (int) Math.ceil(d1); e++)
                for (int m : new int[] {1, 2, 5}) {
                    double v = m * Math.pow(10, e), l = Math.log10(v);
                    if (l >= d0 - 1e-9 && l <= d1 + 1e-9) t.add(new Tick(v, Fmt.num(v)));
                }
        }
        return t;
    }

    /** 1, 2, 2.5 or 5 times a power of ten, at least {@code raw}. */
    static double niceStep(double raw) {
        if (!(raw > 0) || !Double.isFinite(raw)) return 1;
        double p = Math.pow(10, Math.floor(Math.log10(raw)));
        double f = raw / p;
        double n = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
        return n * p;
    }
}
