package dev.lens4j.model;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Rotary inverse frequencies, with Llama 3.1's NTK-by-parts scaling checked band by band on hand-derived values. */
class RotaryTest {
    static Config cfg(boolean llama3) {
        Config c = Config.llamaFamily("rotary-test", 1, 32, 4, 4, 16, 10, 64, false); // d_head 8
        c.rotaryBase = 100;
        c.useNTKByPartsRope = llama3;
        c.ntkByPartsFactor = 4; c.ntkByPartsLowFreqFactor = 1; c.ntkByPartsHighFreqFactor = 4; c.ntkOriginalCtxLen = 32;
        return c.validate();
    }

    @Test
    void defaultFrequenciesAreBaseToTheMinusTwoIOverDim() {
        // d_head 8: 100^(-0/4), 100^(-1/4), 100^(-2/4), 100^(-3/4)
        assertArrayEquals(new double[] {1, Math.pow(100, -0.25), 0.1, Math.pow(100, -0.75)}, Rotary.inverseFrequencies(cfg(false)), 1e-15);
    }

    @Test
    void llama3KeepsHighFrequenciesSmoothsTheMiddleAndDividesLowOnes() {
        // wavelengths 2 pi / f: 6.3 (< 32/4 = 8: kept), 19.9 (between 8 and 32: smoothed), 62.8 and 199 (> 32: divided by 4)
        double f1 = Math.pow(100, -0.25), s = (32 / (2 * Math.PI / f1) - 1) / (4 - 1);
        double[] want = {1, (1 - s) * f1 / 4 + s * f1, 0.1 / 4, Math.pow(100, -0.75) / 4};
        assertArrayEquals(want, Rotary.inverseFrequencies(cfg(true)), 1e-15);
    }

    @Test
    void newConfigFieldsRoundTripUnderTransformerLensNames() {
        Config c = cfg(true);
        c.parallelAttnMlp = true; c.useNormalizationBeforeAndAfter = true; c.attnScoresSoftCap = 50; c.outputLogitsSoftCap = 30;
        c.useLocalAttn = true; c.windowSize = 4096; c.attnTypes = java.util.List.of("local");
        String json = c.toJson();
        for (String key : new String[] {"\"use_NTK_by_parts_rope\" : true", "\"NTK_by_parts_factor\" : 4.0", "\"NTK_original_ctx_len\" : 32",
                "\"parallel_attn_mlp\" : true", "\"use_normalization_before_and_after\" : true", "\"attn_scores_soft_cap\" : 50.0",
                "\"output_logits_soft_cap\" : 30.0", "\"use_local_attn\" : true", "\"window_size\" : 4096"})
            org.junit.jupiter.api.Assertions.assertTrue(json.contains(key), key + " in " + json);
        Config back = Config.fromJson(json);
        org.junit.jupiter.api.Assertions.assertEquals(json, back.toJson());
        org.junit.jupiter.api.Assertions.assertEquals(4096, back.windowOf(0));
    }

    @Test
    void inconsistentLlama3ParametersAreRefused() {
        Config c = cfg(true);
        c.ntkByPartsHighFreqFactor = 0.5;
        assertThrows(IllegalArgumentException.class, c::validate);
    }
}

