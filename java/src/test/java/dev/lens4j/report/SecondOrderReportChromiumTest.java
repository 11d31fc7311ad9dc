package dev.lens4j.report;

import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.studies.secondorder.SecondOrderOptions;
import dev.lens4j.studies.secondorder.SecondOrderStudy;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The second-order study's report (stories260K, 30 problems) rendered in headless Chromium by scripts/check-report.sh. */
class SecondOrderReportChromiumTest {
    @Test
    void secondOrderReportRendersInHeadlessChromium() throws Exception {
        String chrome = ChromiumReportTest.findChromium();
        Assumptions.assumeTrue(chrome != null, "chromium not installed: skipping the real-browser check of the second-order report");
        Path out = Path.of("target", "report-second-order").toAbsolutePath();
        SecondOrderStudy.Summary s;
        try (HookedTransformer model = HookedTransformer.fromPretrained(TestCheckpoints.stories260K())) {
            SecondOrderOptions o = new SecondOrderOptions();
            o.problems = 30;
            o.out = out;
            s = SecondOrderStudy.run(model, "stories260K", o, null, null);
        }
        Path shot = out.resolve("report.png");
        Files.deleteIfExists(shot);
        ProcessBuilder pb = new ProcessBuilder("bash", ChromiumReportTest.findScript().toString(), "--expect-plots", Integer.toString(s.plots()),
                "--height", "2000", s.report().toString(), shot.toString()).redirectErrorStream(true);
        pb.environment().put("CHROMIUM", chrome);
        Process p = pb.start();
        boolean done = p.waitFor(300, TimeUnit.SECONDS);
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!done) { p.destroyForcibly(); fail("check-report.sh timed out:\n" + log); }
        assertEquals(0, p.exitValue(), "check-report.sh failed:\n" + log);
        assertTrue(log.contains("plots: " + s.plots() + " found"), log);
        assertTrue(Files.size(shot) > 10_000, "screenshot has content");
    }
}
