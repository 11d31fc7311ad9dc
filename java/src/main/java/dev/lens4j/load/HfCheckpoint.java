package dev.lens4j.load;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Loads a Hugging Face checkpoint directory (config.json plus model.safetensors, or shards listed in
 * model.safetensors.index.json) into TransformerLens's config and canonical weights, as TL's
 * convert_hf_model_config and convert_gpt2_weights / convert_llama_weights do. F32, F16 and BF16 files all load as F32,
 * or with {@code LoadOptions.dtype(BF16)} with the matrices in bf16, processed and rounded part by part ({@link Bf16Parts}).
 * Loaders read the embedding, then the unembedding, then the blocks, handing each part to {@link LoadStages} when complete.
 * <p>Families: {@code gpt2}; {@code gpt_neox} ({@link NeoxFamily}); {@code qwen2} ({@link Qwen2Family}); {@code gemma} ({@link GemmaFamily}); {@code gemma2} ({@link Gemma2Family}); {@code llama} (rope_scaling "llama3": {@link RopeScaling}) and {@code mistral} (sliding_window on every layer, as HF masks it).
 */
public final class HfCheckpoint {
    public static final List<String> SUPPORTED_MODEL_TYPES = List.of("gpt2", "llama", "mistral", NeoxFamily.MODEL_TYPE, Qwen2Family.MODEL_TYPE, GemmaFamily.MODEL_TYPE, Gemma2Family.MODEL_TYPE);

    // one object per file: trailing text or a repeated key (two values for one field) is an error, not a guess
    private static final ObjectMapper JSON = new ObjectMapper()
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private HfCheckpoint() {}

    public static Checkpoint load(Path dir) { return load(dir, LoadOptions.defaults()); }

