package dev.lens4j.report;

import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.studies.secondorder.SecondOrderOptions;
import dev.lens4j.studies.secondorder.SecondOrderStudy;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

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
        ChromiumReportTest.checkInChromium(chrome, s.report(), s.plots(), out.resolve("report.png"));
    }
}
