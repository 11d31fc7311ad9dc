package dev.lens4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.analysis.Patching;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metric;
import dev.lens4j.model.Metrics;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** `patch` on the real stories260K: the files it writes, values the sweep must have, and one-line errors. */
class PatchCommandTest {
    private static final String CLEAN = "Once upon a time, there was a little girl named";
    private static final String CORRUPT = "Once upon a time, there was a little boy named"; // same 14 tokens; 'g','ir','l' vs ' b','o','y'

    private static JsonNode patch(Path out, String... extra) throws Exception {
        String[] base = {"patch", "--model", CliTest.stories(), "--clean", CLEAN, "--corrupt", CORRUPT, "--answer", " Lily", "--wrong", " Tim",
                "--out", out.toString(), "--json"};
        String[] args = java.util.Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        CliTest.Result r = CliTest.cli(args);
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
        JsonNode s = new ObjectMapper().readTree(r.out());
        assertEquals(s, new ObjectMapper().readTree(out.resolve("summary.json").toFile()), "--json prints summary.json");
        assertTrue(Files.readString(out.resolve("report.html")).contains("<svg"), "the report has its plot");
        return s;
    }

    private static float[] grid(Path out, String name) {
        try (SafeTensors st = SafeTensors.open(out.resolve("patch.safetensors"))) {
            return st.readFloats(name);
        }
    }

    @Test void residualSweepsRestoreTheCleanRunWhereTheyMust(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("post");
        JsonNode s = patch(out, "--what", "resid_post");
        assertEquals("[5,14]", s.get("shape").toString());
        assertTrue(s.get("clean_metric").asDouble() > s.get("corrupted_metric").asDouble() + 1, "girl -> Lily, boy -> Tim");
        float[] g = grid(out, "patch");
        int L = 5, S = 14;
        // before position 10 the prompts are equal, so (causal attention) every residual there is equal: no effect
        for (int l = 0; l < L; l++) for (int p = 0; p < 10; p++) assertEquals(0, g[l * S + p], 1e-4, "L" + l + "P" + p);
        // the last block's output at the last position is all the unembedding reads: the clean metric, restored
        assertEquals(1, g[(L - 1) * S + S - 1], 1e-4);
        float[] raw = grid(out, "patch_raw");
        assertEquals(s.get("clean_metric").asDouble(), raw[(L - 1) * S + S - 1], 1e-3);
        String html = Files.readString(out.resolve("report.html"));
        assertTrue(html.contains("13: &#39; named&#39;") || html.contains("13: ' named'"), "token labels on the position axis");
        assertTrue(html.contains("girl") && html.contains("boy"), "the differing tokens are labelled");
    }

    @Test void neuronSweepEqualsTheJavaApiOneNeuronAtATime(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("neurons");
        JsonNode s = patch(out, "--what", "neurons", "--layer", "1", "--pos", "last", "--batch", "7");
        assertEquals(1, s.get("layer").asInt());
        float[] g = grid(out, "patch");
        try (HookedTransformer model = HookedTransformer.fromPretrained(Path.of(CliTest.stories()))) {
            int[][] c = {model.toTokens(CLEAN)}, k = {model.toTokens(CORRUPT)};
            Metric metric = Metrics.logitDiff(model.answerToken(CLEAN, " Lily"), model.answerToken(CLEAN, " Tim"));
            assertEquals(model.cfg().dMlp, g.length);
            try (var run = model.run(c, new HookedTransformer.RunOptions().cacheAll())) {
                Patching.Grid one = Patching.mlpNeurons(model, k, run.cache(), metric, 1, new int[] {13}, 1)
                        .normalised(s.get("clean_metric").asDouble(), s.get("corrupted_metric").asDouble());
                for (int n = 0; n < g.length; n++) assertEquals(one.get(n), g[n], 1e-4, "neuron " + n);
            }
        }
        assertTrue(Files.readString(out.resolve("report.html")).contains("L1N"), "the top-neuron table");
    }

    @Test void headsGiveALayerByHeadGrid(@TempDir Path dir) throws Exception {
        JsonNode s = patch(dir.resolve("head"), "--what", "head");
        assertEquals("[\"layer\",\"head\"]", s.get("axes").toString());
        assertEquals("[5,8]", s.get("shape").toString());
        assertEquals(40, s.get("patched_runs").asInt());
    }

    @Test void badInputIsAOneLineErrorWithStatus2(@TempDir Path dir) throws Exception {
        String out = dir.resolve("o").toString();
        Path file = Files.writeString(dir.resolve("file"), "x");
        Path blocked = dir.resolve("blocked");
        Files.createDirectories(blocked.resolve("patch.safetensors"));
        String[][] cases = {
                {"--corrupt", "Once upon a time, there was a little dog named", "--what", "resid_pre", "--out", out},   // 13 tokens, not 14
                {"--corrupt", CORRUPT, "--what", "resid_pr", "--out", out},
                {"--corrupt", CORRUPT, "--what", "neurons", "--layer", "5", "--out", out},
                {"--corrupt", CORRUPT, "--what", "neurons", "--pos", "14", "--out", out},
                {"--corrupt", CORRUPT, "--what", "resid_pre", "--layer", "1", "--out", out},
                {"--corrupt", CORRUPT, "--what", "resid_pre", "--batch", "0", "--out", out},
                {"--corrupt", CLEAN, "--what", "resid_pre", "--out", out},                                             // no difference to normalise by
                {"--corrupt", CORRUPT, "--what", "resid_pre", "--out", file.toString()},
                {"--corrupt", CORRUPT, "--what", "resid_pre", "--out", blocked.toString()}};
        String[] needles = {"same token length", "resid_pr", "--layer 5", "--pos 14", "--layer applies", "--batch 0", "nothing to normalise",
                "not a directory", "not a regular file"};
        for (int i = 0; i < cases.length; i++) {
            String[] base = {"patch", "--model", CliTest.stories(), "--clean", CLEAN, "--answer", " Lily", "--wrong", " Tim"};
            String[] args = java.util.Arrays.copyOf(base, base.length + cases[i].length);
            System.arraycopy(cases[i], 0, args, base.length, cases[i].length);
            CliTest.Result r = CliTest.cli(args);
            assertEquals(2, r.code(), r.out() + r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertTrue(r.err().contains(needles[i]), needles[i] + " in: " + r.err());
        }
        assertFalse(Files.exists(Path.of(out)), "nothing written");
        assertEquals("x", Files.readString(file));
        assertTrue(Files.isDirectory(blocked.resolve("patch.safetensors")));
    }
}
