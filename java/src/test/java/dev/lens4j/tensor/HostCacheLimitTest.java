package dev.lens4j.tensor;

import dev.lens4j.nativ.CpuKernels;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** LENS4J_HOST_CACHE_MB is read once per process, so each case runs a JVM of its own with the variable set. */
class HostCacheLimitTest {
    private static final long MIB = 1L << 20;

    /** Prints the cache limit in force after the first tensor. */
    public static final class Probe {
        public static void main(String[] args) {
            Tensor.zeros(4).close();
            System.out.println("limit=" + CpuKernels.l4j_host_cache_limit(-1));
        }
    }

    private record Run(long limit, String stderr) {}

    private static Run probe(String value) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Probe.class.getName());
        pb.environment().remove("LENS4J_HOST_CACHE_MB");
        if (value != null) pb.environment().put("LENS4J_HOST_CACHE_MB", value);
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) { p.destroyForcibly(); fail("probe JVM timed out"); }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out + err);
        assertTrue(out.startsWith("limit="), out);
        return new Run(Long.parseLong(out.substring("limit=".length())), err);
    }

    /** min(1 GiB, physical memory / 8), physical memory from /proc/meminfo (MemTotal, kB). */
    private static long defaultLimit() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/meminfo")))
            if (line.startsWith("MemTotal:")) return Math.min(1L << 30, Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024 / 8);
        throw new AssertionError("no MemTotal in /proc/meminfo");
    }

    @Test void theVariableSetsTheLimitInMiBAndZeroTurnsCachingOff() throws Exception {
        Run r = probe("3");
        assertEquals(3 * MIB, r.limit());
        assertFalse(r.stderr().contains("warning"), r.stderr());
        assertEquals(0, probe("0").limit());
    }

    @Test void withoutTheVariableTheLimitIsAnEighthOfMemoryUpTo1GiB() throws Exception {
        Run r = probe(null);
        assertEquals(defaultLimit(), r.limit(), 64 * 1024, "rounding to whole pages aside");
        assertEquals("", r.stderr().trim());
    }

    @Test void aBadValueFallsBackToTheDefaultWithOneWarning() throws Exception {
        long expected = defaultLimit();
        for (String bad : new String[] {"lots", "-5", "12x", " 7", "1234567890123", ""}) {
            Run r = probe(bad);
            assertEquals(expected, r.limit(), 64 * 1024, "LENS4J_HOST_CACHE_MB=\"" + bad + "\"");
            assertEquals(1, r.stderr().split("warning", -1).length - 1, "one warning for \"" + bad + "\": " + r.stderr());
            assertTrue(r.stderr().contains("LENS4J_HOST_CACHE_MB=\"" + bad + "\""), r.stderr());
        }
    }
}
