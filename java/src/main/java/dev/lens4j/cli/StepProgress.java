package dev.lens4j.cli;

import dev.lens4j.studies.factual.FactualAnalysis;

import java.io.PrintStream;
import java.util.Locale;

/** Progress of a study's stages on stderr with elapsed time and ETA: redrawn in place on a terminal, one line per step otherwise. */
final class StepProgress implements FactualAnalysis.Progress {
    private final PrintStream err;
    private final boolean tty;
    private String stage;
    private long stageStart;

    StepProgress(PrintStream err, boolean tty) { this.err = err; this.tty = tty; }

    static StepProgress forStderr() {
        return new StepProgress(System.err, System.console() != null && !"dumb".equals(System.getenv("TERM")));
    }

    @Override public void step(String name, int done, int total) {
        long now = System.nanoTime();
        if (!name.equals(stage)) { stage = name; stageStart = now; }
        double elapsed = (now - stageStart) / 1e9, eta = done == 0 ? 0 : elapsed / done * (total - done);
        int filled = total == 0 ? 0 : done * 20 / total;
        String line = String.format(Locale.ROOT, "%s [%s%s] %d/%d  %.0fs elapsed, %.0fs left", name, "#".repeat(filled), "-".repeat(20 - filled),
                done, total, elapsed, eta);
        if (tty) err.print("\r" + line + (done == total ? "\n" : ""));
        else err.println(line);
        err.flush();
    }
}
