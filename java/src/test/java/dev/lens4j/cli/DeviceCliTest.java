package dev.lens4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.cuda.CudaTestSupport;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static dev.lens4j.cli.CliTest.cli;
import static dev.lens4j.cli.CliTest.stories;
import static org.junit.jupiter.api.Assertions.*;

/** --device: the emulated CUDA backend gives the CPU's answers through the CLI; a missing GPU is one line, exit 2. */
class DeviceCliTest {
    @Test
    void runOnTheEmulatedCudaDeviceEqualsTheCpu() throws Exception {
        String model = stories(); // skips without ../shared
        CudaTestSupport.assumeKernels(CudaTestSupport.MODEL_KERNELS);
        String[] args = {"run", "--model", model, "--prompt", "Once upon a time, there was a little girl named", "--answer", " Lily",
                "--top-k", "5", "--json", "--device"};
        CliTest.Result cpu = cli(append(args, "cpu")), cuda = cli(append(args, "cuda-emulated"));
        assertEquals(0, cpu.code(), cpu.err());
        assertEquals(0, cuda.code(), cuda.err());
        JsonNode a = new ObjectMapper().readTree(cpu.out()), b = new ObjectMapper().readTree(cuda.out());
        assertEquals(5, a.get("topK").size());
        for (int i = 0; i < 5; i++) {
            JsonNode x = a.get("topK").get(i), y = b.get("topK").get(i);
            assertEquals(x.get("token").asInt(), y.get("token").asInt(), "top " + i + " token");
            assertEquals(x.get("logit").asDouble(), y.get("logit").asDouble(), 1e-4 * Math.abs(x.get("logit").asDouble()), "top " + i + " logit");
        }
        assertEquals(a.get("answerToken").get("rank").asInt(), b.get("answerToken").get("rank").asInt());
        long live = Tensor.liveBytes();
        CliTest.Result gen = cli("generate", "--model", model, "--prompt", "Once upon a time", "--max-new-tokens", "8", "--device", "cuda-emulated");
        CliTest.Result genCpu = cli("generate", "--model", model, "--prompt", "Once upon a time", "--max-new-tokens", "8");
        assertEquals(0, gen.code(), gen.err());
        assertEquals(genCpu.out(), gen.out(), "greedy generation on the device");
        assertEquals(live, Tensor.liveBytes(), "the command freed its device memory");
    }

    /**
     * Every analysis command that writes tensors gives the CPU's tensors on the (emulated) CUDA device: the model runs
     * there and the analyses read what it produced (copies to the host where they compute on the host). (`heads` also
     * runs there, but takes half a minute under the emulation: not part of this test.)
     */
    @Test
    void analysisCommandsWriteTheCpusTensorsOnTheDevice(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        String model = stories();
        CudaTestSupport.assumeKernels(CudaTestSupport.MODEL_KERNELS);
        java.nio.file.Path corpus = java.nio.file.Files.writeString(dir.resolve("corpus.txt"), "Once upon a time, Lily saw a big dog. Tim had a ball.");
        String clean = "Lily gave the ball to", corrupt = "Tim gave the ball to"; // short: the emulation is slow
        String[][] commands = {
            {"cache", "--prompt", clean, "--out", "{OUT}.safetensors"},
            {"grads", "--prompt", clean, "--answer", " Tim", "--wrong", " Lily", "--out", "{OUT}.safetensors"},
            {"attribute", "--clean", clean, "--corrupt", corrupt, "--answer", " Tim", "--wrong", " Lily", "--out", "{OUT}.safetensors"},
            {"score-neurons", "--prompt", "Lily said", "--yes", " she", "--no", " he", "--truth", "yes", "--out", "{OUT}.safetensors"},
            {"lens", "--prompt", clean, "--answer", " Tim", "--wrong", " Lily", "--out", "{OUT}", "lens.safetensors"},
            {"patch", "--clean", clean, "--corrupt", corrupt, "--answer", " Tim", "--wrong", " Lily", "--what", "head", "--out", "{OUT}", "patch.safetensors"},
            {"congruence", "--tokens", "Lily,big", "--top", "3", "--out", "{OUT}", "congruence.safetensors"},
            {"scan", "--corpus", corpus.toString(), "--top-k", "3", "--out", "{OUT}", "neurons.safetensors"}};
        for (String[] c : commands) {
            boolean dirOut = !c[c.length - 1].startsWith("{OUT}");
            java.nio.file.Path[] files = new java.nio.file.Path[2];
            for (int d = 0; d < 2; d++) {
                String device = d == 0 ? "cpu" : "cuda-emulated", out = dir.resolve(c[0] + "-" + device).toString();
                java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of(c[0], "--model", model, "--device", device));
                for (int i = 1; i < (dirOut ? c.length - 1 : c.length); i++) args.add(c[i].replace("{OUT}", out));
                CliTest.Result r = cli(args.toArray(new String[0]));
                assertEquals(0, r.code(), c[0] + " on " + device + ": " + r.err());
                files[d] = dirOut ? java.nio.file.Path.of(out, c[c.length - 1]) : java.nio.file.Path.of(out + ".safetensors");
            }
            try (var a = dev.lens4j.load.SafeTensors.open(files[0]); var b = dev.lens4j.load.SafeTensors.open(files[1])) {
                assertEquals(a.names(), b.names(), c[0]);
                // a tensor that is zero up to rounding (congruence's vocab_mean of a centred W_U) holds only noise of
                // the GEMM kernels: tensors are compared at least at a thousandth of the file's largest value
                double fileScale = 0;
                for (String n : a.names())
                    if (a.info(n).isFloat())
                        for (float v : a.readFloats(n)) if (Float.isFinite(v)) fileScale = Math.max(fileScale, Math.abs(v));
                for (String n : a.names())
                    if (a.info(n).isFloat())
                        CudaTestSupport.assertClose(c[0] + " " + n, a.readFloats(n), b.readFloats(n), 1e-3, 1e-3 * fileScale);
            }
        }
    }

    /** In a JVM of its own, as `./lens4j` runs (this test JVM runs the emulation, and a process binds one CUDA library). */
    @Test
    void cudaWithoutAGpuExitsTwoWithOneLine() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeFalse(java.nio.file.Files.exists(java.nio.file.Path.of("/dev/nvidiactl")), "a GPU is present");
        String javaBin = java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"), "dev.lens4j.cli.Main",
                "info", "--model", "does-not-matter", "--device", "cuda").redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String err = new String(p.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS));
        assertEquals(2, p.exitValue(), err);
        // no driver: "no GPU or NVIDIA driver found"; a build without nvcc: "built without the CUDA kernels"
        assertTrue(err.startsWith("error: CUDA: ") && (err.contains("no GPU or NVIDIA driver") || err.contains("without the CUDA kernels")), err);
        assertEquals(1, err.strip().lines().count(), err);

        CliTest.Result bad = cli("info", "--model", "does-not-matter", "--device", "tpu");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--device must be cpu, cuda or cuda-emulated, got 'tpu'"), bad.err());
    }

    private static String[] append(String[] a, String s) {
        String[] out = java.util.Arrays.copyOf(a, a.length + 1);
        out[a.length] = s;
        return out;
    }
}
