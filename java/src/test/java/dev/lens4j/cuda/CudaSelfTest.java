package dev.lens4j.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** Runs the CUDA part's self-test (device memory, copies, a kernel) when it was built and a GPU is present. */
class CudaSelfTest {
    @Test
    void cudaRuntimeAndKernelWorkOnAGpu() throws Exception {
        Path exe = Path.of("target/native-build/lens4j_cuda_selftest");
        Assumptions.assumeTrue(Files.isExecutable(exe), "CUDA part not built here (no nvcc found by CMake)");
        Process p = new ProcessBuilder(exe.toString()).redirectErrorStream(true).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "self-test timed out");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, p.exitValue(), out);
        Assumptions.assumeFalse(out.contains("no CUDA device"), "built, but no CUDA device on this machine: " + out);
        assertTrue(out.startsWith("ok:"), out);
    }
}
