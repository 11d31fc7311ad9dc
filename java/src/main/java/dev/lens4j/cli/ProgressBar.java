package dev.lens4j.cli;

import dev.lens4j.train.Trainer;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * Training progress on stderr: a bar redrawn in place (carriage return) on a terminal, plain lines every 10% when
 * the output is a file or pipe (so logs stay readable).
 */
final class ProgressBar implements Consumer<Trainer.Progress> {
    private static final int WIDTH = 28;
    private final PrintStream err;
    private final boolean tty;
    private long lastDraw;
    private int lastTenth = -1;

    ProgressBar(PrintStream err, boolean tty) { this.err = err; this.tty = tty; }

    /** A bar for this process's stderr; System.console() is null when stdin or stdout is not a terminal. */
    static ProgressBar forStderr() {
        boolean tty = System.console() != null && !"dumb".equals(System.getenv("TERM"));
        return new ProgressBar(System.err, tty);
    }

    @Override public void accept(Trainer.Progress p) {
        boolean last = p.epoch() == p.epochs();
        if (tty) {
            long now = System.nanoTime();
            if (!last && now - lastDraw < 100_000_000L) return; // at most 10 redraws a second
            lastDraw = now;
            err.print("\r" + line(p, true) + (last ? "\n" : ""));
            err.flush();
        } else {
            int tenth = (int) ((long) p.epoch() * 10 / p.epochs());
            if (tenth == lastTenth && !last) return;
            lastTenth = tenth;
            err.println(line(p, false));
        }
    }

    static String line(Trainer.Progress p, boolean bar) {
        double frac = (double) p.epoch() / p.epochs();
        double eta = p.epoch() == 0 ? 0 : p.elapsedSeconds() / p.epoch() * (p.epochs() - p.epoch());
        StringBuilder b = new StringBuilder("train ");
        if (bar) {
            int filled = (int) Math.round(frac * WIDTH);
            b.append('[').append("#".repeat(filled)).append("-".repeat(WIDTH - filled)).append("] ");
        }
        b.append(String.format(Locale.ROOT, "epoch %d/%d %3.0f%%  loss train %.2e test %.2e  acc train %5.1f%% test %5.1f%%  %s elapsed, %s left",
                p.epoch(), p.epochs(), 100 * frac, p.trainLoss(), p.testLoss(), 100 * p.trainAccuracy(), 100 * p.testAccuracy(),
                time(p.elapsedSeconds()), time(eta)));
        return b.toString();
    }

    private static String time(double s) {
        return s < 60 ? String.format(Locale.ROOT, "%.0fs", s) : String.format(Locale.ROOT, "%dm%02ds", (int) s / 60, (int) s % 60);
    }
}
