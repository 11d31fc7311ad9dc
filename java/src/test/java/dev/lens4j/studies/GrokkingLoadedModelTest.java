package dev.lens4j.studies;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.report.ChromiumReports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.lens4j.studies.GrokkingStudyTest.cli;
import static org.junit.jupiter.api.Assertions.*;

/**
 * `study grokking --model`: the analyses on a model trained elsewhere. On a lens4j checkpoint they must reproduce the
 * training run's own analyses; on TransformerLens's modular-addition shape (a tiny model trained by TL itself,
 * scripts/fixtures/make_grokking_fixture.py) TL's predictions and loss; a model that does not fit the task is refused.
 */
class GrokkingLoadedModelTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Path tlFixture() throws Exception {
        return Path.of(GrokkingLoadedModelTest.class.getResource("/dev/lens4j/studies/tl-modular/model.pth").toURI()).getParent();
    }

    @Test void aLens4jCheckpointGivesTheTrainingRunsAnalyses(@TempDir Path dir) throws Exception {
        Path trained = dir.resolve("trained"), loaded = dir.resolve("loaded");
        GrokkingStudyTest.Result t = cli("study", "grokking", "--p", "5", "--epochs", "100", "--d-model", "32", "--n-heads", "2", "--d-mlp", "64",
                "--ablate-top-k", "5", "--out", trained.toString());
        assertEquals(0, t.code(), t.err());
        GrokkingStudyTest.Result r = cli("study", "grokking", "--p", "5", "--ablate-top-k", "5", "--model", trained.resolve("model").toString(),
                "--out", loaded.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("training skipped"), r.out());
        assertFalse(Files.exists(loaded.resolve("model")), "nothing trained, no checkpoint written");
        JsonNode a = JSON.readTree(trained.resolve("results.json").toFile()), b = JSON.readTree(loaded.resolve("results.json").toFile());
        for (String k : new String[] {"accuracy", "embedding_pca", "attention", "neurons", "probe", "neuron_logit_map", "ablations"})
            assertEquals(a.get(k), b.get(k), k + " equals the training run's");
        assertTrue(b.get("training").get("skipped").asBoolean());
        assertEquals(trained.resolve("model").toString(), b.get("training").get("model_source").asText());
        assertEquals(trained.resolve("model").toString(), b.get("config").get("model_source").asText());
        ChromiumReports.checkIfAvailable(loaded.resolve("report.html"), GrokkingReport.PLOTS - GrokkingReport.TRAINING_PLOTS);
    }

    @Test void aTransformerLensModularAdditionModelGivesTlsPredictions(@TempDir Path dir) throws Exception {
        Path fx = tlFixture();
        JsonNode expected = JSON.readTree(fx.resolve("expected.json").toFile());
        Path out = dir.resolve("tl");
        // the .pth file with --config, as TL saves them
        GrokkingStudyTest.Result r = cli("study", "grokking", "--task", "modular", "--p", "7", "--model", fx.resolve("model.pth").toString(),
                "--config", fx.resolve("config.json").toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode res = JSON.readTree(out.resolve("results.json").toFile());
        assertEquals(expected.get("predictions"), res.get("accuracy").get("predictions"), "argmax at '=' for every pair, as TL computed it");
        assertEquals(expected.get("loss").asDouble(), res.get("accuracy").get("loss_all_pairs").asDouble(), 1e-5, "TL's cross-entropy over all pairs");
        assertEquals(expected.get("accuracy").asDouble(), res.get("accuracy").get("all_pairs").asDouble(), 1e-12);
        assertEquals(24, res.get("neurons").get("correlation").size(), "d_mlp from the model, not the options");
        // the directory holding model.pth and config.json works the same
        GrokkingStudyTest.Result d = cli("study", "grokking", "--task", "modular", "--p", "7", "--model", fx.toString(), "--out", dir.resolve("d").toString());
        assertEquals(0, d.code(), d.err());
        assertEquals(res.get("accuracy"), JSON.readTree(dir.resolve("d/results.json").toFile()).get("accuracy"));
    }

    @Test void aModelThatDoesNotFitTheTaskIsRefused(@TempDir Path dir) throws Exception {
        String fx = tlFixture().toString(), out = dir.resolve("o").toString();
        GrokkingStudyTest.Result r = cli("study", "grokking", "--task", "modular", "--p", "113", "--model", fx, "--out", out);
        assertEquals(2, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("does not fit --task modular --p 113: d_vocab is 8 (the task needs p + 1 = 114") && r.err().contains("d_vocab_out is 7"), r.err());
        r = cli("study", "grokking", "--task", "sum", "--p", "7", "--model", fx, "--out", out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("d_vocab_out is 7 (--task sum needs 2p = 14)"), r.err());
        r = cli("study", "grokking", "--task", "modular", "--p", "7", "--ablate-top-k", "30", "--model", fx, "--out", out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--ablate-top-k 30 exceeds d_mlp 24"), r.err());
        r = cli("study", "grokking", "--config", fx + "/config.json", "--out", out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--config needs --model"), r.err());
        assertFalse(Files.exists(dir.resolve("o/report.html")), "nothing written");
    }
}
