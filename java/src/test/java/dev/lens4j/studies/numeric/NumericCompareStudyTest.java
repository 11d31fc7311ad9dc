package dev.lens4j.studies.numeric;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lens4j.studies.GrokkingStudyTest.Result;
import dev.lens4j.hooks.Positions;
import dev.lens4j.load.Checkpoint;
import dev.lens4j.load.HfCheckpoint;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.oracle.HfTestCheckpoints;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static dev.lens4j.studies.GrokkingStudyTest.cli;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * `study numeric-compare` end to end: the embedded model (trained briefly) through the CLI, every results.json
 * section and output file, the report in headless Chromium; tiny random GPT-2 and Gemma 2 models through the Java
 * API with checks whose answers are known (patching resid_post equals the readout of the layer patched in; ablating
 * every neuron equals zeroing W_out); stories260K through the CLI; bad input.
 */
class NumericCompareStudyTest {
    @TempDir static Path tmp;
    static Path out;
    static Result run;

    @BeforeAll static void embeddedStudy() {
        out = tmp.resolve("emb");
        run = cli("study", "numeric-compare", "--n", "12", "--train-epochs", "2", "--train-per-category", "150", "--out", out.toString());
    }

    @Test void embeddedRunWritesEveryOutput() throws Exception {
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().contains("embedded model (trained"), run.out());
        assertTrue(run.err().contains("activations") && run.err().contains("left"), "progress with ETA: " + run.err());
        JsonNode r = new ObjectMapper().readTree(out.resolve("results.json").toFile());
        for (String s : NumericResults.SECTIONS) assertTrue(r.has(s), "results.json lacks " + s);
        assertEquals(72, r.at("/data/n").asInt());
        assertEquals(6, r.at("/data/groups").size());
        int L = r.at("/model_config/n_layers").asInt();
        assertEquals(2, L);
        for (JsonNode cell : r.at("/baseline")) {
            assertEquals(6, cell.get("count").asInt(), "balanced: 6 Yes and 6 No per dataset");
            double a = cell.get("accuracy").asDouble();
            assertTrue(a >= 0 && a <= 1);
        }
        assertEquals(L, r.at("/readout/accuracy_by_layer_group").size());
        assertEquals(L, r.at("/probes/accuracy_per_dataset_by_layer_group").size());
        assertEquals(36, r.at("/geometry/cross_projection").size());
        assertEquals(5, r.at("/patching/after").size(), "five hooks patched");
        assertEquals(Math.min(50, 256), r.at("/neurons/top_global_harmful").size());
        assertEquals(4, r.at("/neurons/ablation_accuracy").size() - 1, "zero/mean x top 10/50");
        assertEquals(4, r.at("/neurons/decimals_diff_len_length_breakdown").size());
        assertEquals(0, r.at("/seeds/data").asLong());
        assertTrue(r.at("/embedded_model/train_seconds").asDouble() > 0);
        assertEquals(NumericOptions.EMBEDDED_TEMPLATE, r.at("/config/template").asText());
        // the dataset file reads back as the rows analysed
        List<NumericDataset.Item> items = NumericDataset.readCsv(out.resolve("dataset.csv"));
        assertEquals(NumericDataset.generate(12, 0), items);
        try (SafeTensors st = SafeTensors.open(out.resolve("numeric.safetensors"))) {
            assertArrayEquals(new long[] {L, 72, 64}, st.info("resid_post_last").shape());
            assertArrayEquals(new long[] {L, 6, 64}, st.info("yes_no_axes").shape());
            assertArrayEquals(new long[] {72, 256}, st.info("neurons.c_per_prompt").shape());
            int[] truth = st.readInts("truth");
            for (int i = 0; i < 72; i++) assertEquals(items.get(i).truthYes() ? 1 : 0, truth[i]);
        }
        String html = Files.readString(out.resolve("report.html"));
        assertFalse(html.contains("http://") || html.contains("https://"), "self-contained");
    }

    @Test void reportRendersInHeadlessChromium() throws Exception {
        assertEquals(0, run.code(), run.err());
        String chrome = dev.lens4j.report.ChromiumReportTestAccess.findChromium();
        Assumptions.assumeTrue(chrome != null, "chromium not installed: skipping the real-browser report check");
        int plots = Integer.parseInt(run.out().replaceAll("(?s).*report.html\\s+(\\d+) plots.*", "$1"));
        assertTrue(plots >= 40, "every seed plot: " + plots);
        Path page = out.resolve("report.html"), shot = out.resolve("report.png");
        ProcessBuilder pb = new ProcessBuilder("bash", dev.lens4j.report.ChromiumReportTestAccess.findScript().toString(), "--expect-plots",
                Integer.toString(plots), "--height", "3000", page.toString(), shot.toString()).redirectErrorStream(true);
        pb.environment().put("CHROMIUM", chrome);
        Process p = pb.start();
        boolean done = p.waitFor(300, TimeUnit.SECONDS);
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!done) { p.destroyForcibly(); fail("check-report.sh timed out:\n" + log); }
        assertEquals(0, p.exitValue(), log);
        assertTrue(log.contains("plots: " + plots + " found") && log.contains("script errors: none"), log);
    }

    /** Patching resid_post of block L-2 into block L-1 makes the final residual resid_post[L-2]: the margin is its readout. */
    @Test void gpt2PatchingAndAblationHaveTheirKnownEffects() throws Exception {
        CharTokenizer tok = new CharTokenizer();
        Config cfg = RandomWeights.gpt2Config(3, 32, 4, tok.vocabSize(), 64);
        cfg.dMlp = 64;
        long live = Tensor.liveBytes();
        try (HookedTransformer model = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 11), tok, null)) {
            NumericOptions o = new NumericOptions();
            o.n = 6;
            o.out = tmp.resolve("gpt2");
            o.topGlobal = 64;
            o.ablateTopK = new int[] {64};
            NumericCompareStudy.Summary s = NumericCompareStudy.run(model, o, NumericDataset.TEMPLATE, null, StudyProgress.none(), null);
            NumericCompareStudy.Analysis an = s.analysis();
            int L = 3, yes = CharTokenizer.YES, no = CharTokenizer.NO;
            float[] wU = model.weights().W_U().toFloatArray(), bU = model.weights().b_U().toFloatArray();
            int V = cfg.dVocab;
            double norm = 0;
            for (int d = 0; d < 32; d++) norm += Math.pow(wU[d * V + yes] - wU[d * V + no], 2);
            norm = Math.sqrt(norm);
            double[] gap = an.readoutGap(L - 2), patched = an.patchedMargins("resid_post"), base = an.margins(), gapLast = an.readoutGap(L - 1);
            for (int i = 0; i < gap.length; i++) {
                assertEquals(gap[i] * norm + bU[yes] - bU[no], patched[i], 1e-3 * Math.max(1, Math.abs(patched[i])), "prompt " + i);
                assertEquals(gapLast[i] * norm + bU[yes] - bU[no], base[i], 1e-3 * Math.max(1, Math.abs(base[i])), "unpatched: last layer's readout");
            }
            // zero-ablating all 64 neurons of the last block at the last token = a last block without W_out
            double[] ablated = an.ablatedMargins().get("zero top 64");
            model.editWeights(w -> w.W_out(L - 1).set(new float[64 * 32]));
            for (int i = 0; i < ablated.length; i++) {
                NumericDataset.Item it = an.items.get(i);
                try (var r = model.run(new int[][] {model.toTokens(it.prompt(NumericDataset.TEMPLATE))}, new HookedTransformer.RunOptions().logitsLastOnly(true))) {
                    float[] lg = r.logits().toFloatArray();
                    double m = (it.truthYes() ? 1 : -1) * ((double) lg[yes] - lg[no]);
                    assertEquals(m, ablated[i], 1e-3 * Math.max(1, Math.abs(m)), "prompt " + i);
                }
            }
            assertEquals(1.0, NumericCompareStudy.accuracy(an.collected, an.collected.margin, null, null, false)
                    + NumericCompareStudy.accuracy(an.collected, negate(an.collected.margin), null, null, false), 1e-12);
        }
        assertEquals(live, Tensor.liveBytes(), "no native memory left behind");
    }

    @Test void gemma2WithItsChatTemplate() throws Exception {
        Path dir = tmp.resolve("gemma2");
        HfTestCheckpoints.gemma2(dir, 5, DType.F32);
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = (ObjectNode) json.readTree(dir.resolve("config.json").toFile());
        c.put("max_position_embeddings", 256); // chat turns make prompts longer than the test checkpoint's 40
        Files.writeString(dir.resolve("config.json"), c.toString());
        assertThrows(IllegalArgumentException.class, () -> ChatTemplate.requireGemma(dir, null), "no template yet");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"{{ bos_token }}<start_of_turn>user ...\"}");
        ChatTemplate.requireGemma(dir, null);
        Checkpoint ck = HfCheckpoint.load(dir);
        try (HookedTransformer model = new HookedTransformer(ck.config(), ck.weights(), new CharTokenizer(), null)) {
            NumericOptions o = new NumericOptions();
            o.n = 4;
            o.chat = true;
            o.yes = " Yes";
            o.no = " No";
            o.out = tmp.resolve("gemma2-out");
            NumericCompareStudy.Summary s = NumericCompareStudy.run(model, o, NumericDataset.TEMPLATE, null, StudyProgress.none(), null);
            assertEquals(24, s.analysis().items.size());
            JsonNode r = json.readTree(s.resultsJson().toFile());
            assertTrue(r.at("/config/chat").asBoolean());
            assertEquals(3, r.at("/readout/accuracy_by_layer_group").size());
            assertEquals(List.of(), Arrays.asList(json.treeToValue(r.at("/patching/skipped_hooks"), String[].class)));
            String prompt = ChatTemplate.gemma(NumericDataset.generate(4, 0).get(0).prompt(NumericDataset.TEMPLATE));
            assertTrue(prompt.startsWith("<start_of_turn>user\nQuestion: Is ") && prompt.endsWith("<end_of_turn>\n<start_of_turn>model\n"));
        }
    }

    @Test void stories260KThroughTheCli() throws Exception {
        Path model = TestCheckpoints.stories260K();
        Path o = tmp.resolve("stories");
        // the 512-token vocabulary has no single ' Yes': the error names the tokens
        Result bad = cli("study", "numeric-compare", "--model", model.toString(), "--n", "2", "--out", o.toString());
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("answer ' Yes' is") && bad.err().contains("tokens [") && bad.err().lines().count() == 1, bad.err());
        Result ok = cli("study", "numeric-compare", "--model", model.toString(), "--n", "4", "--yes", " a", "--no", " the", "--out", o.toString());
        assertEquals(0, ok.code(), ok.err());
        JsonNode r = new ObjectMapper().readTree(o.resolve("results.json").toFile());
        assertEquals(5, r.at("/model_config/n_layers").asInt());
        assertEquals(24, r.at("/data/n").asInt());
        Result chat = cli("study", "numeric-compare", "--model", model.toString(), "--chat", "--out", o.toString());
        assertEquals(2, chat.code());
        assertTrue(chat.err().contains("has no chat template"), chat.err());
    }

    @Test void badInputIsOneLineAndExitStatus2() throws Exception {
        Path csv = Files.writeString(tmp.resolve("bad.csv"), "1,2,yes,g\n1,2\n");
        Result r = cli("study", "numeric-compare", "--csv", csv.toString(), "--out", tmp.resolve("x").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("bad.csv line 2") && r.err().strip().lines().count() == 1, r.err());
        Result chat = cli("study", "numeric-compare", "--chat", "--out", tmp.resolve("x").toString());
        assertEquals(2, chat.code());
        assertTrue(chat.err().contains("embedded model has no chat template"), chat.err());
        Result tpl = cli("study", "numeric-compare", "--template", "Is {a} bigger?", "--out", tmp.resolve("x").toString());
        assertEquals(2, tpl.code());
        assertTrue(tpl.err().contains("{a} and {b}"), tpl.err());
        Files.createDirectories(tmp.resolve("y/report.html"));
        Result dirOut = cli("study", "numeric-compare", "--out", tmp.resolve("y").toString());
        assertEquals(2, dirOut.code());
        assertTrue(dirOut.err().contains("report.html exists and is not a regular file"), dirOut.err());
    }

    private static double[] negate(double[] a) {
        double[] b = new double[a.length];
        for (int i = 0; i < a.length; i++) b[i] = -a[i];
        return b;
    }
}
