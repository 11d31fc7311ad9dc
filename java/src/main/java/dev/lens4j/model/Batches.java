package dev.lens4j.model;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Seed-style prompt sets in padded batches: prompts sorted by token length and cut into chunks, so each chunk pads
 * only the few tokens its lengths differ by (TL users sort by length for the same reason).
 */
public final class Batches {
    private Batches() {}

    /** Indices of the sequences sorted by length (ties keep their order), in chunks of at most maxBatch. */
    public static List<int[]> byLength(List<int[]> sequences, int maxBatch) {
        if (maxBatch <= 0) throw new IllegalArgumentException("batch size must be > 0, got " + maxBatch);
        int[] order = IntStream.range(0, sequences.size()).boxed()
                .sorted(Comparator.comparingInt((Integer i) -> sequences.get(i).length)).mapToInt(Integer::intValue).toArray();
        List<int[]> out = new ArrayList<>();
        for (int s = 0; s < order.length; s += maxBatch)
            out.add(java.util.Arrays.copyOfRange(order, s, Math.min(order.length, s + maxBatch)));
        return out;
    }

    /** The sequences at these indices as one padded batch. */
    public static PaddedBatch pad(List<int[]> sequences, int[] indices, PaddedBatch.Side side, int padId) {
        List<int[]> rows = new ArrayList<>(indices.length);
        for (int i : indices) rows.add(sequences.get(i));
        return PaddedBatch.of(rows, side, padId);
    }
}
