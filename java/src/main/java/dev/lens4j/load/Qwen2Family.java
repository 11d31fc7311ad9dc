package dev.lens4j.load;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;

/**
 * Qwen2 / Qwen2.5 ({@code model_type: qwen2}) as TransformerLens's convert_qwen2_weights maps it: Llama's block (RMSNorm,
 * rotate-half rotary over the whole head, grouped-query attention, SwiGLU) with q/k/v biases and no o_proj bias,
 * embeddings tied or untied as tie_word_embeddings says. Sliding-window attention as HF's Qwen2Config sets it up: with
 * use_sliding_window, layers listed "sliding_attention" in layer_types (when absent: layers max_window_layers and up,
 * default 28) let each query see the sliding_window latest keys (default 4096), itself included.
 * <p>Differs from TL: TransformerLens 2.12 ignores Qwen2's sliding window (full causal attention on every layer);
 * lens4j follows the checkpoint, as Hugging Face runs it.
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
        slidingWindow(c, f);
        RopeScaling.configure(c, f);
        c.normalizationType = "RMS";
        c.positionalEmbeddingType = "rotary";
        c.rotaryDim = c.dHead;
        c.rotaryAdjacentPairs = false;
        c.gatedMlp = true;
        c.finalRms = true;
        c.defaultPrependBos = false; // see the class comment: TL would prepend EOS as BOS
    }

    /** HF: sliding_window counts only with use_sliding_window; layer_types, when absent, makes layers >= max_window_layers sliding. */
    private static void slidingWindow(Config c, HfFields f) {
        boolean use = f.bool("use_sliding_window", false);
        Integer window = use && (!f.has("sliding_window") || f.present("sliding_window")) ? f.positiveInt("sliding_window", 4096) : null;
        int firstSliding = f.nonNegativeInt("max_window_layers", 28);
        java.util.List<String> types = f.layerTypes(c.nLayers);
        if (types == null) {
            types = new java.util.ArrayList<>();
            for (int l = 0; l < c.nLayers; l++) types.add(window != null && l >= firstSliding ? "local" : "global");
        }
        if (!types.contains("local")) return;
        if (window == null)
            throw f.error("'layer_types' lists sliding_attention layers but there is no window (use_sliding_window is false or sliding_window null)");
        c.useLocalAttn = true;
        c.windowSize = window;
        c.attnTypes = types;
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
