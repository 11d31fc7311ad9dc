package dev.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.hooks.ActivationCache;
import dev.lens4j.hooks.Positions;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The cache analyses against TransformerLens 2.12's own ActivationCache methods on the same weights (a TL model
 * saved with torch.save, loaded here through TorchCheckpoint; values from scripts/fixtures/make_pth_fixtures.py),
 * for an unprocessed GPT-2-style model, the same processed (LNPre), and a Llama-style model (RMS, rotary, GQA).
 */
class CacheDecompositionTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "gpt2-processed", "llama-gqa"})
    void matchesTransformerLens(String name) throws Exception {
        Path pth = Path.of(getClass().getResource("/dev/lens4j/load/pth/" + name + "/model.pth").toURI());
        JsonNode fx = JSON.readTree(pth.resolveSibling("analyses.json").toFile());
        int[][] tokens = JSON.convertValue(fx.get("tokens"), int[][].class);
        long before = Tensor.liveBytes();
        try (HookedTransformer model = HookedTransformer.fromPretrained(pth, null, LoadOptions.defaults(), null);
             var run = model.run(tokens, new HookedTransformer.RunOptions().cacheAll())) {
            ActivationCache cache = run.cache();
            CacheDecomposition cd = cache.analyses();
            Positions last = Positions.of(5);
            check(fx, "accumulated_resid(-1,incl_mid,apply_ln)", cd.accumulatedResid(-1, true, true, null, false));
            check(fx, "accumulated_resid(1,mlp_input,apply_ln,pos=[5])", cd.accumulatedResid(1, false, true, last, true));
            check(fx, "decompose_resid(-1,all,pos=[5])", cd.decomposeResid(-1, false, CacheDecomposition.Mode.ALL, false, last, true));
            check(fx, "decompose_resid(-1,all,apply_ln,pos=[5])", cache.decomposeResid(-1, true, last));
            check(fx, "decompose_resid(1,attn,mlp_input,no_embeds)", cd.decomposeResid(1, true, CacheDecomposition.Mode.ATTN, false, null, false));
            check(fx, "stack_head_results(-1,remainder,apply_ln,pos=[5])", cd.stackHeadResults(-1, true, last, true));
            check(fx, "stack_neuron_results(2,neurons=[0,3,7],remainder,apply_ln,pos=[5])",
                    cd.stackNeuronResults(2, last, new int[] {0, 3, 7}, true, true));
            check(fx, "get_full_resid_decomposition(-1,neurons,apply_ln,pos=[5])", cd.fullResidDecomposition(-1, false, true, true, last));
            check(fx, "get_full_resid_decomposition(1,mlp_input,no_neurons)", cd.fullResidDecomposition(1, true, false, false, null));
            try (ResidualStack dec = cd.decomposeResid(-1, false, CacheDecomposition.Mode.ALL, false, last, true)) {
                checkTensor(fx, "logit_attrs(decomposed,5,7,pos=[5])", cache.logitAttrs(dec, 5, 7, last));
                // TL's pos_slice=[5] keeps a position dimension of 1, which its [batch] token directions broadcast
                // against: TL's [c, b, j] is row b with row j's tokens; row b's own tokens are TL's diagonal [c, b, b]
                try (Tensor perRow = cd.logitAttrs(dec, new int[] {5, 9}, new int[] {7, 2}, last)) {
                    JsonNode tl = fx.get("logit_attrs(decomposed,[5,9],[7,2],pos=[5])").get("values");
                    float[] g = perRow.toFloatArray();
                    assertEquals(tl.size() * 2, g.length);
                    for (int c = 0; c < tl.size(); c++)
                        for (int b = 0; b < 2; b++)
                            assertEquals(tl.get(c).get(b).get(b).asDouble(), g[c * 2 + b], 1e-4, "per-row logit attrs " + c + "," + b);
                }
            }
            checkTensor(fx, "stack_activation(scale,-1,ln2)", cd.stackActivation("scale", -1, "ln2"));
        }
        assertEquals(before, Tensor.liveBytes(), "analyses free what they allocate");
    }

    /**
     * The identities TL documents: decomposed components sum to the final residual; on a model with LayerNorm
     * folded (LNPre), logit attributions at the final layer sum to the logit difference minus the b_U difference.
     */
    @ParameterizedTest
    @ValueSource(strings = {"gpt2-processed", "llama-gqa"})
    void componentsSumToTheResidualAndTheLogitDifference(String name) throws Exception {
        Path pth = Path.of(getClass().getResource("/dev/lens4j/load/pth/" + name + "/model.pth").toURI());
        int[][] tokens = {{1, 7, 3, 11, 2, 9}, {4, 4, 8, 1, 0, 5}};
        try (HookedTransformer model = HookedTransformer.fromPretrained(pth, null, LoadOptions.defaults(), null);
             var run = model.run(tokens, new HookedTransformer.RunOptions().cacheAll())) {
            CacheDecomposition cd = run.cache().analyses();
            float[] resid = run.cache().get("blocks.1.hook_resid_post").toFloatArray();
            for (Function<CacheDecomposition, ResidualStack> f : List.<Function<CacheDecomposition, ResidualStack>>of(
                    c -> c.decomposeResid(-1, false, CacheDecomposition.Mode.ALL, false, null, true),
                    c -> c.fullResidDecomposition(-1, false, true, false, null),
                    c -> c.fullResidDecomposition(-1, false, false, false, null))) {
                try (ResidualStack s = f.apply(cd)) {
                    float[] x = s.stack().toFloatArray();
                    int per = resid.length;
                    for (int i = 0; i < per; i++) {
                        double sum = 0;
                        for (int c = 0; c < s.size(); c++) sum += x[c * per + i];
                        assertEquals(resid[i], sum, 1e-4, s.labels() + " sum at " + i);
                    }
                }
            }
            if (!model.cfg().isLayerNorm() && !model.cfg().isRms()) return;
            try (ResidualStack dec = cd.decomposeResid(-1, false, CacheDecomposition.Mode.ALL, false, null, true);
                 Tensor attrs = cd.logitAttrs(dec, 5, 7, null)) {
                float[] a = attrs.toFloatArray(), logits = run.logits().toFloatArray(), bU = model.weights().b_U().toFloatArray();
                float[] wU5 = cd.tokenDirection(5);
                assertEquals(model.cfg().dModel, wU5.length);
                int n = dec.size(), B = 2, P = 6, V = model.cfg().dVocabOut();
                if (model.cfg().isRms() && model.weights().has("ln_final.w")) return; // RMS weight not folded: no identity
                for (int b = 0; b < B; b++)
                    for (int p = 0; p < P; p++) {
                        double sum = 0;
                        for (int c = 0; c < n; c++) sum += a[(c * B + b) * P + p];
                        int o = (b * P + p) * V;
                        assertEquals(logits[o + 5] - logits[o + 7] - (bU[5] - bU[7]), sum, 1e-4, "logit attrs sum at " + b + "," + p);
                    }
            }
        }
    }

    private static void check(JsonNode fx, String key, ResidualStack got) {
        try (got) {
            JsonNode ref = fx.get(key);
            assertNotNull(ref, "fixture has " + key);
            List<String> labels = new ArrayList<>();
            ref.get("labels").forEach(l -> labels.add(l.asText()));
            assertEquals(labels, got.labels(), key + " labels");
            compare(ref, got.stack(), key);
        }
    }

    private static void checkTensor(JsonNode fx, String key, Tensor got) {
        try (got) {
            JsonNode ref = fx.get(key);
            assertNotNull(ref, "fixture has " + key);
            compare(ref, got, key);
        }
    }

    private static void compare(JsonNode ref, Tensor got, String key) {
        List<Double> r = new ArrayList<>();
        flatten(ref.get("values"), r);
        float[] g = got.toFloatArray();
        assertEquals(r.size(), g.length, key + ": TL shape " + ref.get("shape") + " vs " + got.describe());
        double max = 1;
        for (double v : r) max = Math.max(max, Math.abs(v));
        for (int i = 0; i < g.length; i++) assertEquals(r.get(i), g[i], 1e-4 * max, key + " [" + i + "]");
    }

    private static void flatten(JsonNode n, List<Double> out) {
        if (n.isArray()) for (JsonNode c : n) flatten(c, out);
        else out.add(n.asDouble());
    }
}
