package dev.lens4j.report;

import static org.junit.jupiter.api.Assertions.*;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Renders the demo report in a real browser through scripts/check-report.sh: every plot draws an SVG, no script
 * errors, no resource loads, and a screenshot (kept at target/report-demo/report.png for people to look at).
 * Skipped when Chromium is not installed.
 */
class ChromiumReportTest {

    @Test
    void demoReportRendersInHeadlessChromium() throws Exception {
        String chrome = findChromium();
        Assumptions.assumeTrue(chrome != null,
                "chromium not installed (apt-get install -y chromium, or set CHROMIUM=/path): skipping the real-browser report check");
        Path out = Path.of("target", "report-demo").toAbsolutePath();
        Path html = DemoReport.build().write(out.resolve("report.html"));
        String log = checkInChromium(chrome, html, DemoReport.PLOTS, out.resolve("report.png"));
        System.out.println(log);
    }

    /** Runs scripts/check-report.sh on a report: every plot drew, no script errors or resource loads, a screenshot; returns its log. */
    static String checkInChromium(String chrome, Path html, int plots, Path shot) throws Exception {
        Files.deleteIfExists(shot);
        ProcessBuilder pb = new ProcessBuilder("bash", findScript().toString(), "--expect-plots", Integer.toString(plots),
                "--height", "2000", html.toString(), shot.toString()).redirectErrorStream(true);
        pb.environment().put("CHROMIUM", chrome);
        Process p = pb.start();
        boolean done = p.waitFor(300, TimeUnit.SECONDS);
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!done) { p.destroyForcibly(); fail("check-report.sh timed out:\n" + log); }
        assertEquals(0, p.exitValue(), "check-report.sh failed:\n" + log);
        assertTrue(log.contains("plots: " + plots + " found"), log);
        assertTrue(Files.size(shot) > 10_000, "screenshot has content");
        return log;
    }

    static String findChromium() {
        String env = System.getenv("CHROMIUM");
        if (env != null && new File(env).canExecute()) return env;
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
            for (String name : new String[] {"chromium", "chromium-browser", "google-chrome"}) {
                File f = new File(dir, name);
                if (f.canExecute()) return f.getAbsolutePath();
            }
        return null;
    }

    /** The script lives at the repository root; tests run from java/. */
    static Path findScript() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path s = d.resolve("scripts/check-report.sh");
            if (Files.isRegularFile(s)) return s;
        }
        throw new AssertionError("scripts/check-report.sh not found above " + Path.of("").toAbsolutePath());
    }
}
