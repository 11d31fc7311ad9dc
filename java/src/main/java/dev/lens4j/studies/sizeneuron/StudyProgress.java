package dev.lens4j.studies.sizeneuron;

import java.util.Locale;
import java.util.function.Consumer;

/** Steps of a study as progress lines with a bar, elapsed time and an ETA from the mean time per finished step. */
final class StudyProgress {
    private static final int WIDTH = 24;
    private final Consumer<String> sink;
    private final long started = System.nanoTime();
    private int done, total;

    StudyProgress(Consumer<String> sink, int total) {
        this.sink = sink == null ? s -> {} : sink;
        this.total = Math.max(1, total);
    }

    /** The plan changed by n steps (once the flagged layers are known). */
    void add(int n) { total = Math.max(done + 1, total + n); }

    void step(String what) {
        done = Math.min(done + 1, total);
        sink.accept(line(what));
    }

    /** A line inside a long step (the scan's own progress), with the study's bar. */
    void detail(String what) { sink.accept(line(what)); }

    String line(String what) {
        double el = (System.nanoTime() - started) / 1e9, eta = done == 0 ? 0 : el / done * (total - done);
        int filled = (int) Math.round((double) done / total * WIDTH);
        return String.format(Locale.ROOT, "size-neuron [%s%s] %d/%d %s, %s elapsed, %s left", "#".repeat(filled), "-".repeat(WIDTH - filled),
                done, total, what, time(el), time(eta));
    }

    static String time(double s) {
        return s < 60 ? String.format(Locale.ROOT, "%.0fs", s) : String.format(Locale.ROOT, "%dm%02ds", (int) s / 60, (int) s % 60);
    }
}
