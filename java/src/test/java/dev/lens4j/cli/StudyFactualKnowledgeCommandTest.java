package dev.lens4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.oracle.HfTestCheckpoints;
import dev.lens4j.report.ChromiumReports;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.lens4j.cli.CliTest.cli;
import static org.junit.jupiter.api.Assertions.*;

/**
 * `study factual-knowledge` end to end on the real stories260K and on tiny random GPT-2 / Gemma 2 checkpoints with their
 * real tokenizers, each number checked against a hand computation from the model's logits (test_prompt's softmax, the
 * summed-set differences, DLA pieces summing to the logit difference, patching's known effects), and bad input.
 */
class StudyFactualKnowledgeCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String GIRL = "Once upon a time, there was a little girl named";

    /** stories260K: clean/corrupt pairs whose corruption is known (one token swapped, or three), a prompt the filter drops. */
    static Path storiesData(Path dir) throws Exception {
        Files.writeString(dir.resolve("q.csv"), "question,answer,corrupt\n"
                + "\"" + GIRL + "\",True,\"Once upon a time, there was a big girl named\"\n"
                + "\"Once upon a time, there was a little boy named\",False,\"" + GIRL + "\"\n"
                + "\"Once upon a time, there was a little dog named\",False,\n");
        Files.writeString(dir.resolve("m.json"), "{\"True\": [\"Lily\"], \"False\": [\"Tim\"]}");
        return dir;
    }

    @Test void storiesEndToEndMatchesHandComputations(@TempDir Path dir) throws Exception {
        String model = CliTest.stories();
        storiesData(dir);
        Path out = dir.resolve("out");
        CliTest.Result r = cli("study", "factual-knowledge", "--model", model, "--questions", dir.resolve("q.csv").toString(),
                "--answer-map", dir.resolve("m.json").toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("test_prompt [") && r.err().contains("left"), "progress with ETA on stderr: " + r.err());
        JsonNode res = JSON.readTree(out.resolve("results.json").toFile());
        for (String k : List.of("study", "versions", "model", "config", "seeds", "dataset", "answer_map", "prompts", "filter", "logit_lens",
                "increase_per_layer_type", "dla_components", "dla_heads", "patching", "timings"))
            assertTrue(res.has(k), "results.json has " + k);
        assertEquals(model, res.get("model").get("path").asText());
        try (HookedTransformer m = HookedTransformer.fromPretrained(Path.of(model))) {
            int lily = m.toSingleToken("Lily"), tim = m.toSingleToken("Tim");
            assertEquals(lily, res.get("answer_map").get("True_ids").get(0).asInt());
            JsonNode prompts = res.get("prompts");
            List<String> questions = List.of(GIRL, "Once upon a time, there was a little boy named", "Once upon a time, there was a little dog named");
            boolean[] labels = {true, false, false};
            for (int i = 0; i < 3; i++) {
                JsonNode p = prompts.get(i);
                float[] logits = lastLogits(m, questions.get(i));
                double[] prob = softmaxByHand(logits);
                // test_prompt: the top 10 in order, each probability the softmax of its logit
                JsonNode top = p.get("test_prompt").get("top");
                assertEquals(10, top.size());
                for (int k = 0; k < 10; k++) {
                    int t = top.get(k).get("token").asInt();
                    assertEquals(logits[t], top.get(k).get("logit").asDouble(), 1e-5);
                    assertEquals(prob[t], top.get(k).get("prob").asDouble(), 1e-6);
                    if (k > 0) assertTrue(logits[t] <= top.get(k - 1).get("logit").asDouble());
                }
                double sign = labels[i] ? 1 : -1;
                assertEquals(sign * (logits[lily] - logits[tim]), p.get("logit_diff").asDouble(), 1e-4, "label-aligned summed logit difference");
                assertEquals(sign * (prob[lily] - prob[tim]), p.get("prob_diff").asDouble(), 1e-6, "label-aligned probability difference");
                assertEquals(p.get("prob_diff").asDouble() >= 0.15, p.get("kept").asBoolean(), "the seed's filter");
            }
            assertFalse(prompts.get(2).get("kept").asBoolean(), "the model prefers Lily for the dog: dropped");
            assertEquals("[0,1]", res.get("filter").get("kept").toString());

            // logit lens: labels as TL's accumulated_resid(incl_mid=True); final_post + the b_U share is the logit difference
            JsonNode lens = res.get("logit_lens");
            int L = m.cfg().nLayers;
            assertEquals(2 * L + 1, lens.get("labels").size());
            assertEquals("final_post", lens.get("labels").get(2 * L).asText());
            for (String idx : List.of("0", "1")) {
                double ld = prompts.get(Integer.parseInt(idx)).get("logit_diff").asDouble();
                double bias = res.get("dla_components").get("unembed_bias").get(idx).asDouble();
                assertEquals(ld, lens.get("per_prompt").get(idx).get(2 * L).asDouble() + bias, 1e-3);
                double sum = bias;
                for (JsonNode v : res.get("dla_components").get("per_prompt").get(idx)) sum += v.asDouble();
                assertEquals(ld, sum, 1e-3, "DLA pieces sum to the logit difference");
            }
            // attention and MLP increases telescope to final_post - 0_pre
            JsonNode inc = res.get("increase_per_layer_type"), mean = lens.get("mean");
            assertEquals(mean.get(2 * L).asDouble() - mean.get(0).asDouble(), inc.get("attn_all").asDouble() + inc.get("mlp_all").asDouble(), 1e-4);
            assertEquals(inc.get("attn_all").asDouble() - inc.get("attn_by_layer").get(0).asDouble(), inc.get("attn_after_layer_0").asDouble(), 1e-9);
            assertEquals(L * m.cfg().nHeads, res.get("dla_heads").get("per_prompt").get("0").size());

            // patching resid_pre at layer 0: the embedding alone, so the one swapped position restores the clean run (1) and
            // every shared position changes nothing (0)
            JsonNode patch = res.get("patching").get("per_prompt");
            assertEquals(2, patch.size(), "kept prompts with a corrupt question");
            JsonNode first = patch.get(0).get("resid_pre").get(0);
            int swapped = 9; // ' little' -> ' big' after BOS and 8 shared tokens
            assertEquals(" big", patch.get(0).get("corrupt_str_tokens").get(swapped).asText());
            for (int pos = 0; pos < first.size(); pos++) assertEquals(pos == swapped ? 1.0 : 0.0, first.get(pos).asDouble(), 1e-4, "pos " + pos);
            JsonNode second = patch.get(1).get("resid_pre").get(0); // ' b','o','y' vs ' g','ir','l' at 10..12
            for (int pos : new int[] {0, 9, 13}) assertEquals(0.0, second.get(pos).asDouble(), 1e-4);
            // the corrupted baseline of "boy" is "girl": its label-aligned metric is minus girl's clean logit difference
            assertEquals(-prompts.get(0).get("logit_diff").asDouble(), patch.get(1).get("corrupted_metric").asDouble(), 1e-4);
            double lastLayerLastPos = patch.get(1).get("resid_pre").get(L - 1).get(13).asDouble();
            assertTrue(Double.isFinite(lastLayerLastPos));
        }
        try (SafeTensors st = SafeTensors.open(out.resolve("factual.safetensors"))) {
            assertEquals(List.of(3L), List.of(st.info("logit_diff").shape()[0]));
            assertArrayEquals(new long[] {2, 11}, st.info("logit_lens").shape());
            assertArrayEquals(new long[] {2, 5, 8}, st.info("dla_heads").shape());
            assertArrayEquals(new long[] {5, 14}, st.info("patch_resid_pre.0").shape());
            assertArrayEquals(new long[] {5, 8}, st.info("patch_attn_head_out_mean").shape());
        }
        // the dataset written back reads as the input
        assertEquals(Files.readString(dir.resolve("q.csv")).lines().count(), Files.readString(out.resolve("questions.csv")).lines().count());
        ChromiumReports.checkIfAvailable(out.resolve("report.html"), 6 + 2 + 1);
    }

    @Test void tinyGpt2WithTheBuiltInQuestionsAndMap(@TempDir Path dir) throws Exception {
        Path shared = TestCheckpoints.shared();
        Config cfg = RandomWeights.gpt2Config(2, 16, 4, 50257, 64);
        Path ckpt = TestCheckpoints.gpt2(dir.resolve("gpt2"), cfg, 3, DType.F32);
        Files.copy(shared.resolve("models/gpt2-tokenizer/tokenizer.json"), ckpt.resolve("tokenizer.json"));
        Path out = dir.resolve("out");
        CliTest.Result r = cli("study", "factual-knowledge", "--model", ckpt.toString(), "--min-prob-diff", "-1", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode res = JSON.readTree(out.resolve("results.json").toFile());
        assertEquals(10, res.get("prompts").size(), "the seed's ten questions");
        assertEquals(10, res.get("filter").get("kept").size(), "--min-prob-diff -1 keeps all");
        try (HookedTransformer m = HookedTransformer.fromPretrained(ckpt)) {
            // the built-in map keeps exactly the texts GPT-2 makes one token, and says which it dropped
            List<String> kept = new ArrayList<>(), dropped = new ArrayList<>();
            for (String t : dev.lens4j.studies.factual.FactualData.seedAnswerMap().trueTexts())
                (m.tokenizer().encode(t).length == 1 ? kept : dropped).add(t);
            assertEquals(kept.toString(), texts(res.get("answer_map").get("True")).toString());
            assertTrue(texts(res.get("answer_map").get("dropped_multi_token")).containsAll(dropped));
            int[] t = ids(res.get("answer_map").get("True_ids")), f = ids(res.get("answer_map").get("False_ids"));
            float[] logits = lastLogits(m, "Is the Louvre Museum in Rome?\n");
            double s = 0;
            for (int x : t) s -= logits[x];
            for (int x : f) s += logits[x];
            JsonNode louvre = res.get("prompts").get(4);
            assertEquals(s, louvre.get("logit_diff").asDouble(), 1e-3, "False label: the False set's summed logits minus the True set's");
            // LayerNorm model: the centred, scaled components still sum to the logit difference
            double sum = res.get("dla_components").get("unembed_bias").get("4").asDouble();
            for (JsonNode v : res.get("dla_components").get("per_prompt").get("4")) sum += v.asDouble();
            assertEquals(s, sum, 1e-3);
            assertEquals(2 * 2 + 2, res.get("dla_components").get("labels").size(), "embed, pos_embed, attn_out and mlp_out per layer");
        }
        assertEquals(0, res.get("patching").get("patched_prompts").asInt(), "no corrupt column: no patching");
        ChromiumReports.checkIfAvailable(out.resolve("report.html"), 6);
    }

    @Test void tinyGemma2WithItsTokenizerAndCorruptedQuestions(@TempDir Path dir) throws Exception {
        Path tok = TestCheckpoints.shared().resolve("models/gemma3-tokenizer");
        Path ckpt = dir.resolve("gemma2");
        HfTestCheckpoints.gemma2(ckpt, 4, DType.BF16, 262208); // Gemma 3's embedding rows (the tokenizer has 262145 ids)
        for (String f : new String[] {"tokenizer.json", "tokenizer_config.json"}) Files.copy(tok.resolve(f), ckpt.resolve(f));
        Files.writeString(dir.resolve("q.csv"), "question,answer,corrupt\n\"Is Paris the capital of France?\n\",True,\"Is Paris the capital of Spain?\n\"\n"
                + "\"Is the Louvre Museum in Rome?\n\",False,\"Is the Louvre Museum in Paris?\n\"\n");
        Path out = dir.resolve("out");
        CliTest.Result r = cli("study", "factual-knowledge", "--model", ckpt.toString(), "--questions", dir.resolve("q.csv").toString(),
                "--min-prob-diff", "-1", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode res = JSON.readTree(out.resolve("results.json").toFile());
        assertEquals(0, res.get("answer_map").get("dropped_multi_token").size(), "every text of the seed's map is one Gemma token");
        assertEquals(List.of("<bos>", "Is", " Paris", " the", " capital", " of", " France", "?", "\n"), texts(res.get("prompts").get(0).get("str_tokens")),
                "the seed's tokenisation");
        assertEquals(2, res.get("patching").get("per_prompt").size());
        JsonNode grid = res.get("patching").get("per_prompt").get(0).get("resid_pre");
        assertEquals(3, grid.size());
        assertEquals(9, grid.get(0).size());
        assertEquals(1.0, grid.get(0).get(6).asDouble(), 1e-3, "layer 0, the swapped token (France -> Spain) restores the clean run");
        assertEquals(0.0, grid.get(0).get(2).asDouble(), 1e-3, "a shared token changes nothing");
        assertEquals(3, res.get("patching").get("attn_head_out_all_pos_mean").size());
        assertEquals(4, res.get("patching").get("attn_head_out_all_pos_mean").get(0).size());
        ChromiumReports.checkIfAvailable(out.resolve("report.html"), 6 + 2 + 1);
    }

    @Test void badInputIsOneLineNamingTheProblem(@TempDir Path dir) throws Exception {
        String model = CliTest.stories();
        storiesData(dir);
        Path map = Files.writeString(dir.resolve("bad.json"), "{\"True\": [\"Lily\"], \"False\": [\"Sue\"]}");
        Path empty = Files.writeString(dir.resolve("empty.csv"), "");
        Path badRow = Files.writeString(dir.resolve("row.csv"), "question,answer\n\"" + GIRL + "\",Yes\n");
        Path uneven = Files.writeString(dir.resolve("uneven.csv"), "question,answer,corrupt\n\"" + GIRL + "\",True,\"Once upon a time, there was a girl named\"\n");
        Path same = Files.writeString(dir.resolve("same.csv"), "question,answer,corrupt\n\"" + GIRL + "\",True,\"" + GIRL + "\"\n");
        Path taken = Files.createDirectories(dir.resolve("taken/results.json")).getParent();
        Path longQ = Files.writeString(dir.resolve("long.csv"), "question,answer\n\"" + "Once upon a time ".repeat(200) + "\",True\n");
        Path both = Files.writeString(dir.resolve("both.json"), "{\"True\": [\"Lily\"], \"False\": [\"Tim\", \"Lily\"]}");
        String q = dir.resolve("q.csv").toString(), m = dir.resolve("m.json").toString(), out = dir.resolve("o").toString();
        Object[][] cases = {
                {new String[] {"--questions", q, "--answer-map", map.toString()}, "'False' entry 'Sue' is 3 tokens"},
                {new String[] {"--questions", empty.toString(), "--answer-map", m}, "empty.csv: empty file"},
                {new String[] {"--questions", badRow.toString(), "--answer-map", m}, "line 2, column 2: answer must be True or False, got 'Yes'"},
                {new String[] {"--questions", uneven.toString(), "--answer-map", m, "--min-prob-diff", "-1"}, "line 2: the corrupt question is 13 tokens"},
                {new String[] {"--questions", same.toString(), "--answer-map", m}, "line 2: the question and its corrupt version give the same logit difference"},
                {new String[] {"--questions", q, "--answer-map", m, "--min-prob-diff", "2"}, "the model gets every question wrong"},
                {new String[] {"--answer-map", dir.toString()}, "is a directory"},
                {new String[] {"--questions", longQ.toString(), "--answer-map", m}, "line 2: the question is 802 tokens, longer than the model's context n_ctx = 512"},
                {new String[] {"--questions", q, "--answer-map", both.toString()}, "'Lily' (token"},
                {new String[] {"--top-k", "0"}, "--top-k must be >= 1"}};
        for (Object[] c : cases) {
            String[] extra = (String[]) c[0];
            String[] args = new String[6 + extra.length];
            String[] base = {"study", "factual-knowledge", "--model", model, "--out", out};
            System.arraycopy(base, 0, args, 0, 6);
            System.arraycopy(extra, 0, args, 6, extra.length);
            CliTest.Result r = cli(args);
            assertEquals(2, r.code(), String.join(" ", extra) + ": " + r.err());
            String lastLine = r.err().strip().lines().reduce((a, b) -> b).orElse("");
            assertTrue(lastLine.contains((String) c[1]), "expected '" + c[1] + "' in: " + r.err());
            assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        }
        CliTest.Result r = cli("study", "factual-knowledge", "--model", model, "--questions", q, "--answer-map", m, "--out", taken.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("results.json exists and is not a regular file"), r.err());
    }

    static float[] lastLogits(HookedTransformer m, String prompt) {
        try (Tensor t = m.forward(m.toTokens(prompt))) {
            float[] all = t.toFloatArray();
            int V = m.cfg().dVocabOut();
            return java.util.Arrays.copyOfRange(all, all.length - V, all.length);
        }
    }

    static double[] softmaxByHand(float[] x) {
        double max = Double.NEGATIVE_INFINITY, z = 0;
        for (float v : x) max = Math.max(max, v);
        for (float v : x) z += Math.exp(v - max);
        double[] p = new double[x.length];
        for (int i = 0; i < x.length; i++) p[i] = Math.exp(x[i] - max) / z;
        return p;
    }

    private static List<String> texts(JsonNode a) {
        List<String> out = new ArrayList<>();
        a.forEach(x -> out.add(x.asText()));
        return out;
    }

    private static int[] ids(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }
}
