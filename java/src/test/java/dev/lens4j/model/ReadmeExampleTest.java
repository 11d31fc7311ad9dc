package dev.lens4j.model;

import dev.lens4j.hooks.Hooks;
import dev.lens4j.hooks.Positions;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The README's Java example, on a small random GPT-2-shaped checkpoint with GPT-2's real tokenizer. */
class ReadmeExampleTest {
    @Test
    void readmeExampleRuns(@TempDir Path dir) throws Exception {
        Path shared = TestCheckpoints.shared();
        Config cfg = RandomWeights.gpt2Config(10, 32, 8, 50257, 64);
        Path ckpt = TestCheckpoints.gpt2(dir, cfg, 9, DType.F32);
        Files.copy(shared.resolve("models/gpt2-tokenizer/tokenizer.json"), ckpt.resolve("tokenizer.json"));

        try (HookedTransformer model = HookedTransformer.fromPretrained(ckpt)) {
            int[] tokens = model.toTokens("The Eiffel Tower is in the city of");
            assertEquals(50256, tokens[0], "BOS prepended");

            try (var run = model.run(new int[][] {tokens}, new HookedTransformer.RunOptions()
                    .cacheRegex("mlp\\.hook_post$").cachePositions(Positions.last()))) {
                Tensor post = run.cache().get("blocks.5.mlp.hook_post");
                assertArrayEquals(new long[] {1, 1, cfg.dMlp}, post.shape());
                assertEquals(cfg.nLayers, run.cache().size());
            }

            Hooks hooks = Hooks.none().add("blocks.9.attn.hook_z", (z, hook) -> {
                long pos = z.size(1), dHead = z.size(3);
                for (long p = 0; p < pos; p++) for (long d = 0; d < dHead; d++) z.put(0f, 0, p, 7, d);
                return null;
            });
            try (Tensor clean = model.forward(tokens); Tensor ablated = model.runWithHooks(new int[][] {tokens}, hooks)) {
                assertArrayEquals(new long[] {1, tokens.length, 50257}, ablated.shape());
                float[] a = clean.toFloatArray(), b = ablated.toFloatArray();
                double diff = 0;
                for (int i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
                assertTrue(diff > 0, "ablating a head changes the logits");
            }
            int paris = model.toSingleToken(" Paris"), rome = model.toSingleToken(" Rome");
            try (var g = model.backward(new int[][] {tokens}, Metrics.logitDiff(paris, rome),
                    new HookedTransformer.RunOptions().cacheAll().cacheAllGrads())) {
                assertTrue(Double.isFinite(g.value()));
                assertArrayEquals(g.cache().get("blocks.3.hook_resid_pre").shape(), g.grads().get("blocks.3.hook_resid_pre").shape());
            }
            // the README's five-line logit lens
            try (var run = model.run(new int[][] {tokens}, new HookedTransformer.RunOptions().cacheAll());
                 var resid = run.cache().accumulatedResid(-1, true, false, Positions.last());
                 Tensor lens = run.cache().logitAttrs(resid, paris, rome, Positions.last())) {
                assertEquals(2 * cfg.nLayers + 1, resid.size());
                assertEquals("final_post", resid.labels().get(resid.size() - 1));
                float[] logits = run.logits().toFloatArray();
                int last = (tokens.length - 1) * 50257;
                // final_post through ln_final (folded into W_U and b_U) and W_U is the logit difference less b_U's part
                float[] bU = model.weights().b_U().toFloatArray();
                assertEquals(logits[last + paris] - logits[last + rome] - (bU[paris] - bU[rome]), lens.get(resid.size() - 1, 0, 0), 1e-3);
            }
            // the README's padded batch and generation snippet
            PaddedBatch batch = model.toTokens(java.util.List.of("Is 8719 > 9492?", "Is 56.680 > 56.656?"), PaddedBatch.Side.LEFT);
            try (var run = model.run(batch, new HookedTransformer.RunOptions().cacheAll())) {
                int[][] mask = run.cache().attentionMask();
                assertEquals(2, mask.length);
            }
            assertTrue(Double.isFinite(model.loss(batch)));
            java.util.List<String> texts = model.generate(java.util.List.of("Once upon a time", "The dog"),
                    GenerateOptions.sampling(5).temperature(0.8).topP(0.9).seed(1));
            assertEquals(2, texts.size());
            assertNotNull(model.generate("Once upon a time", 5));
            TestPrompt tp = model.testPrompt("The Eiffel Tower is in the city of", " Paris", 5);
            assertEquals(5, tp.topK().size());
            assertEquals(" Paris", tp.answerToken().str());
            assertTrue(tp.format().contains("Rank: "));
        }
    }
}
