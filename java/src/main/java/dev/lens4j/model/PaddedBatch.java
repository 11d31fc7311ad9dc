package dev.lens4j.model;

import java.util.Arrays;
import java.util.List;

/**
 * Token sequences of different lengths padded into one rectangular batch, as TransformerLens's to_tokens pads a list
 * of strings: pad ids on the right (TL's default padding_side) or on the left, plus what TL derives from the padding
 * (utils.get_attention_mask, get_offset_position_ids). The real lengths are kept rather than recovered from pad ids,
 * so a real token that happens to equal the pad id is never masked.
 * <p>Run it with {@link HookedTransformer#run(PaddedBatch, HookedTransformer.RunOptions)}: pad keys are masked in
 * every attention, positions count from each row's first real token, {@code Positions.lastReal()} picks each row's
 * last real token, and last-position metrics read that token.
 */
public final class PaddedBatch {
    /** TL's padding_side. */
    public enum Side { LEFT, RIGHT }

    private final int[][] tokens;
    private final int[] lengths;
    private final Side side;
    private final int seq;

    private PaddedBatch(int[][] tokens, int[] lengths, Side side, int seq) {
        this.tokens = tokens; this.lengths = lengths; this.side = side; this.seq = seq;
    }

    /** Pads each sequence (at least one token each) to the longest with padId on the given side. */
    public static PaddedBatch of(List<int[]> sequences, Side side, int padId) {
        if (sequences == null || sequences.isEmpty()) throw new IllegalArgumentException("no token sequences given");
        if (side == null) throw new IllegalArgumentException("no padding side given");
        int seq = 0;
        for (int b = 0; b < sequences.size(); b++) {
            int[] s = sequences.get(b);
            if (s == null || s.length == 0) throw new IllegalArgumentException("sequence " + b + " is empty: every row needs a token (e.g. BOS)");
            seq = Math.max(seq, s.length);
        }
        int B = sequences.size();
        int[][] out = new int[B][seq];
        int[] lengths = new int[B];
        for (int b = 0; b < B; b++) {
            int[] s = sequences.get(b);
            lengths[b] = s.length;
            Arrays.fill(out[b], padId);
            System.arraycopy(s, 0, out[b], side == Side.LEFT ? seq - s.length : 0, s.length);
        }
        return new PaddedBatch(out, lengths, side, seq);
    }

    public int batch() { return tokens.length; }
    /** The padded length (the longest sequence). */
    public int seq() { return seq; }
    public Side side() { return side; }
    /** The padded tokens [batch][seq] (a copy). */
    public int[][] tokens() {
        int[][] c = new int[tokens.length][];
        for (int b = 0; b < tokens.length; b++) c[b] = tokens[b].clone();
        return c;
    }
    int[][] tokensUnsafe() { return tokens; }
    /** Real tokens of row b. */
    public int length(int b) { return lengths[b]; }
    /** Index of row b's first real token (its left padding). */
    public int start(int b) { return side == Side.LEFT ? seq - lengths[b] : 0; }
    /** Index of row b's last real token: where its next-token prediction is. */
    public int lastIndex(int b) { return start(b) + lengths[b] - 1; }
    public boolean isReal(int b, int pos) { return pos >= start(b) && pos < start(b) + lengths[b]; }
    /** True when no row is padded (an ordinary rectangular batch). */
    public boolean isRectangular() {
        for (int l : lengths) if (l != seq) return false;
        return true;
    }

    /** Row b's real tokens, without padding. */
    public int[] row(int b) { return Arrays.copyOfRange(tokens[b], start(b), start(b) + lengths[b]); }

    /** TL's attention_mask [batch, pos]: 1 at real tokens, 0 at padding. */
    public int[][] attentionMask() {
        int[][] m = new int[tokens.length][seq];
        for (int b = 0; b < tokens.length; b++) Arrays.fill(m[b], start(b), start(b) + lengths[b], 1);
        return m;
    }

    /** Each row's valid keys [start, end) for the attention kernels, with pastLen cached keys before these positions. */
    long[] keyRanges(int pastLen, int newLen) {
        long[] r = new long[2 * tokens.length];
        for (int b = 0; b < tokens.length; b++) { r[2 * b] = start(b); r[2 * b + 1] = pastLen + newLen; }
        if (side == Side.RIGHT && pastLen == 0) // right padding: pad keys after the real ones (TL masks them for every query)
            for (int b = 0; b < tokens.length; b++) r[2 * b + 1] = lengths[b];
        return r;
    }

    /**
     * TL's get_offset_position_ids: the position of each token counted from its row's first real token (left padding
     * shifts every row to start at 0; pad positions before it get 0), for positions pastLen .. pastLen + newLen - 1.
     */
    int[] positionIds(int pastLen, int newLen) {
        int[] ids = new int[tokens.length * newLen];
        for (int b = 0; b < tokens.length; b++)
            for (int p = 0; p < newLen; p++) ids[b * newLen + p] = Math.max(0, pastLen + p - start(b));
        return ids;
    }

    /** Each row's last real index (for the unembedding of last-position metrics and Positions.lastReal()). */
    int[] lastIndices() {
        int[] idx = new int[tokens.length];
        for (int b = 0; b < tokens.length; b++) idx[b] = lastIndex(b);
        return idx;
    }

    @Override public String toString() {
        return "PaddedBatch[" + tokens.length + " x " + seq + ", " + side.name().toLowerCase() + " padding, lengths " + Arrays.toString(lengths) + "]";
    }
}
