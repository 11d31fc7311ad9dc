package dev.lens4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.lens4j.cli.CliTest.cli;
import static org.junit.jupiter.api.Assertions.*;

/** `study size-neuron` end to end on stories260K, a tiny random GPT-2 and a tiny random Pythia, and its one-line errors. */
class StudySizeNeuronCommandTest {
    /** Equal token lengths under stories260K's 512-token vocabulary (checked by the study itself). */
    static final String STORIES_FAMILY = "Once upon a time there was a big dog and a\tOnce upon a time there was a little dog and a\t little\t big\n";
    static final String STORIES_FAMILY_2 = "The girl was very big. The boy was very\tThe girl was very little. The boy was very\t little\t big\n";

    static CliTest.Result study(String... args) {
        String[] all = new String[args.length + 2];
        all[0] = "study";
        all[1] = "size-neuron";
        System.arraycopy(args, 0, all, 2, args.length);
        return cli(all);
    }

    @Test void storiesEndToEndWithFamilyFilesAndACorpus(@TempDir Path dir) throws Exception {
        Path f1 = Files.writeString(dir.resolve("dog.tsv"), STORIES_FAMILY), f2 = Files.writeString(dir.resolve("girl.tsv"), STORIES_FAMILY_2);
        Path corpus = Files.writeString(dir.resolve("corpus.txt"), "Once upon a time, there was a big dog. The dog was very big and the cat was little. "
                + "Lily saw a big tree and a little bird. The bird was happy.");
        Path out = dir.resolve("out");
        CliTest.Result r = study("--model", CliTest.stories(), "--family", f1.toString(), "--family", f2.toString(), "--corpus", corpus.toString(),
                "--top-neurons", "3", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("size-neuron: flagged blocks [") && r.out().contains("report.html ("), r.out());
        assertTrue(r.err().contains("left") && r.err().contains("elapsed"), "progress lines with an ETA: " + r.err());
        for (String f : new String[] {"results.json", "report.html", "dataset.tsv", "size_neuron.safetensors", "scan/browser/index.html"})
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        JsonNode j = new ObjectMapper().readTree(out.resolve("results.json").toFile());
        List<String> keys = new ArrayList<>();
        j.fieldNames().forEachRemaining(keys::add);
        assertEquals(List.of("study", "versions", "model", "model_config", "config", "seeds", "dataset", "timings", "families", "spikes",
                "standouts", "cross_family", "ablation", "congruence", "neuroscope"), keys);
        assertEquals(3, j.get("standouts").size());
        assertEquals(2, j.get("cross_family").size());
        assertTrue(Files.readString(out.resolve("dataset.tsv")).contains("dog\t" + STORIES_FAMILY.strip()), "the pairs as run");

        JsonNode fam = j.get("families").get("dog");
        JsonNode data = j.get("dataset").get(0);
        try (HookedTransformer model = HookedTransformer.fromPretrained(Path.of(CliTest.stories()))) {
            // the logit lens's last point is the model's own logit difference (Llama: no unembedding bias)
            String[] p = STORIES_FAMILY.strip().split("\t");
            int[] clean = model.toTokens(p[0]);
            try (var run = model.run(new int[][] {clean}, new HookedTransformer.RunOptions().logitsLastOnly(true))) {
                float[] lg = run.logits().toFloatArray();
                double diff = lg[model.answerToken(p[0], p[2])] - lg[model.answerToken(p[0], p[3])];
                assertEquals(diff, fam.get("clean_logit_diff").asDouble(), 1e-4);
                JsonNode lens = fam.get("logit_lens").get("values");
                assertEquals(diff, lens.get(lens.size() - 1).asDouble(), 1e-3);
                assertEquals(model.cfg().nLayers + 1, lens.size());
            }
            // resid_pre of layer 0: before the first differing token nothing changes; patching the only differing token restores all
            JsonNode c = data.get("clean_str_tokens"), k = data.get("corrupt_str_tokens");
            List<Integer> differ = new ArrayList<>();
            for (int i = 0; i < c.size(); i++) if (!c.get(i).equals(k.get(i))) differ.add(i);
            assertEquals(1, differ.size(), "' big' and ' little' are one token each: " + c + " / " + k);
            JsonNode l0 = fam.get("patching").get("resid_pre").get(0);
            for (int i = 0; i < differ.get(0); i++) assertEquals(0, l0.get(i).asDouble(), 1e-4);
            assertEquals(1, l0.get(differ.get(0)).asDouble(), 1e-4);
        }
        int flagged = j.get("spikes").get("flagged_layers").get(0).get("layer").asInt();
        try (SafeTensors st = SafeTensors.open(out.resolve("size_neuron.safetensors"))) {
            assertEquals(172, st.readFloats("dog.neurons.L" + flagged).length, "every neuron of the flagged layer");
            assertEquals(172, st.readFloats("girl.neurons.L" + flagged).length, "the same layer in the other family");
            assertEquals(5 * 172 * j.get("congruence").get("tokens").size(), st.readFloats("congruence.output").length);
        }
        JsonNode tail = j.get("congruence").get("tokens").get(0).get("top_output_neurons").get(0);
        assertEquals(10, tail.get("top_output_tokens").size(), "each tail neuron's own top tokens: " + tail);
        double sum = 0;
        for (JsonNode n : j.get("cross_family").get("girl").get("standouts_here")) sum += n.get("value").asDouble();
        assertEquals(sum, j.get("cross_family").get("girl").get("standouts_sum").asDouble(), 1e-9);
        JsonNode scope = j.get("neuroscope").get("neurons").get(0);
        assertTrue(Files.isRegularFile(out.resolve(scope.get("page").asText())), "the top neuron's browser page: " + scope.get("page"));
        assertTrue(scope.get("content_words").size() > 0 && scope.get("top_contexts").size() > 0, scope.toString());
    }

