package dev.lens4j.load;

import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;

/**
 * GPT-NeoX / Pythia ({@code model_type: gpt_neox}) as TransformerLens's convert_neox_weights maps it: LayerNorm with
 * biases, rotate-half rotary on the first rotary_pct of each head, parallel attention and MLP when
 * use_parallel_residual (the default), untied embed_out. The fused query_key_value rows are per head:
 * [n_heads, 3 (q, k, v), d_head].
 */
final class NeoxFamily {
    static final String MODEL_TYPE = "gpt_neox";

    private NeoxFamily() {}

    static void configure(Config c, HfFields f) {
        c.originalArchitecture = f.architecture("GPTNeoXForCausalLM");
        f.readLlamaShape(c); // GPT-NeoX's config uses Llama's names for these
        if (c.dModel % c.nHeads != 0)
            throw f.error("hidden_size " + c.dModel + " is not a multiple of num_attention_heads " + c.nHeads);
        c.dHead = c.dModel / c.nHeads;
        c.eps = f.positiveNumber("layer_norm_eps", 1e-5);
        c.actFn = f.text("hidden_act", "gelu");
        c.normalizationType = "LN";
        c.positionalEmbeddingType = "rotary";
        c.rotaryAdjacentPairs = false;
        // newer transformers name these partial_rotary_factor and rope_theta
        String pctKey = f.present("rotary_pct") ? "rotary_pct" : "partial_rotary_factor";
        double pct = f.number(pctKey, 0.25);
        if (!(pct > 0 && pct <= 1)) throw f.error("'" + pctKey + "' must be in (0, 1], got " + pct);
        // HF's rotary_ndims = int(head_size * rotary_pct) (TL rounds instead; equal for every Pythia)
        c.rotaryDim = (int) (c.dHead * pct);
        if (c.rotaryDim < 2 || c.rotaryDim % 2 != 0)
            throw f.error("rotary dims int(d_head " + c.dHead + " * " + pctKey + " " + pct + ") = " + c.rotaryDim + " must be even and >= 2");
        c.rotaryBase = f.present("rope_theta") ? f.positiveNumber("rope_theta", 10000) : f.positiveNumber("rotary_emb_base", 10000);
        if (f.present("rope_scaling")) throw f.error("rope_scaling " + f.node("rope_scaling") + " is not supported for gpt_neox");
        c.parallelAttnMlp = f.bool("use_parallel_residual", true);
    }

    static void load(Config c, HfFields f, HfCheckpoint.Source src, Weights w, LoadStages parts) {
        String p = src.has("gpt_neox.embed_in.weight") ? "gpt_neox." : "";
        int d = c.dModel, n = c.nHeads, dh = c.dHead, ff = c.dMlp;
        Tensor emb = src.read(p + "embed_in.weight", c.dVocab, d);
        w.put("embed.W_E", emb);
        // GPT-NeoX unties embed_out unless the config says otherwise
        boolean tied = f.bool("tie_word_embeddings", false);
        if (tied) w.put("unembed.W_U", HostMemory.transpose(emb)); // before the embedding is processed
        parts.embed(w);
        if (!tied) src.transposed(w, "unembed.W_U", "embed_out.weight", c.dVocab, d);
        w.put("ln_final.w", src.read(p + "final_layer_norm.weight", d));
        w.put("ln_final.b", src.read(p + "final_layer_norm.bias", d));
        w.put("unembed.b_U", Tensor.zeros(c.dVocabOut()));
        parts.unembed(w);
        String[] wNames = {"W_Q", "W_K", "W_V"}, bNames = {"b_Q", "b_K", "b_V"};
        for (int l = 0; l < c.nLayers; l++) {
            String h = p + "layers." + l + ".";
            w.put(Weights.ln(l, 1, "w"), src.read(h + "input_layernorm.weight", d));
            w.put(Weights.ln(l, 1, "b"), src.read(h + "input_layernorm.bias", d));
            // Linear (out, in) with out = (head, qkv, e): W_X[head, m, e] = qkv[(head*3 + x)*d_head + e, m]
            RowScatter.Target[] ws = new RowScatter.Target[3], bs = new RowScatter.Target[3];
            for (int x = 0; x < 3; x++) ws[x] = RowScatter.interleavedRows(HfCheckpoint.Source.newWeight(w, Weights.attn(l, wNames[x]), n, d, dh), x, dh, d);
            for (int x = 0; x < 3; x++) bs[x] = RowScatter.interleavedBias(HfCheckpoint.Source.newWeight(w, Weights.attn(l, bNames[x]), n, dh), x, dh, 3 * d);
            src.scatter(h + "attention.query_key_value.weight", new long[] {3L * d, d}, ws);
            String qkvBias = h + "attention.query_key_value.bias";
            if (src.has(qkvBias)) src.scatter(qkvBias, new long[] {3L * d}, bs); // attention_bias=false checkpoints have none
            src.transposed(w, Weights.attn(l, "W_O"), h + "attention.dense.weight", d, d, n, dh, d); // 'm (i h) -> i h m'
            w.put(Weights.attn(l, "b_O"), src.has(h + "attention.dense.bias") ? src.read(h + "attention.dense.bias", d) : Tensor.zeros(d));
            w.put(Weights.ln(l, 2, "w"), src.read(h + "post_attention_layernorm.weight", d));
            w.put(Weights.ln(l, 2, "b"), src.read(h + "post_attention_layernorm.bias", d));
            src.transposed(w, Weights.mlp(l, "W_in"), h + "mlp.dense_h_to_4h.weight", ff, d);
            w.put(Weights.mlp(l, "b_in"), src.read(h + "mlp.dense_h_to_4h.bias", ff));
            src.transposed(w, Weights.mlp(l, "W_out"), h + "mlp.dense_4h_to_h.weight", d, ff);
            w.put(Weights.mlp(l, "b_out"), src.read(h + "mlp.dense_4h_to_h.bias", d));
            parts.layer(w, l);
        }
    }
}
