package dev.lens4j.oracle;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lens4j.load.HalfFloats;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Tiny random checkpoints written directly in Hugging Face's layout (HF tensor names and shapes, config.json fields),
 * independent of lens4j's loaders and writers: what a model family's loader must read. Norm weights 1 + 0.1 randn,
 * biases 0.1 randn, so nothing is trivially the identity. Values are rounded to what the file stores (bf16 or f32).
 */
public final class HfTestCheckpoints {
    private static final ObjectMapper JSON = new ObjectMapper();

    private HfTestCheckpoints() {}

    /** Collects tensors by HF name, then writes config.json and model.safetensors. */
    static final class Builder {
        final Random r;
        final DType storage;
        final ObjectNode config = JSON.createObjectNode();
        final Map<String, HfOracle.HfTensor> tensors = new LinkedHashMap<>();

        Builder(long seed, DType storage) { this.r = new Random(seed); this.storage = storage; }

        Builder put(String name, double mean, double sd, long... shape) {
            double[] d = new double[(int) Tensor.numel(shape)];
            for (int i = 0; i < d.length; i++) d[i] = stored((float) (mean + sd * r.nextGaussian()));
            tensors.put(name, new HfOracle.HfTensor(shape, d));
            return this;
        }

        Builder matrix(String name, long out, long in, double gain) { return put(name, 0, gain / Math.sqrt(in), out, in); }
        Builder bias(String name, long n) { return put(name, 0, 0.1, n); }
        Builder normWeight(String name, long n) { return put(name, 1, 0.1, n); }

        double stored(float f) { return storage == DType.BF16 ? HalfFloats.bf16ToF32(HalfFloats.f32ToBf16(f)) : f; }

