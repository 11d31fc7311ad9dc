package dev.lens4j.load;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;

/** Typed reads of config.json fields for the model-family mappings; errors name the file, the field and the value. */
final class HfFields {
    private final Path file;
    private final JsonNode hf;
    private final String prefix; // names a nested object's fields, e.g. "rope_scaling."

    HfFields(Path file, JsonNode hf) { this(file, hf, ""); }

    private HfFields(Path file, JsonNode hf, String prefix) { this.file = file; this.hf = hf; this.prefix = prefix; }

    /** The fields of a nested object, named "key.field" in errors. */
    HfFields nested(String key) { return new HfFields(file, hf.get(key), prefix + key + "."); }

    Path file() { return file; }

    boolean present(String key) { JsonNode v = hf.get(key); return v != null && !v.isNull(); }

    /** The key is in the file, possibly as null (HF configs use null to switch a feature off). */
    boolean has(String key) { return hf.has(key); }

    int positiveInt(String key) {
        JsonNode v = hf.get(key);
        if (v == null || v.isNull()) throw error("missing '" + prefix + key + "'");
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() <= 0) throw error("'" + prefix + key + "' must be a positive integer, got " + v);
        return v.asInt();
    }

    int positiveInt(String key, int def) { return present(key) ? positiveInt(key) : def; }

    /** A non-negative integer, or def when the key is absent or null. */
    int nonNegativeInt(String key, int def) {
        if (!present(key)) return def;
        JsonNode v = hf.get(key);
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0) throw error("'" + prefix + key + "' must be a non-negative integer, got " + v);
        return v.asInt();
    }

    /**
     * HF's layer_types (one "sliding_attention" or "full_attention" per layer) as TL's attn_types ("local" /
     * "global"), or null when the key is absent or null.
     */
    java.util.List<String> layerTypes(int nLayers) {
        JsonNode layerTypes = hf.get("layer_types");
        if (layerTypes == null || layerTypes.isNull()) return null;
        if (!layerTypes.isArray() || layerTypes.size() != nLayers)
            throw error("'" + prefix + "layer_types' must list one type per layer (" + nLayers + "), got " + layerTypes);
        java.util.List<String> types = new java.util.ArrayList<>();
        for (JsonNode t : layerTypes) {
            String s = t.asText("");
            if (!s.equals("sliding_attention") && !s.equals("full_attention"))
                throw error("'" + prefix + "layer_types' entries must be \"sliding_attention\" or \"full_attention\", got " + t);
            types.add(s.equals("sliding_attention") ? "local" : "global");
        }
        return types;
    }

    double number(String key, double def) {
        JsonNode v = hf.get(key);
        if (v == null || v.isNull()) return def;
        if (!v.isNumber() || !Double.isFinite(v.asDouble())) throw error("'" + prefix + key + "' must be a finite number, got " + v);
        return v.asDouble();
    }

    double positiveNumber(String key) {
        if (!present(key)) throw error("missing '" + prefix + key + "'");
        return positiveNumber(key, 1);
    }

    double positiveNumber(String key, double def) {
        double x = number(key, def);
        if (!(x > 0)) throw error("'" + prefix + key + "' must be > 0, got " + hf.get(key));
        return x;
    }

    boolean bool(String key, boolean def) {
        JsonNode v = hf.get(key);
        if (v == null || v.isNull()) return def;
        if (!v.isBoolean()) throw error("'" + prefix + key + "' must be true or false, got " + v);
        return v.asBoolean();
    }

    String text(String key, String def) {
        JsonNode v = hf.get(key);
        if (v == null || v.isNull()) return def;
        if (!v.isTextual()) throw error("'" + prefix + key + "' must be a string, got " + v);
        return v.asText();
    }

    JsonNode node(String key) { return hf.get(key); }

    String architecture(String def) { return hf.path("architectures").path(0).asText(def); }

    /**
     * The fields every Llama-descended config names the same way (Llama's names: hidden_size, num_hidden_layers,
     * num_attention_heads, intermediate_size, vocab_size, max_position_embeddings); families read the rest.
     */
    void readLlamaShape(dev.lens4j.model.Config c) {
        c.dModel = positiveInt("hidden_size");
        c.nLayers = positiveInt("num_hidden_layers");
        c.nHeads = positiveInt("num_attention_heads");
        c.dMlp = positiveInt("intermediate_size");
        c.dVocab = positiveInt("vocab_size");
        c.nCtx = positiveInt("max_position_embeddings");
    }

    /** num_key_value_heads (default: one per head); TL keeps plain W_K names, without grouping, when they are equal. */
    void readKeyValueHeads(dev.lens4j.model.Config c) {
        int kv = positiveInt("num_key_value_heads", c.nHeads);
        c.nKeyValueHeads = kv == c.nHeads ? null : kv;
    }

    CheckpointException error(String msg) { return new CheckpointException(file + ": " + msg); }
}
