package dev.lens4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.load.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.lens4j.cli.CliTest.cli;
import static dev.lens4j.cli.CliTest.stories;
import static org.junit.jupiter.api.Assertions.*;

/** grads, attribute and score-neurons on the real stories260K (5 blocks, d_model 64, 8 heads, d_mlp 172). */
class GradientCommandsTest {
    // " Lily", " Tim", " he", " she" are single tokens of stories260K's vocabulary; " Tom" is two
    static final String CLEAN = "Lily and Tim went to the park. Lily gave the ball to";
    static final String CORRUPT = "Lily and Tim went to the park. Tim gave the ball to";

    static long[] shape(SafeTensors st, String name) { return st.info(name).shape(); }

    @Test
    void gradsWritesEveryHookPoint(@TempDir Path dir) {
        Path out = dir.resolve("g.safetensors");
        CliTest.Result r = cli("grads", "--model", stories(), "--prompt", CLEAN, "--answer", " Tim", "--wrong", " Lily", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        try (SafeTensors st = SafeTensors.open(out)) {
            int S = 20; // BOS + 19 tokens
            assertTrue(st.names().contains("hook_embed"));
            assertArrayEquals(new long[] {1, S, 64}, shape(st, "blocks.0.hook_resid_pre"));
            assertArrayEquals(new long[] {1, S, 172}, shape(st, "blocks.4.mlp.hook_post"));
            assertArrayEquals(new long[] {1, 8, S, S}, shape(st, "blocks.2.attn.hook_pattern"));
            assertArrayEquals(new long[] {1, S, 1}, shape(st, "ln_final.hook_scale"));
            assertEquals(5 * 20 + 1 + 2, st.names().size(), st.names().toString()); // stories260K: 20 hook points per block
            // the metric reads the last position only: the final residual's gradient is zero elsewhere
            float[] g = st.readFloats("blocks.4.hook_resid_post");
            for (int i = 0; i < (S - 1) * 64; i++) assertEquals(0f, g[i]);
            assertNotEquals(0f, g[(S - 1) * 64]);
            assertTrue(Double.isFinite(Double.parseDouble(st.metadata().get("metric_value"))));
        }
    }

    @Test
    void gradsOverAPromptsFileKeepsOneRowPerPrompt(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("p.jsonl"), out = dir.resolve("g.safetensors");
        Files.writeString(f, "# two prompts of one length\n{\"prompt\": \"" + CLEAN + "\", \"answer\": \" Tim\"}\n" + CORRUPT + "\n");
        CliTest.Result r = cli("grads", "--model", stories(), "--prompts", f.toString(), "--answer", " Lily", "--wrong", " Lily",
                "--hooks", "mlp\\.hook_post", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        try (SafeTensors st = SafeTensors.open(out)) {
            assertEquals(5, st.names().size());
            assertArrayEquals(new long[] {2, 20, 172}, shape(st, "blocks.0.mlp.hook_post"));
            // line 2 asks for logit(Lily) - logit(Lily): zero metric, zero gradient
            float[] g = st.readFloats("blocks.3.mlp.hook_post");
            for (int i = 20 * 172; i < g.length; i++) assertEquals(0f, g[i]);
        }
    }

    @Test
    void attributeWritesNeuronsHeadsAndPositions(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("a.safetensors"), sum = dir.resolve("a.json");
        CliTest.Result r = cli("attribute", "--model", stories(), "--clean", CLEAN, "--corrupt", CORRUPT, "--answer", " Tim", "--wrong", " Lily",
                "--out", out.toString(), "--summary", sum.toString());
        assertEquals(0, r.code(), r.err());
        float[] single;
        try (SafeTensors st = SafeTensors.open(out)) {
            assertArrayEquals(new long[] {5, 172}, shape(st, "mlp_neurons"));
            assertArrayEquals(new long[] {5, 8}, shape(st, "heads"));
            assertArrayEquals(new long[] {5, 20}, shape(st, "resid_pre"));
            single = st.readFloats("mlp_neurons");
        }
        JsonNode j = new ObjectMapper().readTree(sum.toFile());
        assertEquals(10, j.get("top_neurons").size());
        assertTrue(j.get("clean_metric").asDouble() != j.get("corrupt_metric").asDouble());

        // a file with the same pair twice, in two batches: the sum doubles
        Path f = dir.resolve("pairs.jsonl"), out2 = dir.resolve("b.safetensors");
        String line = "{\"clean\": \"" + CLEAN + "\", \"corrupt\": \"" + CORRUPT + "\", \"answer\": \" Tim\", \"wrong\": \" Lily\"}\n";
        Files.writeString(f, line + line);
        r = cli("attribute", "--model", stories(), "--prompts", f.toString(), "--batch", "1", "--out", out2.toString());
        assertEquals(0, r.code(), r.err());
        try (SafeTensors st = SafeTensors.open(out2)) {
            float[] twice = st.readFloats("mlp_neurons");
            for (int i = 0; i < single.length; i++) assertEquals(2 * single[i], twice[i], 1e-5 * (1 + Math.abs(twice[i])));
        }
    }

    @Test
    void scoreNeuronsOfAnyBlockProcessedOrNot(@TempDir Path dir) throws Exception {
        String prompt = "Lily was a happy girl. One day,";
        Path a = dir.resolve("a.safetensors"), b = dir.resolve("b.safetensors");
        CliTest.Result r = cli("score-neurons", "--model", stories(), "--prompt", prompt, "--yes", " she", "--no", " he", "--truth", "yes",
                "--layer", "2", "--out", a.toString());
        assertEquals(0, r.code(), r.err());
        r = cli("score-neurons", "--model", stories(), "--prompt", prompt, "--yes", " she", "--no", " he", "--truth", "yes",
                "--layer", "2", "--no-process-weights", "--out", b.toString());
        assertEquals(0, r.code(), r.err());
        try (SafeTensors sa = SafeTensors.open(a); SafeTensors sb = SafeTensors.open(b)) {
            assertArrayEquals(new long[] {172}, shape(sa, "c"));
            assertArrayEquals(new long[] {64}, shape(sa, "g"));
            assertEquals("2", sa.metadata().get("layer"));
            assertEquals("false", sb.metadata().get("process_weights"));
            // RMSNorm models: processing leaves the residual stream, hook_post and W_out as they are
            float[] ca = sa.readFloats("c"), cb = sb.readFloats("c");
            for (int i = 0; i < ca.length; i++) assertEquals(ca[i], cb[i], 1e-4 * (1 + Math.abs(ca[i])), "c[" + i + "]");
        }
    }

    @Test
    void scoreNeuronsOverGroupsWritesASummary(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("p.jsonl"), out = dir.resolve("s.safetensors"), sum = dir.resolve("s.json");
        Files.writeString(f, String.join("\n",
                "{\"prompt\": \"Lily was a happy girl. One day,\", \"truth\": \"yes\", \"group\": \"girl\"}",
                "{\"prompt\": \"Tim was a happy boy. One day,\", \"truth\": \"no\", \"group\": \"boy\"}",
                "{\"prompt\": \"Once upon a time, Lily said that\", \"truth\": \"yes\", \"group\": \"girl\"}"));
        CliTest.Result r = cli("score-neurons", "--model", stories(), "--prompts", f.toString(), "--yes", " she", "--no", " he",
                "--top-k", "5", "--out", out.toString(), "--summary", sum.toString());
        assertEquals(0, r.code(), r.err());
        try (SafeTensors st = SafeTensors.open(out)) {
            assertArrayEquals(new long[] {3, 172}, shape(st, "c_per_prompt"));
            assertArrayEquals(new long[] {3}, shape(st, "margin"));
            assertEquals("4", st.metadata().get("layer"));
            float[] c = st.readFloats("c"), per = st.readFloats("c_per_prompt");
            for (int j = 0; j < 172; j++) assertEquals(per[j] + per[172 + j] + per[344 + j], c[j], 1e-5);
        }
        JsonNode j = new ObjectMapper().readTree(sum.toFile());
        assertEquals(5, j.get("most_harmful").size());
        assertEquals(5, j.get("most_harmful_by_group").get("girl").size());
        assertEquals(5, j.get("most_harmful_by_group").get("boy").size());
        assertEquals(3, j.get("margins").size());
    }

    @Test
    void badInputExitsTwoWithAClearMessage(@TempDir Path dir) throws Exception {
        String out = dir.resolve("x.safetensors").toString();
        CliTest.Result r = cli("grads", "--model", stories(), "--prompt", CLEAN, "--answer", " Tom", "--wrong", " Lily", "--out", out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("answer ' Tom' is 2 tokens") && r.err().contains("not a single token"), r.err());

        r = cli("attribute", "--model", stories(), "--clean", "Lily went home.", "--corrupt", "Lily went to the park.", "--answer", " Tim",
                "--wrong", " Lily", "--out", out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("must have the same token length"), r.err());

        r = cli("score-neurons", "--model", stories(), "--prompt", "Lily said", "--yes", " she", "--no", " he", "--truth", "yes",
                "--layer", "5", "--out", out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--layer 5 is out of range: the model has 5 blocks"), r.err());

        r = cli("score-neurons", "--model", stories(), "--prompt", "Lily said", "--yes", " she", "--no", " he", "--truth", "maybe", "--out", out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("truth must be yes or no"), r.err());

        r = cli("score-neurons", "--model", stories(), "--prompt", "Lily said", "--yes", " she", "--no", " he", "--out", out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no --truth given"), r.err());

        Path f = dir.resolve("p.jsonl");
        Files.writeString(f, CLEAN + "\nLily went home.\n");
        r = cli("grads", "--model", stories(), "--prompts", f.toString(), "--answer", " Tim", "--wrong", " Lily", "--out", out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("line 2 is ") && r.err().contains("tokens, line 1 is 20: grads keeps positions"), r.err());

        r = cli("grads", "--model", stories(), "--answer", " Tim", "--wrong", " Lily", "--out", out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("give either --prompt TEXT or --prompts FILE"), r.err());
    }
}
