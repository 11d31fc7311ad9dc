package dev.lens4j.studies.numeric;

import java.nio.file.Path;

/** Options of `study numeric-compare` (seed 000). */
public final class NumericOptions {
    /** Prompts per category (the seed: 500). */
    public int n = 500;
    /** Seed of the generated pairs, the probe folds and the train / validation split. */
    public long seed = 0;
    /** The prompt template; null: the seed's for a given model, {@link #EMBEDDED_TEMPLATE} for the embedded one. */
    public String template;
    /** Wrap prompts in the model's chat template (Gemma's turns). */
    public boolean chat;
    /** Pairs from a CSV (a,b,truth,group) instead of the generator. */
    public Path csv;
    /** The forced-choice answers; null: " Yes" / " No" (after a chat turn: "Yes" / "No"). */
    public String yes, no;
    /** Prompts per padded batch. */
    public int batch = 16;
    public int probeFolds = 5;
    public double probeC = 1.0;
    public int topGlobal = 50, topPerGroup = 30;
    public int[] ablateTopK = {10, 50};
    /** Fraction of each category x truth cell that scores neurons in the train / validation check. */
    public double trainFraction = 0.5;
    public Path out = Path.of("lens4j-out", "numeric-compare");

    /** The embedded model's template: the seed's question without its fixed words, so training stays short. */
    public static final String EMBEDDED_TEMPLATE = "{a} > {b}?";

    public String yes() { return yes != null ? yes : chat ? "Yes" : " Yes"; }
    public String no() { return no != null ? no : chat ? "No" : " No"; }

    public NumericOptions validate() {
        if (n < 2) throw new IllegalArgumentException("--n must be >= 2 (each category needs a Yes and a No), got " + n);
        if (n > 100_000) throw new IllegalArgumentException("--n must be <= 100000, got " + n);
        if (template != null && (!template.contains("{a}") || !template.contains("{b}")))
            throw new IllegalArgumentException("--template must contain {a} and {b}, got '" + template + "'");
        if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        if (probeFolds < 2) throw new IllegalArgumentException("probe folds must be >= 2, got " + probeFolds);
        if (!(probeC > 0) || Double.isInfinite(probeC)) throw new IllegalArgumentException("probe C must be finite and > 0, got " + probeC);
        if (topGlobal < 1 || topPerGroup < 1) throw new IllegalArgumentException("neuron counts must be >= 1");
        if (!(trainFraction > 0 && trainFraction < 1)) throw new IllegalArgumentException("train fraction must be in (0, 1), got " + trainFraction);
        if (out == null) throw new IllegalArgumentException("no output folder given");
        return this;
    }
}
