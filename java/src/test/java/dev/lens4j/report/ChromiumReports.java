package dev.lens4j.report;

import org.junit.jupiter.api.Assumptions;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** A study's report.html opened in headless Chromium by scripts/check-report.sh: every plot draws, no script errors, nothing loaded. */
public final class ChromiumReports {
    private ChromiumReports() {}

    /** Call last in a test: without Chromium the test ends skipped (its other checks have run), with it the page must pass. */
    public static void checkIfAvailable(Path page, int plots) throws Exception {
        String chrome = ChromiumReportTest.findChromium();
        Assumptions.assumeTrue(chrome != null, "chromium not installed (apt-get install -y chromium): skipping the real-browser check of " + page);
        String log = check(chrome, page, plots);
        assertTrue(log.contains("plots: " + plots + " found"), log);
    }

    /** Runs scripts/check-report.sh on a page: it must exit 0 with no script errors and no resource loads; returns its log. */
    static String check(String chrome, Path page, int plots) throws Exception {
        Path shot = page.resolveSibling(page.getFileName() + ".png");
        ProcessBuilder pb = new ProcessBuilder("bash", ChromiumReportTest.findScript().toString(), "--expect-plots", Integer.toString(plots),
                page.toString(), shot.toString()).redirectErrorStream(true);
        pb.environment().put("CHROMIUM", chrome);
        Process p = pb.start();
        boolean done = p.waitFor(300, TimeUnit.SECONDS);
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!done) { p.destroyForcibly(); fail("check-report.sh timed out on " + page + ":\n" + log); }
        assertEquals(0, p.exitValue(), page + ":\n" + log);
        assertTrue(log.contains("script errors: none") && log.contains("resource loads: none"), log);
        return log;
    }
}
