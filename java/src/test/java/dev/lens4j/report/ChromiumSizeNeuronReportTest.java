package dev.lens4j.report;

import dev.lens4j.cli.Main;
import dev.lens4j.load.TestCheckpoints;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * `study size-neuron`'s report.html and the top neuron's neuroscope page in headless Chromium (scripts/check-report.sh):
 * every plot the command reports draws, no script errors, no resource loads. Skipped when Chromium is not installed.
 */
class ChromiumSizeNeuronReportTest {
    @Test void sizeNeuronReportRenders(@TempDir Path dir) throws Exception {
        String chrome = ChromiumReportTest.findChromium();
        Assumptions.assumeTrue(chrome != null, "chromium not installed (apt-get install -y chromium): skipping the real-browser page check");
        String model = TestCheckpoints.stories260K().toString();
        Path fam = Files.writeString(dir.resolve("dog.tsv"),
                "Once upon a time there was a big dog and a\tOnce upon a time there was a little dog and a\t little\t big\n");
        Path fam2 = Files.writeString(dir.resolve("girl.tsv"),
                "The girl was very big. The boy was very\tThe girl was very little. The boy was very\t little\t big\n");
        Path corpus = Files.writeString(dir.resolve("c.txt"), "Once upon a time, there was a big dog. The dog was very big and the cat was little.");
        Path out = dir.resolve("out");
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Main.execute("study", "size-neuron", "--model", model, "--family", fam.toString(), "--family", fam2.toString(),
                    "--corpus", corpus.toString(), "--out", out.toString());
        } finally {
            System.setOut(old);
        }
        String stdout = buf.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, stdout);
        Matcher m = Pattern.compile("report\\.html \\((\\d+) plots").matcher(stdout);
        assertTrue(m.find(), stdout);
        int plots = Integer.parseInt(m.group(1));
        assertTrue(plots >= 15, "lens, jumps, 3 heatmaps per family; neurons; cross-family; ablation; congruence; neuroscope: " + plots);
        ChromiumCommandPagesTest.check(chrome, out.resolve("report.html"), plots);
        ChromiumCommandPagesTest.check(chrome, out.resolve("scan/browser/index.html"), 0);
    }
}
