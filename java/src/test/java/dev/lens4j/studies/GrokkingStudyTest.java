package dev.lens4j.studies;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.cli.Main;
import dev.lens4j.model.HookedTransformer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The grokking study end to end on a tiny setting (p = 5, a small model, a few hundred epochs): every results.json
 * section, every report plot, the checkpoint, the CLI (study and bad input). One run is shared by the tests.
 */
public class GrokkingStudyTest {
    @TempDir static Path tmp;
    static Path out;
    static Result run;

    public record Result(int code, String out, String err) {}

    /** Main.execute with stdout and stderr captured (other studies' tests use it too). */
    public static Result cli(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            int code = Main.execute(args);
            return new Result(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    /** The tiny setting's options, as CLI arguments. */
    static String[] tiny(Path dir, String... extra) {
        String[] base = {"study", "grokking", "--p", "5", "--epochs", "300", "--d-model", "32", "--n-heads", "2", "--d-mlp", "64",
                "--ablate-top-k", "5", "--checkpoint-every", "100", "--out", dir.toString()};
        String[] all = Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return all;
    }

    @BeforeAll
    static void runTinyStudy() {
        out = tmp.resolve("grok");
        run = cli(tiny(out));
    }

    @Test
    void studyExitsCleanlyAndSummarises() {
        assertEquals(0, run.code, run.err);
        assertTrue(run.out.contains("Grokking a+b, p = 5: 300 epochs"), run.out);
        assertTrue(run.out.contains("final   train loss"), run.out);
        assertTrue(run.out.contains("report.html"), run.out);
        assertTrue(run.out.contains("./lens4j info --model"), run.out);
        // not a terminal here: progress is plain lines on stderr, one per 10%
        assertTrue(run.err.contains("epoch 300/300 100%"), run.err);
        assertFalse(run.err.contains("\r"), "no carriage returns when stderr is not a terminal");
    }

    @Test
    void resultsJsonHasEverySectionAndSaneNumbers() throws Exception {
        JsonNode r = new ObjectMapper().readTree(out.resolve("results.json").toFile());
        for (String s : GrokkingResults.SECTIONS) assertTrue(r.has(s), "results.json lacks '" + s + "'");
        assertEquals(5, r.at("/config/p").asInt());
        assertEquals(598, r.at("/seeds/data").asLong());
        assertEquals(999, r.at("/seeds/model").asLong());
        assertEquals(18, r.at("/data/n_train").asInt(), "int(25 * 0.72)");
        assertEquals(7, r.at("/data/n_test").asInt());
        assertEquals(300, r.at("/training/train_loss").size());
        assertEquals(300, r.at("/training/test_accuracy").size());
        assertEquals(3, r.at("/training/checkpoint_epochs").size());
        JsonNode loss = r.at("/training/train_loss");
        assertTrue(loss.get(299).asDouble() < 0.2 * loss.get(0).asDouble(), "training lowered the loss: " + loss.get(0) + " -> " + loss.get(299));
        assertEquals(1.0, r.at("/training/final_train_accuracy").asDouble(), 1e-12, "memorises 18 pairs");
        assertEquals(32, r.at("/model_config/d_model").asInt());
        assertTrue(r.at("/model_config/normalization_type").isNull());
        assertEquals(10, r.at("/model_config/d_vocab_out").asInt());

        JsonNode ratio = r.at("/embedding_pca/explained_variance_ratio");
        double total = 0;
        for (JsonNode x : ratio) total += x.asDouble();
        assertEquals(1.0, total, 1e-9);
        assertTrue(ratio.size() <= 4, "5 centred points span at most 4 directions");
        assertEquals(5, r.at("/embedding_pca/scores").size());

        JsonNode heads = r.at("/attention/heads");
        assertEquals(2, heads.size());
        for (JsonNode h : heads)
            assertEquals(1.0, h.get("to_a").asDouble() + h.get("to_b").asDouble() + h.get("to_equals").asDouble(), 1e-5);

        assertEquals(64, r.at("/neurons/correlation").size());
        assertEquals(GrokkingAnalysis.TOP_NEURONS, r.at("/neurons/top_by_abs_correlation").size());
        double top = Math.abs(r.at("/neurons/top_by_abs_correlation/0/correlation").asDouble());
        for (JsonNode c : r.at("/neurons/correlation")) assertTrue(Math.abs(c.asDouble()) <= top + 1e-12);
        assertEquals(3, r.at("/neurons/top_neuron_activation_grids_a_by_b").size());

        assertTrue(r.at("/probe/test_r2").isNumber());
        assertTrue(r.at("/probe/test_mse").asDouble() >= 0);
        assertEquals(r.at("/probe/test_rows").asInt(), r.at("/probe/test_predictions").size());

        assertEquals(64, r.at("/neuron_logit_map/w_l").size());
        assertEquals(10, r.at("/neuron_logit_map/w_l/0").size());

        for (String k : new String[] {"mean_mlp_out", "zero_top_k", "pc1_only_embedding"}) {
            JsonNode a = r.at("/ablations/" + k);
            assertFalse(a.isMissingNode(), k);
            double acc = a.get("accuracy").asDouble();
            assertTrue(acc >= 0 && acc <= 1, k);
            assertEquals(Math.round((1 - acc) * 25), a.get("n_failing").asInt(), k);
            assertEquals(a.get("n_failing").asInt(), a.get("failing_pairs").size(), k);
            assertEquals(5, a.get("prediction_minus_label_grid").size(), k);
            assertTrue(a.has("fit_prediction_on_sum") && a.has("fit_prediction_on_a_b"), k);
        }
        assertEquals(0, r.at("/ablations/zero_top_k_sweep/k/0").asInt());
        assertEquals(r.at("/accuracy/all_pairs").asDouble(), r.at("/ablations/zero_top_k_sweep/accuracy/0").asDouble(), 1e-12,
                "zeroing no neurons changes nothing");
    }

    @Test
    void reportHasEveryPlotAndIsSelfContained() throws Exception {
        String html = Files.readString(out.resolve("report.html"));
        Matcher m = Pattern.compile("data-testid=\"plot\"").matcher(html);
        int plots = 0;
        while (m.find()) plots++;
        assertEquals(GrokkingReport.PLOTS, plots);
        assertEquals(22, plots);
        assertFalse(html.contains("<script"), "no scripts");
        assertFalse(html.matches("(?s).*(src|href)=\"https?:.*"), "no remote resources");
        for (String s : new String[] {"Training", "Embedding: PCA of W_E", "Attention from", "MLP neurons", "Linear probe", "W_L", "Ablations"})
            assertTrue(html.contains(s), s);
    }

    @Test
    void finalCheckpointLoadsAndReproducesTheReportedAccuracy() throws Exception {
        Path model = out.resolve("model");
        Result info = cli("info", "--model", model.toString());
        assertEquals(0, info.code, info.err);
        assertTrue(info.out.contains("\"d_vocab_out\" : 10"), info.out);
        JsonNode r = new ObjectMapper().readTree(out.resolve("results.json").toFile());
        int p = 5;
        int[][] toks = GrokkingStudy.dataset(p);
        int[] labels = GrokkingStudy.labels(p, GrokkingStudy.Task.SUM);
        try (HookedTransformer m = HookedTransformer.fromPretrained(model);
             HookedTransformer.Output o = m.run(toks, new HookedTransformer.RunOptions().logitsLastOnly(true))) {
            int[] pred = GrokkingAnalysis.argmaxRows(o.logits().toFloatArray(), 10);
            assertEquals(r.at("/accuracy/all_pairs").asDouble(), GrokkingAnalysis.accuracy(pred, labels, null), 1e-12);
        }
        // checkpoints every 100 epochs as asked
        for (int e : new int[] {100, 200, 300})
            assertTrue(Files.isRegularFile(out.resolve("checkpoints").resolve(String.format("epoch-%06d", e)).resolve("model.safetensors")));
    }

    @Test
    void sameSeedsGiveTheSameResults(@TempDir Path dir) throws Exception {
        Result again = cli(tiny(dir.resolve("again")));
        assertEquals(0, again.code, again.err);
        ObjectMapper om = new ObjectMapper();
        JsonNode a = om.readTree(out.resolve("results.json").toFile()), b = om.readTree(dir.resolve("again/results.json").toFile());
        assertEquals(a.get("training").get("train_loss"), b.get("training").get("train_loss"));
        assertEquals(a.get("neurons"), b.get("neurons"));
        assertEquals(a.get("ablations"), b.get("ablations"));
    }

    @Test
    void modularTaskUsesPOutputs(@TempDir Path dir) throws Exception {
        Result r = cli("study", "grokking", "--task", "modular", "--p", "7", "--epochs", "20", "--d-model", "16", "--n-heads", "2",
                "--d-mlp", "16", "--ablate-top-k", "3", "--out", dir.toString());
        assertEquals(0, r.code, r.err);
        JsonNode j = new ObjectMapper().readTree(dir.resolve("results.json").toFile());
        assertEquals(7, j.at("/model_config/d_vocab_out").asInt());
        assertEquals("(a+b) mod p", j.at("/neurons/target").asText());
        assertEquals((int) (49 * 0.3), j.at("/data/n_train").asInt(), "the modular task's default frac_train is 0.3");
    }

    /** scripts/check-report.sh in headless Chromium: every plot drew, no script errors, no resource loads, a screenshot. */
    @Test
    void reportRendersInHeadlessChromium() throws Exception {
        String chrome = findChromium();
        Assumptions.assumeTrue(chrome != null,
                "chromium not installed (apt-get install -y chromium, or set CHROMIUM=/path): skipping the real-browser report check");
        Path script = findScript();
        Path shot = Path.of("target", "grokking-report", "report.png").toAbsolutePath();
        Files.createDirectories(shot.getParent());
        Files.deleteIfExists(shot);
        ProcessBuilder pb = new ProcessBuilder("bash", script.toString(), "--expect-plots", Integer.toString(GrokkingReport.PLOTS),
                "--height", "3000", out.resolve("report.html").toString(), shot.toString()).redirectErrorStream(true);
        pb.environment().put("CHROMIUM", chrome);
        Process proc = pb.start();
        boolean done = proc.waitFor(300, TimeUnit.SECONDS);
        String log = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!done) { proc.destroyForcibly(); fail("check-report.sh timed out:\n" + log); }
        assertEquals(0, proc.exitValue(), "check-report.sh failed:\n" + log);
        assertTrue(log.contains("plots: " + GrokkingReport.PLOTS + " found"), log);
        assertTrue(Files.size(shot) > 10_000, "screenshot has content");
    }

    static String findChromium() {
        String env = System.getenv("CHROMIUM");
        if (env != null && new File(env).canExecute()) return env;
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
            for (String name : new String[] {"chromium", "chromium-browser", "google-chrome"})
                if (new File(dir, name).canExecute()) return new File(dir, name).getAbsolutePath();
        return null;
    }

    static Path findScript() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent())
            if (Files.isRegularFile(d.resolve("scripts/check-report.sh"))) return d.resolve("scripts/check-report.sh");
        throw new AssertionError("scripts/check-report.sh not found above " + Path.of("").toAbsolutePath());
    }

    // ------------------------------------------------------------------------------------------ bad input

    @Test
    void unknownStudyIsAClearError() {
        Result r = cli("study", "grokk", "--out", tmp.resolve("x").toString());
        assertEquals(2, r.code);
        assertTrue(r.err.contains("unknown study 'grokk' (available: grokking"), r.err); // other studies follow in the list
    }

    @Test
    void pBelowTwoIsAClearError() {
        for (String p : new String[] {"1", "0", "-3"}) {
            Result r = cli("study", "grokking", "--p", p, "--out", tmp.resolve("x").toString());
            assertEquals(2, r.code, r.err);
            assertTrue(r.err.contains("--p must be >= 2"), r.err);
        }
    }

    @Test
    void fracTrainOutsideZeroOneIsAClearError() {
        for (String f : new String[] {"0", "1", "1.5", "-0.2", "NaN"}) {
            Result r = cli("study", "grokking", "--frac-train", f, "--out", tmp.resolve("x").toString());
            assertEquals(2, r.code, f + ": " + r.err);
            assertTrue(r.err.contains("--frac-train must be in (0, 1)"), r.err);
        }
        Result tinyTrain = cli("study", "grokking", "--p", "2", "--frac-train", "0.1", "--out", tmp.resolve("x").toString());
        assertEquals(2, tinyTrain.code);
        assertTrue(tinyTrain.err.contains("both train and test need at least one"), tinyTrain.err);
    }

    @Test
    void unwritableOutputFolderIsAClearErrorBeforeTraining() throws Exception {
        Path file = tmp.resolve("a-file");
        Files.writeString(file, "not a folder");
        Result r = cli("study", "grokking", "--out", file.resolve("sub").toString());
        assertEquals(2, r.code);
        assertTrue(r.err.contains("output folder") && r.err.contains("is not writable"), r.err);
        assertFalse(r.err.contains("epoch"), "failed before training: " + r.err);
        Result demo = cli("demo", "--out", file.toString());
        assertEquals(2, demo.code);
        assertTrue(demo.err.contains("is not writable"), demo.err);
    }

    @Test
    void badNumbersAreUsageErrors() {
        Result r = cli("study", "grokking", "--epochs", "0", "--out", tmp.resolve("x").toString());
        assertEquals(2, r.code);
        assertTrue(r.err.contains("--epochs must be >= 1"), r.err);
        Result t = cli("study", "grokking", "--task", "mul", "--out", tmp.resolve("x").toString());
        assertEquals(2, t.code);
        assertTrue(t.err.contains("--task must be sum or modular"), t.err);
        Result n = cli("demo", "--epochs", "many");
        assertEquals(2, n.code, "picocli rejects a non-number");
    }
}