        HfOracle.HfModel write(Path dir) {
            Map<String, Tensor> out = new LinkedHashMap<>();
            try {
                for (var e : tensors.entrySet()) {
                    double[] d = e.getValue().data();
                    float[] f = new float[d.length];
                    for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
                    out.put(e.getKey(), Tensor.of(f, e.getValue().shape()));
                }
                Files.createDirectories(dir);
                config.put("torch_dtype", storage == DType.BF16 ? "bfloat16" : "float32");
                Files.writeString(dir.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config));
                SafeTensors.write(dir.resolve("model.safetensors"), out, Map.of("format", "pt"), storage);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                for (Tensor t : out.values()) t.close();
            }
            return new HfOracle.HfModel(config.deepCopy(), tensors);
        }
    }

    /**
     * Qwen2 with use_sliding_window: a window of 5 keys on the layers from max_window_layers = 1 on (layer 0 full, layer
     * 1 sliding), as Qwen2Config derives layer_types when the file does not list them.
     */
    public static HfOracle.HfModel qwen2SlidingWindow(Path dir, long seed, DType storage) {
        HfOracle.HfModel m = llamaLike(dir, seed, "qwen2", false, false, storage);
        m.config().put("use_sliding_window", true).put("sliding_window", 5).put("max_window_layers", 1);
        try {
            Files.writeString(dir.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(m.config()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return m;
    }

    /**
     * Llama-layout families: 2 layers, d_model 32, 4 query / 2 kv heads of d_head 8, d_mlp 48, vocab 61, n_ctx 40.
     * qwen2 adds q/k/v biases; llama3Rope adds Llama 3.1's rope_scaling with rope_theta 100 and original context 32,
     * so the 4 frequencies fall in all three of its bands (kept, smoothed, divided).
     */
    public static HfOracle.HfModel llamaLike(Path dir, long seed, String modelType, boolean tied, boolean llama3Rope, DType storage) {
        int d = 32, nH = 4, nKv = 2, dh = 8, ff = 48, V = 61, L = 2;
        boolean qkvBias = modelType.equals("qwen2");
        Builder b = new Builder(seed, storage);
        boolean mistral = modelType.equals("mistral");
        b.config.putArray("architectures").add(qkvBias ? "Qwen2ForCausalLM" : mistral ? "MistralForCausalLM" : "LlamaForCausalLM");
        b.config.put("model_type", modelType).put("hidden_size", d).put("num_attention_heads", nH).put("num_key_value_heads", nKv)
            .put("num_hidden_layers", L).put("intermediate_size", ff).put("vocab_size", V).put("max_position_embeddings", 40)
            .put("rms_norm_eps", 1e-6).put("rope_theta", llama3Rope ? 100.0 : 10000.0).put("hidden_act", "silu")
            .put("tie_word_embeddings", tied).put("bos_token_id", 1).put("eos_token_id", 2);
        if (qkvBias) b.config.put("use_sliding_window", false).put("sliding_window", 4096).put("max_window_layers", L);
        if (mistral) b.config.put("sliding_window", 5); // well inside the tests' 20 positions
        if (llama3Rope) b.config.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 4.0).put("low_freq_factor", 1.0)
            .put("high_freq_factor", 4.0).put("original_max_position_embeddings", 32);
        else b.config.putNull("rope_scaling");
        b.put("model.embed_tokens.weight", 0, 0.5, V, d);
        for (int l = 0; l < L; l++) {
            String p = "model.layers." + l + ".";
            b.normWeight(p + "input_layernorm.weight", d);
            b.matrix(p + "self_attn.q_proj.weight", (long) nH * dh, d, 0.6);
            b.matrix(p + "self_attn.k_proj.weight", (long) nKv * dh, d, 0.6);
            b.matrix(p + "self_attn.v_proj.weight", (long) nKv * dh, d, 0.2);
            if (qkvBias) b.bias(p + "self_attn.q_proj.bias", (long) nH * dh).bias(p + "self_attn.k_proj.bias", (long) nKv * dh)
                .bias(p + "self_attn.v_proj.bias", (long) nKv * dh);
            b.matrix(p + "self_attn.o_proj.weight", d, (long) nH * dh, 0.2);
            b.normWeight(p + "post_attention_layernorm.weight", d);
            b.matrix(p + "mlp.gate_proj.weight", ff, d, 0.6).matrix(p + "mlp.up_proj.weight", ff, d, 0.6).matrix(p + "mlp.down_proj.weight", d, ff, 0.2);
        }
        b.normWeight("model.norm.weight", d);
        if (!tied) b.matrix("lm_head.weight", V, d, 1.0);
        return b.write(dir);
    }

    /**
     * Gemma: 2 layers, d_model 32, 4 query heads and one kv head (multi-query) of head_dim 12 (4 * 12 != 32), GeGLU
     * (hidden_activation gelu_pytorch_tanh), tied embeddings, tie_word_embeddings left to GemmaConfig's default.
     * Norm weights are HF's w of (1 + w), drawn around 0.
     */
    public static HfOracle.HfModel gemma(Path dir, long seed, DType storage) {
        int d = 32, nH = 4, nKv = 1, dh = 12, ff = 48, V = 61, L = 2;
        Builder b = new Builder(seed, storage);
        b.config.putArray("architectures").add("GemmaForCausalLM");
        b.config.put("model_type", "gemma").put("hidden_size", d).put("num_attention_heads", nH).put("num_key_value_heads", nKv)
            .put("head_dim", dh).put("num_hidden_layers", L).put("intermediate_size", ff).put("vocab_size", V)
            .put("max_position_embeddings", 40).put("rms_norm_eps", 1e-6).put("rope_theta", 10000.0)
            .put("hidden_act", "gelu").put("hidden_activation", "gelu_pytorch_tanh").put("attention_bias", false)
            .put("bos_token_id", 2).put("eos_token_id", 1);
        b.put("model.embed_tokens.weight", 0, 0.5 / Math.sqrt(d), V, d);
        for (int l = 0; l < L; l++) {
            String p = "model.layers." + l + ".";
            b.put(p + "input_layernorm.weight", 0, 0.1, d);
            b.matrix(p + "self_attn.q_proj.weight", (long) nH * dh, d, 0.6);
            b.matrix(p + "self_attn.k_proj.weight", (long) nKv * dh, d, 0.6);
            b.matrix(p + "self_attn.v_proj.weight", (long) nKv * dh, d, 0.2);
            b.matrix(p + "self_attn.o_proj.weight", d, (long) nH * dh, 0.2);
            b.put(p + "post_attention_layernorm.weight", 0, 0.1, d);
            b.matrix(p + "mlp.gate_proj.weight", ff, d, 0.6).matrix(p + "mlp.up_proj.weight", ff, d, 0.6).matrix(p + "mlp.down_proj.weight", d, ff, 0.2);
        }
        b.put("model.norm.weight", 0, 0.1, d);
        return b.write(dir);
    }

    /**
     * Gemma 2: 3 layers shaped as {@link #gemma}, plus pre/post feed-forward norms, query_pre_attn_scalar 16 (not
     * head_dim 12), attention soft cap 2, final soft cap 3, sliding window of 4 keys (layers 0 and 2 sliding, as HF),
     * small enough that 20-token prompts need both the caps and the window.
     */
    public static HfOracle.HfModel gemma2(Path dir, long seed, DType storage) { return gemma2(dir, seed, storage, 61); }

    /** As above with a vocabulary of V (262208 fits the Gemma 3 tokenizer in ../shared). */
    public static HfOracle.HfModel gemma2(Path dir, long seed, DType storage, int V) {
        int d = 32, nH = 4, nKv = 2, dh = 12, ff = 48, L = 3;
        Builder b = new Builder(seed, storage);
        b.config.putArray("architectures").add("Gemma2ForCausalLM");
        b.config.put("model_type", "gemma2").put("hidden_size", d).put("num_attention_heads", nH).put("num_key_value_heads", nKv)
            .put("head_dim", dh).put("num_hidden_layers", L).put("intermediate_size", ff).put("vocab_size", V)
            .put("max_position_embeddings", 40).put("rms_norm_eps", 1e-6).put("rope_theta", 10000.0)
            .put("hidden_act", "gelu_pytorch_tanh").put("hidden_activation", "gelu_pytorch_tanh").put("attention_bias", false)
            .put("query_pre_attn_scalar", 16).put("attn_logit_softcapping", 2.0).put("final_logit_softcapping", 3.0)
            .put("sliding_window", 4).put("cache_implementation", "hybrid").put("bos_token_id", 2).put("eos_token_id", 1);
        b.put("model.embed_tokens.weight", 0, 2.0 / Math.sqrt(d), V, d);
        for (int l = 0; l < L; l++) {
            String p = "model.layers." + l + ".";
            b.put(p + "input_layernorm.weight", 0, 0.1, d);
            b.matrix(p + "self_attn.q_proj.weight", (long) nH * dh, d, 1.5);
            b.matrix(p + "self_attn.k_proj.weight", (long) nKv * dh, d, 1.5);
            b.matrix(p + "self_attn.v_proj.weight", (long) nKv * dh, d, 0.2);
            b.matrix(p + "self_attn.o_proj.weight", d, (long) nH * dh, 0.2);
            b.put(p + "post_attention_layernorm.weight", 0, 0.1, d);
            b.put(p + "pre_feedforward_layernorm.weight", 0, 0.1, d);
            b.matrix(p + "mlp.gate_proj.weight", ff, d, 0.6).matrix(p + "mlp.up_proj.weight", ff, d, 0.6).matrix(p + "mlp.down_proj.weight", d, ff, 0.2);
            b.put(p + "post_feedforward_layernorm.weight", 0, 0.1, d);
        }
        b.put("model.norm.weight", 0, 0.1, d);
        return b.write(dir);
    }

    /** GPT-NeoX (Pythia layout): 2 layers, d_model 32, 4 heads (d_head 8), rotary on 4 of 8 dims, vocab 53. */
    public static HfOracle.HfModel neox(Path dir, long seed, boolean parallel, DType storage) { return neox(dir, seed, parallel, storage, 53); }

    /** As above with a given vocabulary size (Pythia's real tokenizer needs 50304 rows). */
    public static HfOracle.HfModel neox(Path dir, long seed, boolean parallel, DType storage, int V) {
        int d = 32, nH = 4, ff = 64, L = 2;
        Builder b = new Builder(seed, storage);
        b.config.putArray("architectures").add("GPTNeoXForCausalLM");
        b.config.put("model_type", "gpt_neox").put("hidden_size", d).put("num_attention_heads", nH).put("num_hidden_layers", L)
            .put("intermediate_size", ff).put("vocab_size", V).put("max_position_embeddings", 32).put("layer_norm_eps", 1e-5)
            .put("rotary_pct", 0.5).put("rotary_emb_base", 10000).put("use_parallel_residual", parallel)
            .put("hidden_act", "gelu").put("tie_word_embeddings", false).put("bos_token_id", 0).put("eos_token_id", 0);
        b.put("gpt_neox.embed_in.weight", 0, 0.5, V, d);
        for (int l = 0; l < L; l++) {
            String p = "gpt_neox.layers." + l + ".";
            b.normWeight(p + "input_layernorm.weight", d).bias(p + "input_layernorm.bias", d);
            b.matrix(p + "attention.query_key_value.weight", 3L * d, d, 0.6).bias(p + "attention.query_key_value.bias", 3L * d);
            b.matrix(p + "attention.dense.weight", d, d, 0.2).bias(p + "attention.dense.bias", d);
            b.normWeight(p + "post_attention_layernorm.weight", d).bias(p + "post_attention_layernorm.bias", d);
            b.matrix(p + "mlp.dense_h_to_4h.weight", ff, d, 0.6).bias(p + "mlp.dense_h_to_4h.bias", ff);
            b.matrix(p + "mlp.dense_4h_to_h.weight", d, ff, 0.2).bias(p + "mlp.dense_4h_to_h.bias", d);
        }
        b.normWeight("gpt_neox.final_layer_norm.weight", d).bias("gpt_neox.final_layer_norm.bias", d);
        b.matrix("embed_out.weight", V, d, 1.0);
        return b.write(dir);
    }
}
