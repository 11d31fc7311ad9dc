package dev.lens4j.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** Runs the native kernel checks (native/cuda/check: every CUDA kernel against its CPU twin): emulated always, on
 *  the GPU when lens4j_cuda was built and a GPU is present. The emulation runs strict (native/cuda/emu): threads
 *  resume in a seeded shuffled order, so the checks run under several seeds to shake out order-dependent races. */
class CudaKernelCheckTest {
    private static String run(Path exe, String... env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(exe.toString()).redirectErrorStream(true);
        for (int i = 0; i < env.length; i += 2) pb.environment().put(env[i], env[i + 1]);
        Process p = pb.start();
        assertTrue(p.waitFor(600, TimeUnit.SECONDS), exe + " timed out");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @Test
    void everyKernelMatchesTheCpuUnderTheEmulation() throws Exception {
        Path exe = Path.of("target/native-build/lens4j_cuda_emu_check");
        assertTrue(Files.isExecutable(exe), "the emulated kernel checks are always built: " + exe);
        for (String seed : new String[] {"1", "7"}) {
            String out = run(exe, "L4J_EMU_SEED", seed);
            assertTrue(out.contains("ok:") && out.contains("emulation"), "seed " + seed + ": " + out);
        }
    }

    /** The strict emulation's own checks: a barrier some threads skip, a shuffle some lanes skip, a missing
     *  barrier and stale static shared memory each fail or show, as they would on a GPU. */
    @Test
    void theStrictEmulationCatchesBrokenKernels() throws Exception {
        Path exe = Path.of("target/native-build/lens4j_cuda_emu_selftest");
        assertTrue(Files.isExecutable(exe), "the emulation's self-checks are always built: " + exe);
        String out = run(exe);
        assertTrue(out.contains("ok: emulation self-checks passed") && out.contains("reached by 40 of 64"), out);
        String inOrder = run(exe, "L4J_EMU_STRICT", "0");
        assertTrue(inOrder.contains("in index order the missing barrier goes unseen"), inOrder);
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
