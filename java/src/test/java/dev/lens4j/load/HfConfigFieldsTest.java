package dev.lens4j.load;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lens4j.model.Config;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** Every field read from config.json is checked for type and range; errors name the field (and the file). */
class HfConfigFieldsTest {
    @TempDir Path tmp;
    private int dirs;

    private static final ObjectMapper JSON = new ObjectMapper();

    private Path gpt2() { return TestCheckpoints.gpt2(tmp.resolve("g" + dirs++), 1); }

    private Path llama() { return TestCheckpoints.llama(tmp.resolve("l" + dirs++), 1); }

    /** Sets a field of config.json to raw JSON text (so values such as 1e999 reach the parser as written). */
    private static Path set(Path dir, String key, String rawJson) throws IOException {
        Path f = dir.resolve("config.json");
        ObjectNode n = (ObjectNode) JSON.readTree(f.toFile());
        n.put(key, "@@RAW@@");
        Files.writeString(f, JSON.writeValueAsString(n).replace("\"@@RAW@@\"", rawJson));
        return dir;
    }

    private static Path remove(Path dir, String key) throws IOException {
        Path f = dir.resolve("config.json");
        ObjectNode n = (ObjectNode) JSON.readTree(f.toFile());
        n.remove(key);
        Files.writeString(f, JSON.writeValueAsString(n));
        return dir;
    }

