package dev.lens4j.model;

/**
 * A scalar function of the final logits and its gradient, for backward passes (TL: the metric you call
 * .backward() on). Evaluated on the host: logits arrive as [batch, pos, vocab] floats (pos = 1 when
 * {@link #lastPositionOnly()}), and the metric writes d metric / d logits into grad (same layout, zeroed).
 */
public interface Metric {
    /** True when the metric reads only the last position's logits (then only that row is unembedded). */
    default boolean lastPositionOnly() { return true; }

    double evaluate(float[] logits, int batch, int pos, int vocab, float[] grad);
}
