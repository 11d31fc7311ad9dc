package dev.lens4j.report;

import dev.lens4j.cli.Main;
import dev.lens4j.load.TestCheckpoints;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The pages the analysis commands write, opened in headless Chromium (scripts/check-report.sh): the `lens`, `heads`
 * and `congruence` reports' plots draw, and the scan's neuron browser pages load with no script errors and no resource loads. Skipped when
 * Chromium is not installed (CI installs it).
 */
class ChromiumCommandPagesTest {
    @Test void lensReportAndNeuronBrowserRender(@TempDir Path dir) throws Exception {
        String chrome = ChromiumReportTest.findChromium();
        Assumptions.assumeTrue(chrome != null, "chromium not installed (apt-get install -y chromium): skipping the real-browser page check");
        String model = TestCheckpoints.stories260K().toString();
        Path corpus = Files.writeString(dir.resolve("c.txt"), "Once upon a time, there was a little girl named Lily. She loved to play outside.");
        assertEquals(0, Main.execute("lens", "--model", model, "--prompt", "Once upon a time, there was a little girl named",
                "--answer", " Lily", "--out", dir.resolve("lens").toString()));
        assertEquals(0, Main.execute("scan", "--model", model, "--corpus", corpus.toString(), "--top-k", "3", "--seq-len", "16",
                "--out", dir.resolve("scan").toString()));
        assertEquals(0, Main.execute("heads", "--model", model, "--out", dir.resolve("heads").toString()));
        assertEquals(0, Main.execute("congruence", "--model", model, "--tokens", "Lily,big", "--out", dir.resolve("cong").toString()));
        check(chrome, dir.resolve("lens/report.html"), 4);
        check(chrome, dir.resolve("heads/report.html"), 3);
        check(chrome, dir.resolve("cong/report.html"), 3);
        check(chrome, dir.resolve("scan/browser/index.html"), 0);
        check(chrome, dir.resolve("scan/browser/h0.html"), 0);
        check(chrome, dir.resolve("scan/browser/h0/n0.html"), 0);
    }

    static void check(String chrome, Path page, int plots) throws Exception { ChromiumReports.check(chrome, page, plots); }
}
