package dev.lens4j.load;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;

/**
 * Qwen2 / Qwen2.5 ({@code model_type: qwen2}) as TransformerLens's convert_qwen2_weights maps it: Llama's block (RMSNorm,
 * rotate-half rotary over the whole head, grouped-query attention, SwiGLU) with q/k/v biases and no o_proj bias,
 * embeddings tied or untied as tie_word_embeddings says. Sliding-window attention (use_sliding_window) is refused.
 * <p>Differs from TL: Qwen's tokenizer has no BOS token; TL keeps default_prepend_bos and prepends the EOS token
 * (&lt;|endoftext|&gt;) in its place, while lens4j's tokenizers have no such substitute, so Qwen2 models here do not
 * prepend BOS by default (pass the EOS id yourself to reproduce TL's tokens).
 */
final class Qwen2Family {
    static final String MODEL_TYPE = "qwen2";

    private Qwen2Family() {}

    static void configure(Config c, HfFields f) {
        c.originalArchitecture = f.architecture("Qwen2ForCausalLM");
        f.readLlamaShape(c);
        f.readKeyValueHeads(c);
        if (!f.present("head_dim") && c.dModel % c.nHeads != 0)
            throw f.error("hidden_size " + c.dModel + " is not a multiple of num_attention_heads " + c.nHeads);
        c.dHead = f.positiveInt("head_dim", c.dModel / c.nHeads);
        c.eps = f.positiveNumber("rms_norm_eps", 1e-6);
        c.rotaryBase = f.positiveNumber("rope_theta", 10000);
        c.actFn = f.text("hidden_act", "silu");
        if (f.bool("use_sliding_window", false)) throw f.error("use_sliding_window=true is not supported for qwen2");
        RopeScaling.configure(c, f);
        c.normalizationType = "RMS";
        c.positionalEmbeddingType = "rotary";
        c.rotaryDim = c.dHead;
        c.rotaryAdjacentPairs = false;
        c.gatedMlp = true;
        c.finalRms = true;
        c.defaultPrependBos = false; // see the class comment: TL would prepend EOS as BOS
    }

    static void load(Config c, HfFields f, JsonNode hf, HfCheckpoint.Source src, Weights w, LoadStages parts) {
        // Qwen2's attention always has q/k/v biases: a file without them is not a Qwen2 checkpoint
        String p = src.has("model.embed_tokens.weight") ? "model." : "";
        for (int l = 0; l < c.nLayers; l++)
            for (String x : new String[] {"q", "k", "v"}) {
                String name = p + "layers." + l + ".self_attn." + x + "_proj.bias";
                if (!src.has(name)) throw new CheckpointException(f.file().getParent() + ": missing weight '" + name + "' (Qwen2 has q/k/v biases)");
            }
        HfCheckpoint.loadLlama(c, hf, src, w, true, false, parts);
    }
}