    private static String assertBad(Path dir, String... fragments) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> HfCheckpoint.load(dir).close());
        assertTrue(e.getMessage().contains(dir.resolve("config.json").toString()) || e.getMessage().contains(dir.toString()), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        for (String s : fragments) assertTrue(e.getMessage().contains(s), "'" + s + "' in: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void activationMustBeASupportedString() throws IOException {
        String supported = "relu, gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, silu";
        assertBad(set(gpt2(), "activation_function", "3"), "'activation_function' must be one of " + supported + ", got 3");
        assertBad(set(gpt2(), "activation_function", "\"swiglu\""), "'activation_function'", "got \"swiglu\"");
        assertBad(set(llama(), "hidden_act", "true"), "'hidden_act' must be one of", "got true");
        // a supported one loads, and is what the model runs
        try (Checkpoint c = HfCheckpoint.load(set(gpt2(), "activation_function", "\"relu\""))) { assertEquals("relu", c.config().actFn); }
    }

    @Test
    void epsilonsAndRopeThetaMustBeFiniteAndPositive() throws IOException {
        assertBad(set(gpt2(), "layer_norm_epsilon", "-1e-5"), "'layer_norm_epsilon' must be a finite number > 0, got -1.0E-5");
        assertBad(set(gpt2(), "layer_norm_epsilon", "0"), "'layer_norm_epsilon'", "got 0");
        assertBad(set(llama(), "rms_norm_eps", "-0.000001"), "'rms_norm_eps' must be a finite number > 0");
        assertBad(set(llama(), "rms_norm_eps", "1e999"), "'rms_norm_eps' must be a finite number > 0");
        assertBad(set(llama(), "rope_theta", "0"), "'rope_theta' must be a finite number > 0, got 0");
        assertBad(set(llama(), "rope_theta", "-10000"), "'rope_theta'");
        assertBad(set(llama(), "rope_theta", "1e999"), "'rope_theta' must be a finite number > 0");
        assertBad(set(llama(), "rope_theta", "\"10000\""), "'rope_theta' must be a number, got \"10000\"");
    }

    @Test
    void integerFieldsMustBePositiveInts() throws IOException {
        assertBad(set(gpt2(), "n_layer", "2.5"), "'n_layer' must be a positive integer, got 2.5");
        assertBad(set(gpt2(), "n_head", "\"4\""), "'n_head' must be a positive integer, got \"4\"");
        assertBad(set(gpt2(), "vocab_size", "3000000000"), "'vocab_size' must be a positive integer, got 3000000000");
        assertBad(set(llama(), "num_key_value_heads", "-2"), "'num_key_value_heads' must be a positive integer, got -2");
        assertBad(set(llama(), "head_dim", "0"), "'head_dim' must be a positive integer, got 0");
    }

    @Test
    void nEmbdWhoseMlpWidthOverflowsIsNamed() throws IOException {
        // 4 * 2^29 wraps to a negative int: the error must name n_embd, not a derived d_mlp
        Path d = set(remove(gpt2(), "n_inner"), "n_embd", "536870912");
        String msg = assertBad(d, "'n_embd' is too large", "4 * n_embd", "2147483648");
        assertFalse(msg.contains("d_mlp must be > 0"), msg);
    }

    @Test
    void contradictoryOrRepeatedFieldsAreNamed() throws IOException {
        assertBad(set(gpt2(), "n_ctx", "13"), "'n_positions' (12) and 'n_ctx' (13) contradict each other");
        assertBad(remove(remove(gpt2(), "n_ctx"), "n_positions"), "missing 'n_positions'");
        Path d = gpt2();
        Path f = d.resolve("config.json");
        Files.writeString(f, Files.readString(f).replaceFirst("\\{", "{\"n_layer\": 2, "));
        assertBad(d, "Duplicate field 'n_layer'");
        Path l = llama();
        assertBad(set(l, "num_key_value_heads", "3"), "num_attention_heads 4 is not a multiple of num_key_value_heads 3");
        assertBad(set(set(llama(), "head_dim", "3"), "num_attention_heads", "4"), "head_dim = 3", "must be even");
    }

    @Test
    void invalidJsonIsOneLineWithPosition() throws IOException {
        Path d = gpt2();
        Path f = d.resolve("config.json");
        Files.writeString(f, "{\"model_type\": \"gpt2\",\n \"n_layer\": 2 \"n_head\": 4}");
        String msg = assertBad(d, "not valid JSON", "line 2, column");
        assertFalse(msg.contains("[Source"), msg);
        Files.writeString(f, Files.readString(gpt2().resolve("config.json")) + " trailing");
        assertBad(d, "not valid JSON");
    }

    @Test
    void booleansAndStringsMustHaveTheirTypes() throws IOException {
        assertBad(set(gpt2(), "tie_word_embeddings", "\"yes\""), "'tie_word_embeddings' must be true or false, got \"yes\"");
        assertBad(set(llama(), "attention_bias", "1"), "'attention_bias' must be true or false, got 1");
        assertBad(set(llama(), "mlp_bias", "\"false\""), "'mlp_bias' must be true or false");
        assertBad(set(gpt2(), "_name_or_path", "42"), "'_name_or_path' must be a string, got 42");
        assertBad(set(llama(), "architectures", "[7]"), "'architectures' must be a list of class names");
    }

    @Test
    void attentionBiasDeclaredButAbsentNamesTheTensor() throws IOException {
        assertBad(set(llama(), "attention_bias", "true"), "missing weight 'model.layers.0.self_attn.q_proj.bias'");
    }

    /** A Llama checkpoint with non-zero attention biases (the writer then declares attention_bias true). */
    private Path llamaWithBiases() {
        Config cfg = TestCheckpoints.tinyLlamaConfig();
        Path dir = tmp.resolve("b" + dirs++);
        try (Checkpoint c = new Checkpoint(cfg.clone(), RandomWeights.llama(cfg, 1))) {
            for (int l = 0; l < cfg.nLayers; l++) {
                c.weights().get("blocks." + l + ".attn.b_Q").put(0.25f, 1, 2);
                c.weights().get("blocks." + l + ".attn.b_O").put(-0.5f, 3);
            }
            HfCheckpointWriter.writeLlama(c, dir);
        }
        return dir;
    }

    @Test
    void attentionBiasesAreReadWhenDeclaredAndRefusedWhenNot() throws IOException {
        Path d = llamaWithBiases();
        try (Checkpoint c = HfCheckpoint.load(d, LoadOptions.noProcessing())) {
            assertEquals(0.25f, c.weights().get("blocks.1.attn.b_Q").get(1, 2));
            assertEquals(-0.5f, c.weights().get("blocks.0.attn.b_O").get(3));
        }
        // HF would not create the bias parameters: running without them would not be the checkpoint's model either
        set(d, "attention_bias", "false");
        long before = Tensor.liveBytes();
        assertBad(d, "holds 'model.layers.0.self_attn.q_proj.bias'", "attention_bias false");
        assertEquals(before, Tensor.liveBytes(), "a refused load frees what it read");
    }
}
