package dev.lens4j.cuda;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** scripts/gpu-check.sh and scripts/gpu/*.py, the GPU machine's one script, exercised here without a GPU: its
 *  argument and failure handling, the whole pipeline on the CUDA emulation (prebuilt libraries, toy sizes), and the
 *  Python harness's GPT-2 (forward, cache, gradients, attribution, scores from lens4j's kernels) against PyTorch's
 *  equations, on the CPU kernels. The Python parts skip with a message where no python3 with torch is found. */
class GpuCheckScriptTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final Path SCRIPT = ROOT.resolve("scripts/gpu-check.sh");
    private static final Path BUILD = Path.of("target/native-build").toAbsolutePath();
    private static final ObjectMapper JSON = new ObjectMapper();

    record Result(int exit, String stdout, String stderr) {}

    private static Result run(List<String> cmd) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(ROOT.toFile());
        pb.environment().remove("OUT");
        Path out = Files.createTempFile("gpu-check", ".out"), err = Files.createTempFile("gpu-check", ".err");
        try {
            Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            assertTrue(p.waitFor(300, TimeUnit.SECONDS), "timed out: " + cmd);
            return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private static Result script(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("bash", SCRIPT.toString()));
        cmd.addAll(List.of(args));
        return run(cmd);
    }

    /** A python3 with torch (LENS4J_PYTHON, python3, /usr/bin/python3), or null. */
    private static String pythonWithTorch() throws Exception {
        List<String> candidates = new ArrayList<>();
        if (System.getenv("LENS4J_PYTHON") != null) candidates.add(System.getenv("LENS4J_PYTHON"));
        candidates.addAll(List.of("python3", "/usr/bin/python3"));
        for (String py : candidates) {
            try {
                if (run(List.of(py, "-c", "import torch")).exit() == 0) return py;
            } catch (java.io.IOException e) {
                // not installed
            }
        }
        return null;
    }

    @Test
    void badArgumentsAreOneLineErrorsWithStatus2() throws Exception {
        for (String[] args : new String[][] {{"--frobnicate"}, {"--jobs", "x"}, {"--steps", "kernels,nope"}, {"--budget", "0"}, {"--out"}}) {
            Result r = script(args);
            assertEquals(2, r.exit(), String.join(" ", args) + ": " + r.stderr());
            assertEquals(1, r.stderr().strip().lines().count(), r.stderr());
            assertTrue(r.stderr().startsWith("gpu-check: "), r.stderr());
        }
        assertTrue(script("--help").stdout().contains("--emulated"));
    }

    @Test
    void anOutThatIsAFileIsRefusedAndLeftAlone(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("results"), "keep me");
        Result r = script("--emulated", "--prebuilt", BUILD.toString(), "--out", file.toString());
        assertEquals(2, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("not a directory"), r.stderr());
        assertEquals("keep me", Files.readString(file));

        // a link under one of the script's file names is not written through
        Path out = Files.createDirectory(dir.resolve("out"));
        Files.createSymbolicLink(out.resolve("summary.json"), file);
        r = script("--emulated", "--prebuilt", BUILD.toString(), "--out", out.toString());
        assertEquals(2, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("summary.json exists and is not a regular file"), r.stderr());
        assertEquals("keep me", Files.readString(file));
    }

    @Test
    void withoutAGpuTheRealKernelChecksFail(@TempDir Path out) throws Exception {
        // the non-emulated mode on this machine: lens4j_cuda_check finds no device (or was not built): a failure,
        // never a silent pass
        Assumptions.assumeFalse(Files.exists(Path.of("/dev/nvidia0")), "a GPU is present: this checks the machine without one");
        Result r = script("--prebuilt", BUILD.toString(), "--steps", "kernels", "--out", out.toString(), "--python", python());
        assertEquals(1, r.exit(), r.stdout() + r.stderr());
        JsonNode s = JSON.readTree(out.resolve("summary.json").toFile());
        assertEquals("FAIL", s.get("status").asText());
        assertEquals("kernels", s.get("failed_steps").get(0).asText());
        assertFalse(s.get("gpu_result").asBoolean());
    }

    @Test
    void aBudgetTooSmallForTheStepsIsAFailure(@TempDir Path out) throws Exception {
        Result r = script("--emulated", "--prebuilt", BUILD.toString(), "--steps", "kernels", "--budget", "5",
                "--out", out.toString(), "--python", python());
        assertEquals(1, r.exit(), r.stdout() + r.stderr());
        JsonNode step = JSON.readTree(out.resolve("summary.json").toFile()).get("steps").get(0);
        assertEquals("timeout", step.get("status").asText());
        assertTrue(step.get("note").asText().contains("no time left"), step.toString());
    }

    @Test
    void theEmulatedPipelineRunsAndReportsWhatIsMissing(@TempDir Path out) throws Exception {
        String py = pythonWithTorch();
        Assumptions.assumeTrue(py != null, "no python3 with torch here (set LENS4J_PYTHON): the emulated pipeline is not run");
        // the kernel checks are CudaKernelCheckTest's: here only runtime's (add) go through the pipeline
        Result r = script("--emulated", "--prebuilt", BUILD.toString(), "--steps", "kernels,torch-compare,bench",
                "--kernels-filter", "add", "--out", out.toString(), "--python", py);
        assertEquals(0, r.exit(), r.stdout() + r.stderr());
        JsonNode s = JSON.readTree(out.resolve("summary.json").toFile());
        assertEquals("emu", s.get("mode").asText());
        assertFalse(s.get("gpu_result").asBoolean(), "an emulated run is never a GPU result");
        assertTrue(s.get("kernel_checks").get("passed").asInt() >= 1, s.get("kernel_checks").toString());
        assertEquals(0, s.get("kernel_checks").get("failed").asInt());
        JsonNode tc = s.get("torch_compare");
        assertNotEquals("FAIL", tc.get("status").asText());
        // whatever ran passed; whatever did not is named
        for (JsonNode row : tc.get("kernels"))
            assertTrue(row.get("status").asText().equals("pass") || row.get("missing").size() > 0, row.toString());
        for (JsonNode part : tc.get("model"))
            assertTrue(part.get("status").asText().equals("pass") || part.get("missing").size() > 0, part.toString());
        assertEquals(tc.get("missing").size() > 0 ? "incomplete" : "pass", s.get("status").asText());
        assertNotEquals("FAIL", s.get("bench").get("status").asText());
        // what the device tool returns: at most 8 files, plain names, no folders
        try (Stream<Path> files = Files.list(out)) {
            List<Path> all = files.toList();
            assertTrue(all.size() <= 8, all.toString());
            for (Path f : all) {
                assertTrue(Files.isRegularFile(f) && f.getFileName().toString().matches("[A-Za-z0-9._-]+"), f.toString());
                assertTrue(Files.size(f) < 16L << 20, f + " too large for the device tool");
            }
        }
    }

    @Test
    void theHarnessGpt2MatchesPyTorchOnTheCpuKernels(@TempDir Path out) throws Exception {
        // torch_compare.py on lens4j_cpu: every kernel case and the whole GPT-2 (forward, 29 cached hooks, MLP
        // gradients, attribution patching, neuron scores) against PyTorch written from the equations
        String py = pythonWithTorch();
        Assumptions.assumeTrue(py != null, "no python3 with torch here (set LENS4J_PYTHON): the harness is not checked");
        Path json = out.resolve("tc.json");
        Result r = run(List.of(py, ROOT.resolve("scripts/gpu/torch_compare.py").toString(), "--lib",
                BUILD.resolve("liblens4j_cpu.so").toString(), "--kind", "cpu", "--json", json.toString()));
        assertEquals(0, r.exit(), r.stdout() + r.stderr());
        JsonNode tc = JSON.readTree(json.toFile());
        assertEquals("pass", tc.get("status").asText(), r.stdout());
        assertEquals(0, tc.get("missing").size());
        for (String part : new String[] {"forward", "forward_full_cache", "mlp_post_gradients", "attribution_patching", "neuron_scores"}) {
            JsonNode m = tc.get("model").get(part);
            assertEquals("pass", m.get("status").asText(), part + ": " + m);
            assertTrue(m.get("max_rel_err").asDouble() < 1e-5, part + ": " + m);
        }
        assertEquals(29, tc.get("model").get("forward_full_cache").get("hooks").asInt());
        assertTrue(tc.get("kernels").size() > 40, "kernel comparisons: " + tc.get("kernels").size());
    }

    @Test
    void thePythonToolsRefuseBadArgumentsInOneLine() throws Exception {
        String py = pythonWithTorch();
        Assumptions.assumeTrue(py != null, "no python3 with torch here (set LENS4J_PYTHON)");
        for (String tool : new String[] {"torch_compare.py", "bench.py"}) {
            Result r = run(List.of(py, ROOT.resolve("scripts/gpu/" + tool).toString(), "--lib", "/nonexistent.so",
                    "--kind", "emu", "--json", "/tmp/x.json"));
            assertEquals(2, r.exit(), tool + ": " + r.stderr());
            assertEquals(1, r.stderr().strip().lines().count(), r.stderr());
            assertTrue(r.stderr().contains("--lib /nonexistent.so: not a file"), r.stderr());
        }
    }

    private static String python() throws Exception {
        String py = pythonWithTorch();
        return py != null ? py : "python3";
    }
}
