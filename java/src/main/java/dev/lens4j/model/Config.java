package dev.lens4j.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

/**
 * TransformerLens's HookedTransformerConfig, as far as lens4j's architectures need it. Field names are TL's in
 * camelCase (n_layers -> nLayers); JSON uses TL's snake_case names, so a config written by lens4j reads like
 * TL's cfg.to_dict().
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
public final class Config implements Cloneable {
    public String modelName = "custom";
    /** HF architecture this came from, e.g. "GPT2LMHeadModel", "LlamaForCausalLM", "llama2.c". */
    public String originalArchitecture = "custom";
    public int nLayers;
    public int dModel;
    public int nCtx;
    public int dHead;
    public int nHeads;
    /** Grouped-query attention: number of key/value heads (null = nHeads). TL: n_key_value_heads. */
    public Integer nKeyValueHeads;
    public int dMlp;
    public int dVocab;
    /** Output vocabulary (TL: d_vocab_out, -1 = dVocab). */
    public int dVocabOut = -1;
    /** relu, gelu, gelu_new, gelu_pytorch_tanh, silu. */
    public String actFn = "gelu_new";
    /** LN, LNPre, RMS, RMSPre, or null (no normalisation). */
    public String normalizationType = "LN";
    public double eps = 1e-5;
    /** standard (learned W_pos) or rotary. */
    public String positionalEmbeddingType = "standard";
    public int rotaryDim = -1;
    public double rotaryBase = 10000;
    /** true: GPT-J / llama2.c pairs (2i, 2i+1); false: rotate-half (NeoX / HF Llama). */
    public boolean rotaryAdjacentPairs = false;
    /** Llama 3.1's rope_scaling "llama3" (TL's NTK-by-parts): low frequencies slowed by the factor, smoothed in between. */
    @com.fasterxml.jackson.annotation.JsonProperty("use_NTK_by_parts_rope") public boolean useNTKByPartsRope = false;
    @com.fasterxml.jackson.annotation.JsonProperty("NTK_by_parts_factor") public double ntkByPartsFactor = 8.0;
    @com.fasterxml.jackson.annotation.JsonProperty("NTK_by_parts_low_freq_factor") public double ntkByPartsLowFreqFactor = 1.0;
    @com.fasterxml.jackson.annotation.JsonProperty("NTK_by_parts_high_freq_factor") public double ntkByPartsHighFreqFactor = 4.0;
    @com.fasterxml.jackson.annotation.JsonProperty("NTK_original_ctx_len") public int ntkOriginalCtxLen = 8192;
    public boolean gatedMlp = false;
    public boolean attnOnly = false;
    /**
     * GPT-NeoX / GPT-J's parallel block (TL: parallel_attn_mlp; HF: use_parallel_residual): ln2 reads resid_pre and
     * resid_post = resid_pre + attn_out + mlp_out, so there is no hook_resid_mid.
     */
    public boolean parallelAttnMlp = false;
    /** Gemma 2: RMSNorms after attention and after the MLP too (TL: ln1_post, ln2_post; never folded). */
    public boolean useNormalizationBeforeAndAfter = false;
    /** Gemma 2: attention scores capped as cap * tanh(scores / cap) before the mask (<= 0: none). */
    public double attnScoresSoftCap = -1.0;
    /** Gemma 2: logits capped as cap * tanh(logits / cap) (<= 0: none). */
    public double outputLogitsSoftCap = -1.0;
    /** Sliding-window attention on the layers whose attn_types entry is "local" (TL: use_local_attn, window_size). */
    public boolean useLocalAttn = false;
    public Integer windowSize;
    /** Per layer "global" or "local" (TL's attn_types). */
    public java.util.List<String> attnTypes;
    public boolean useAttnScale = true;
    /** Divisor of attention scores (TL: attn_scale, default sqrt(d_head)). */
    public double attnScale = -1;
    public boolean defaultPrependBos = true;
    public String tokenizerName;
    public boolean finalRms = false;
    /** Which TL weight processing has been applied (set by the loader). */
    public boolean lnFolded = false;
    public boolean writingWeightsCentered = false;
    public boolean unembedCentered = false;
    public boolean valueBiasesFolded = false;
    public long seed = 0;

    /** GPT-2's architecture (LayerNorm, learned positions, gelu_new MLP of 4 d_model), as HF GPT-2 configs map to TL. */
    public static Config gpt2Family(String name, int nLayers, int dModel, int nHeads, int dVocab, int nCtx) {
        if (nHeads <= 0 || dModel % nHeads != 0)
            throw new IllegalArgumentException("config: d_model " + dModel + " is not a multiple of n_heads " + nHeads);
        Config c = new Config();
        c.modelName = name;
        c.originalArchitecture = "GPT2LMHeadModel";
        c.nLayers = nLayers; c.dModel = dModel; c.nHeads = nHeads; c.dHead = dModel / nHeads; c.dMlp = 4 * dModel;
        c.dVocab = dVocab; c.nCtx = nCtx;
        c.actFn = "gelu_new"; c.normalizationType = "LN"; c.eps = 1e-5; c.positionalEmbeddingType = "standard";
        return c.validate();
    }

    /**
     * Llama's architecture (RMSNorm eps 1e-5, rotary over the whole head with base 10000, SwiGLU, grouped-query
     * attention when nKvHeads < nHeads); adjacentPairs picks llama2.c's rotary layout over HF's rotate-half.
     */
    public static Config llamaFamily(String name, int nLayers, int dModel, int nHeads, int nKvHeads, int dMlp, int dVocab,
                                     int nCtx, boolean adjacentPairs) {
        if (nHeads <= 0 || dModel % nHeads != 0)
            throw new IllegalArgumentException("config: d_model " + dModel + " is not a multiple of n_heads " + nHeads);
        Config c = new Config();
        c.modelName = name;
        c.originalArchitecture = adjacentPairs ? "llama2.c" : "LlamaForCausalLM";
        c.nLayers = nLayers; c.dModel = dModel; c.nHeads = nHeads; c.dHead = dModel / nHeads;
        // TL keeps n_key_value_heads None (plain W_K names) when every query head has its own kv head
        c.nKeyValueHeads = nKvHeads == nHeads ? null : nKvHeads;
        c.dMlp = dMlp; c.dVocab = dVocab; c.nCtx = nCtx;
        c.actFn = "silu"; c.normalizationType = "RMS"; c.eps = 1e-5;
        c.positionalEmbeddingType = "rotary"; c.rotaryDim = c.dHead; c.rotaryBase = 10000;
        c.rotaryAdjacentPairs = adjacentPairs; c.gatedMlp = true; c.finalRms = true;
        return c.validate();
    }

    public int nKvHeads() { return nKeyValueHeads == null ? nHeads : nKeyValueHeads; }
    public int dVocabOut() { return dVocabOut <= 0 ? dVocab : dVocabOut; }
    public int rotaryDim() { return rotaryDim <= 0 ? dHead : rotaryDim; }
    public double attnScale() { return attnScale > 0 ? attnScale : (useAttnScale ? Math.sqrt(dHead) : 1.0); }
    /** Layer l's sliding window: a query sees the window_size latest keys, itself included; 0 = all earlier keys. */
    public long windowOf(int layer) {
        return useLocalAttn && "local".equals(attnTypes.get(layer)) ? windowSize : 0;
    }
    public boolean isRotary() { return "rotary".equals(positionalEmbeddingType); }
    public boolean isRms() { return "RMS".equals(normalizationType) || "RMSPre".equals(normalizationType); }
    public boolean isLayerNorm() { return "LN".equals(normalizationType) || "LNPre".equals(normalizationType); }
    public boolean hasNormWeights() { return "LN".equals(normalizationType) || "RMS".equals(normalizationType); }

    /** Throws IllegalArgumentException naming the first inconsistent field. */
    public Config validate() {
        req(nLayers > 0, "n_layers must be > 0, got " + nLayers);
        req(dModel > 0, "d_model must be > 0, got " + dModel);
        req(nCtx > 0, "n_ctx must be > 0, got " + nCtx);
        req(nHeads > 0, "n_heads must be > 0, got " + nHeads);
        req(dHead > 0, "d_head must be > 0, got " + dHead);
        req(dVocab > 0, "d_vocab must be > 0, got " + dVocab);
        req(attnOnly || dMlp > 0, "d_mlp must be > 0, got " + dMlp);
        req(nHeads % nKvHeads() == 0, "n_heads (" + nHeads + ") must be a multiple of n_key_value_heads (" + nKvHeads() + ")");
        req(java.util.Set.of("relu", "gelu", "gelu_new", "gelu_pytorch_tanh", "silu", "gelu_fast").contains(actFn),
            "unsupported act_fn '" + actFn + "' (relu, gelu, gelu_new, gelu_pytorch_tanh, silu)");
        req(normalizationType == null || java.util.Set.of("LN", "LNPre", "RMS", "RMSPre").contains(normalizationType),
            "unsupported normalization_type '" + normalizationType + "' (LN, LNPre, RMS, RMSPre or null)");
        req(java.util.Set.of("standard", "rotary").contains(positionalEmbeddingType),
            "unsupported positional_embedding_type '" + positionalEmbeddingType + "' (standard, rotary)");
        if (isRotary()) req(rotaryDim() % 2 == 0 && rotaryDim() <= dHead, "rotary_dim must be even and <= d_head, got " + rotaryDim());
        if (useLocalAttn) {
            req(windowSize != null && windowSize > 0, "use_local_attn needs window_size > 0, got " + windowSize);
            req(attnTypes != null && attnTypes.size() == nLayers && attnTypes.stream().allMatch(t -> "global".equals(t) || "local".equals(t)),
                "use_local_attn needs attn_types: one \"global\" or \"local\" per layer (" + nLayers + "), got " + attnTypes);
        }
        req(Double.isFinite(attnScoresSoftCap) && Double.isFinite(outputLogitsSoftCap), "soft caps must be finite");
        if (useNTKByPartsRope)
            req(ntkByPartsFactor > 0 && ntkByPartsLowFreqFactor > 0 && ntkByPartsHighFreqFactor > ntkByPartsLowFreqFactor && ntkOriginalCtxLen > 0,
                "NTK-by-parts rope needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0");
        return this;
    }

    private static void req(boolean ok, String msg) { if (!ok) throw new IllegalArgumentException("config: " + msg); }

    public long parameterCountEstimate() {
        long attn = (long) nLayers * ((long) dModel * dHead * (nHeads * 2L + nKvHeads() * 2L));
        long mlp = attnOnly ? 0 : (long) nLayers * dModel * dMlp * (gatedMlp ? 3L : 2L);
        long emb = (long) dVocab * dModel + (isRotary() ? 0 : (long) nCtx * dModel) + (long) dModel * dVocabOut();
        return attn + mlp + emb;
    }

    @Override public Config clone() {
        try {
            Config c = (Config) super.clone();
            if (attnTypes != null) c.attnTypes = new java.util.ArrayList<>(attnTypes); // the one mutable field
            return c;
        } catch (CloneNotSupportedException e) { throw new AssertionError(e); }
    }

    // fields only: helper methods such as isRotary() are not properties
    private static final ObjectMapper JSON = new ObjectMapper()
        .setVisibility(com.fasterxml.jackson.annotation.PropertyAccessor.GETTER, com.fasterxml.jackson.annotation.JsonAutoDetect.Visibility.NONE)
        .setVisibility(com.fasterxml.jackson.annotation.PropertyAccessor.IS_GETTER, com.fasterxml.jackson.annotation.JsonAutoDetect.Visibility.NONE);

    public String toJson() {
        try { return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(this); }
        catch (Exception e) { throw new IllegalStateException(e); }
    }

    public static Config fromJson(String json) {
        try { return JSON.readValue(json, Config.class).validate(); }
        catch (IllegalArgumentException e) { throw e; }
        catch (java.io.IOException e) { throw new IllegalArgumentException("malformed lens4j config JSON: " + dev.lens4j.load.JsonErrors.describe(e), e); }
    }
}
