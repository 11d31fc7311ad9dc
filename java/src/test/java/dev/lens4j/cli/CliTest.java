package dev.lens4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.load.TestCheckpoints;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/** The CLI end to end, in-process: exit codes, output, files written. */
class CliTest {
    record Result(int code, String out, String err) {}

    static Result cli(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = Main.execute(args);
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    static String stories() { return TestCheckpoints.stories260K().toString(); }

    @Test
    void infoListsConfigParametersAndHookPoints() {
        Result r = cli("info", "--model", stories());
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("\"n_layers\" : 5"), r.out);
        assertTrue(r.out.contains("blocks.4.mlp.hook_pre_linear"), r.out);
        assertTrue(r.out.contains("blocks.0.attn.hook_rot_k"), r.out);
        assertTrue(r.out.contains("parameters: "), r.out);
    }

    @Test
    void runRanksTheAnswerAsJson() throws Exception {
        Result r = cli("run", "--model", stories(), "--prompt", "Once upon a time, there was a little girl named",
                "--answer", " Lily", "--top-k", "3", "--json");
        assertEquals(0, r.code, r.err);
        JsonNode j = new ObjectMapper().readTree(r.out);
        assertEquals(3, j.get("topK").size());
        assertEquals(" Lily", j.get("answerToken").get("str").asText());
        assertEquals(0, j.get("answerToken").get("rank").asInt());
        assertTrue(j.get("answerToken").get("prob").asDouble() > 0.5);
    }

    @Test
    void generateFromBosTellsTheStory() {
        Result r = cli("generate", "--model", stories(), "--prompt", "", "--max-new-tokens", "20");
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.startsWith("Once upon a time, there was a little girl named Lily"), r.out);
    }

    @Test
    void cacheWritesHookPointsAndLogitsToSafetensors(@TempDir Path dir) {
        Path out = dir.resolve("cache.safetensors");
        Result r = cli("cache", "--model", stories(), "--prompt", "Once upon a time", "--hooks", "mlp\\.hook_post|hook_resid_pre",
                "--out", out.toString());
        assertEquals(0, r.code, r.err);
        try (SafeTensors st = SafeTensors.open(out)) {
            assertTrue(st.names().contains("logits"));
            assertTrue(st.names().contains("blocks.4.mlp.hook_post"));
            assertTrue(st.names().contains("blocks.0.hook_resid_pre"));
            assertFalse(st.names().contains("blocks.0.attn.hook_pattern"), "filtered out");
            assertEquals(1 + 5 + 5, st.names().size());
            long[] shape = st.info("blocks.0.mlp.hook_post").shape();
            assertArrayEquals(new long[] {1, 5, 172}, shape, Arrays.toString(shape)); // BOS + 4 tokens
            assertEquals("lens4j 0.1.0", st.metadata().get("producer"));
        }
    }

    @Test
    void cacheWithoutBosAndUnprocessedWeights(@TempDir Path dir) {
        Path out = dir.resolve("c.safetensors");
        Result r = cli("cache", "--model", stories(), "--prompt", "Once upon a time", "--no-prepend-bos", "--no-process-weights",
                "--hooks", "ln1\\.hook_scale", "--out", out.toString());
        assertEquals(0, r.code, r.err);
        try (SafeTensors st = SafeTensors.open(out)) {
            assertArrayEquals(new long[] {1, 4, 1}, st.info("blocks.0.ln1.hook_scale").shape());
            assertEquals("false", st.metadata().get("process_weights"));
        }
    }

    @Test
    void hfCheckpointDirectoryWorks(@TempDir Path dir) {
        Path gpt2 = TestCheckpoints.gpt2(dir, 5);
        Result r = cli("info", "--model", gpt2.toString(), "--json");
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("\"original_architecture\" : \"GPT2LMHeadModel\""), r.out);
    }

    @Test
    void benchPrintsTokensPerSecond() {
        Result r = cli("bench", "--shape", "llama-tiny", "--batch", "1", "--seq", "8", "--iters", "1");
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.matches("(?s).*llama-tiny forward batch 1 x seq 8, \\d+ threads: [0-9.]+ tokens/s.*"), r.out);
    }

    @Test
    void badInputGivesOneClearLineAndExitCode2(@TempDir Path dir) throws Exception {
        Result missing = cli("info", "--model", dir.resolve("nope").toString());
        assertEquals(2, missing.code);
        assertTrue(missing.err.contains("does not exist"), missing.err);

        Path bad = dir.resolve("bad");
        Files.createDirectories(bad);
        Files.writeString(bad.resolve("config.json"), "{\"model_type\": \"mamba\"}");
        Result unknown = cli("info", "--model", bad.toString());
        assertEquals(2, unknown.code);
        assertTrue(unknown.err.contains("mamba"), unknown.err);

        Result tooLong = cli("run", "--model", stories(), "--prompt", "a ".repeat(600));
        assertEquals(2, tooLong.code);
        assertTrue(tooLong.err.contains("n_ctx"), tooLong.err);

        Result badShape = cli("bench", "--shape", "gpt5");
        assertEquals(2, badShape.code);
        assertTrue(badShape.err.contains("unknown shape 'gpt5'"), badShape.err);

        Result badMode = cli("bench", "--mode", "backward");
        assertEquals(2, badMode.code);
        assertTrue(badMode.err.contains("--mode"), badMode.err);
    }
}
