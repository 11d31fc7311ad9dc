package dev.lens4j.load;

import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

class HfCheckpointTest {
    @TempDir Path tmp;

    /** Tensor [shape] whose element at flat position k is f(k) (coded values make layout mistakes visible). */
    static Tensor coded(Function<long[], Float> f, long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        long[] idx = new long[shape.length];
        for (int k = 0; k < v.length; k++) {
            long r = k;
            for (int d = shape.length - 1; d >= 0; d--) { idx[d] = r % shape[d]; r /= shape[d]; }
            v[k] = f.apply(idx);
        }
        return Tensor.of(v, shape);
    }

    static void writeDir(Path dir, String configJson, Map<String, Tensor> tensors) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), configJson);
        SafeTensors.write(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
        for (Tensor t : tensors.values()) t.close();
    }

    static void assertConfigMatches(Config a, Config b) {
        assertEquals(a.nLayers, b.nLayers);
        assertEquals(a.dModel, b.dModel);
        assertEquals(a.nHeads, b.nHeads);
        assertEquals(a.nKeyValueHeads, b.nKeyValueHeads);
        assertEquals(a.dHead, b.dHead);
        assertEquals(a.dMlp, b.dMlp);
        assertEquals(a.dVocab, b.dVocab);
        assertEquals(a.nCtx, b.nCtx);
        assertEquals(a.eps, b.eps, 0);
        assertEquals(a.actFn, b.actFn);
        assertEquals(a.normalizationType, b.normalizationType);
        assertEquals(a.positionalEmbeddingType, b.positionalEmbeddingType);
        assertEquals(a.rotaryDim(), b.rotaryDim());
        assertEquals(a.rotaryBase, b.rotaryBase, 0);
        assertEquals(a.gatedMlp, b.gatedMlp);
        assertEquals(a.finalRms, b.finalRms);
        assertEquals(a.originalArchitecture, b.originalArchitecture);
    }

    @Test void gpt2MappingIsTransformerLensConvertGpt2Weights() throws IOException {
        // d_model 4, 2 heads of 2, d_mlp 16, vocab 5, n_ctx 3; hub-style names without "transformer."
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("wte.weight", coded(i -> (float) (10 * i[0] + i[1]), 5, 4));
        t.put("wpe.weight", coded(i -> (float) (-10 * i[0] - i[1]), 3, 4));
        t.put("h.0.ln_1.weight", coded(i -> 1f + i[0], 4));
        t.put("h.0.ln_1.bias", coded(i -> 0.5f * i[0], 4));
        t.put("h.0.attn.c_attn.weight", coded(i -> (float) (100 * i[0] + i[1]), 4, 12));
        t.put("h.0.attn.c_attn.bias", coded(i -> (float) i[0], 12));
        t.put("h.0.attn.c_proj.weight", coded(i -> (float) (10 * i[0] + i[1]), 4, 4));
        t.put("h.0.attn.c_proj.bias", coded(i -> 7f + i[0], 4));
        t.put("h.0.ln_2.weight", coded(i -> 2f + i[0], 4));
        t.put("h.0.ln_2.bias", coded(i -> 3f + i[0], 4));
        t.put("h.0.mlp.c_fc.weight", coded(i -> (float) (10 * i[0] + i[1]), 4, 16));
        t.put("h.0.mlp.c_fc.bias", coded(i -> (float) -i[0], 16));
        t.put("h.0.mlp.c_proj.weight", coded(i -> (float) (100 + 10 * i[0] + i[1]), 16, 4));
        t.put("h.0.mlp.c_proj.bias", coded(i -> 9f, 4));
        t.put("ln_f.weight", coded(i -> 4f, 4));
        t.put("ln_f.bias", coded(i -> 5f, 4));
        t.put("h.0.attn.bias", coded(i -> 1f, 1, 1, 3, 3)); // old hub files carry the causal mask buffer: ignored
        writeDir(tmp, "{\"model_type\":\"gpt2\",\"n_embd\":4,\"n_layer\":1,\"n_head\":2,\"n_positions\":3,\"vocab_size\":5,"
            + "\"layer_norm_epsilon\":1e-5,\"activation_function\":\"gelu_new\",\"n_inner\":null}", t);

        try (Checkpoint c = HfCheckpoint.load(tmp, LoadOptions.noProcessing())) {
            Config cfg = c.config();
            assertEquals(16, cfg.dMlp, "n_inner null -> 4 d_model");
            assertEquals(2, cfg.dHead);
            assertEquals(3, cfg.nCtx);
            assertEquals("LN", cfg.normalizationType);
            assertEquals("GPT2LMHeadModel", cfg.originalArchitecture);
            Weights w = c.weights();
            for (int i = 0; i < 2; i++)
                for (int m = 0; m < 4; m++)
                    for (int h = 0; h < 2; h++) {
                        assertEquals(100 * m + i * 2 + h, w.W_Q(0).get(i, m, h), "W_Q");
                        assertEquals(100 * m + 4 + i * 2 + h, w.W_K(0).get(i, m, h), "W_K");
                        assertEquals(100 * m + 8 + i * 2 + h, w.W_V(0).get(i, m, h), "W_V");
                        assertEquals(10 * (i * 2 + h) + m, w.W_O(0).get(i, h, m), "W_O");
                    }
            for (int i = 0; i < 2; i++)
                for (int h = 0; h < 2; h++) {
                    assertEquals(i * 2 + h, w.b_Q(0).get(i, h));
                    assertEquals(4 + i * 2 + h, w.b_K(0).get(i, h));
                    assertEquals(8 + i * 2 + h, w.b_V(0).get(i, h));
                }
            assertEquals(13, w.W_in(0).get(1, 3));
            assertEquals(-5, w.b_in(0).get(5));
            assertEquals(100 + 52, w.W_out(0).get(5, 2));
            assertEquals(-21, w.W_pos().get(2, 1));
            for (int v = 0; v < 5; v++) for (int m = 0; m < 4; m++) assertEquals(10 * v + m, w.W_U().get(m, v), "W_U = W_E^T");
            assertArrayEquals(new float[5], w.b_U().toFloatArray());
            assertArrayEquals(new float[] {1, 2, 3, 4}, w.get("blocks.0.ln1.w").toFloatArray());
            assertArrayEquals(new float[] {5, 5, 5, 5}, w.get("ln_final.b").toFloatArray());
        }
    }

    @Test void llamaMappingIsTransformerLensConvertLlamaWeights() throws IOException {
        // d_model 4, 2 heads / 1 kv head of 2, d_mlp 3, vocab 5, untied head
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("model.embed_tokens.weight", coded(i -> (float) (10 * i[0] + i[1]), 5, 4));
        t.put("model.layers.0.input_layernorm.weight", coded(i -> 1f + i[0], 4));
        t.put("model.layers.0.self_attn.q_proj.weight", coded(i -> (float) (10 * i[0] + i[1]), 4, 4));
        t.put("model.layers.0.self_attn.k_proj.weight", coded(i -> (float) (1000 + 10 * i[0] + i[1]), 2, 4));
        t.put("model.layers.0.self_attn.v_proj.weight", coded(i -> (float) (2000 + 10 * i[0] + i[1]), 2, 4));
        t.put("model.layers.0.self_attn.o_proj.weight", coded(i -> (float) (10 * i[0] + i[1]), 4, 4));
        t.put("model.layers.0.post_attention_layernorm.weight", coded(i -> 2f, 4));
        t.put("model.layers.0.mlp.gate_proj.weight", coded(i -> (float) (10 * i[0] + i[1]), 3, 4));
        t.put("model.layers.0.mlp.up_proj.weight", coded(i -> (float) (100 + 10 * i[0] + i[1]), 3, 4));
        t.put("model.layers.0.mlp.down_proj.weight", coded(i -> (float) (200 + 10 * i[0] + i[1]), 4, 3));
        t.put("model.norm.weight", coded(i -> 3f, 4));
        t.put("lm_head.weight", coded(i -> (float) (-10 * i[0] - i[1]), 5, 4));
        writeDir(tmp, "{\"model_type\":\"llama\",\"hidden_size\":4,\"intermediate_size\":3,\"num_hidden_layers\":1,"
            + "\"num_attention_heads\":2,\"num_key_value_heads\":1,\"rms_norm_eps\":1e-6,\"rope_theta\":500000.0,"
            + "\"max_position_embeddings\":16,\"vocab_size\":5,\"tie_word_embeddings\":false,\"hidden_act\":\"silu\"}", t);

        try (Checkpoint c = HfCheckpoint.load(tmp, LoadOptions.noProcessing())) {
            Config cfg = c.config();
            assertEquals(1, cfg.nKvHeads());
            assertEquals(500000.0, cfg.rotaryBase);
            assertEquals(1e-6, cfg.eps);
            assertEquals("RMS", cfg.normalizationType);
            assertFalse(cfg.rotaryAdjacentPairs);
            assertTrue(cfg.gatedMlp && cfg.finalRms && cfg.isRotary());
            assertEquals(16, cfg.nCtx);
            Weights w = c.weights();
            assertTrue(w.has("blocks.0.attn._W_K") && w.has("blocks.0.attn._b_V") && !w.has("blocks.0.attn.W_K"), "GQA names: " + w.names());
            assertArrayEquals(new long[] {1, 4, 2}, w.W_K(0).shape());
            for (int m = 0; m < 4; m++)
                for (int h = 0; h < 2; h++) {
                    for (int i = 0; i < 2; i++) {
                        assertEquals(10 * (i * 2 + h) + m, w.W_Q(0).get(i, m, h), "W_Q '(n h) m -> n m h'");
                        assertEquals(10 * m + (i * 2 + h), w.W_O(0).get(i, h, m), "W_O 'm (n h) -> n h m'");
                    }
                    assertEquals(1000 + 10 * h + m, w.W_K(0).get(0, m, h));
                    assertEquals(2000 + 10 * h + m, w.W_V(0).get(0, m, h));
                }
            for (int m = 0; m < 4; m++)
                for (int f = 0; f < 3; f++) {
                    assertEquals(10 * f + m, w.W_gate(0).get(m, f), "W_gate = gate_proj^T");
                    assertEquals(100 + 10 * f + m, w.W_in(0).get(m, f), "W_in = up_proj^T");
                    assertEquals(200 + 10 * m + f, w.W_out(0).get(f, m), "W_out = down_proj^T");
                }
            for (int v = 0; v < 5; v++) for (int m = 0; m < 4; m++) assertEquals(-10 * v - m, w.W_U().get(m, v), "W_U = lm_head^T");
            for (String b : new String[] {"blocks.0.attn.b_Q", "blocks.0.attn._b_K", "blocks.0.attn.b_O", "blocks.0.mlp.b_in", "blocks.0.mlp.b_out", "unembed.b_U"})
                assertTrue(WeightProcessing.allZero(w.get(b)), b + " is zero");
            assertFalse(w.has("blocks.0.ln1.b"));
        }
    }

    @Test void gpt2WriteThenLoadGivesTheSameWeights() {
        Config cfg = TestCheckpoints.tinyGpt2Config();
        TestCheckpoints.gpt2(tmp, 7);
        try (Weights expected = RandomWeights.gpt2(cfg, 7); Checkpoint c = HfCheckpoint.load(tmp, LoadOptions.noProcessing())) {
            TestCheckpoints.assertSameWeights(expected, c.weights());
            assertConfigMatches(cfg, c.config());
            assertFalse(WeightProcessing.allZero(c.weights().get("blocks.1.ln2.b")), "biases are non-trivial");
        }
    }

    @Test void llamaWriteThenLoadGivesTheSameWeights() {
        for (int kv : new int[] {2, 4}) {
            Config cfg = RandomWeights.llamaConfig(2, 16, 4, kv, 24, 37, 12);
            Path dir = tmp.resolve("kv" + kv);
            TestCheckpoints.llama(dir, cfg, 11, DType.F32);
            try (Weights expected = RandomWeights.llama(cfg, 11); Checkpoint c = HfCheckpoint.load(dir, LoadOptions.noProcessing())) {
                TestCheckpoints.assertSameWeights(expected, c.weights());
                assertConfigMatches(cfg, c.config());
                assertEquals(kv == 4, c.weights().has("blocks.0.attn.W_K"), "plain W_K without GQA");
            }
        }
    }

    @Test void halfPrecisionCheckpointsLoadAsRoundedF32() {
        Config cfg = TestCheckpoints.tinyGpt2Config();
        for (DType storage : new DType[] {DType.BF16, DType.F16}) {
            Path dir = tmp.resolve(storage.name());
            TestCheckpoints.gpt2(dir, cfg, 3, storage);
            try (Weights expected = RandomWeights.gpt2(cfg, 3); Checkpoint c = HfCheckpoint.load(dir, LoadOptions.noProcessing());
                 SafeTensors st = SafeTensors.open(dir.resolve("model.safetensors"))) {
                assertEquals(storage.name(), st.info("transformer.wte.weight").dtype());
                for (String n : expected.names()) {
                    float[] e = expected.get(n).toFloatArray(), a = c.weights().get(n).toFloatArray();
                    for (int i = 0; i < e.length; i++) {
                        float r = storage == DType.BF16 ? HalfFloats.bf16ToF32(HalfFloats.f32ToBf16(e[i])) : HalfFloats.f16ToF32(HalfFloats.f32ToF16(e[i]));
                        assertEquals(r, a[i], 0f, storage + " " + n + "[" + i + "]");
                    }
                }
            }
        }
    }

    @Test void shardedCheckpointLoadsLikeASingleFile() throws IOException {
        Path single = TestCheckpoints.llama(tmp.resolve("single"), 5);
        Path sharded = Files.createDirectories(tmp.resolve("sharded"));
        Files.copy(single.resolve("config.json"), sharded.resolve("config.json"));
        Map<String, Tensor> a = new LinkedHashMap<>(), b = new LinkedHashMap<>();
        StringBuilder index = new StringBuilder("{\"metadata\":{\"total_size\":0},\"weight_map\":{");
        try (SafeTensors st = SafeTensors.open(single.resolve("model.safetensors"))) {
            int k = 0;
            for (String n : st.names()) {
                boolean first = k++ % 2 == 0;
                (first ? a : b).put(n, st.read(n));
                index.append(k > 1 ? "," : "").append('"').append(n).append("\":\"model-0000").append(first ? 1 : 2).append("-of-00002.safetensors\"");
            }
        }
        SafeTensors.write(sharded.resolve("model-00001-of-00002.safetensors"), a, null);
        SafeTensors.write(sharded.resolve("model-00002-of-00002.safetensors"), b, null);
        a.values().forEach(Tensor::close);
        b.values().forEach(Tensor::close);
        Files.writeString(sharded.resolve("model.safetensors.index.json"), index.append("}}").toString());
        try (Checkpoint x = HfCheckpoint.load(single, LoadOptions.noProcessing()); Checkpoint y = HfCheckpoint.load(sharded, LoadOptions.noProcessing())) {
            TestCheckpoints.assertSameWeights(x.weights(), y.weights());
        }
    }

    @Test void defaultLoadProcessesWeightsLikeFromPretrained() {
        TestCheckpoints.gpt2(tmp, 9);
        try (Checkpoint c = HfCheckpoint.load(tmp)) {
            Config cfg = c.config();
            assertEquals("LNPre", cfg.normalizationType);
            assertTrue(cfg.lnFolded && cfg.writingWeightsCentered && cfg.unembedCentered && cfg.valueBiasesFolded);
            assertFalse(c.weights().has("blocks.0.ln1.w") || c.weights().has("ln_final.b"));
            assertTrue(WeightProcessing.allZero(c.weights().b_V(1)));
        }
        TestCheckpoints.llama(tmp.resolve("l"), 9);
        try (Checkpoint c = HfCheckpoint.load(tmp.resolve("l"))) {
            assertEquals("RMSPre", c.config().normalizationType);
            assertTrue(c.config().lnFolded && c.config().unembedCentered);
            assertFalse(c.config().writingWeightsCentered, "TL centres writing weights only for LayerNorm models");
        }
    }

    @Test void llamaAdjacentPairWeightsArePermutedToRotateHalfOnWrite() {
        Config cfg = TestCheckpoints.tinyLlamaConfig();
        cfg.rotaryAdjacentPairs = true;
        try (Checkpoint src = new Checkpoint(cfg, RandomWeights.llama(cfg, 4))) {
            HfCheckpointWriter.writeLlama(src, tmp);
            try (Checkpoint back = HfCheckpoint.load(tmp, LoadOptions.noProcessing())) {
                assertFalse(back.config().rotaryAdjacentPairs);
                assertRotateHalfOf(src.weights(), back.weights(), cfg);
            }
        }
    }

    @Test void loadingFreesEveryTemporaryAndCloseFreesTheRest() throws IOException {
        Path g = TestCheckpoints.gpt2(tmp.resolve("g"), 1), l = TestCheckpoints.llama(tmp.resolve("l"), 1);
        long before = Tensor.liveBytes();
        for (Path d : new Path[] {g, l}) {
            try (Checkpoint c = HfCheckpoint.load(d)) { assertTrue(Tensor.liveBytes() > before); }
            assertEquals(before, Tensor.liveBytes(), "after closing " + d);
        }
        Files.writeString(l.resolve("config.json"), Files.readString(l.resolve("config.json")).replace("\"num_key_value_heads\" : 2", "\"num_key_value_heads\" : 1"));
        assertThrows(CheckpointException.class, () -> HfCheckpoint.load(l));
        assertEquals(before, Tensor.liveBytes(), "a failed load frees what it allocated");
    }

    @Test void mistralLoadsAsLlama() throws IOException {
        Path d = TestCheckpoints.llama(tmp, 2);
        String cfg = Files.readString(d.resolve("config.json"));
        Files.writeString(d.resolve("config.json"), cfg.replace("\"llama\"", "\"mistral\"").replace("\"LlamaForCausalLM\"", "\"MistralForCausalLM\""));
        try (Weights expected = RandomWeights.llama(TestCheckpoints.tinyLlamaConfig(), 2); Checkpoint c = HfCheckpoint.load(d, LoadOptions.noProcessing())) {
            assertEquals("MistralForCausalLM", c.config().originalArchitecture);
            TestCheckpoints.assertSameWeights(expected, c.weights());
        }
    }

    @Test void untiedGpt2HeadIsWrittenAsLmHead() {
        Config cfg = TestCheckpoints.tinyGpt2Config();
        try (Checkpoint src = new Checkpoint(cfg, RandomWeights.gpt2(cfg, 8))) {
            src.weights().W_U().put(42f, 3, 5);
            HfCheckpointWriter.writeGpt2(src, tmp);
            try (Checkpoint back = HfCheckpoint.load(tmp, LoadOptions.noProcessing()); SafeTensors st = SafeTensors.open(tmp.resolve("model.safetensors"))) {
                assertTrue(st.has("lm_head.weight"));
                assertEquals(42f, st.readFloats("lm_head.weight")[5 * cfg.dModel + 3]);
                TestCheckpoints.assertSameWeights(src.weights(), back.weights());
            }
            src.weights().b_U().put(1f, 0);
            assertThrows(IllegalArgumentException.class, () -> HfCheckpointWriter.writeGpt2(src, tmp.resolve("b")), "GPT-2 cannot hold b_U");
        }
    }

    /** HF feature p*d_head/2 + j of each head holds adjacent-pair feature 2j + p; everything else is unchanged. */
    static void assertRotateHalfOf(Weights adj, Weights half, Config cfg) {
        int dh = cfg.dHead, hh = dh / 2;
        for (int l = 0; l < cfg.nLayers; l++) {
            for (Tensor[] qk : new Tensor[][] {{adj.W_Q(l), half.W_Q(l)}, {adj.W_K(l), half.W_K(l)}}) {
                long heads = qk[0].size(0), m = qk[0].size(1);
                for (int i = 0; i < heads; i++)
                    for (int c = 0; c < m; c++)
                        for (int j = 0; j < hh; j++)
                            for (int p = 0; p < 2; p++)
                                assertEquals(qk[0].get(i, c, 2 * j + p), qk[1].get(i, c, p * hh + j), "layer " + l + " q/k head " + i);
            }
            assertFalse(java.util.Arrays.equals(adj.W_Q(l).toFloatArray(), half.W_Q(l).toFloatArray()), "the permutation is not the identity");
            for (String n : new String[] {Weights.kvName(cfg, l, "W_V"), Weights.attn(l, "W_O"), Weights.mlp(l, "W_in"), Weights.mlp(l, "W_gate"),
                Weights.mlp(l, "W_out"), Weights.ln(l, 1, "w"), Weights.ln(l, 2, "w")})
                assertArrayEquals(adj.get(n).toFloatArray(), half.get(n).toFloatArray(), 0f, n);
        }
        for (String n : new String[] {"embed.W_E", "unembed.W_U", "ln_final.w"})
            assertArrayEquals(adj.get(n).toFloatArray(), half.get(n).toFloatArray(), 0f, n);
    }
}
