package dev.lens4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.analysis.HeadDetector;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** `congruence` and `heads` end to end: exit codes, the files, numbers that agree with the API, one-line errors. */
class CircuitCommandsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void congruenceWritesTheTopNeuronsOfEachToken(@TempDir Path dir) throws Exception {
        Path model = TestCheckpoints.gpt2(dir.resolve("gpt2"), 4);
        Path out = dir.resolve("cong");
        CliTest.Result r = CliTest.cli("congruence", "--model", model.toString(), "--token-ids", "3,5", "--top", "4", "--top-tokens", "3",
                "--out", out.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
        JsonNode s = JSON.readTree(r.out());
        assertEquals(s, JSON.readTree(out.resolve("summary.json").toFile()), "--json prints summary.json");
        assertTrue(s.get("process_weights").asBoolean());
        assertTrue(s.get("weight_processing").get("center_unembed").asBoolean());
        int L = 2, F = 64, T = 2;
        try (SafeTensors st = SafeTensors.open(out.resolve("congruence.safetensors"))) {
            assertTrue(st.names().containsAll(List.of("output_congruence", "input_congruence", "neuron_top_tokens", "neuron_top_values",
                    "neuron_bottom_tokens", "vocab_mean", "vocab_kurtosis")), st.names().toString());
            try (Tensor oc = st.read("output_congruence"); Tensor mean = st.read("vocab_mean"); Tensor topTok = st.read("neuron_top_tokens")) {
                assertArrayEquals(new long[] {L, F, T}, oc.shape());
                assertArrayEquals(new long[] {L, F, 3}, topTok.shape());
                float[] o = oc.toFloatArray();
                for (int t = 0; t < T; t++) {
                    float max = Float.NEGATIVE_INFINITY, min = Float.POSITIVE_INFINITY;
                    for (int i = 0; i < L * F; i++) { max = Math.max(max, o[i * T + t]); min = Math.min(min, o[i * T + t]); }
                    JsonNode tok = s.get("tokens").get(t);
                    assertEquals(max, tok.get("top_neurons").get(0).get("output_congruence").floatValue(), "token " + t + "'s best neuron");
                    assertEquals(min, tok.get("bottom_neurons").get(0).get("output_congruence").floatValue());
                    assertEquals(4, tok.get("top_neurons").size());
                    assertEquals(3, tok.get("top_neurons").get(0).get("top_tokens").size());
                }
                // the note is true: W_U is centred over the vocabulary, so every neuron's distribution has mean 0
                for (float v : mean.toFloatArray()) assertEquals(0, v, 1e-5);
            }
        }
        String html = Files.readString(out.resolve("report.html"));
        assertTrue(html.contains("<svg") && html.contains("Highest output congruence") && html.contains("centred over the vocabulary"));

        // unprocessed: said so, and the means are no longer zero
        Path raw = dir.resolve("raw");
        r = CliTest.cli("congruence", "--model", model.toString(), "--token-ids", "3", "--no-process-weights", "--out", raw.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode s2 = JSON.readTree(raw.resolve("summary.json").toFile());
        assertFalse(s2.get("process_weights").asBoolean());
        try (SafeTensors st = SafeTensors.open(raw.resolve("congruence.safetensors")); Tensor mean = st.read("vocab_mean")) {
            double maxAbs = 0;
            for (float v : mean.toFloatArray()) maxAbs = Math.max(maxAbs, Math.abs(v));
            assertTrue(maxAbs > 1e-3, "unprocessed W_U is not centred: " + maxAbs);
        }
    }

    @Test
    void congruenceTakesTokenTexts(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("c");
        CliTest.Result r = CliTest.cli("congruence", "--model", CliTest.stories(), "--tokens", "Lily,big", "--top", "3", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode s = JSON.readTree(out.resolve("summary.json").toFile());
        assertEquals("Lily", s.get("tokens").get(0).get("text").asText());
        assertEquals("big", s.get("tokens").get(1).get("text").asText());
        r = CliTest.cli("congruence", "--model", CliTest.stories(), "--tokens", " tall", "--out", dir.resolve("d").toString());
        assertEquals(2, r.code());
        assertOneLine(r, "not a single token");
        assertFalse(Files.exists(dir.resolve("d")), "nothing written on a bad token");
    }

    @Test
    void headsWritesTheThreeDetectorsAsTheApiComputesThem(@TempDir Path dir) throws Exception {
        Path model = TestCheckpoints.gpt2(dir.resolve("gpt2"), 4);
        Path out = dir.resolve("heads");
        CliTest.Result r = CliTest.cli("heads", "--model", model.toString(), "--seed", "3", "--error-measure", "abs", "--exclude-bos",
                "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("best previous_token: L"), r.out());
        JsonNode s = JSON.readTree(out.resolve("summary.json").toFile());
        int[] tokens = JSON.convertValue(s.get("tokens"), int[].class);
        assertEquals(10, tokens.length, "n_ctx 12: 5 random tokens twice (no tokenizer, so no BOS)");
        for (int i = 0; i < 5; i++) assertEquals(tokens[i], tokens[i + 5]);
        try (SafeTensors st = SafeTensors.open(out.resolve("heads.safetensors"));
             HookedTransformer m = HookedTransformer.fromPretrained(model)) {
            HeadDetector.Options o = HeadDetector.Options.defaults().errorMeasure(HeadDetector.ErrorMeasure.ABS).excludeBos(true);
            String[] names = {"previous_token", "duplicate_token", "induction"};
            for (int d = 0; d < 3; d++) {
                double[][] api = HeadDetector.detectHead(m, tokens, HeadDetector.HeadName.values()[d], o);
                try (Tensor t = st.read(names[d])) {
                    assertArrayEquals(new long[] {2, 4}, t.shape());
                    float[] f = t.toFloatArray();
                    for (int i = 0; i < 8; i++) assertEquals(api[i / 4][i % 4], f[i], 1e-6, names[d]);
                }
            }
        }
        assertTrue(Files.readString(out.resolve("report.html")).contains("induction heads"));
        // the same seed gives the same tokens
        Path again = dir.resolve("again");
        assertEquals(0, CliTest.cli("heads", "--model", model.toString(), "--seed", "3", "--out", again.toString()).code());
        assertEquals(s.get("tokens"), JSON.readTree(again.resolve("summary.json").toFile()).get("tokens"));
    }

    @Test
    void badInputFailsInOneLineWithStatus2(@TempDir Path dir) throws Exception {
        String model = TestCheckpoints.gpt2(dir.resolve("gpt2"), 4).toString();
        String out = dir.resolve("o").toString();
        assertOneLine(CliTest.cli("heads", "--model", model, "--seq", "6", "--out", out), "n_ctx = 12");
        assertOneLine(CliTest.cli("heads", "--model", model, "--seq", "2147483647", "--out", out), "n_ctx = 12");
        assertOneLine(CliTest.cli("heads", "--model", model, "--prompt", "no tokenizer here", "--out", out), "tokenizer");
        assertOneLine(CliTest.cli("heads", "--model", model, "--seq", "0", "--out", out), "--seq");
        assertOneLine(CliTest.cli("heads", "--model", model, "--error-measure", "l2", "--out", out), "--error-measure");
        assertOneLine(CliTest.cli("heads", "--model", model, "--seq", "3", "--prompt", "x", "--out", out), "not both");
        assertOneLine(CliTest.cli("congruence", "--model", model, "--token-ids", "37", "--out", out), "37");
        assertOneLine(CliTest.cli("congruence", "--model", model, "--out", out), "--tokens");
        assertOneLine(CliTest.cli("congruence", "--model", model, "--token-ids", "1", "--top", "0", "--out", out), "--top");
        assertOneLine(CliTest.cli("congruence", "--model", model, "--token-ids", "1", "--top-tokens", "-1", "--out", out), "--top-tokens");
        assertOneLine(CliTest.cli("congruence", "--model", model, "--token-ids", "x", "--out", out), "x");
        assertFalse(Files.exists(dir.resolve("o")), "nothing written on bad input");
        // --out that is a file, or holds a non-regular file under an output's name: refused before any work
        Path file = Files.writeString(dir.resolve("file"), "keep");
        assertOneLine(CliTest.cli("heads", "--model", model, "--out", file.toString()), "not a directory");
        assertEquals("keep", Files.readString(file));
        Path d = Files.createDirectories(dir.resolve("d").resolve("summary.json"));
        assertOneLine(CliTest.cli("congruence", "--model", model, "--token-ids", "1", "--out", d.getParent().toString()), "not a regular file");
        assertFalse(Files.exists(d.getParent().resolve("congruence.safetensors")));
        assertOneLine(CliTest.cli("heads", "--model", dir.resolve("missing").toString(), "--out", out), "missing");
    }

    private static void assertOneLine(CliTest.Result r, String mentions) {
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().startsWith("error: "), r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        assertTrue(r.err().contains(mentions), "error names '" + mentions + "': " + r.err());
    }
}
