package dev.lens4j.hooks;

import java.util.Arrays;

/**
 * Which sequence positions to keep in a cache (TL's pos_slice): all, the last, or chosen indices
 * (negative indices count from the end, as in Python).
 */
public final class Positions {
    private static final Positions ALL = new Positions(null);
    private static final Positions LAST = new Positions(new int[] {-1});
    private static final Positions LAST_REAL = new Positions(new int[] {-1});

    private final int[] indices; // null = all

    private Positions(int[] indices) { this.indices = indices; }

    public static Positions all() { return ALL; }
    public static Positions last() { return LAST; }
    /**
     * Each row's last real token in a padded batch (the last position of a right-padded row is padding); in a
     * rectangular batch the same as {@link #last()}. Keeps one position per row.
     */
    public static Positions lastReal() { return LAST_REAL; }
    public boolean isLastReal() { return this == LAST_REAL; }
    public static Positions of(int... indices) {
        if (indices.length == 0) throw new IllegalArgumentException("Positions.of needs at least one index");
        return new Positions(indices.clone());
    }

    public boolean isAll() { return indices == null; }

    /** Resolved indices into a sequence of length seq; throws naming the index when out of range. */
    public int[] resolve(int seq) {
        if (indices == null) {
            int[] all = new int[seq];
            for (int i = 0; i < seq; i++) all[i] = i;
            return all;
        }
        int[] out = new int[indices.length];
        for (int i = 0; i < indices.length; i++) {
            int p = indices[i] < 0 ? seq + indices[i] : indices[i];
            if (p < 0 || p >= seq)
                throw new IndexOutOfBoundsException("position " + indices[i] + " is outside a sequence of " + seq + " tokens");
            out[i] = p;
        }
        return out;
    }

    @Override public String toString() { return indices == null ? "all" : this == LAST_REAL ? "last real" : Arrays.toString(indices); }
}
