package dev.lens4j.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** Runs the native kernel checks (native/cuda/check: every CUDA kernel against its CPU twin): emulated always, on
 *  the GPU when lens4j_cuda was built and a GPU is present. */
class CudaKernelCheckTest {
    private static String run(Path exe) throws Exception {
        Process p = new ProcessBuilder(exe.toString()).redirectErrorStream(true).start();
        assertTrue(p.waitFor(600, TimeUnit.SECONDS), exe + " timed out");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @Test
    void everyKernelMatchesTheCpuUnderTheEmulation() throws Exception {
        Path exe = Path.of("target/native-build/lens4j_cuda_emu_check");
        assertTrue(Files.isExecutable(exe), "the emulated kernel checks are always built: " + exe);
        String out = run(exe);
        assertTrue(out.contains("ok:") && out.contains("emulation"), out);
    }

    @Test
    void everyKernelMatchesTheCpuOnAGpu() throws Exception {
        Path exe = Path.of("target/native-build/lens4j_cuda_check");
        Assumptions.assumeTrue(Files.isExecutable(exe), "CUDA kernels not built here (no nvcc found by CMake)");
        String out = run(exe);
        Assumptions.assumeFalse(out.startsWith("no CUDA device"), "built with nvcc, but no GPU on this machine: " + out);
        assertTrue(out.contains("ok:"), out);
    }
}
