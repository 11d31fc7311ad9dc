package dev.lens4j.load;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Gemma 2 ({@code model_type: gemma2}): Gemma's mapping ({@link GemmaFamily}: 1 + w norms, sqrt(d_model) folded into
 * W_E, tied unscaled W_U, GeGLU) plus TransformerLens's Gemma 2 names: HF's post_attention_layernorm is TL's ln1_post,
 * pre_feedforward_layernorm is ln2 and post_feedforward_layernorm is ln2_post; attention scale
 * query_pre_attn_scalar^-0.5 (TL's attn_scale = sqrt(query_pre_attn_scalar)); attention-logit and final-logit
 * soft-capping; fields missing from config.json take Gemma2Config's defaults (256, 50, 30, 4096); sliding-window attention of sliding_window keys on the layers HF makes sliding: layer_types when the
 * config lists them, else the even layers (HF's is_sliding = not layer_idx % 2). TransformerLens 2.12 hard-codes the
 * opposite order (local on odd layers); lens4j follows the checkpoint's semantics, HF's. Prompts no longer than the
 * window cannot tell the two apart.
 */
final class Gemma2Family {
    static final String MODEL_TYPE = "gemma2";

    private Gemma2Family() {}

    static void configure(Config c, HfFields f) {
        GemmaFamily.configure(c, f);
        c.originalArchitecture = f.architecture("Gemma2ForCausalLM");
        // a missing field means Gemma2Config's default, an explicit null switches the feature off (as in HF)
        c.attnScale = Math.sqrt(f.positiveNumber("query_pre_attn_scalar", 256));
        c.attnScoresSoftCap = orDefault(f, "attn_logit_softcapping", 50.0);
        c.outputLogitsSoftCap = orDefault(f, "final_logit_softcapping", 30.0);
        c.useNormalizationBeforeAndAfter = true;
        List<String> types = f.layerTypes(c.nLayers);
        if (types == null) {
            types = new ArrayList<>();
            for (int l = 0; l < c.nLayers; l++) types.add(l % 2 == 0 ? "local" : "global");
        }
        if (!f.has("sliding_window") || f.present("sliding_window")) {
            c.useLocalAttn = true;
            c.windowSize = f.positiveInt("sliding_window", 4096);
            c.attnTypes = types;
        }
    }

    private static double orDefault(HfFields f, String key, double hfDefault) {
        if (!f.has(key)) return hfDefault;
        return f.present(key) ? f.positiveNumber(key) : -1;
    }

    static void load(Config c, JsonNode hf, HfCheckpoint.Source src, Weights w, LoadStages parts) {
        String p = src.has("model.embed_tokens.weight") ? "model." : "";
        int d = c.dModel;
        // after Gemma's changes to each block, ln2.w holds post_attention_layernorm (Llama's name for the MLP's norm)
        GemmaFamily.load(c, hf, src, w, new LoadStages(parts) {
            @Override void layer(Weights w, int l) {
                String h = p + "layers." + l + ".";
                w.put("blocks." + l + ".ln1_post.w", w.remove(Weights.ln(l, 2, "w")));
                w.put(Weights.ln(l, 2, "w"), onePlus(src.read(h + "pre_feedforward_layernorm.weight", d)));
                w.put("blocks." + l + ".ln2_post.w", onePlus(src.read(h + "post_feedforward_layernorm.weight", d)));
                super.layer(w, l);
            }
        });
    }

    /** Gemma's RMSNorm multiplies by (1 + w): TL stores 1 + w. */
    private static Tensor onePlus(Tensor t) {
        NativeFloats b = NativeFloats.of(t);
        for (long i = 0; i < b.size(); i++) b.put(i, 1 + b.get(i));
        return t;
    }
}
