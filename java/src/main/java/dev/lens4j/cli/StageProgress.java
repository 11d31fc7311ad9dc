package dev.lens4j.cli;

import java.io.PrintStream;
import java.util.Locale;

/** Progress of a study's stages on stderr with elapsed time and ETA: redrawn in place on a terminal, a line per 10% otherwise. */
final class StageProgress {
    private final PrintStream err;
    private final boolean tty;
    private String stage;
    private long start, lastDraw;
    private int lastTenth = -1;

    StageProgress(PrintStream err, boolean tty) { this.err = err; this.tty = tty; }

    static StageProgress forStderr() {
        return new StageProgress(System.err, System.console() != null && !"dumb".equals(System.getenv("TERM")));
    }

    void update(String name, int done, int total) {
        long now = System.nanoTime();
        if (!name.equals(stage)) { stage = name; start = now; lastTenth = -1; lastDraw = 0; }
        boolean last = done >= total;
        double elapsed = (now - start) / 1e9, eta = done == 0 ? 0 : elapsed / done * (total - done);
        String line = String.format(Locale.ROOT, "%s %d/%d %3.0f%%  %.0fs elapsed, %.0fs left", name, done, total, 100.0 * done / total, elapsed, eta);
        if (tty) {
            if (!last && now - lastDraw < 100_000_000L) return;
            lastDraw = now;
            int filled = (int) Math.round(28.0 * done / total);
            err.print("\r" + name + " [" + "#".repeat(filled) + "-".repeat(28 - filled) + "] " + line.substring(name.length() + 1) + (last ? "\n" : ""));
            err.flush();
        } else {
            int tenth = (int) ((long) done * 10 / total);
            if (tenth == lastTenth && !last) return;
            lastTenth = tenth;
            err.println(line);
        }
    }
}