    public static Checkpoint load(Path dir, LoadOptions options) {
        JsonNode hf = readConfigJson(dir);
        Config cfg = configFrom(dir, hf);
        WeightBudget.requireFits(dir, cfg, options.dtype()); // before anything is allocated
        Weights w = new Weights();
        LoadStages parts = LoadStages.of(dir, cfg, options); // checks and processes the weights (bf16: part by part)
        try (Source src = Source.open(dir)) {
            switch (modelType(dir, hf)) {
                case "gpt2" -> loadGpt2(cfg, hf, src, w, parts);
                case NeoxFamily.MODEL_TYPE -> NeoxFamily.load(cfg, new HfFields(dir.resolve("config.json"), hf), src, w, parts);
                case Qwen2Family.MODEL_TYPE -> Qwen2Family.load(cfg, new HfFields(dir.resolve("config.json"), hf), hf, src, w, parts);
                case GemmaFamily.MODEL_TYPE -> GemmaFamily.load(cfg, hf, src, w, parts);
                case Gemma2Family.MODEL_TYPE -> Gemma2Family.load(cfg, hf, src, w, parts);
                default -> loadLlama(cfg, hf, src, w, parts);
            }
            parts.finish(w);
            return new Checkpoint(cfg, w);
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    /** The TransformerLens config of a checkpoint directory, without reading any weights. */
    public static Config readConfig(Path dir) { return configFrom(dir, readConfigJson(dir)); }

    // ---------------------------------------------------------------- config

    static JsonNode readConfigJson(Path dir) {
        Path f = dir.resolve("config.json");
        if (!Files.isDirectory(dir)) throw new CheckpointException(dir + ": no such checkpoint directory");
        if (!Files.exists(f)) throw new CheckpointException(f + ": missing (a Hugging Face checkpoint directory has a config.json)");
        RegularFiles.requireInput(f, problem -> new CheckpointException(f + ": " + problem));
        try {
            JsonNode n = JSON.readTree(f.toFile());
            if (n == null || !n.isObject()) throw new CheckpointException(f + ": not a JSON object");
            return n;
        } catch (IOException e) {
            throw new CheckpointException(f + ": not valid JSON: " + JsonErrors.describe(e), e);
        }
    }

    private static String modelType(Path dir, JsonNode hf) {
        JsonNode t = hf.get("model_type");
        if (t == null || !t.isTextual())
            throw new CheckpointException(dir.resolve("config.json") + ": no model_type (supported: " + String.join(", ", SUPPORTED_MODEL_TYPES) + ")");
        String s = t.asText();
        if (!SUPPORTED_MODEL_TYPES.contains(s))
            throw new CheckpointException(dir.resolve("config.json") + ": unsupported model_type '" + s + "' (supported: "
                + String.join(", ", SUPPORTED_MODEL_TYPES) + ")");
        return s;
    }

    static Config configFrom(Path dir, JsonNode hf) {
        String type = modelType(dir, hf);
        Path f = dir.resolve("config.json");
        Config c = new Config();
        c.modelName = text(f, hf, "_name_or_path", dir.getFileName() == null ? dir.toString() : dir.getFileName().toString());
        if (c.modelName.isEmpty()) c.modelName = String.valueOf(dir.getFileName());
        c.tokenizerName = Files.isRegularFile(dir.resolve("tokenizer.json")) ? dir.toString() : text(f, hf, "_name_or_path", null);
        if (type.equals(NeoxFamily.MODEL_TYPE)) {
            NeoxFamily.configure(c, new HfFields(f, hf));
        } else if (type.equals(Qwen2Family.MODEL_TYPE)) {
            Qwen2Family.configure(c, new HfFields(f, hf));
        } else if (type.equals(GemmaFamily.MODEL_TYPE)) {
            GemmaFamily.configure(c, new HfFields(f, hf));
        } else if (type.equals(Gemma2Family.MODEL_TYPE)) {
            Gemma2Family.configure(c, new HfFields(f, hf));
        } else if (type.equals("gpt2")) {
            c.originalArchitecture = "GPT2LMHeadModel";
            c.dModel = reqInt(f, hf, "n_embd");
            c.nLayers = reqInt(f, hf, "n_layer");
            c.nHeads = reqInt(f, hf, "n_head");
            // HF reads n_positions; n_ctx is its older name, so two different values leave the context length unclear
            Integer nPositions = optInt(f, hf, "n_positions"), nCtx = optInt(f, hf, "n_ctx");
            if (nPositions == null && nCtx == null) throw new CheckpointException(f + ": missing 'n_positions'");
            if (nPositions != null && nCtx != null && !nPositions.equals(nCtx))
                throw new CheckpointException(f + ": 'n_positions' (" + nPositions + ") and 'n_ctx' (" + nCtx + ") contradict each other");
            c.nCtx = nPositions != null ? nPositions : nCtx;
            c.dVocab = reqInt(f, hf, "vocab_size");
            c.eps = positive(f, hf, "layer_norm_epsilon", 1e-5);
            c.actFn = activation(f, hf, "activation_function", "gelu_new");
            Integer inner = optInt(f, hf, "n_inner");
            // 4 * n_embd in long: an n_embd of 2^29 would wrap to a negative int
            c.dMlp = inner != null ? inner : derivedInt(f, "n_embd", 4L * c.dModel, "4 * n_embd (the MLP width)");
            if (c.dModel % c.nHeads != 0)
                throw new CheckpointException(f + ": n_embd " + c.dModel + " is not a multiple of n_head " + c.nHeads);
            c.dHead = c.dModel / c.nHeads;
            c.normalizationType = "LN";
            c.positionalEmbeddingType = "standard";
            if (bool(f, hf, "scale_attn_by_inverse_layer_idx", false))
                throw new CheckpointException(f + ": scale_attn_by_inverse_layer_idx=true is not supported");
            if (bool(f, hf, "reorder_and_upcast_attn", false))
                throw new CheckpointException(f + ": reorder_and_upcast_attn=true is not supported");
            bool(f, hf, "tie_word_embeddings", true);
        } else {
            JsonNode arch = hf.get("architectures");
            if (arch != null && !arch.isNull() && !(arch.isArray() && (arch.isEmpty() || arch.get(0).isTextual())))
                throw new CheckpointException(f + ": 'architectures' must be a list of class names, got " + arch);
            c.originalArchitecture = hf.path("architectures").path(0).asText(type.equals("mistral") ? "MistralForCausalLM" : "LlamaForCausalLM");
            c.dModel = reqInt(f, hf, "hidden_size");
            c.nLayers = reqInt(f, hf, "num_hidden_layers");
            c.nHeads = reqInt(f, hf, "num_attention_heads");
            Integer kvHeads = optInt(f, hf, "num_key_value_heads");
            int kv = kvHeads != null ? kvHeads : c.nHeads;
            if (c.nHeads % kv != 0)
                throw new CheckpointException(f + ": num_attention_heads " + c.nHeads + " is not a multiple of num_key_value_heads " + kv);
            // TL keeps n_key_value_heads None (plain W_K names) when every query head has its own kv head
            c.nKeyValueHeads = kv == c.nHeads ? null : kv;
            c.dMlp = reqInt(f, hf, "intermediate_size");
            c.dVocab = reqInt(f, hf, "vocab_size");
            c.nCtx = reqInt(f, hf, "max_position_embeddings");
            Integer headDim = optInt(f, hf, "head_dim");
            if (headDim == null && c.dModel % c.nHeads != 0)
                throw new CheckpointException(f + ": hidden_size " + c.dModel + " is not a multiple of num_attention_heads " + c.nHeads);
            c.dHead = headDim != null ? headDim : c.dModel / c.nHeads;
            if (c.dHead % 2 != 0) throw new CheckpointException(f + ": the head size (" + (headDim != null ? "head_dim" : "hidden_size / num_attention_heads")
                + " = " + c.dHead + ") must be even for rotary embeddings");
            c.eps = positive(f, hf, "rms_norm_eps", 1e-6);
            c.rotaryBase = positive(f, hf, "rope_theta", 10000);
            c.actFn = activation(f, hf, "hidden_act", "silu");
            RopeScaling.configure(c, new HfFields(f, hf));
            if (type.equals("mistral")) mistralWindow(c, f, hf);
            if (bool(f, hf, "mlp_bias", false)) throw new CheckpointException(f + ": mlp_bias=true is not supported");
            bool(f, hf, "attention_bias", false);
            bool(f, hf, "tie_word_embeddings", false);
            c.normalizationType = "RMS";
            c.positionalEmbeddingType = "rotary";
            c.rotaryDim = c.dHead;
            c.rotaryAdjacentPairs = false; // HF stores q/k permuted for rotate-half
            c.gatedMlp = true;
            c.finalRms = true;
        }
        try {
            return c.validate();
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(f + ": " + e.getMessage(), e);
        }
    }

    /**
     * Mistral's sliding_window (null or absent: full causal attention): every layer's queries see the window's latest
     * keys, themselves included, as HF masks keys j <= i - sliding_window.
     */
    private static void mistralWindow(Config c, Path f, JsonNode hf) {
        JsonNode w = hf.get("sliding_window");
        if (w == null || w.isNull()) return;
        if (!w.canConvertToInt() || !w.isIntegralNumber() || w.asInt() <= 0)
            throw new CheckpointException(f + ": 'sliding_window' must be a positive integer or null, got " + w);
        c.useLocalAttn = true;
        c.windowSize = w.asInt();
        c.attnTypes = new java.util.ArrayList<>(java.util.Collections.nCopies(c.nLayers, "local"));
    }

    /** Values of activation_function / hidden_act that lens4j runs (TL passes them through as act_fn). */
    static final List<String> SUPPORTED_ACTIVATIONS = List.of("relu", "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "silu");

    private static int reqInt(Path f, JsonNode hf, String key) {
        Integer v = optInt(f, hf, key);
        if (v == null) throw new CheckpointException(f + ": missing '" + key + "'");
        return v;
    }

    /** A positive int, or null when the key is absent or null. */
    private static Integer optInt(Path f, JsonNode hf, String key) {
        JsonNode v = hf.get(key);
        if (v == null || v.isNull()) return null;
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() <= 0)
            throw new CheckpointException(f + ": '" + key + "' must be a positive integer, got " + v);
        return v.asInt();
    }

    /** A size derived from a field, checked to fit an int (the field is named: its value is what is wrong). */
    private static int derivedInt(Path f, String key, long value, String what) {
        if (value > Integer.MAX_VALUE)
            throw new CheckpointException(f + ": '" + key + "' is too large: " + what + " would be " + value + ", over " + Integer.MAX_VALUE);
        return (int) value;
    }

    /** A finite number > 0 (epsilons, rope_theta): zero, negative or non-finite values give NaN or Inf logits. */
    private static double positive(Path f, JsonNode hf, String key, double def) {
        JsonNode v = hf.get(key);
        if (v == null || v.isNull()) return def;
        if (!v.isNumber()) throw new CheckpointException(f + ": '" + key + "' must be a number, got " + v);
        double d = v.asDouble();
        if (!Double.isFinite(d) || d <= 0) throw new CheckpointException(f + ": '" + key + "' must be a finite number > 0, got " + v);
        return d;
    }

    private static String activation(Path f, JsonNode hf, String key, String def) {
        JsonNode v = hf.get(key);
        if (v == null || v.isNull()) return def;
        if (!v.isTextual() || !SUPPORTED_ACTIVATIONS.contains(v.asText()))
            throw new CheckpointException(f + ": '" + key + "' must be one of " + String.join(", ", SUPPORTED_ACTIVATIONS) + ", got " + v);
        return v.asText();
    }

    private static boolean bool(Path f, JsonNode hf, String key, boolean def) {
        JsonNode v = hf.get(key);
        if (v == null || v.isNull()) return def;
        if (!v.isBoolean()) throw new CheckpointException(f + ": '" + key + "' must be true or false, got " + v);
        return v.asBoolean();
    }

    private static String text(Path f, JsonNode hf, String key, String def) {
        JsonNode v = hf.get(key);
        if (v == null || v.isNull()) return def;
        if (!v.isTextual()) throw new CheckpointException(f + ": '" + key + "' must be a string, got " + v);
        return v.asText();
    }

    // ---------------------------------------------------------------- GPT-2

    private static void loadGpt2(Config c, JsonNode hf, Source src, Weights w, LoadStages parts) {
        // hub files have bare names (h.0.attn...), save_pretrained writes transformer.h.0...
        String p = src.has("transformer.wte.weight") ? "transformer." : "";
        int d = c.dModel, n = c.nHeads, dh = c.dHead, f = c.dMlp;
        Tensor wte = src.read(p + "wte.weight", c.dVocab, d);
        w.put("embed.W_E", wte);
        boolean ownUnembed = !hf.path("tie_word_embeddings").asBoolean(true) && src.has("lm_head.weight");
        if (!ownUnembed) w.put("unembed.W_U", HostMemory.transpose(wte)); // before the embedding is processed
        w.put("pos_embed.W_pos", src.read(p + "wpe.weight", c.nCtx, d));
        parts.embed(w);
        if (ownUnembed) src.transposed(w, "unembed.W_U", "lm_head.weight", c.dVocab, d);
        w.put("ln_final.w", src.read(p + "ln_f.weight", d));
        w.put("ln_final.b", src.read(p + "ln_f.bias", d));
        w.put("unembed.b_U", Tensor.zeros(c.dVocabOut()));
        parts.unembed(w);
        for (int l = 0; l < c.nLayers; l++) {
            String h = p + "h." + l + ".";
            w.put(Weights.ln(l, 1, "w"), src.read(h + "ln_1.weight", d));
            w.put(Weights.ln(l, 1, "b"), src.read(h + "ln_1.bias", d));
            // Conv1D stores (in, out); columns [k d, (k+1) d) are Q, K, V, each 'm (i h) -> i m h'
            String[] wNames = {"W_Q", "W_K", "W_V"}, bNames = {"b_Q", "b_K", "b_V"};
            RowScatter.Target[] ws = new RowScatter.Target[3], bs = new RowScatter.Target[3];
            for (int k = 0; k < 3; k++) ws[k] = RowScatter.fusedColumns(Source.newWeight(w, Weights.attn(l, wNames[k]), n, d, dh), k, d, dh);
            for (int k = 0; k < 3; k++) bs[k] = RowScatter.fusedColumns(Source.newWeight(w, Weights.attn(l, bNames[k]), n, dh), k, d, dh);
            src.scatter(h + "attn.c_attn.weight", new long[] {d, 3L * d}, ws);
            src.scatter(h + "attn.c_attn.bias", new long[] {3L * d}, bs);
            w.put(Weights.attn(l, "W_O"), src.readAs(h + "attn.c_proj.weight", new long[] {d, d}, n, dh, d)); // '(i h) m -> i h m' is a reshape
            w.put(Weights.attn(l, "b_O"), src.read(h + "attn.c_proj.bias", d));
            w.put(Weights.ln(l, 2, "w"), src.read(h + "ln_2.weight", d));
            w.put(Weights.ln(l, 2, "b"), src.read(h + "ln_2.bias", d));
            w.put(Weights.mlp(l, "W_in"), src.read(h + "mlp.c_fc.weight", d, f));
            w.put(Weights.mlp(l, "b_in"), src.read(h + "mlp.c_fc.bias", f));
            w.put(Weights.mlp(l, "W_out"), src.read(h + "mlp.c_proj.weight", f, d));
            w.put(Weights.mlp(l, "b_out"), src.read(h + "mlp.c_proj.bias", d));
            parts.layer(w, l);
        }
    }

    // ---------------------------------------------------------------- Llama / Mistral

    static void loadLlama(Config c, JsonNode hf, Source src, Weights w, LoadStages parts) {
        // HF creates q/k/v/o biases only when attention_bias is true
        boolean attnBias = hf.path("attention_bias").asBoolean(false);
        loadLlama(c, hf, src, w, attnBias, attnBias, parts);
    }

    /** Llama's layout; qkvBias / oBias say which attention biases the architecture has (Qwen2: q/k/v only). */
    static void loadLlama(Config c, JsonNode hf, Source src, Weights w, boolean qkvBias, boolean oBias, LoadStages parts) {
        String p = src.has("model.embed_tokens.weight") ? "model." : "";
        int d = c.dModel, n = c.nHeads, kv = c.nKvHeads(), dh = c.dHead, f = c.dMlp;
        Tensor emb = src.read(p + "embed_tokens.weight", c.dVocab, d);
        w.put("embed.W_E", emb);
        // HF ties lm_head to embed_tokens when tie_word_embeddings is set, whatever the file holds
        boolean tied = hf.path("tie_word_embeddings").asBoolean(false);
        if (tied) w.put("unembed.W_U", HostMemory.transpose(emb)); // before the embedding is processed (Gemma scales it)
        parts.embed(w);
        if (!tied) src.transposed(w, "unembed.W_U", "lm_head.weight", c.dVocab, d);
        w.put("ln_final.w", src.read(p + "norm.weight", d));
        w.put("unembed.b_U", Tensor.zeros(c.dVocabOut()));
        parts.unembed(w);
        for (int l = 0; l < c.nLayers; l++) {
            String h = p + "layers." + l + ".";
            w.put(Weights.ln(l, 1, "w"), src.read(h + "input_layernorm.weight", d));
            headsFromRows(src, w, Weights.attn(l, "W_Q"), h + "self_attn.q_proj.weight", n, dh, d);
            headsFromRows(src, w, Weights.kvName(c, l, "W_K"), h + "self_attn.k_proj.weight", kv, dh, d);
            headsFromRows(src, w, Weights.kvName(c, l, "W_V"), h + "self_attn.v_proj.weight", kv, dh, d);
            w.put(Weights.attn(l, "b_Q"), bias(src, qkvBias, h + "self_attn.q_proj.bias", n, dh));
            w.put(Weights.kvName(c, l, "b_K"), bias(src, qkvBias, h + "self_attn.k_proj.bias", kv, dh));
            w.put(Weights.kvName(c, l, "b_V"), bias(src, qkvBias, h + "self_attn.v_proj.bias", kv, dh));
            // Linear stores (out, in): 'm (n h) -> n h m' is the transpose, viewed as [n, h, m]
            src.transposed(w, Weights.attn(l, "W_O"), h + "self_attn.o_proj.weight", d, (long) n * dh, n, dh, d);
            w.put(Weights.attn(l, "b_O"), bias(src, oBias, h + "self_attn.o_proj.bias", d));
            w.put(Weights.ln(l, 2, "w"), src.read(h + "post_attention_layernorm.weight", d));
            src.transposed(w, Weights.mlp(l, "W_in"), h + "mlp.up_proj.weight", f, d);
            src.transposed(w, Weights.mlp(l, "W_gate"), h + "mlp.gate_proj.weight", f, d);
            w.put(Weights.mlp(l, "b_in"), Tensor.zeros(f));
            src.transposed(w, Weights.mlp(l, "W_out"), h + "mlp.down_proj.weight", d, f);
            w.put(Weights.mlp(l, "b_out"), Tensor.zeros(d));
            parts.layer(w, l);
        }
    }

    /** q/k/v_proj [(n h), m] -> [n, m, h]. */
    private static void headsFromRows(Source src, Weights w, String weight, String name, int n, int dh, int d) {
        src.scatter(name, new long[] {(long) n * dh, d}, RowScatter.headsFromRows(Source.newWeight(w, weight, n, d, dh), dh, d));
    }

    /**
     * A bias of the given shape: read when the architecture has it (missing is an error), zeros when it does not; a bias
     * in the file that the config does not declare is an error, since HF would drop it without a word.
     */
    private static Tensor bias(Source src, boolean declared, String name, long... shape) {
        if (!declared) {
            if (src.has(name))
                throw new CheckpointException(src.dir + ": the checkpoint holds '" + name + "' but config.json has attention_bias false"
                    + " (Hugging Face would ignore it); set attention_bias to true to use the attention biases");
            return Tensor.zeros(shape);
        }
        return src.readAs(name, new long[] {Tensor.numel(shape)}, shape);
    }

    // ---------------------------------------------------------------- files

    /** The tensors of one checkpoint, from a single file or shards. */
    static final class Source implements AutoCloseable {
        private final Path dir;
        private final Map<String, SafeTensors> byName = new LinkedHashMap<>();
        private final Map<String, SafeTensors> files = new LinkedHashMap<>();

        private Source(Path dir) { this.dir = dir; }

        static Source open(Path dir) {
            Source s = new Source(dir);
            try {
                Path single = dir.resolve("model.safetensors");
                Path index = dir.resolve("model.safetensors.index.json");
                if (Files.exists(single)) {
                    SafeTensors st = s.file("model.safetensors");
                    for (String n : st.names()) s.byName.put(n, st);
                } else if (Files.exists(index)) {
                    s.openShards(index);
                } else {
                    throw new CheckpointException(dir + ": no model.safetensors or model.safetensors.index.json"
                        + " (PyTorch .bin checkpoints are not supported: convert them to safetensors)");
                }
                return s;
            } catch (RuntimeException e) {
                s.close();
                throw e;
            }
        }

        /** The shards a model.safetensors.index.json lists; every weight must be in exactly the one shard the index names. */
        private void openShards(Path index) {
            RegularFiles.requireInput(index, problem -> new CheckpointException(index + ": " + problem));
            JsonNode idx;
            try {
                idx = SafeTensors.parseHeader(index, Files.readAllBytes(index)); // the same strict UTF-8 JSON object rules
            } catch (IOException e) {
                throw new CheckpointException(index + ": cannot read: " + e, e);
            }
            JsonNode map = idx.get("weight_map");
            if (map == null || !map.isObject()) throw new CheckpointException(index + ": no weight_map object");
            for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode v = e.getValue();
                String fileName = v.isTextual() ? v.asText() : "";
                // shards are plain file names next to the index; anything else could read outside the checkpoint
                if (fileName.isEmpty() || fileName.contains("/") || fileName.contains("\\") || fileName.contains("\0")
                        || fileName.equals("..") || fileName.equals(".") || Path.of(fileName).isAbsolute())
                    throw new CheckpointException(index + ": tensor '" + e.getKey() + "' maps to an invalid shard name " + v
                        + " (a plain file name in " + dir + " is expected)");
                SafeTensors st = file(fileName);
                if (!st.has(e.getKey()))
                    throw new CheckpointException(index + ": tensor '" + e.getKey() + "' is listed in " + fileName + " but that shard does not hold it");
                byName.put(e.getKey(), st);
            }
            // and no shard holds a tensor the index does not send to it (a second copy, or one the index forgot)
            for (Map.Entry<String, SafeTensors> f : files.entrySet())
                for (String name : f.getValue().names())
                    if (byName.get(name) != f.getValue())
                        throw new CheckpointException(index + ": shard " + f.getKey() + " holds tensor '" + name + "', which the weight_map "
                            + (byName.containsKey(name) ? "puts in " + byName.get(name).path().getFileName() : "does not list"));
        }

        private SafeTensors file(String name) {
            return files.computeIfAbsent(name, k -> SafeTensors.open(dir.resolve(k)));
        }

        boolean has(String name) { return byName.containsKey(name); }

        /** A float tensor as F32, after checking it exists and has the shape the config implies. */
        Tensor read(String name, long... expected) { return readAs(name, expected, expected); }

        /** As {@link #read}, into a new weight of the given shape holding the same elements in the same order (a reshape). */
        Tensor readAs(String name, long[] expected, long... shape) {
            SafeTensors st = checked(name, expected);
            Tensor t = newWeight(shape);
            try {
                st.readInto(name, t);
                return t.named(name);
            } catch (RuntimeException e) {
                t.close();
                throw e;
            }
        }

        /** File tensor [rows, cols] transposed, straight into a new weight of w named weight (shape outShape, or [cols, rows]). */
        void transposed(Weights w, String weight, String name, long rows, long cols, long... outShape) {
            Tensor t = newWeight(w, weight, outShape.length == 0 ? new long[] {cols, rows} : outShape);
            scatter(name, new long[] {rows, cols}, RowScatter.transpose(t, rows, (int) cols));
        }

        /** Streams a file tensor, checked against its expected shape, into weights already allocated (and owned). */
        void scatter(String name, long[] expected, RowScatter.Target... targets) {
            RowScatter.scatter(checked(name, expected), name, (int) expected[expected.length - 1], targets);
        }

        /**
         * The one place a checkpoint tensor's native memory is allocated: every loader reads into tensors made here, in
         * their final TransformerLens layout, F32.
         */
        static Tensor newWeight(long... shape) { return Tensor.zeros(shape); }

        /** A new weight already owned by w under name, so a failed read frees it with w. */
        static Tensor newWeight(Weights w, String name, long... shape) {
            Tensor t = newWeight(shape);
            w.put(name, t);
            return t;
        }

        private SafeTensors checked(String name, long[] expected) {
            SafeTensors st = byName.get(name);
            if (st == null) throw new CheckpointException(dir + ": missing weight '" + name + "'");
            SafeTensors.Info i = st.info(name);
            if (!i.isFloat())
                throw new CheckpointException(st.path() + ": weight '" + name + "' has dtype " + i.dtype() + "; expected a float type (F32, F16, BF16)");
            if (!Arrays.equals(i.shape(), expected))
                throw new CheckpointException(st.path() + ": weight '" + name + "' has shape " + i.shapeString() + ", but config.json implies "
                    + Arrays.toString(expected));
            return st;
        }

        @Override public void close() {
            for (SafeTensors st : files.values()) st.close();
            files.clear();
        }
    }

    static boolean sameValues(Tensor a, Tensor b) {
        if (a.numel() != b.numel()) return false;
        NativeFloats x = NativeFloats.of(a), y = NativeFloats.of(b);
        for (long i = 0; i < x.size(); i++) if (Float.floatToRawIntBits(x.get(i)) != Float.floatToRawIntBits(y.get(i))) return false;
        return true;
    }
}
