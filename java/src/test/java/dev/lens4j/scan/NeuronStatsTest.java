package dev.lens4j.scan;

import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** The capture kernel against a plain-Java reference: moments, top-k with ties, skipped rows, batching, merging. */
class NeuronStatsTest {
    static final int ROWS = 300, N = 7, K = 5;

    record Row(float v, long doc, int pos) {}

    private float[] acts(Random r) {
        float[] x = new float[ROWS * N];
        for (int i = 0; i < x.length; i++) x[i] = Math.round(r.nextGaussian() * 4) / 4f; // coarse values: many ties
        return x;
    }

    @Test void matchesTheReferenceForAnyBatching() {
        Random r = new Random(3);
        float[] x = acts(r);
        long[] doc = new long[ROWS];
        int[] pos = new int[ROWS];
        for (int i = 0; i < ROWS; i++) { doc[i] = i / 20; pos[i] = i % 20 == 0 ? -1 : i % 20; } // position 0: BOS, skipped
        long before = Tensor.liveBytes();
        try (NeuronStats whole = new NeuronStats(N, K); NeuronStats pieces = new NeuronStats(N, K);
             NeuronStats a = new NeuronStats(N, K); NeuronStats b = new NeuronStats(N, K)) {
            feed(whole, x, doc, pos, 0, ROWS);
            for (int s = 0; s < ROWS; s += 37) feed(pieces, x, doc, pos, s, Math.min(ROWS, s + 37));
            // two halves scanned apart (a second machine) and merged, the later half first
            feed(a, x, doc, pos, 150, ROWS);
            feed(b, x, doc, pos, 0, 150);
            a.merge(b);
            for (int j = 0; j < N; j++) {
                List<Row> rows = new ArrayList<>();
                double sum = 0, sq = 0, mx = Double.NEGATIVE_INFINITY;
                int cnt = 0, posN = 0;
                for (int i = 0; i < ROWS; i++) {
                    if (pos[i] < 0) continue;
                    float v = x[i * N + j];
                    rows.add(new Row(v, doc[i], pos[i]));
                    sum += v; sq += (double) v * v; mx = Math.max(mx, v); cnt++;
                    if (v > 0) posN++;
                }
                rows.sort(Comparator.comparingDouble((Row w) -> -w.v()).thenComparingLong(Row::doc).thenComparingInt(Row::pos));
                double mean = sum / cnt, std = Math.sqrt(sq / cnt - mean * mean);
                for (NeuronStats s : new NeuronStats[] {whole, pieces, a}) {
                    assertEquals(cnt, s.count(j));
                    assertEquals(mean, s.mean(j), 1e-9);
                    assertEquals(std, s.std(j), 1e-9);
                    assertEquals(mx, s.max(j));
                    assertEquals((double) posN / cnt, s.fractionPositive(j), 1e-12);
                    assertEquals(K, s.filled(j));
                    for (int i = 0; i < K; i++) {
                        Row want = rows.get(i);
                        assertEquals(want.v(), s.topValue(j, i), "neuron " + j + " rank " + i);
                        assertEquals(want.doc(), s.topDoc(j, i), "ties go to the earlier document");
                        assertEquals(want.pos(), s.topPosition(j, i), "then the earlier position");
                    }
                }
                assertEquals(whole.mean(j), pieces.mean(j), 0.0, "batching does not change a bit");
            }
            // a checkpoint round trip is exact
            Map<String, Tensor> state = whole.toTensors("x.");
            try (NeuronStats back = NeuronStats.fromTensors(state, "x.")) {
                for (int j = 0; j < N; j++) {
                    assertEquals(whole.mean(j), back.mean(j), 0.0);
                    assertEquals(whole.std(j), back.std(j), 0.0);
                    assertEquals(whole.topDoc(j, 2), back.topDoc(j, 2));
                }
            } finally {
                state.values().forEach(Tensor::close);
            }
        }
        assertEquals(before, Tensor.liveBytes());
    }

    @Test void fewerRowsThanKAndBadInput() {
        try (NeuronStats s = new NeuronStats(2, 4); Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2)) {
            s.update(t, new long[] {0, 0}, new int[] {1, 2});
            assertEquals(2, s.filled(0));
            assertEquals(3f, s.topValue(0, 0));
            assertThrows(IllegalArgumentException.class, () -> s.update(t, new long[] {0}, new int[] {1}));
            try (Tensor w = Tensor.of(new float[3], 1, 3)) { assertThrows(IllegalArgumentException.class, () -> s.update(w, new long[] {0}, new int[] {0})); }
        }
        assertThrows(IllegalArgumentException.class, () -> new NeuronStats(0, 3));
    }

    private static void feed(NeuronStats s, float[] x, long[] doc, int[] pos, int from, int to) {
        float[] part = java.util.Arrays.copyOfRange(x, from * N, to * N);
        try (Tensor t = Tensor.of(part, 1, to - from, N)) {
            s.update(t, java.util.Arrays.copyOfRange(doc, from, to), java.util.Arrays.copyOfRange(pos, from, to));
        }
    }
}
