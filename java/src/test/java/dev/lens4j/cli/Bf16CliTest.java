package dev.lens4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static dev.lens4j.cli.CliTest.cli;
import static dev.lens4j.cli.CliTest.stories;
import static org.junit.jupiter.api.Assertions.*;

/** --dtype on the command line: bf16 weights give stories260K's answer and story; a bad value is a usage error. */
class Bf16CliTest {
    private static final String PROMPT = "Once upon a time, there was a little girl named";

    @Test void runWithBf16WeightsRanksTheSameAnswer() throws Exception {
        ObjectMapper json = new ObjectMapper();
        JsonNode f32 = json.readTree(ok(cli("run", "--model", stories(), "--prompt", PROMPT, "--answer", " Lily", "--json")));
        JsonNode bf16 = json.readTree(ok(cli("run", "--model", stories(), "--prompt", PROMPT, "--answer", " Lily", "--json", "--dtype", "bf16")));
        assertEquals(0, bf16.get("answerToken").get("rank").asInt());
        double l32 = f32.get("answerToken").get("logit").asDouble(), l16 = bf16.get("answerToken").get("logit").asDouble();
        assertEquals(l32, l16, 0.02 * Math.abs(l32), "the answer's logit within 2%");
        assertNotEquals(l32, l16, "bf16 weights are really used");
    }

    @Test void generateWithBf16WeightsTellsAStory() {
        String f32 = ok(cli("generate", "--model", stories(), "--prompt", PROMPT, "--max-new-tokens", "12"));
        String bf16 = ok(cli("generate", "--model", stories(), "--prompt", PROMPT, "--max-new-tokens", "12", "--dtype", "bf16"));
        assertTrue(bf16.startsWith(" Lily"), bf16);
        assertEquals(f32, bf16, "greedy decoding agrees for 12 tokens");
    }

    @Test void everyModelCommandTakesBf16(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        String m = stories(), out = tmp.toString();
        java.nio.file.Files.writeString(tmp.resolve("doc.txt"), "Once upon a time, there was a little girl named Lily.");
        String[][] commands = {
                {"info", "--model", m},
                {"cache", "--model", m, "--prompt", "Once upon a time", "--out", out + "/c.safetensors"},
                {"grads", "--model", m, "--prompt", "Once upon a time", "--answer", " there", "--wrong", " day", "--out", out + "/g.safetensors"},
                {"attribute", "--model", m, "--clean", "Lily went to the park", "--corrupt", "Lily went to a park", "--answer", " and",
                        "--wrong", ".", "--out", out + "/a.safetensors"},
                {"score-neurons", "--model", m, "--prompt", "Lily went to", "--yes", " the", "--no", " a", "--truth", "yes",
                        "--out", out + "/s.safetensors"},
                {"lens", "--model", m, "--prompt", PROMPT, "--answer", " Lily", "--out", out + "/lens"},
                {"patch", "--model", m, "--clean", "Lily went to the park", "--corrupt", "Lily went to a park", "--answer", " and",
                        "--wrong", ".", "--what", "resid_pre", "--out", out + "/patch"},
                {"heads", "--model", m, "--seq", "20", "--out", out + "/heads"},
                {"congruence", "--model", m, "--tokens", "Lily", "--out", out + "/cong"},
                {"scan", "--model", m, "--corpus", out + "/doc.txt", "--out", out + "/scan"},
        };
        for (String[] c : commands) {
            String[] args = java.util.Arrays.copyOf(c, c.length + 2);
            args[c.length] = "--dtype";
            args[c.length + 1] = "bf16";
            CliTest.Result r = cli(args);
            assertEquals(0, r.code(), c[0] + " --dtype bf16: " + r.err());
        }
        CliTest.Result bench = cli("bench", "--shape", "llama-tiny", "--batch", "1", "--seq", "8", "--iters", "1", "--dtype", "bf16");
        assertEquals(0, bench.code(), bench.err());
        assertTrue(bench.out().contains("bf16 weights"), bench.out());
    }

    @Test void badDtypeIsAOneLineUsageError() {
        CliTest.Result r = cli("run", "--model", stories(), "--prompt", "Hi", "--dtype", "f16");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--dtype must be f32 or bf16, got 'f16'"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    private static String ok(CliTest.Result r) {
        assertEquals(0, r.code(), r.err());
        return r.out();
    }
}
