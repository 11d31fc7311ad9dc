package dev.lens4j.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;


/**
 * Gemma ({@code model_type: gemma}) as TransformerLens's convert_gemma_weights maps it. The tensors are Llama's; what
 * differs is folded into the weights as TL does: Gemma's RMSNorm multiplies by (1 + w), so TL stores 1 + w; the
 * embeddings are scaled by sqrt(d_model) before the first block, so W_E holds embed * sqrt(d_model) while the tied
 * W_U stays the unscaled embed^T. The MLP is GeGLU (HF reads hidden_activation; gelu_pytorch_tanh when absent),
 * head_dim comes from the config (n_heads * d_head may differ from d_model), and the embeddings are tied.
 */
final class GemmaFamily {
    static final String MODEL_TYPE = "gemma";

    private GemmaFamily() {}

    static void configure(Config c, HfFields f) {
        c.originalArchitecture = f.architecture("GemmaForCausalLM");
        f.readLlamaShape(c);
        f.readKeyValueHeads(c);
        c.dHead = f.positiveInt("head_dim");
        c.eps = f.positiveNumber("rms_norm_eps", 1e-6);
        c.rotaryBase = f.positiveNumber("rope_theta", 10000);
        // HF's GemmaMLP uses hidden_activation; configs from before it existed meant the tanh approximation
        c.actFn = f.text("hidden_activation", "gelu_pytorch_tanh");
        if (f.present("rope_scaling")) throw f.error("rope_scaling " + f.node("rope_scaling") + " is not supported for gemma");
        if (f.bool("attention_bias", false)) throw f.error("attention_bias=true is not supported for gemma");
        c.normalizationType = "RMS";
        c.positionalEmbeddingType = "rotary";
        c.rotaryDim = c.dHead;
        c.rotaryAdjacentPairs = false;
        c.gatedMlp = true;
        c.finalRms = true;
    }

    static void load(Config c, JsonNode hf, HfCheckpoint.Source src, Weights w, LoadStages parts) {
        ObjectNode tiedByDefault = ((ObjectNode) hf).deepCopy();
        if (!tiedByDefault.hasNonNull("tie_word_embeddings")) tiedByDefault.put("tie_word_embeddings", true); // GemmaConfig's default
        HfCheckpoint.loadLlama(c, tiedByDefault, src, w, adjusted(c, parts)); // W_U is taken from the unscaled embedding there
    }

    /** Gemma's changes to each part, as it is handed over, before the next stage sees it. */
    private static LoadStages adjusted(Config c, LoadStages next) {
        return new LoadStages(next) {
            @Override void embed(Weights w) {
                scale(w.W_E(), 0, (float) Math.sqrt(c.dModel));
                super.embed(w);
            }

            @Override void unembed(Weights w) {
                scale(w.get("ln_final.w"), 1, 1);
                super.unembed(w);
            }

            @Override void layer(Weights w, int l) {
                scale(w.get(Weights.ln(l, 1, "w")), 1, 1);
                scale(w.get(Weights.ln(l, 2, "w")), 1, 1);
                super.layer(w, l);
            }
        };
    }

    /** t = offset + t * factor, elementwise (float32, as TL computes it). */
    private static void scale(Tensor t, float offset, float factor) {
        NativeFloats b = NativeFloats.of(t); // W_E may be over 2 GiB
        for (long i = 0; i < b.size(); i++) b.put(i, offset + b.get(i) * factor);
    }
}
