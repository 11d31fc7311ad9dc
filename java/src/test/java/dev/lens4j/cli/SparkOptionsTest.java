package dev.lens4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `scan --spark` and `sweep` in the core module, where Spark is absent: one line saying how to get it, status 2. */
class SparkOptionsTest {
    @Test void scanWithSparkSaysHowToGetIt(@TempDir Path dir) throws Exception {
        Path c = ScanCommandTest.corpus(dir), out = dir.resolve("scan");
        CliTest.Result r = CliTest.cli("scan", "--model", CliTest.stories(), "--corpus", c.toString(), "--spark", "local[2]", "--out", out.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("error: Spark support is not on the classpath: build the spark module"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(Files.exists(out.resolve("neurons.safetensors")));
    }

    @Test void sparkScanRefusesOptionsItCannotHonour(@TempDir Path dir) throws Exception {
        Path c = ScanCommandTest.corpus(dir);
        CliTest.Result r = CliTest.cli("scan", "--model", CliTest.stories(), "--corpus", c.toString(), "--spark", "local[2]", "--max-tokens", "10",
                "--out", dir.resolve("s").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("no --max-tokens"), r.err());
    }

    @Test void sweepSaysHowToGetIt(@TempDir Path dir) throws Exception {
        Path p = Files.writeString(dir.resolve("p.jsonl"), "{\"clean\": \"a\", \"corrupt\": \"b\", \"answer\": \" c\", \"wrong\": \" d\"}\n");
        CliTest.Result r = CliTest.cli("sweep", "--model", CliTest.stories(), "--prompts", p.toString(), "--out", dir.resolve("s").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("error: Spark support is not on the classpath"), r.err());
    }
}
