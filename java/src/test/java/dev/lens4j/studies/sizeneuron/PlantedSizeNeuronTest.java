package dev.lens4j.studies.sizeneuron;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.hooks.Positions;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A planted size neuron: a tiny random GPT-2 (GPT-2's real tokenizer) whose neuron 37 of the last layer reads the
 * direction in which "John is tall. Mary is" differs from "John is short. Mary is" at the last position (its input
 * weights) and writes the ' short' - ' tall' unembedding direction (its output weights). The study must flag that
 * layer, rank the neuron first by z-score and see its ablation move the logit difference; the same model without the
 * plant must not. Per-neuron patching is checked against one hooked forward per neuron, written here from hooks.
 */
class PlantedSizeNeuronTest {
    private static final int LAYER = 2, NEURON = 37;

    private static Path checkpoint(Path dir) throws Exception {
        Path shared = TestCheckpoints.shared();
        Config cfg = RandomWeights.gpt2Config(3, 32, 4, 50257, 64);
        Path ckpt = TestCheckpoints.gpt2(dir, cfg, 11, DType.F32);
        Files.copy(shared.resolve("models/gpt2-tokenizer/tokenizer.json"), ckpt.resolve("tokenizer.json"));
        return ckpt;
    }

    @Test void theStudyFindsThePlantedNeuron(@TempDir Path dir) throws Exception {
        Path ckpt = checkpoint(dir.resolve("model"));
        try (HookedTransformer model = HookedTransformer.fromPretrained(ckpt)) {
            long live = Tensor.liveBytes();
            SizeNeuronStudy.Summary control = run(model, dir.resolve("control"), List.of(SizeFamily.BUILT_IN.get("tall-short")));
            assertNotEquals("L" + LAYER + "N" + NEURON, control.topNeurons().get(0), "without the plant the neuron is nothing special");

            plant(model);
            SizeNeuronStudy.Summary s = run(model, dir.resolve("planted"),
                    List.of(SizeFamily.BUILT_IN.get("tall-short"), SizeFamily.BUILT_IN.get("pear-apple")));
            assertEquals(live, Tensor.liveBytes(), "the study frees all it allocates");
            assertEquals(LAYER, s.flaggedLayers().get(0), "the planted layer has the largest jump: " + s.flaggedLayers());
            assertEquals("L" + LAYER + "N" + NEURON, s.topNeurons().get(0));

            JsonNode r = new ObjectMapper().readTree(s.resultsJson().toFile());
            JsonNode top = r.get("standouts").get(0);
            assertTrue(top.get("z").asDouble() > 5 && top.get("stands_out").asBoolean(), top.toString());
            JsonNode fam = r.get("families").get("tall-short");
            double clean = fam.get("clean_logit_diff").asDouble(), corrupt = fam.get("corrupted_logit_diff").asDouble();
            assertTrue(clean - corrupt > 0.3, "the plant makes ' short' win on the clean prompt: " + clean + " vs " + corrupt);
            double ablated = r.get("ablation").get("tall-short").get("ablated").get("L" + LAYER + "N" + NEURON).get("logit_diff").asDouble();
            assertTrue(clean - ablated > 0.5 * (clean - corrupt), "zeroing the neuron undoes most of the effect: " + ablated);

            // per-neuron patching equals one hooked forward per neuron (clean activation into the corrupted run, all positions)
            float[] sweep;
            try (SafeTensors st = SafeTensors.open(dir.resolve("planted/size_neuron.safetensors"))) {
                sweep = st.readFloats("tall-short.neurons.L" + LAYER);
            }
            SizeFamily.Pair p = SizeFamily.BUILT_IN.get("tall-short").pairs().get(0);
            int[] c = model.toTokens(p.clean()), k = model.toTokens(p.corrupt());
            int a = model.answerToken(p.clean(), p.answer()), w = model.answerToken(p.clean(), p.wrong());
            float[] cleanPost;
            String hook = HookNames.mlpPost(LAYER);
            try (var run = model.run(new int[][] {c}, new HookedTransformer.RunOptions().cacheNames(hook))) {
                cleanPost = run.cache().get(hook).toFloatArray();
            }
            for (int n : new int[] {0, NEURON, 100}) {
                Hooks h = Hooks.none().add(hook, (act, hp) -> {
                    int F = (int) act.size(-1);
                    float[] x = act.toFloatArray();
                    for (int pos = 0; pos < x.length / F; pos++) x[pos * F + n] = cleanPost[pos * F + n];
                    act.set(x);
                    return null;
                });
                double patched = logitDiff(model, k, h, a, w);
                assertEquals((patched - corrupt) / (clean - corrupt), sweep[n], 1e-4, "neuron " + n);
            }
            assertTrue(sweep[NEURON] > 0.5, "patching the planted neuron restores most of the clean logit difference: " + sweep[NEURON]);
        }
    }

    @Test void aFailedRunFreesWhatItAllocated(@TempDir Path dir) throws Exception {
        try (HookedTransformer model = HookedTransformer.fromPretrained(checkpoint(dir.resolve("model")))) {
            long live = Tensor.liveBytes();
            SizeNeuronStudy.Options o = new SizeNeuronStudy.Options();
            o.families = List.of(SizeFamily.BUILT_IN.get("tall-short"));
            o.corpus = List.of(Files.writeString(dir.resolve("empty.txt"), ""));   // the scan, last of all, finds no tokens
            o.out = dir.resolve("out");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SizeNeuronStudy.run(model, o, null));
            assertTrue(e.getMessage().contains("no tokens"), e.getMessage());
            assertEquals(live, Tensor.liveBytes());
        }
    }

    private static SizeNeuronStudy.Summary run(HookedTransformer model, Path out, List<SizeFamily> families) throws Exception {
        SizeNeuronStudy.Options o = new SizeNeuronStudy.Options();
        o.families = families;
        o.out = out;
        o.modelName = "planted";
        return SizeNeuronStudy.run(model, o, null);
    }

    private static double logitDiff(HookedTransformer model, int[] tokens, Hooks h, int a, int w) {
        try (var out = model.run(new int[][] {tokens}, new HookedTransformer.RunOptions().hooks(h).logitsLastOnly(true))) {
            float[] lg = out.logits().toFloatArray();
            return lg[a] - lg[w];
        }
    }

    /** Neuron NEURON of layer LAYER: on (pre-activation +10) for the clean prompt's last position, off (-10) for the corrupt one. */
    private static void plant(HookedTransformer model) {
        SizeFamily.Pair p = SizeFamily.BUILT_IN.get("tall-short").pairs().get(0);
        String ln2 = "blocks." + LAYER + ".ln2.hook_normalized";
        float[] xc = lastRow(model, model.toTokens(p.clean()), ln2), xk = lastRow(model, model.toTokens(p.corrupt()), ln2);
        int D = xc.length;
        double[] delta = new double[D];
        double dd = 0, kd = 0;
        for (int d = 0; d < D; d++) { delta[d] = xc[d] - xk[d]; dd += delta[d] * delta[d]; kd += xk[d] * delta[d]; }
        int a = model.answerToken(p.clean(), p.answer()), w = model.answerToken(p.clean(), p.wrong());
        float[] wu = model.weights().W_U().toFloatArray();
        int V = wu.length / D;
        double[] u = new double[D];
        double mean = 0, norm = 0;
        for (int d = 0; d < D; d++) { u[d] = wu[d * V + a] - wu[d * V + w]; mean += u[d] / D; }
        for (int d = 0; d < D; d++) { u[d] -= mean; norm += u[d] * u[d]; }      // ln_final centres what it reads
        double beta = 20, gamma = 20, un = Math.sqrt(norm), ddf = dd, kdf = kd;
        model.editWeights(wts -> {
            Tensor win = wts.W_in(LAYER), wout = wts.W_out(LAYER);
            for (int d = 0; d < D; d++) {
                win.put((float) (beta * delta[d] / ddf), d, NEURON);
                wout.put((float) (gamma * u[d] / un), NEURON, d);
            }
            wts.b_in(LAYER).put((float) (-beta * kdf / ddf - beta / 2), NEURON);
        });
    }

    private static float[] lastRow(HookedTransformer model, int[] tokens, String hook) {
        try (var run = model.run(new int[][] {tokens}, new HookedTransformer.RunOptions().cacheNames(hook).cachePositions(Positions.last()))) {
            return run.cache().get(hook).toFloatArray();
        }
    }
}
