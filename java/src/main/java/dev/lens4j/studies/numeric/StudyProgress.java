package dev.lens4j.studies.numeric;

import java.io.PrintStream;
import java.util.Locale;

/** Progress of the study's long parts on stderr: a line per 10% (or a bar redrawn in place on a terminal), with ETA. */
public final class StudyProgress {
    private final PrintStream err;
    private final boolean tty;
    private String phase;
    private int total, lastTenth;
    private long t0, lastDraw;

    public StudyProgress(PrintStream err, boolean tty) { this.err = err; this.tty = tty; }

    public static StudyProgress none() { return new StudyProgress(null, false); }

    void start(String phase, int total) {
        this.phase = phase;
        this.total = Math.max(total, 1);
        lastTenth = -1;
        t0 = System.nanoTime();
    }

    void update(int done) {
        if (err == null) return;
        boolean last = done >= total;
        double elapsed = (System.nanoTime() - t0) / 1e9, eta = done == 0 ? 0 : elapsed / done * (total - done);
        String line = String.format(Locale.ROOT, "%-22s %d/%d %3.0f%%  %s elapsed, %s left", phase, done, total, 100.0 * done / total,
                time(elapsed), time(eta));
        if (tty) {
            long now = System.nanoTime();
            if (!last && now - lastDraw < 200_000_000L) return;
            lastDraw = now;
            err.print("\r" + line + (last ? "\n" : ""));
        } else {
            int tenth = (int) ((long) done * 10 / total);
            if (tenth == lastTenth && !last) return;
            lastTenth = tenth;
            err.println(line);
        }
        err.flush();
    }

    static String time(double s) {
        return s < 60 ? String.format(Locale.ROOT, "%.0fs", s) : String.format(Locale.ROOT, "%dm%02ds", (int) s / 60, (int) s % 60);
    }
}