    @Test void aFamilyOfSeveralPairsAveragesThem(@TempDir Path dir) throws Exception {
        String second = "Once upon a time there was a big cat and a\tOnce upon a time there was a little cat and a\t little\t big\n";
        Path f = Files.writeString(dir.resolve("two.tsv"), STORIES_FAMILY + second);
        Path out = dir.resolve("out");
        CliTest.Result r = study("--model", CliTest.stories(), "--family", f.toString(), "--max-layers", "1", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode fam = new ObjectMapper().readTree(out.resolve("results.json").toFile()).get("families").get("two");
        assertEquals(2, fam.get("pairs").asInt());
        double sum = 0;
        try (HookedTransformer model = HookedTransformer.fromPretrained(Path.of(CliTest.stories()))) {
            for (String line : new String[] {STORIES_FAMILY, second}) {
                String[] p = line.strip().split("\t");
                try (var run = model.run(new int[][] {model.toTokens(p[0])}, new HookedTransformer.RunOptions().logitsLastOnly(true))) {
                    float[] lg = run.logits().toFloatArray();
                    sum += lg[model.answerToken(p[0], p[2])] - lg[model.answerToken(p[0], p[3])];
                }
            }
        }
        assertEquals(sum / 2, fam.get("clean_logit_diff").asDouble(), 1e-4, "the mean over the pairs, each run alone");
        JsonNode lens = fam.get("logit_lens").get("values");
        assertEquals(sum / 2, lens.get(lens.size() - 1).asDouble(), 1e-3);
    }

    @Test void tinyGpt2RunsEveryBuiltInFamily(@TempDir Path dir) throws Exception {
        Path ckpt = TestCheckpoints.gpt2(dir.resolve("gpt2"), RandomWeights.gpt2Config(2, 16, 4, 50257, 64), 3, DType.F32);
        Files.copy(TestCheckpoints.shared().resolve("models/gpt2-tokenizer/tokenizer.json"), ckpt.resolve("tokenizer.json"));
        Path out = dir.resolve("out");
        CliTest.Result r = study("--model", ckpt.toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(out.resolve("results.json").toFile());
        assertEquals(List.of("tall-short", "big-small", "huge-tiny", "pear-apple"), names(j.get("cross_family")));
        assertEquals(" short", j.get("dataset").get(0).get("answer_token").get("str").asText());
        assertEquals(" an", j.get("dataset").get(3).get("answer_token").get("str").asText());
        assertEquals(4, j.get("ablation").size());
        assertTrue(Files.readString(out.resolve("report.html")).contains("Do the same neurons stand out in other families?"));
    }

    @Test void tinyPythiaRunsWithItsTokenizer(@TempDir Path dir) throws Exception {
        Path m = FamilyCliTest.tinyPythia(dir.resolve("pythia"));
        Path out = dir.resolve("out");
        CliTest.Result r = study("--model", m.toString(), "--family", "tall-short", "--family", "huge-tiny", "--max-layers", "1", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(out.resolve("results.json").toFile());
        assertEquals(1, j.get("spikes").get("flagged_layers").size());
        assertTrue(j.get("model_config").toString().contains("GPTNeoX"), "a GPT-NeoX model: " + j.get("model_config"));
        assertEquals(2, j.get("families").size());
    }

    @Test void badInputGivesOneLineErrors(@TempDir Path dir) throws Exception {
        String m = CliTest.stories();
        CliTest.Result r = study("--model", m, "--out", dir.resolve("a").toString());
        assertError(r, "family 'tall-short': the clean prompt is 16 tokens");
        assertTrue(r.err().contains("so they must have the same token length"), r.err());
        Path same = Files.writeString(dir.resolve("same.tsv"), "There was a big dog and a\tThere was a little dog and a\t big dog\t big cat\n");
        assertError(study("--model", m, "--family", same.toString(), "--out", dir.resolve("b").toString()),
                "line 1: answer ' big dog' [ big,  do, g] and wrong ' big cat'");
        Path bad = Files.writeString(dir.resolve("bad.tsv"), "# pairs\nclean only\n");
        assertError(study("--model", m, "--family", bad.toString(), "--out", dir.resolve("c").toString()),
                bad + " line 2: expected 4 tab-separated fields");
        assertError(study("--model", m, "--family", "tall", "--out", dir.resolve("d").toString()), "--family 'tall' is neither a built-in family");
        Path file = Files.writeString(dir.resolve("file"), "x");
        assertError(study("--model", m, "--out", file.toString()), "--out " + file + " exists and is not a directory");
        assertError(study("--model", m, "--family", "tall-short", "--family", "tall-short", "--out", dir.resolve("e").toString()), "given twice");
        assertError(study("--model", m, "--top-neurons", "0", "--out", dir.resolve("f").toString()), "--top-neurons must be in 1..100");
        assertError(study("--model", m, "--max-tokens", "10", "--out", dir.resolve("g").toString()), "--max-tokens limits the --corpus scan");
    }

    private static void assertError(CliTest.Result r, String expected) {
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains(expected), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    }

    private static List<String> names(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }
}
