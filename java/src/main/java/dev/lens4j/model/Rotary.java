package dev.lens4j.model;

/** Rotary position embedding frequencies (TL's calculate_sin_cos_rotary; HF's rope init functions). */
public final class Rotary {
    private Rotary() {}

    /**
     * inv_freq[i] = base^(-2i / rotary_dim) for i < rotary_dim / 2; with Llama 3.1's NTK-by-parts scaling
     * (HF's _compute_llama3_parameters) wavelengths longer than original_ctx / low_freq_factor are stretched by the
     * factor, those shorter than original_ctx / high_freq_factor kept, and the band between interpolated smoothly.
     */
    public static double[] inverseFrequencies(Config cfg) {
        int half = cfg.rotaryDim() / 2;
        double[] f = new double[half];
        for (int i = 0; i < half; i++) f[i] = 1.0 / Math.pow(cfg.rotaryBase, (double) i / half);
        if (!cfg.useNTKByPartsRope) return f;
        double factor = cfg.ntkByPartsFactor, lo = cfg.ntkByPartsLowFreqFactor, hi = cfg.ntkByPartsHighFreqFactor;
        double ctx = cfg.ntkOriginalCtxLen, lowFreqWavelen = ctx / lo, highFreqWavelen = ctx / hi;
        for (int i = 0; i < half; i++) {
            double wavelen = 2 * Math.PI / f[i];
            if (wavelen > lowFreqWavelen) {
                f[i] = f[i] / factor;
            } else if (wavelen >= highFreqWavelen) {
                double smooth = (ctx / wavelen - lo) / (hi - lo);
                f[i] = (1 - smooth) * f[i] / factor + smooth * f[i];
            }
        }
        return f;
    }
}
