package dev.lens4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.model.Config;
import dev.lens4j.studies.StudyJson;
import dev.lens4j.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.lens4j.cli.CliTest.cli;
import static org.junit.jupiter.api.Assertions.*;

/** `study second-order` on tiny random GPT-2 and Pythia checkpoints with their real tokenizers, and its input errors. */
class StudySecondOrderCliTest {

    /** 3 layers, d_model 16, 4 heads, GPT-2's 50,257-token vocabulary with its real tokenizer. */
    static Path tinyGpt2(Path dir) throws IOException {
        Config cfg = RandomWeights.gpt2Config(3, 16, 4, 50257, 32);
        TestCheckpoints.gpt2(dir, cfg, 21, DType.F32);
        Files.copy(TestCheckpoints.shared().resolve("models/gpt2-tokenizer/tokenizer.json"), dir.resolve("tokenizer.json"));
        return dir;
    }

    static void assertStudyRan(CliTest.Result r, Path out, int layers, String expectLayers) throws IOException {
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("Second-order effects (seed 002)"), r.out());
        assertTrue(r.out().contains("(seed: < 5%)") && r.out().contains("(seed: > 35%)"), r.out());
        assertTrue(r.err().contains("second-order pass") && r.err().contains("left"), "progress with ETA on stderr: " + r.err());
        for (String f : StudySecondOrderCommand.FILES) assertTrue(Files.isRegularFile(out.resolve(f)), f);
        JsonNode json = StudyJson.JSON.readTree(out.resolve("results.json").toFile());
        assertEquals(layers, json.at("/model/config/n_layers").asInt());
        assertEquals(expectLayers, json.at("/layer_ablation/selected_layers").toString());
        assertEquals(40, json.at("/data/n_problems").asInt());
        assertTrue(json.at("/correctness_direction/source").asText().length() > 10);
    }

    @Test
    void runsOnATinyGpt2WithItsTokenizer(@TempDir Path dir) throws IOException {
        Path m = tinyGpt2(dir.resolve("gpt2"));
        Path out = dir.resolve("out");
        CliTest.Result r = cli("study", "second-order", "--model", m.toString(), "--problems", "40", "--layers", "0,1", "--out", out.toString());
        assertStudyRan(r, out, 3, "[0,1]");
    }

    @Test
    void runsOnATinyPythiaWithItsTokenizer(@TempDir Path dir) throws IOException {
        Path m = FamilyCliTest.tinyPythia(dir.resolve("pythia"));
        Path out = dir.resolve("out");
        Path concepts = dir.resolve("concepts.txt");
        Files.writeString(concepts, "# a custom dictionary\naddition\neven numbers\nYes\nNo\n");
        CliTest.Result r = cli("study", "second-order", "--model", m.toString(), "--problems", "40", "--sample-neurons", "8",
                "--concepts", concepts.toString(), "--out", out.toString());
        assertStudyRan(r, out, 2, "[0]");
        JsonNode json = StudyJson.JSON.readTree(out.resolve("results.json").toFile());
        assertEquals(8, json.at("/rank1/layer_0/neurons").size(), "sampled as asked");
        assertEquals(4, json.at("/decomposition/concepts").size());
    }

    @Test
    void badInputGivesOneLineErrors(@TempDir Path dir) throws IOException {
        Path m = tinyGpt2(dir.resolve("gpt2"));
        CliTest.Result r = cli("study", "second-order", "--model", m.toString(), "--layers", "0,5", "--out", dir.resolve("o").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--layers: layer 5 is out of range [0, 1]"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        r = cli("study", "second-order", "--model", m.toString(), "--layers", "x", "--out", dir.resolve("o").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("'x'"), r.err());
        Path concepts = dir.resolve("c.txt");
        Files.writeString(concepts, "addition\nsub\u0001traction\n");
        r = cli("study", "second-order", "--model", m.toString(), "--concepts", concepts.toString(), "--out", dir.resolve("o").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains(concepts + ":2: control character U+0001"), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace");
        r = cli("study", "second-order", "--model", m.toString(), "--problems", "3", "--out", dir.resolve("o").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--problems must be in [10, 1000000], got 3"), r.err());
        Files.createDirectories(dir.resolve("o2/report.html"));
        r = cli("study", "second-order", "--model", m.toString(), "--out", dir.resolve("o2").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("report.html exists and is not a regular file"), r.err());
    }
}
