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

    /**
     * On a padded batch over every position: attentionMask [batch][pos] is 1 at real tokens, 0 at padding (TL's
     * attention_mask). Metrics that read positions other than the last override this to skip padding; the default
     * refuses, rather than mix pad positions into the value. Last-position metrics never get here: they see each
     * row's last real token.
     */
    default double evaluate(float[] logits, int batch, int pos, int vocab, float[] grad, int[][] attentionMask) {
        throw new UnsupportedOperationException("this metric reads every position and does not handle padding: "
                + "override evaluate(..., attentionMask) or run one sequence length at a time");
    }
}
