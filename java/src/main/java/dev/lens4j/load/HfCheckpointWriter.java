package dev.lens4j.load;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes canonical weights as a Hugging Face checkpoint directory (config.json + model.safetensors) that
 * {@link HfCheckpoint} and transformers both load: the inverse of the loader's mapping. Weights whose norms were folded
 * (LNPre / RMSPre) are written with unit norm weights and zero norm biases, which computes the same function.
 */
public final class HfCheckpointWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private HfCheckpointWriter() {}

    public static void writeGpt2(Checkpoint ckpt, Path dir) { writeGpt2(ckpt, dir, DType.F32); }

    /** GPT-2 (GPT2LMHeadModel): needs LayerNorm, learned positions, no gated MLP, and b_U = 0 (GPT-2's head has no bias). */
    public static void writeGpt2(Checkpoint ckpt, Path dir, DType storage) {
        Config c = ckpt.config();
        Weights w = ckpt.weights();
        require(c.isLayerNorm() && !c.isRotary() && !c.gatedMlp && c.nKvHeads() == c.nHeads && !c.attnOnly,
            "writeGpt2 needs a GPT-2-shaped model (LayerNorm, learned positions, plain MLP, no GQA), got " + c.normalizationType
                + "/" + c.positionalEmbeddingType + (c.gatedMlp ? "/gated" : ""));
        require(WeightProcessing.allZero(w.b_U()), "GPT-2 has no unembedding bias, but b_U is non-zero");
        int d = c.dModel, n = c.nHeads, dh = c.dHead;
        Map<String, Tensor> out = new LinkedHashMap<>();
        try {
            String p = "transformer.";
            out.put(p + "wte.weight", w.W_E().copy());
            out.put(p + "wpe.weight", w.W_pos().copy());
            for (int l = 0; l < c.nLayers; l++) {
                String h = p + "h." + l + ".";
                out.put(h + "ln_1.weight", normWeight(w, Weights.ln(l, 1, "w"), d));
                out.put(h + "ln_1.bias", normBias(w, Weights.ln(l, 1, "b"), d));
                Tensor qkv = Tensor.zeros(d, 3L * d);
                out.put(h + "attn.c_attn.weight", qkv);
                Tensor[] mats = {w.W_Q(l), w.W_K(l), w.W_V(l)};
                for (int k = 0; k < 3; k++)
                    HostMemory.strided(HostMemory.floats(mats[k]), 0, new long[] {(long) d * dh, dh, 1},
                        HostMemory.floats(qkv), (long) k * d, new long[] {dh, 3L * d, 1}, new int[] {n, d, dh});
                Tensor qkvb = Tensor.zeros(3L * d);
                out.put(h + "attn.c_attn.bias", qkvb);
                Tensor[] bs = {w.b_Q(l), w.b_K(l), w.b_V(l)};
                for (int k = 0; k < 3; k++) HostMemory.floats(qkvb).put(k * d, HostMemory.floats(bs[k]), 0, d);
                out.put(h + "attn.c_proj.weight", reshaped(w.W_O(l), d, d));
                out.put(h + "attn.c_proj.bias", w.b_O(l).copy());
                out.put(h + "ln_2.weight", normWeight(w, Weights.ln(l, 2, "w"), d));
                out.put(h + "ln_2.bias", normBias(w, Weights.ln(l, 2, "b"), d));
                out.put(h + "mlp.c_fc.weight", w.W_in(l).copy());
                out.put(h + "mlp.c_fc.bias", w.b_in(l).copy());
                out.put(h + "mlp.c_proj.weight", w.W_out(l).copy());
                out.put(h + "mlp.c_proj.bias", w.b_out(l).copy());
            }
            out.put(p + "ln_f.weight", normWeight(w, "ln_final.w", d));
            out.put(p + "ln_f.bias", normBias(w, "ln_final.b", d));
            boolean tied = isTransposeOf(w.W_U(), w.W_E());
            if (!tied) out.put("lm_head.weight", HostMemory.transpose(w.W_U()));

            ObjectNode cfg = JSON.createObjectNode();
            cfg.putArray("architectures").add("GPT2LMHeadModel");
            cfg.put("model_type", "gpt2");
            cfg.put("n_embd", d).put("n_layer", c.nLayers).put("n_head", n).put("n_positions", c.nCtx).put("n_ctx", c.nCtx);
            cfg.put("n_inner", c.dMlp).put("vocab_size", c.dVocab).put("layer_norm_epsilon", c.eps);
            cfg.put("activation_function", c.actFn).put("tie_word_embeddings", tied);
            cfg.put("resid_pdrop", 0.0).put("embd_pdrop", 0.0).put("attn_pdrop", 0.0);
            cfg.put("bos_token_id", c.dVocab - 1).put("eos_token_id", c.dVocab - 1);
            cfg.put("torch_dtype", torchDtype(storage));
            write(dir, cfg, out, storage, c);
        } finally {
            for (Tensor t : out.values()) t.close();
        }
    }

    public static void writeLlama(Checkpoint ckpt, Path dir) { writeLlama(ckpt, dir, DType.F32); }

    /**
     * Llama (LlamaForCausalLM). Models with adjacent-pair rotary (llama2.c, {@code rotaryAdjacentPairs}) get their q/k
     * features permuted within each head into HF's rotate-half order (the inverse of the permute in HF's
     * convert_llama_weights_to_hf): HF feature p*d_head/2 + j holds adjacent feature 2j + p. Attention biases are written
     * (attention_bias=true) only when non-zero; MLP biases and b_U must be zero.
     */
    public static void writeLlama(Checkpoint ckpt, Path dir, DType storage) {
        Config c = ckpt.config();
        Weights w = ckpt.weights();
        require(c.isRms() && c.isRotary() && c.gatedMlp && !c.attnOnly && "silu".equals(c.actFn) && c.rotaryDim() == c.dHead,
            "writeLlama needs a Llama-shaped model (RMSNorm, full-width rotary, SwiGLU)");
        require(WeightProcessing.allZero(w.b_U()), "Llama has no unembedding bias, but b_U is non-zero");
        int d = c.dModel, n = c.nHeads, kv = c.nKvHeads(), dh = c.dHead, f = c.dMlp;
        boolean attnBias = false;
        for (int l = 0; l < c.nLayers; l++) {
            require(WeightProcessing.allZero(w.b_in(l)) && WeightProcessing.allZero(w.b_out(l)), "layer " + l + ": Llama has no MLP biases, but b_in/b_out are non-zero");
            attnBias |= !(WeightProcessing.allZero(w.b_Q(l)) && WeightProcessing.allZero(w.b_K(l))
                && WeightProcessing.allZero(w.b_V(l)) && WeightProcessing.allZero(w.b_O(l)));
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        try {
            out.put("model.embed_tokens.weight", w.W_E().copy());
            for (int l = 0; l < c.nLayers; l++) {
                String h = "model.layers." + l + ".";
                out.put(h + "input_layernorm.weight", normWeight(w, Weights.ln(l, 1, "w"), d));
                out.put(h + "self_attn.q_proj.weight", rowsFromHeads(w.W_Q(l), c.rotaryAdjacentPairs));
                out.put(h + "self_attn.k_proj.weight", rowsFromHeads(w.W_K(l), c.rotaryAdjacentPairs));
                out.put(h + "self_attn.v_proj.weight", rowsFromHeads(w.W_V(l), false));
                out.put(h + "self_attn.o_proj.weight", HostMemory.transpose(w.W_O(l).reshape((long) n * dh, d)));
                if (attnBias) {
                    out.put(h + "self_attn.q_proj.bias", headBias(w.b_Q(l), c.rotaryAdjacentPairs));
                    out.put(h + "self_attn.k_proj.bias", headBias(w.b_K(l), c.rotaryAdjacentPairs));
                    out.put(h + "self_attn.v_proj.bias", headBias(w.b_V(l), false));
                    out.put(h + "self_attn.o_proj.bias", w.b_O(l).copy());
                }
                out.put(h + "post_attention_layernorm.weight", normWeight(w, Weights.ln(l, 2, "w"), d));
                out.put(h + "mlp.gate_proj.weight", HostMemory.transpose(w.W_gate(l)));
                out.put(h + "mlp.up_proj.weight", HostMemory.transpose(w.W_in(l)));
                out.put(h + "mlp.down_proj.weight", HostMemory.transpose(w.W_out(l)));
            }
            out.put("model.norm.weight", normWeight(w, "ln_final.w", d));
            boolean tied = isTransposeOf(w.W_U(), w.W_E());
            if (!tied) out.put("lm_head.weight", HostMemory.transpose(w.W_U()));

            ObjectNode cfg = JSON.createObjectNode();
            cfg.putArray("architectures").add("LlamaForCausalLM");
            cfg.put("model_type", "llama");
            cfg.put("hidden_size", d).put("intermediate_size", f).put("num_hidden_layers", c.nLayers);
            cfg.put("num_attention_heads", n).put("num_key_value_heads", kv).put("head_dim", dh);
            cfg.put("rms_norm_eps", c.eps).put("rope_theta", c.rotaryBase).put("max_position_embeddings", c.nCtx);
            cfg.put("vocab_size", c.dVocab).put("tie_word_embeddings", tied).put("hidden_act", "silu");
            cfg.put("attention_bias", attnBias).put("mlp_bias", false).putNull("rope_scaling");
            cfg.put("bos_token_id", 1).put("eos_token_id", 2);
            cfg.put("torch_dtype", torchDtype(storage));
            write(dir, cfg, out, storage, c);
        } finally {
            for (Tensor t : out.values()) t.close();
        }
    }

    /** [n, m, h] -> [(n h), m], optionally moving adjacent rotary pairs to rotate-half order within each head. */
    private static Tensor rowsFromHeads(Tensor wt, boolean adjacentToHalf) {
        long n = wt.size(0), m = wt.size(1), dh = wt.size(2);
        Tensor src = adjacentToHalf ? adjacentToRotateHalf(wt) : wt;
        try {
            Tensor out = Tensor.zeros(n * dh, m);
            HostMemory.strided(HostMemory.floats(src), 0, new long[] {m * dh, 1, dh},
                HostMemory.floats(out), 0, new long[] {dh * m, m, 1}, new int[] {(int) n, (int) dh, (int) m});
            return out;
        } finally {
            if (src != wt) src.close();
        }
    }

    private static Tensor headBias(Tensor b, boolean adjacentToHalf) {
        Tensor flat = Tensor.zeros(b.numel());
        if (adjacentToHalf) { try (Tensor p = adjacentToRotateHalf(b)) { flat.copyFrom(p); } }
        else flat.copyFrom(b);
        return flat;
    }

    /**
     * Reorders the last dimension (d_head, even) of any [..., d_head] tensor from adjacent pairs (2j, 2j+1) to
     * rotate-half pairs (j, j + d_head/2): out[..., p*d_head/2 + j] = in[..., 2j + p]. A new tensor.
     */
    public static Tensor adjacentToRotateHalf(Tensor t) {
        long dh = t.size(-1);
        if (dh % 2 != 0) throw new IllegalArgumentException("d_head must be even for rotary, got " + dh + " in " + t.describe());
        long rows = t.numel() / dh, half = dh / 2;
        Tensor out = Tensor.zeros(t.shape());
        HostMemory.strided(HostMemory.floats(t), 0, new long[] {dh, 1, 2},
            HostMemory.floats(out), 0, new long[] {dh, half, 1}, new int[] {(int) rows, 2, (int) half});
        return out;
    }

    private static Tensor normWeight(Weights w, String name, int d) {
        Tensor t = w.getOrNull(name);
        if (t != null) return t.copy();
        float[] ones = new float[d];
        java.util.Arrays.fill(ones, 1f);
        return Tensor.of(ones, d);
    }

    private static Tensor normBias(Weights w, String name, int d) {
        Tensor t = w.getOrNull(name);
        return t != null ? t.copy() : Tensor.zeros(d);
    }

    private static Tensor reshaped(Tensor t, long... shape) {
        Tensor out = Tensor.zeros(shape);
        out.copyFrom(t);
        return out;
    }

    /** Exactly W_U = W_E^T: then the checkpoint is written with tied embeddings and no lm_head. */
    static boolean isTransposeOf(Tensor wu, Tensor we) {
        if (wu.rank() != 2 || we.rank() != 2 || wu.size(0) != we.size(1) || wu.size(1) != we.size(0)) return false;
        try (Tensor t = HostMemory.transpose(we)) { return HfCheckpoint.sameValues(wu, t); }
    }

    private static String torchDtype(DType storage) {
        return switch (storage) {
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            default -> throw new IllegalArgumentException("weights are stored as F32, F16 or BF16, not " + storage);
        };
    }

    private static void write(Path dir, ObjectNode cfg, Map<String, Tensor> tensors, DType storage, Config c) {
        try {
            Files.createDirectories(dir);
            cfg.put("_name_or_path", c.modelName);
            RegularFiles.writeString(dir.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(cfg));
        } catch (IOException | java.io.UncheckedIOException e) {
            throw new CheckpointException(dir + ": cannot write config.json: " + e, e);
        }
        SafeTensors.write(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"), storage);
    }

    private static void require(boolean ok, String msg) { if (!ok) throw new IllegalArgumentException(msg); }
}
