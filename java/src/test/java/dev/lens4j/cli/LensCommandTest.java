package dev.lens4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;

import static org.junit.jupiter.api.Assertions.*;

/** `lens` on the real stories260K: the identities the numbers must satisfy, and the files it writes. */
class LensCommandTest {
    private static final String PROMPT = "Once upon a time, there was a little girl named";

    @Test void logitLensAndAttributionsAddUpToTheMetric(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("lens");
        CliTest.Result r = CliTest.cli("lens", "--model", CliTest.stories(), "--prompt", PROMPT, "--answer", " Lily", "--wrong", " Tim",
                "--layer", "2", "--out", out.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
        JsonNode s = new ObjectMapper().readTree(r.out());
        assertEquals(s, new ObjectMapper().readTree(out.resolve("summary.json").toFile()), "--json prints summary.json");
        double metric = s.get("metric_value").asDouble();
        try (HookedTransformer model = HookedTransformer.fromPretrained(Path.of(CliTest.stories()))) {
            float[] logits = model.forward(model.toTokens(PROMPT)).toFloatArray();
            int V = model.cfg().dVocab, last = logits.length - V;
            assertEquals(logits[last + model.answerToken(PROMPT, " Lily")] - logits[last + model.answerToken(PROMPT, " Tim")], metric, 1e-4);
            // labels as TL's accumulated_resid(incl_mid=True): 0_pre, 0_mid, ..., final_post
            Iterator<String> labels = s.get("logit_lens").fieldNames();
            for (int l = 0; l < model.cfg().nLayers; l++) {
                assertEquals(l + "_pre", labels.next());
                assertEquals(l + "_mid", labels.next());
            }
            assertEquals("final_post", labels.next());
            assertFalse(labels.hasNext());
            // the final residual read through the final norm is the model's own metric (weights processed: ln folded)
            assertEquals(metric, s.get("logit_lens").get("final_post").asDouble(), 1e-3);
            // the decomposed residual's direct attributions sum to it too
            double sum = 0;
            for (JsonNode v : s.get("dla_components")) sum += v.asDouble();
            assertEquals(metric, sum, 1e-3);
            assertEquals(1 + 2 * model.cfg().nLayers, s.get("dla_components").size(), "embed + attn_out and mlp_out per layer (rotary: no pos_embed)");
            // the logit lens's top token at final_post is the model's argmax
            int argmax = 0;
            for (int v = 1; v < V; v++) if (logits[last + v] > logits[last + argmax]) argmax = v;
            JsonNode tops = s.get("logit_lens_top_tokens");
            assertEquals(argmax, tops.get(tops.size() - 1).get("top_token").asInt());
        }
        try (SafeTensors st = SafeTensors.open(out.resolve("lens.safetensors"))) {
            assertTrue(st.names().containsAll(java.util.List.of("logit_lens", "dla_components", "dla_heads", "dla_neurons")), st.names().toString());
        }
        String html = Files.readString(out.resolve("report.html"));
        assertTrue(html.contains("<svg") && html.contains("Logit lens") && html.contains("L2N"), "report has plots and the neuron table");
        assertEquals(2, s.get("neuron_layer").asInt());
    }

    @Test void badArgumentsAreOneLineErrors(@TempDir Path dir) throws Exception {
        String out = dir.resolve("o").toString();
        Path taken = Files.createDirectories(dir.resolve("taken/report.html")).getParent(); // an output name held by a directory
        for (String[] args : new String[][] {
                {"lens", "--model", CliTest.stories(), "--prompt", PROMPT, "--out", out},
                {"lens", "--model", CliTest.stories(), "--prompt", PROMPT, "--answer", " Sue", "--out", out},
                {"lens", "--model", CliTest.stories(), "--prompt", PROMPT, "--answer", " Lily", "--layer", "9", "--out", out},
                {"lens", "--model", CliTest.stories(), "--prompt", PROMPT, "--answer", " Lily", "--out", taken.toString()}}) {
            CliTest.Result r = CliTest.cli(args);
            assertEquals(2, r.code(), r.out());
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
    }
}
