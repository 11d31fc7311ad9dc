package dev.lens4j.oracle;

import dev.lens4j.hooks.Hooks;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.model.GenerateOptions;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.HookedTransformer.RunOptions;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * TL-style generation: greedy tokens with the KV cache equal those without it and those of a plain argmax loop over
 * full forwards, for every tiny architecture (windows and soft caps included) and for batched ragged prompts; sampling
 * is reproducible for a seed; hooks fire on each step's new positions with TL's shapes; stop_at_eos ends a row at EOS.
 */
class GenerationTest {
    static Stream<String> labels() { return TinyModels.configs().keySet().stream(); }

    private static int[][] prompts(int vocab) {
        int[][] t = TinyModels.tokens(5, 3, 7, vocab);
        return new int[][] {Arrays.copyOf(t[0], 4), Arrays.copyOf(t[1], 1), t[2]};
    }

    /** The pre-KV-cache generate: a full forward per token, argmax at the last position. */
    private static int[] argmaxLoop(HookedTransformer m, int[] prompt, int n) {
        int[] seq = prompt.clone();
        for (int i = 0; i < n; i++) {
            float[] l;
            try (HookedTransformer.Output o = m.run(new int[][] {seq}, new RunOptions().logitsLastOnly(true))) { l = o.logits().toFloatArray(); }
            int best = 0;
            for (int v = 1; v < l.length; v++) if (l[v] > l[best]) best = v;
            seq = Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = best;
        }
        return seq;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("labels")
    void greedyWithAndWithoutTheKvCacheAgreeForBatchedRaggedPrompts(String label) {
        long live = Tensor.liveBytes();
        TinyModels.Tiny tiny = TinyModels.build(label, 21);
        try (HookedTransformer m = new HookedTransformer(tiny.cfg(), tiny.weights())) {
            int[][] p = prompts(tiny.cfg().dVocab);
            int n = 14;
            int[][] cached = m.generate(p, GenerateOptions.greedy(n));
            int[][] full = m.generate(p, GenerateOptions.greedy(n).useKvCache(false));
            for (int b = 0; b < p.length; b++) {
                assertEquals(p[b].length + n, cached[b].length, label + " row " + b + " length");
                assertArrayEquals(full[b], cached[b], label + " row " + b + ": with and without the KV cache");
                assertArrayEquals(argmaxLoop(m, p[b], n), cached[b], label + " row " + b + ": batched and cached vs argmax over full forwards");
                assertArrayEquals(cached[b], m.generate(new int[][] {p[b]}, GenerateOptions.greedy(n))[0], label + " row " + b + " alone");
            }
        }
        assertEquals(live, Tensor.liveBytes(), "the KV cache is freed");
    }

    @Test void samplingIsReproducibleForASeedAndTopKOneIsGreedy() {
        TinyModels.Tiny tiny = TinyModels.build("llama", 22);
        try (HookedTransformer m = new HookedTransformer(tiny.cfg(), tiny.weights())) {
            int[][] p = prompts(tiny.cfg().dVocab);
            GenerateOptions o = GenerateOptions.sampling(12).temperature(5).seed(42);
            int[][] a = m.generate(p, o), b = m.generate(p, GenerateOptions.sampling(12).temperature(5).seed(42));
            for (int r = 0; r < p.length; r++) assertArrayEquals(a[r], b[r], "same seed, same tokens, row " + r);
            int[][] c = m.generate(p, GenerateOptions.sampling(12).temperature(5).seed(43));
            boolean differ = false;
            for (int r = 0; r < p.length; r++) differ |= !Arrays.equals(a[r], c[r]);
            assertTrue(differ, "another seed samples other tokens at temperature 5");
            int[][] greedy = m.generate(p, GenerateOptions.greedy(12));
            int[][] top1 = m.generate(p, GenerateOptions.sampling(12).topK(1).seed(1));
            int[][] nucleus = m.generate(p, GenerateOptions.sampling(12).topP(1e-6).seed(2));
            int[][] cold = m.generate(p, GenerateOptions.sampling(12).temperature(0));
            for (int r = 0; r < p.length; r++) {
                assertArrayEquals(greedy[r], top1[r], "top_k = 1 is greedy");
                assertArrayEquals(greedy[r], nucleus[r], "a tiny top_p keeps only the most likely token");
                assertArrayEquals(greedy[r], cold[r], "temperature 0 is greedy");
            }
            // top-k restricts the draw: with k = 3 every new token is among the 3 most likely at its step
            int[][] k3 = m.generate(new int[][] {p[0]}, GenerateOptions.sampling(6).topK(3).temperature(50).seed(7));
            for (int i = p[0].length; i < k3[0].length; i++) {
                float[] l;
                try (HookedTransformer.Output out = m.run(new int[][] {Arrays.copyOf(k3[0], i)}, new RunOptions().logitsLastOnly(true))) { l = out.logits().toFloatArray(); }
                int above = 0;
                for (float x : l) if (x > l[k3[0][i]]) above++;
                assertTrue(above < 3, "token " + i + " is within the top 3 (" + above + " above it)");
            }
        }
    }

    @Test void hooksFireOnTheNewPositionsWithTransformerLensShapes() {
        TinyModels.Tiny tiny = TinyModels.build("llama", 23);
        try (HookedTransformer m = new HookedTransformer(tiny.cfg(), tiny.weights())) {
            int[][] p = prompts(tiny.cfg().dVocab);
            List<String> seen = new ArrayList<>();
            Hooks hooks = Hooks.none()
                    .add("blocks.0.hook_resid_pre", (t, h) -> { seen.add("resid " + Arrays.toString(t.shape())); return null; })
                    .add("blocks.1.attn.hook_pattern", (t, h) -> { seen.add("pattern " + Arrays.toString(t.shape())); return null; })
                    .add("blocks.1.attn.hook_rot_k", (t, h) -> { seen.add("rot_k " + Arrays.toString(t.shape())); return null; });
            m.generate(p, GenerateOptions.greedy(3).hooks(hooks));
            int S = 7, H = tiny.cfg().nHeads, KV = tiny.cfg().nKvHeads(), D = tiny.cfg().dModel, dh = tiny.cfg().dHead;
            assertEquals(List.of(
                    "resid [3, " + S + ", " + D + "]", "rot_k [3, " + S + ", " + KV + ", " + dh + "]", "pattern [3, " + H + ", " + S + ", " + S + "]",
                    "resid [3, 1, " + D + "]", "rot_k [3, " + (S + 1) + ", " + KV + ", " + dh + "]", "pattern [3, " + H + ", 1, " + (S + 1) + "]",
                    "resid [3, 1, " + D + "]", "rot_k [3, " + (S + 2) + ", " + KV + ", " + dh + "]", "pattern [3, " + H + ", 1, " + (S + 2) + "]"), seen);
        }
    }

    @Test void aHookThatEditsRotKDoesNotEditTheCache() {
        TinyModels.Tiny tiny = TinyModels.build("llama", 24);
        try (HookedTransformer m = new HookedTransformer(tiny.cfg(), tiny.weights())) {
            int[][] p = prompts(tiny.cfg().dVocab);
            // zero the keys on the first step only: later steps must see the real keys again, as TL re-rotates its cache
            int[] calls = {0};
            Hooks once = Hooks.none().add("blocks.0.attn.hook_rot_k", (t, h) -> {
                if (calls[0]++ == 0) t.set(new float[(int) t.numel()]);
                return null;
            });
            int[][] hooked = m.generate(p, GenerateOptions.greedy(6).hooks(once));
            int[][] plain = m.generate(p, GenerateOptions.greedy(6));
            int[][] firstOnly = m.generate(p, GenerateOptions.greedy(1).hooks(Hooks.none().add("blocks.0.attn.hook_rot_k",
                    (t, h) -> { t.set(new float[(int) t.numel()]); return null; })));
            for (int b = 0; b < p.length; b++) {
                assertEquals(firstOnly[b][p[b].length], hooked[b][p[b].length], "the first step saw the hook");
                // later steps: the same as a run whose cache was never zeroed, continued from the hooked first token
                int[] from = Arrays.copyOf(hooked[b], p[b].length + 1);
                assertArrayEquals(m.generate(new int[][] {from}, GenerateOptions.greedy(5))[0], hooked[b], "row " + b);
            }
            assertNotNull(plain);
        }
    }

    @Test void stopAtEosEndsEachRowAtItsFirstEos() {
        TinyModels.Tiny tiny = TinyModels.build("gpt2", 25);
        try (HookedTransformer m = new HookedTransformer(tiny.cfg(), tiny.weights())) {
            int[][] p = prompts(tiny.cfg().dVocab);
            int[][] free = m.generate(p, GenerateOptions.greedy(10).stopAtEos(false));
            int eos = free[0][p[0].length + 2]; // row 0's third new token
            int[][] stopped = m.generate(p, GenerateOptions.greedy(10).eosTokenId(eos));
            for (int b = 0; b < p.length; b++) {
                int first = -1;
                for (int i = p[b].length; i < free[b].length && first < 0; i++) if (free[b][i] == eos) first = i;
                int[] expect = first < 0 ? free[b] : Arrays.copyOf(free[b], first + 1);
                assertArrayEquals(expect, stopped[b], "row " + b + " stops at its first EOS");
            }
            assertTrue(stopped[0].length <= p[0].length + 3, "row 0 stopped");
            assertThrows(IllegalArgumentException.class, () -> m.generate(p, GenerateOptions.greedy(2).eosTokenId(tiny.cfg().dVocab)));
        }
    }

    @Test void generationNeverRunsPastTheContext() {
        TinyModels.Tiny tiny = TinyModels.build("gpt2", 26); // n_ctx 32
        try (HookedTransformer m = new HookedTransformer(tiny.cfg(), tiny.weights())) {
            int[][] out = m.generate(new int[][] {{1, 2, 3}}, GenerateOptions.greedy(100).stopAtEos(false));
            assertEquals(32, out[0].length);
        }
    }

    @Test void stories260KGreedyTextIsTheSameWithAndWithoutTheCache() {
        var path = TestCheckpoints.stories260K();
        try (HookedTransformer m = HookedTransformer.fromPretrained(path)) {
            List<String> prompts = List.of("Once upon a time", "", "The cat sat");
            List<String> cached = m.generate(prompts, GenerateOptions.greedy(120));
            List<String> full = m.generate(prompts, GenerateOptions.greedy(120).useKvCache(false));
            assertEquals(full, cached);
            assertEquals(m.generate("Once upon a time", 120), cached.get(0), "batched equals alone");
            assertTrue(cached.get(1).startsWith("Once upon a time"), cached.get(1));
        }
    }
}
