package dev.lens4j.oracle;

import dev.lens4j.hooks.HookNames;
import dev.lens4j.load.CheckpointException;
import dev.lens4j.load.HfCheckpoint;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.HookedTransformer.Output;
import dev.lens4j.model.HookedTransformer.RunOptions;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Model families loaded from tiny random checkpoints in Hugging Face's own layout (f32 and bf16 files) against
 * {@link HfOracle}, HF's forward written from HF's equations: unprocessed (from_pretrained_no_processing) at every hook
 * point and the logits; processed (TL's default processing) with equal log-probabilities, and at every hook point
 * against the TL-semantics {@link TorchOracle} on the processed weights; gradients at every hook point and weight
 * against libtorch autograd; greedy decoding token for token. Tolerance as {@link Compare#REL}.
 */
class HfFamilyParityTest {
    static final Map<String, String> REPORT = new LinkedHashMap<>();
    static final long SEED = 77;

    @AfterAll static void report() { REPORT.forEach((k, v) -> System.out.println("[hf-oracle] " + k + ": " + v)); }

    /** label -> writer of a tiny HF checkpoint directory. */
    static final Map<String, BiFunction<Path, DType, HfOracle.HfModel>> FAMILIES = new LinkedHashMap<>();
    static {
        FAMILIES.put("gpt_neox-parallel", (dir, st) -> HfTestCheckpoints.neox(dir, SEED, true, st));
        FAMILIES.put("gpt_neox-sequential", (dir, st) -> HfTestCheckpoints.neox(dir, SEED + 1, false, st));
        FAMILIES.put("qwen2-tied", (dir, st) -> HfTestCheckpoints.llamaLike(dir, SEED + 2, "qwen2", true, false, st));
        FAMILIES.put("qwen2-untied", (dir, st) -> HfTestCheckpoints.llamaLike(dir, SEED + 3, "qwen2", false, false, st));
        FAMILIES.put("gemma", (dir, st) -> HfTestCheckpoints.gemma(dir, SEED + 5, st));
        FAMILIES.put("gemma2", (dir, st) -> HfTestCheckpoints.gemma2(dir, SEED + 6, st));
        FAMILIES.put("llama-rope-llama3", (dir, st) -> HfTestCheckpoints.llamaLike(dir, SEED + 4, "llama", false, true, st));
        FAMILIES.put("mistral-sliding-window", (dir, st) -> HfTestCheckpoints.llamaLike(dir, SEED + 7, "mistral", false, false, st));
        FAMILIES.put("qwen2-sliding-window", (dir, st) -> HfTestCheckpoints.qwen2SlidingWindow(dir, SEED + 8, st));
    }

    static Stream<Arguments> cases() {
        return FAMILIES.keySet().stream().flatMap(f -> Stream.of(Arguments.of(f, DType.F32), Arguments.of(f, DType.BF16)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void everyHookPointLogitsGradientsAndGreedyDecodingMatchHf(String family, DType storage, @TempDir Path dir) {
        HfOracle.HfModel hf = FAMILIES.get(family).apply(dir, storage);
        int V = hf.config().get("vocab_size").asInt();
        // 20 positions: past the llama3 test config's shortest scaled wavelength (about 20 tokens)
        int[][] tokens = TinyModels.tokens(SEED ^ family.hashCode(), 2, 20, V);
        TorchOracle.Result ref = HfOracle.run(hf, tokens);
        String what = family + " " + storage;
        try (HookedTransformer m = HookedTransformer.fromPretrained(dir, null, LoadOptions.noProcessing(), null)) {
            assertEquals(HookNames.all(m.cfg()), new ArrayList<>(ref.acts().keySet()), "HF oracle records exactly HookNames.all(cfg), in order");
            try (Output out = m.run(tokens, new RunOptions().cacheAll())) {
                REPORT.put(what + " unprocessed vs HF", OracleParityTest.compareAll(what + " unprocessed", out, ref));
            }
            gradients(what + " unprocessed", m, tokens);
            greedy(what + " unprocessed", m, hf, tokens[0]);
        }
        try (HookedTransformer m = HookedTransformer.fromPretrained(dir, null, LoadOptions.defaults(), null)) {
            assertTrue(m.cfg().lnFolded, what + ": TL's default processing folds the norms");
            try (Output out = m.run(tokens, new RunOptions().cacheAll())) {
                double err = Compare.assertClose(what + " processed log-probs vs HF", logSoftmax(out.logits()), logSoftmax(ref.logits()));
                TorchOracle.Result tl = TorchOracle.run(m.cfg(), m.weights(), tokens);
                REPORT.put(what + " processed", "log-probs vs HF max abs err " + String.format("%.2e", err) + "; vs TL oracle "
                        + OracleParityTest.compareAll(what + " processed", out, tl));
            }
            gradients(what + " processed", m, tokens);
            greedy(what + " processed", m, hf, tokens[1]);
        }
    }

    static void gradients(String what, HookedTransformer m, int[][] tokens) {
        OracleGradientParityTest.Worst worst = new OracleGradientParityTest.Worst();
        for (OracleGradientParityTest.Case c : OracleGradientParityTest.metrics(m.cfg().dVocabOut(), tokens).subList(0, 2))
            OracleGradientParityTest.compare(what, m, tokens, c, true, worst);
        REPORT.put(what + " gradients", worst.toString());
    }

    static void greedy(String what, HookedTransformer m, HfOracle.HfModel hf, int[] prompt) {
        int[] prefix = java.util.Arrays.copyOf(prompt, 4);
        assertArrayEquals(HfOracle.greedy(hf, prefix, 8), m.generate(prefix, 8), what + ": greedy decoding vs HF");
    }

    static float[] logSoftmax(Tensor logits) {
        TorchOracle.Act a = new TorchOracle.Act(logits.shape(), toDouble(logits.toFloatArray()));
        double[] d = logSoftmax(a);
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    static double[] logSoftmax(TorchOracle.Act a) {
        int V = (int) a.shape()[a.shape().length - 1];
        double[] x = a.data(), out = new double[x.length];
        for (int r = 0; r < x.length / V; r++) {
            double mx = Double.NEGATIVE_INFINITY, sum = 0;
            for (int v = 0; v < V; v++) mx = Math.max(mx, x[r * V + v]);
            for (int v = 0; v < V; v++) sum += Math.exp(x[r * V + v] - mx);
            double lse = mx + Math.log(sum);
            for (int v = 0; v < V; v++) out[r * V + v] = x[r * V + v] - lse;
        }
        return out;
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    // ------------------------------------------------------------------ hook names, as TransformerLens's hook_dict has them

    /** TL's hook points that fire by default for a Pythia block (no use_attn_result / use_split_qkv_input flags). */
    static final List<String> PYTHIA_BLOCK_HOOKS = List.of(
        "hook_resid_pre", "ln1.hook_scale", "ln1.hook_normalized", "attn.hook_q", "attn.hook_k", "attn.hook_v",
        "attn.hook_rot_q", "attn.hook_rot_k", "attn.hook_attn_scores", "attn.hook_pattern", "attn.hook_z", "hook_attn_out",
        "ln2.hook_scale", "ln2.hook_normalized", "mlp.hook_pre", "mlp.hook_post", "hook_mlp_out", "hook_resid_post");

    @Test
    void gptNeoxHookNamesAreTransformerLenss(@TempDir Path dir) {
        HfTestCheckpoints.neox(dir.resolve("p"), SEED, true, DType.F32);
        HfTestCheckpoints.neox(dir.resolve("s"), SEED, false, DType.F32);
        List<String> parallel = new ArrayList<>(List.of("hook_embed"));
        for (int l = 0; l < 2; l++) for (String h : PYTHIA_BLOCK_HOOKS) parallel.add("blocks." + l + "." + h);
        parallel.addAll(List.of("ln_final.hook_scale", "ln_final.hook_normalized"));
        try (HookedTransformer m = HookedTransformer.fromPretrained(dir.resolve("p"))) {
            assertEquals(parallel, m.hookNames(), "use_parallel_residual: TL's parallel_attn_mlp block has no hook_resid_mid");
        }
        List<String> sequential = new ArrayList<>(parallel);
        for (int l = 1; l >= 0; l--) sequential.add(sequential.indexOf("blocks." + l + ".ln2.hook_scale"), "blocks." + l + ".hook_resid_mid");
        try (HookedTransformer m = HookedTransformer.fromPretrained(dir.resolve("s"))) {
            assertEquals(sequential, m.hookNames());
        }
    }

    /** TL's hook points of a Llama / Qwen2 block (gated MLP: hook_pre is the gate, hook_pre_linear the up projection). */
    static final List<String> LLAMA_BLOCK_HOOKS = List.of(
        "hook_resid_pre", "ln1.hook_scale", "ln1.hook_normalized", "attn.hook_q", "attn.hook_k", "attn.hook_v",
        "attn.hook_rot_q", "attn.hook_rot_k", "attn.hook_attn_scores", "attn.hook_pattern", "attn.hook_z", "hook_attn_out",
        "hook_resid_mid", "ln2.hook_scale", "ln2.hook_normalized", "mlp.hook_pre", "mlp.hook_pre_linear", "mlp.hook_post",
        "hook_mlp_out", "hook_resid_post");

    @Test
    void qwen2HookNamesAndConfigAreTransformerLenss(@TempDir Path dir) {
        HfTestCheckpoints.llamaLike(dir, SEED, "qwen2", true, false, DType.F32);
        List<String> want = new ArrayList<>(List.of("hook_embed"));
        for (int l = 0; l < 2; l++) for (String h : LLAMA_BLOCK_HOOKS) want.add("blocks." + l + "." + h);
        want.addAll(List.of("ln_final.hook_scale", "ln_final.hook_normalized"));
        try (HookedTransformer m = HookedTransformer.fromPretrained(dir)) {
            assertEquals(want, m.hookNames());
            Config c = m.cfg();
            assertEquals("Qwen2ForCausalLM", c.originalArchitecture);
            assertEquals(List.of(32, 4, 2, 8, 48, 61, 40), List.of(c.dModel, c.nHeads, c.nKvHeads(), c.dHead, c.dMlp, c.dVocab, c.nCtx));
            assertFalse(c.defaultPrependBos, "Qwen's tokenizer has no BOS (TL would prepend EOS in its place)");
            assertTrue(c.gatedMlp && c.finalRms && !c.rotaryAdjacentPairs && !c.useNTKByPartsRope);
            assertEquals(java.util.Set.of("blocks.0.attn.W_Q", "blocks.0.attn.b_Q", "blocks.0.attn._W_K", "blocks.0.attn._b_K",
                    "blocks.0.attn._W_V", "blocks.0.attn._b_V", "blocks.0.attn.W_O", "blocks.0.attn.b_O"),
                new java.util.TreeSet<>(m.weights().names().stream().filter(n -> n.startsWith("blocks.0.attn.")).toList()));
        }
    }

    @Test
    void gemmaFoldsItsNormOffsetAndEmbeddingScaleAsTransformerLensDoes(@TempDir Path dir) {
        HfOracle.HfModel hf = HfTestCheckpoints.gemma(dir, SEED, DType.F32);
        try (HookedTransformer m = HookedTransformer.fromPretrained(dir, null, LoadOptions.noProcessing(), null)) {
            Config c = m.cfg();
            assertEquals(List.of(32, 4, 1, 12, 48, 61), List.of(c.dModel, c.nHeads, c.nKvHeads(), c.dHead, c.dMlp, c.dVocab));
            assertEquals("gelu_pytorch_tanh", c.actFn);
            List<String> hooks = new ArrayList<>(List.of("hook_embed"));
            for (int l = 0; l < 2; l++) for (String h : LLAMA_BLOCK_HOOKS) hooks.add("blocks." + l + "." + h);
            hooks.addAll(List.of("ln_final.hook_scale", "ln_final.hook_normalized"));
            assertEquals(hooks, m.hookNames(), "Gemma's hook points are Llama's");
            assertTrue(c.gatedMlp && c.finalRms && "RMS".equals(c.normalizationType));
            double[] embed = hf.tensors().get("model.embed_tokens.weight").data(), norm = hf.tensors().get("model.layers.1.input_layernorm.weight").data();
            float[] we = m.weights().W_E().toFloatArray(), wu = m.weights().W_U().toFloatArray(), ln = m.weights().get("blocks.1.ln1.w").toFloatArray();
            int V = 61, D = 32;
            for (int v = 0; v < V; v++)
                for (int k = 0; k < D; k++) {
                    assertEquals(embed[v * D + k] * Math.sqrt(D), we[v * D + k], 1e-6, "W_E = embed * sqrt(d_model)");
                    assertEquals(embed[v * D + k], wu[k * V + v], 0, "W_U = embed^T, unscaled");
                }
            for (int k = 0; k < D; k++) assertEquals(1 + norm[k], ln[k], 1e-7, "ln1.w = 1 + w");
            // multi-query: one key/value head under TL's grouped-query names
            assertArrayEquals(new long[] {1, 32, 12}, m.weights().get("blocks.0.attn._W_K").shape());
            assertArrayEquals(new long[] {4, 12, 32}, m.weights().get("blocks.0.attn.W_O").shape());
        }
    }

    /** TL's hook points of a Gemma 2 block: Llama's plus ln1_post before hook_attn_out and ln2_post before hook_mlp_out. */
    static final List<String> GEMMA2_BLOCK_HOOKS = List.of(
        "hook_resid_pre", "ln1.hook_scale", "ln1.hook_normalized", "attn.hook_q", "attn.hook_k", "attn.hook_v",
        "attn.hook_rot_q", "attn.hook_rot_k", "attn.hook_attn_scores", "attn.hook_pattern", "attn.hook_z",
        "ln1_post.hook_scale", "ln1_post.hook_normalized", "hook_attn_out", "hook_resid_mid", "ln2.hook_scale",
        "ln2.hook_normalized", "mlp.hook_pre", "mlp.hook_pre_linear", "mlp.hook_post", "ln2_post.hook_scale",
        "ln2_post.hook_normalized", "hook_mlp_out", "hook_resid_post");

    @Test
    void gemma2HookNamesConfigAndNormNamesAreTransformerLenss(@TempDir Path dir) {
        HfOracle.HfModel hf = HfTestCheckpoints.gemma2(dir, SEED, DType.F32);
        List<String> want = new ArrayList<>(List.of("hook_embed"));
        for (int l = 0; l < 3; l++) for (String h : GEMMA2_BLOCK_HOOKS) want.add("blocks." + l + "." + h);
        want.addAll(List.of("ln_final.hook_scale", "ln_final.hook_normalized"));
        try (HookedTransformer m = HookedTransformer.fromPretrained(dir)) { // processed: ln1/ln2 folded, the post norms kept
            assertEquals(want, m.hookNames());
            Config c = m.cfg();
            assertEquals("RMSPre", c.normalizationType);
            assertEquals(4.0, c.attnScale(), 1e-12, "attn_scale = sqrt(query_pre_attn_scalar)");
            assertEquals(List.of(2.0, 3.0), List.of(c.attnScoresSoftCap, c.outputLogitsSoftCap));
            assertEquals(List.of("local", "global", "local"), c.attnTypes, "HF's sliding layers are the even ones (TL 2.12 has the opposite)");
            assertEquals(List.of(4L, 0L, 4L), List.of(c.windowOf(0), c.windowOf(1), c.windowOf(2)));
            assertFalse(c.unembedCentered, "TL skips center_unembed under logit soft-capping");
            assertFalse(m.weights().has("blocks.0.ln2.w"));
            double[] post = hf.tensors().get("model.layers.1.post_attention_layernorm.weight").data();
            float[] ln1Post = m.weights().get("blocks.1.ln1_post.w").toFloatArray();
            for (int k = 0; k < 32; k++) assertEquals(1 + post[k], ln1Post[k], 1e-7, "HF post_attention_layernorm is TL's ln1_post, stored 1 + w");
        }
    }

    /** Negative controls: the Gemma 2 checkpoint needs each feature (without one, the HF comparison fails). */
    @Test
    void gemma2CheckpointExercisesTheWindowAndBothCaps(@TempDir Path dir) {
        HfOracle.HfModel hf = HfTestCheckpoints.gemma2(dir, SEED + 6, DType.F32);
        int[][] tokens = TinyModels.tokens(SEED, 2, 20, 61);
        TorchOracle.Result ref = HfOracle.run(hf, tokens);
        List<java.util.function.Consumer<Config>> withoutOne = List.of(
            c -> c.useLocalAttn = false, c -> c.attnScoresSoftCap = -1, c -> c.outputLogitsSoftCap = -1,
            c -> c.attnTypes = List.of("global", "local", "global")); // TL 2.12's order
        for (var drop : withoutOne)
            try (HookedTransformer m = HookedTransformer.fromPretrained(dir, null, LoadOptions.noProcessing(), null)) {
                drop.accept(m.cfg());
                try (Output out = m.run(tokens, new RunOptions().cacheAll())) {
                    assertThrows(org.opentest4j.AssertionFailedError.class, () -> OracleParityTest.compareAll("control", out, ref));
                }
            }
    }

    /** Sliding layers from config.json's layer_types when present (here the opposite of the default order). */
    @Test
    void gemma2LayerTypesDecideWhichLayersSlide(@TempDir Path dir) throws IOException {
        HfTestCheckpoints.gemma2(dir, SEED, DType.F32);
        Path f = dir.resolve("config.json");
        String good = Files.readString(f);
        Files.writeString(f, good.replace("\"sliding_window\" : 4,", "\"sliding_window\" : 4, \"layer_types\" : [\"full_attention\", \"sliding_attention\", \"full_attention\"],"));
        assertEquals(List.of("global", "local", "global"), HfCheckpoint.readConfig(dir).attnTypes);
        Files.writeString(f, good.replace("\"sliding_window\" : 4,", "\"sliding_window\" : 4, \"layer_types\" : [\"sliding_attention\"],"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> HfCheckpoint.readConfig(dir));
        assertTrue(e.getMessage().contains("'layer_types' must list one type per layer (3)"), e.getMessage());
        Files.writeString(f, good.replace("\"attn_logit_softcapping\" : 2.0", "\"attn_logit_softcapping\" : -2.0"));
        e = assertThrows(CheckpointException.class, () -> HfCheckpoint.readConfig(dir));
        assertTrue(e.getMessage().contains("'attn_logit_softcapping' must be > 0"), e.getMessage());
        // HF: a missing field takes Gemma2Config's default, null switches the feature off
        Files.writeString(f, good.replace("\"attn_logit_softcapping\" : 2.0,", "").replace("\"final_logit_softcapping\" : 3.0", "\"final_logit_softcapping\" : null")
            .replace("\"query_pre_attn_scalar\" : 16,", "").replace("\"sliding_window\" : 4,", "\"sliding_window\" : null,"));
        Config c = HfCheckpoint.readConfig(dir);
        assertEquals(List.of(50.0, -1.0, 16.0), List.of(c.attnScoresSoftCap, c.outputLogitsSoftCap, c.attnScale()));
        assertFalse(c.useLocalAttn, "sliding_window null: full attention everywhere");
    }

    @Test
    void badRopeScalingAndQwen2InputsNameTheField(@TempDir Path dir) throws IOException {
        HfTestCheckpoints.llamaLike(dir, SEED, "llama", false, true, DType.F32);
        Path f = dir.resolve("config.json");
        String good = Files.readString(f);
        Files.writeString(f, good.replace("\"original_max_position_embeddings\" : 32", "\"original_max_position_embeddings\" : -3"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> HfCheckpoint.readConfig(dir));
        assertTrue(e.getMessage().contains("'rope_scaling.original_max_position_embeddings' must be a positive integer, got -3"), e.getMessage());
        Files.writeString(f, good.replace("\"factor\" : 4.0,", ""));
        e = assertThrows(CheckpointException.class, () -> HfCheckpoint.readConfig(dir));
        assertTrue(e.getMessage().contains("missing 'rope_scaling.factor'"), e.getMessage());
        Files.writeString(f, good.replace("\"llama3\"", "\"dynamic\""));
        e = assertThrows(CheckpointException.class, () -> HfCheckpoint.readConfig(dir));
        assertTrue(e.getMessage().contains("is not supported (only rope_type \"llama3\""), e.getMessage());

        Path q = dir.resolve("q");
        HfTestCheckpoints.llamaLike(q, SEED, "qwen2", false, false, DType.F32);
        Path qc = q.resolve("config.json");
        String qgood = Files.readString(qc);
        // Qwen2Config: the window counts only with use_sliding_window, on layers >= max_window_layers unless layer_types lists them
        Files.writeString(qc, qgood.replace("\"use_sliding_window\" : false", "\"use_sliding_window\" : true"));
        assertFalse(HfCheckpoint.readConfig(q).useLocalAttn, "max_window_layers = 2 of 2 layers: no sliding layer");
        Files.writeString(qc, qgood.replace("\"use_sliding_window\" : false", "\"use_sliding_window\" : true").replace("\"max_window_layers\" : 2", "\"max_window_layers\" : 1"));
        Config qw = HfCheckpoint.readConfig(q);
        assertEquals(List.of("global", "local"), qw.attnTypes);
        assertEquals(List.of(0L, 4096L), List.of(qw.windowOf(0), qw.windowOf(1)));
        Files.writeString(qc, qgood.replace("\"max_window_layers\" : 2", "\"max_window_layers\" : 0"));
        assertFalse(HfCheckpoint.readConfig(q).useLocalAttn, "use_sliding_window false: sliding_window is ignored");
        Files.writeString(qc, qgood.replace("\"max_window_layers\" : 2", "\"max_window_layers\" : 0, \"layer_types\" : [\"sliding_attention\", \"full_attention\"]"));
        e = assertThrows(CheckpointException.class, () -> HfCheckpoint.readConfig(q));
        assertTrue(e.getMessage().contains("lists sliding_attention layers but there is no window"), e.getMessage());
        Files.writeString(qc, qgood.replace("\"max_window_layers\" : 2", "\"max_window_layers\" : -1"));
        e = assertThrows(CheckpointException.class, () -> HfCheckpoint.readConfig(q));
        assertTrue(e.getMessage().contains("'max_window_layers' must be a non-negative integer, got -1"), e.getMessage());
    }

    /** A checkpoint that lacks what its config promises fails naming the weight, and frees what it had loaded. */
    @Test
    void failedLoadsNameTheWeightAndLeakNothing(@TempDir Path dir) throws IOException {
        java.util.function.Function<Path, Path> neox = d -> { HfTestCheckpoints.neox(d, SEED, true, DType.F32); return d; };
        java.util.function.Function<Path, Path> gemma2 = d -> { HfTestCheckpoints.gemma2(d, SEED, DType.F32); return d; };
        for (var w : List.of(neox, gemma2)) {
            Path d = w.apply(dir.resolve(String.valueOf(w.hashCode())));
            Path f = d.resolve("config.json");
            Files.writeString(f, Files.readString(f).replaceFirst("\"num_hidden_layers\" : \\d+", "\"num_hidden_layers\" : 9"));
            long before = dev.lens4j.tensor.Tensor.liveBytes();
            CheckpointException e = assertThrows(CheckpointException.class, () -> HfCheckpoint.load(d));
            assertTrue(e.getMessage().contains("missing weight '") && e.getMessage().contains("layers."), e.getMessage());
            assertEquals(before, dev.lens4j.tensor.Tensor.liveBytes(), "a failed load frees what it read");
        }
    }

    /** Negative control: the HF comparison notices q and k swapped (the fused-qkv layout mistake TL's comment warns of). */
    @Test
    void theHfComparisonCatchesALayoutMistake(@TempDir Path dir) {
        HfOracle.HfModel hf = HfTestCheckpoints.neox(dir, SEED, true, DType.F32);
        int[][] tokens = TinyModels.tokens(SEED, 1, 6, 53);
        TorchOracle.Result ref = HfOracle.run(hf, tokens);
        try (HookedTransformer m = HookedTransformer.fromPretrained(dir, null, LoadOptions.noProcessing(), null)) {
            float[] wq = m.weights().W_Q(0).toFloatArray(), wk = m.weights().W_K(0).toFloatArray();
            m.weights().W_Q(0).set(wk);
            m.weights().W_K(0).set(wq);
            m.weightsChanged();
            try (Output out = m.run(tokens, new RunOptions().cacheAll())) {
                assertThrows(org.opentest4j.AssertionFailedError.class, () -> OracleParityTest.compareAll("swapped", out, ref));
            }
        }
    }

    @Test
    void gptNeoxConfigIsTransformerLenss(@TempDir Path dir) {
        HfTestCheckpoints.neox(dir, SEED, true, DType.F32);
        Config c = HfCheckpoint.readConfig(dir);
        assertEquals("GPTNeoXForCausalLM", c.originalArchitecture);
        assertEquals(List.of(32, 4, 8, 2, 64, 53, 32, 4), List.of(c.dModel, c.nHeads, c.dHead, c.nLayers, c.dMlp, c.dVocab, c.nCtx, c.rotaryDim()));
        assertEquals("LN", c.normalizationType);
        assertEquals("gelu", c.actFn);
        assertTrue(c.parallelAttnMlp && c.isRotary() && !c.rotaryAdjacentPairs && !c.gatedMlp);
    }

    @Test
    void badGptNeoxConfigsNameTheField(@TempDir Path dir) throws IOException {
        HfTestCheckpoints.neox(dir, SEED, true, DType.F32);
        Path f = dir.resolve("config.json");
        String good = Files.readString(f);
        Files.writeString(f, good.replace("\"rotary_pct\" : 0.5", "\"rotary_pct\" : 1.5"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> HfCheckpoint.readConfig(dir));
        assertTrue(e.getMessage().contains("'rotary_pct' must be in (0, 1], got 1.5"), e.getMessage());
        Files.writeString(f, good.replace("\"use_parallel_residual\" : true", "\"use_parallel_residual\" : \"yes\""));
        e = assertThrows(CheckpointException.class, () -> HfCheckpoint.readConfig(dir));
        assertTrue(e.getMessage().contains("'use_parallel_residual' must be true or false"), e.getMessage());
        Files.writeString(f, good.replace("\"model_type\" : \"gpt_neox\"", "\"model_type\" : \"bert\""));
        e = assertThrows(CheckpointException.class, () -> HfCheckpoint.readConfig(dir));
        assertTrue(e.getMessage().contains("unsupported model_type 'bert'") && e.getMessage().contains("gpt_neox"), e.getMessage());
    }
}
