package dev.lens4j.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lens4j.load.Checkpoint;
import dev.lens4j.load.HfCheckpoint;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * config.json mapping for every supported model_type (gpt2, llama, mistral): a valid tiny config whose fields the
 * fuzzer removes or replaces (numbers of every kind, strings, booleans, null, arrays, objects), next to valid weights
 * for the unchanged config; what loads is built into a HookedTransformer and run on two tokens.
 * <p>Input layout (Jazzer's FuzzedDataProvider reads choices from the end): mode, then model_type, then edits. An
 * exhausted input picks the first choice everywhere, so the empty input is the valid gpt2 config and {@link #RAW} mode
 * takes the rest of the bytes as config.json verbatim (seeds: config files followed by the two choice bytes).
 */
class ConfigJsonFuzzTest {
    static final int RAW = 9;
    static final List<String> TYPES = List.of("gpt2", "llama", "mistral");
    static final List<String> GPT2_FIELDS = List.of("n_embd", "n_layer", "n_head", "n_positions", "n_ctx", "vocab_size",
        "layer_norm_epsilon", "activation_function", "n_inner", "scale_attn_by_inverse_layer_idx", "tie_word_embeddings",
        "_name_or_path", "model_type", "bos_token_id", "eos_token_id", "architectures", "torch_dtype");
    static final List<String> LLAMA_FIELDS = List.of("hidden_size", "num_hidden_layers", "num_attention_heads",
        "num_key_value_heads", "intermediate_size", "vocab_size", "max_position_embeddings", "head_dim", "rms_norm_eps",
        "rope_theta", "hidden_act", "rope_scaling", "mlp_bias", "attention_bias", "tie_word_embeddings", "_name_or_path",
        "model_type", "architectures", "sliding_window", "torch_dtype");
    static final long[] NUMBERS = {0, 1, 2, 3, 4, 6, 8, 11, 12, 16, -1, -8, 1 << 16, 1 << 29, 1 << 30, Integer.MAX_VALUE,
        Integer.MIN_VALUE, 1L << 31, 1L << 32, Long.MAX_VALUE, Long.MIN_VALUE, 500_000_000, 1_000_000_000};
    static final double[] DOUBLES = {0.0, -0.0, 1e-5, -1e-5, 1.5, 8.0, 1e300, -1e300, 4.9e-324, Double.NaN,
        Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY};
    static final List<String> STRINGS = List.of("", "gelu", "gelu_new", "relu", "silu", "gelu_pytorch_tanh", "gelu_fast",
        "swish", "tanh", "gpt2", "llama", "mistral", "gpt_neox", "LlamaForCausalLM", "8", "1e-5", "NaN", "\u0000", "é");

    @FuzzTest(maxDuration = "10m")
    void configJson(FuzzedDataProvider data) { run(data); }

    /** One input; true when it loaded and ran, false when it was rejected with an accepted exception. */
    static boolean run(FuzzedDataProvider data) {
        int mode = data.consumeInt(0, RAW);
        int type = data.consumeInt(0, TYPES.size() - 1);
        Templates.Family family = type == 0 ? Templates.GPT2 : Templates.LLAMA;
        byte[] config;
        boolean process;
        if (mode == RAW) {
            process = true;
            config = data.consumeRemainingAsBytes();
        } else {
            ObjectNode cfg = family.config().deepCopy();
            cfg.put("model_type", TYPES.get(type));
            List<String> fields = type == 0 ? GPT2_FIELDS : LLAMA_FIELDS;
            int edits = data.consumeInt(0, 6);
            for (int i = 0; i < edits; i++) {
                int f = data.consumeInt(0, fields.size());
                String key = f < fields.size() ? fields.get(f) : data.consumeString(12);
                edit(cfg, key, data);
            }
            process = !data.consumeBoolean();
            config = cfg.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        }
        return FuzzContract.check(tmp -> {
            Files.write(tmp.resolve("config.json"), config);
            Files.write(tmp.resolve("model.safetensors"), family.safetensors());
            loadAndRun(tmp, process ? LoadOptions.defaults() : LoadOptions.noProcessing());
        });
    }

    /** Sets key to a value of a kind the fuzzer picks, or removes it. */
    static void edit(ObjectNode cfg, String key, FuzzedDataProvider data) {
        switch (data.consumeInt(0, 10)) {
            case 0 -> cfg.remove(key);
            case 1 -> cfg.put(key, NUMBERS[data.consumeInt(0, NUMBERS.length - 1)]);
            case 2 -> cfg.put(key, data.consumeInt(-2, 64));
            case 3 -> cfg.put(key, data.consumeInt());
            case 4 -> cfg.put(key, DOUBLES[data.consumeInt(0, DOUBLES.length - 1)]);
            case 5 -> cfg.put(key, data.consumeDouble());
            case 6 -> cfg.put(key, STRINGS.get(data.consumeInt(0, STRINGS.size() - 1)));
            case 7 -> cfg.put(key, data.consumeString(16));
            case 8 -> cfg.put(key, data.consumeBoolean());
            case 9 -> cfg.putNull(key);
            default -> {
                if (data.consumeBoolean()) cfg.putArray(key).add(data.consumeInt(-2, 16)).add(STRINGS.get(data.consumeInt(0, 3)));
                else cfg.putObject(key).put("type", STRINGS.get(data.consumeInt(0, STRINGS.size() - 1))).put("factor", data.consumeDouble());
            }
        }
    }

    /** Loads the directory and runs what loads on two tokens, freeing everything. */
    static void loadAndRun(Path dir, LoadOptions options) {
        Checkpoint ckpt = HfCheckpoint.load(dir, options);
        HookedTransformer model;
        try {
            model = new HookedTransformer(ckpt.config(), ckpt.weights());
        } catch (RuntimeException e) {
            ckpt.close();
            throw e;
        }
        try (model; Tensor logits = model.forward(new int[] {0, 1})) {
            if (logits.size(1) != 2 || logits.size(2) != model.cfg().dVocabOut())
                throw new AssertionError("logits have shape " + logits.describe());
        }
    }
}
