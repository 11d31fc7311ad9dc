package dev.lens4j.load;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lens4j.model.Config;

/** config.json's rope_scaling for rotary families: absent, "default", or Llama 3.1's "llama3"; anything else is refused. */
final class RopeScaling {
    private RopeScaling() {}

    static void configure(Config c, HfFields f) {
        JsonNode s = f.node("rope_scaling");
        if (s == null || s.isNull()) return;
        if (!s.isObject()) throw f.error("rope_scaling must be an object or null, got " + s);
        HfFields r = f.nested("rope_scaling");
        // transformers writes rope_type; older configs wrote type
        String type = r.present("rope_type") ? r.text("rope_type", "") : r.text("type", "");
        switch (type) {
            case "default" -> { }
            case "llama3" -> {
                c.useNTKByPartsRope = true;
                c.ntkByPartsFactor = r.positiveNumber("factor");
                c.ntkByPartsLowFreqFactor = r.positiveNumber("low_freq_factor", 1.0);
                c.ntkByPartsHighFreqFactor = r.positiveNumber("high_freq_factor", 4.0);
                c.ntkOriginalCtxLen = r.positiveInt("original_max_position_embeddings");
                if (!(c.ntkByPartsHighFreqFactor > c.ntkByPartsLowFreqFactor))
                    throw f.error("rope_scaling: high_freq_factor " + c.ntkByPartsHighFreqFactor + " must exceed low_freq_factor " + c.ntkByPartsLowFreqFactor);
            }
            default -> throw f.error("rope_scaling " + s + " is not supported (only rope_type \"llama3\" and \"default\")");
        }
    }
}
