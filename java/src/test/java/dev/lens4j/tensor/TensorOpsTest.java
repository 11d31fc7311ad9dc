package dev.lens4j.tensor;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

/** Every tensor operation against a plain-Java reference over explicit indices, views of views, and bad input. */
class TensorOpsTest {
    private final Random rnd = new Random(5);

    /** A dense reference array: data + shape, read by multi-index. */
    record Nd(float[] d, long[] s) {
        static Nd of(Tensor t) { return new Nd(t.toFloatArray(), t.shape()); }
        int n() { return d.length; }
        float at(long... i) {
            long f = 0;
            for (int k = 0; k < s.length; k++) f = f * s[k] + i[k];
            return d[(int) f];
        }
        /** Builds the array of `shape` whose entry at each index is f(index). */
        static Nd build(long[] shape, Function<long[], Float> f) {
            int n = (int) Tensor.numel(shape);
            float[] d = new float[n];
            long[] idx = new long[shape.length];
            for (int i = 0; i < n; i++) {
                long rest = i;
                for (int k = shape.length - 1; k >= 0; k--) { idx[k] = rest % shape[k]; rest /= shape[k]; }
                d[i] = f.apply(idx.clone());
            }
            return new Nd(d, shape);
        }
    }

    private Tensor rand(long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) rnd.nextGaussian();
        return Tensor.of(v, shape);
    }

    private static void same(Nd want, Tensor got, String what) {
        try (got) {
            assertArrayEquals(want.s(), got.shape(), what + " shape");
            assertArrayEquals(want.d(), got.toFloatArray(), 1e-5f, what);
        }
    }

    @Test void viewsAndViewsOfViews() {
        long before = Tensor.liveBytes();
        try (Tensor t = rand(3, 4, 5)) {
            Nd x = Nd.of(t);
            same(Nd.build(new long[] {3, 2, 5}, i -> x.at(i[0], i[1] + 1, i[2])), t.slice(1, 1, 3), "slice");
            same(Nd.build(new long[] {3, 4, 2}, i -> x.at(i[0], i[1], i[2] + 3)), t.slice(-1, -2, 100), "slice, negative start, clamped end");
            same(Nd.build(new long[] {3, 0, 5}, i -> 0f), t.slice(1, 3, 1), "empty slice");
            same(Nd.build(new long[] {2, 4, 5}, i -> x.at(i[0] + 1, i[1], i[2])), t.narrow(0, 1, 2), "narrow");
            same(Nd.build(new long[] {3, 5}, i -> x.at(i[0], 3, i[1])), t.select(1, -1), "select");
            same(Nd.build(new long[] {5, 4, 3}, i -> x.at(i[2], i[1], i[0])), t.transpose(0, 2), "transpose");
            same(Nd.build(new long[] {4, 5, 3}, i -> x.at(i[2], i[0], i[1])), t.permute(1, 2, 0), "permute");
            same(Nd.build(new long[] {3, 3, 5}, i -> x.at(i[0], new long[] {2, 0, 2}[(int) i[1]], i[2])), t.indexSelect(1, 2, 0, 2), "index_select");
            // views of views: transpose, then slice, then select, then index
            try (Tensor a = t.transpose(0, 2); Tensor b = a.slice(1, 1, 4); Tensor c = b.select(0, -1)) {
                same(Nd.build(new long[] {3, 3}, i -> x.at(i[1], new long[] {2, 1, 0}[(int) i[0]] + 1, 4)), c.indexSelect(0, 2, 1, 0), "views of views");
            }
            try (Tensor r = t.reshape(12, 5)) { // reshape is a true view
                assertEquals(x.at(2, 1, 3), r.get(9, 3));
            }
        }
        assertEquals(before, Tensor.liveBytes(), "every result freed");
    }

    @Test void matmulBroadcastsLikeTorch() {
        try (Tensor a = rand(2, 1, 3, 4); Tensor b = rand(5, 4, 6); Tensor v = rand(4); Tensor m = rand(3, 4)) {
            Nd x = Nd.of(a), y = Nd.of(b), vv = Nd.of(v), mm = Nd.of(m);
            same(Nd.build(new long[] {2, 5, 3, 6}, i -> {
                float s = 0;
                for (int k = 0; k < 4; k++) s += x.at(i[0], 0, i[2], k) * y.at(i[1], k, i[3]);
                return s;
            }), a.matmul(b), "batched, broadcast");
            same(Nd.build(new long[] {3}, i -> {
                float s = 0;
                for (int k = 0; k < 4; k++) s += mm.at(i[0], k) * vv.at(k);
                return s;
            }), m.matmul(v), "matrix @ vector");
            same(Nd.build(new long[] {5, 6}, i -> {
                float s = 0;
                for (int k = 0; k < 4; k++) s += vv.at(k) * y.at(i[0], k, i[1]);
                return s;
            }), v.matmul(b), "vector @ batch");
            same(Nd.build(new long[] {}, i -> {
                float s = 0;
                for (int k = 0; k < 4; k++) s += vv.at(k) * vv.at(k);
                return s;
            }), v.matmul(v), "dot");
            assertThrows(IllegalArgumentException.class, () -> m.matmul(m));
            try (Tensor c = rand(3, 5, 4, 6)) { assertThrows(IllegalArgumentException.class, () -> a.matmul(c).close()); } // batch [2, 1] vs [3, 5]
        }
    }

    @Test void elementwiseBroadcasts() {
        try (Tensor a = rand(3, 1, 5); Tensor b = rand(4, 1)) {
            Nd x = Nd.of(a), y = Nd.of(b);
            long[] s = {3, 4, 5};
            same(Nd.build(s, i -> x.at(i[0], 0, i[2]) + y.at(i[1], 0)), a.add(b), "add");
            same(Nd.build(s, i -> x.at(i[0], 0, i[2]) - y.at(i[1], 0)), a.sub(b), "sub");
            same(Nd.build(s, i -> x.at(i[0], 0, i[2]) * y.at(i[1], 0)), a.mul(b), "mul");
            same(Nd.build(s, i -> x.at(i[0], 0, i[2]) / y.at(i[1], 0)), a.div(b), "div");
            same(Nd.build(s, i -> Math.max(x.at(i[0], 0, i[2]), y.at(i[1], 0))), a.maximum(b), "maximum");
            same(Nd.build(s, i -> Math.min(x.at(i[0], 0, i[2]), y.at(i[1], 0))), a.minimum(b), "minimum");
            same(Nd.build(a.shape(), i -> x.at(i) * 2.5f), a.mul(2.5f), "scalar");
            same(Nd.build(a.shape(), i -> (float) Math.exp(x.at(i))), a.exp(), "exp");
            same(Nd.build(a.shape(), i -> Math.abs(x.at(i))), a.abs(), "abs");
            same(Nd.build(a.shape(), i -> x.at(i) * x.at(i)), a.square(), "square");
            same(Nd.build(a.shape(), i -> -x.at(i)), a.neg(), "neg");
            try (Tensor c = rand(2, 4)) { assertThrows(IllegalArgumentException.class, () -> a.add(c)); } // 5 vs 4
        }
        try (Tensor nan = Tensor.of(new float[] {Float.NaN, 1}, 2); Tensor one = Tensor.of(new float[] {0, 2}, 2); Tensor m = nan.maximum(one)) {
            assertTrue(Float.isNaN(m.get(0)), "maximum propagates NaN, as torch");
            assertEquals(2f, m.get(1));
        }
    }

    @Test void reductionsAlongEveryDimension() {
        try (Tensor t = rand(3, 4, 5)) {
            Nd x = Nd.of(t);
            for (int dim = 0; dim < 3; dim++) {
                final int d = dim;
                long[] shape = Arrays.stream(new long[] {3, 4, 5}).toArray();
                long n = shape[d];
                long[] out = new long[2];
                for (int k = 0, j = 0; k < 3; k++) if (k != d) out[j++] = shape[k];
                Function<long[], long[]> at = (i) -> {
                    long[] full = new long[3];
                    for (int k = 0, j = 0; k < 3; k++) full[k] = k == d ? 0 : i[j++];
                    return full;
                };
                Function<long[], double[]> line = i -> {
                    double[] v = new double[(int) n];
                    long[] f = at.apply(i);
                    for (int k = 0; k < n; k++) { f[d] = k; v[k] = x.at(f); }
                    return v;
                };
                same(Nd.build(out, i -> (float) Arrays.stream(line.apply(i)).sum()), t.sum(d), "sum " + d);
                same(Nd.build(out, i -> (float) Arrays.stream(line.apply(i)).average().orElseThrow()), t.mean(d - 3), "mean " + d);
                same(Nd.build(out, i -> (float) Arrays.stream(line.apply(i)).max().orElseThrow()), t.max(d), "max " + d);
                same(Nd.build(out, i -> (float) Arrays.stream(line.apply(i)).min().orElseThrow()), t.min(d), "min " + d);
                same(Nd.build(out, i -> (float) Math.sqrt(Arrays.stream(line.apply(i)).map(v -> v * v).sum())), t.norm(d), "norm " + d);
                try (Tensor am = t.argmax(d)) {
                    int[] got = am.toIntArray();
                    Nd want = Nd.build(out, i -> {
                        double[] v = line.apply(i);
                        int b = 0;
                        for (int k = 1; k < v.length; k++) if (v[k] > v[b]) b = k;
                        return (float) b;
                    });
                    for (int k = 0; k < got.length; k++) assertEquals(want.d()[k], got[k], "argmax " + d);
                }
                long[] kept = shape.clone();
                kept[d] = 1;
                try (Tensor s = t.sum(d, true)) { assertArrayEquals(kept, s.shape(), "keepdim"); }
                // softmax along d: entries of each line sum to 1 and match the formula
                try (Tensor sm = t.softmax(d); Tensor lsm = t.logSoftmax(d)) {
                    Nd p = Nd.of(sm), lp = Nd.of(lsm);
                    Nd.build(out, i -> {
                        double[] v = line.apply(i);
                        double mx = Arrays.stream(v).max().orElseThrow(), z = Arrays.stream(v).map(u -> Math.exp(u - mx)).sum();
                        long[] f = at.apply(i);
                        for (int k = 0; k < n; k++) {
                            f[d] = k;
                            assertEquals(Math.exp(v[k] - mx) / z, p.at(f), 1e-6, "softmax " + d);
                            assertEquals(v[k] - mx - Math.log(z), lp.at(f), 1e-5, "log_softmax " + d);
                        }
                        return 0f;
                    });
                }
            }
            try (Tensor total = t.sum()) {
                assertEquals(0, total.rank());
                double s = 0;
                for (float v : x.d()) s += v;
                assertEquals(s, total.toFloatArray()[0], 1e-4);
            }
        }
        try (Tensor ties = Tensor.of(new float[] {1, 3, 3, 0, Float.NaN, 2, Float.NaN, 1}, 2, 4); Tensor am = ties.argmax(1); Tensor mx = ties.max(1)) {
            assertArrayEquals(new int[] {1, 0}, am.toIntArray(), "first of the ties; the first NaN as the largest");
            assertEquals(3f, mx.get(0));
            assertTrue(Float.isNaN(mx.get(1)), "max propagates NaN");
        }
    }

    @Test void topkAndCosine() {
        try (Tensor t = Tensor.of(new float[] {1, 5, 5, -2, 0, 7, 3, 3}, 2, 4); TensorOps.TopK k = t.topk(3, 1)) {
            assertArrayEquals(new float[] {5, 5, 1, 7, 3, 3}, k.values().toFloatArray());
            assertArrayEquals(new int[] {1, 2, 0, 1, 2, 3}, k.indices().toIntArray(), "descending, ties to the lower index");
        }
        try (Tensor t = rand(6, 9); TensorOps.TopK k = t.topk(4, 0)) {
            Nd x = Nd.of(t);
            for (int c = 0; c < 9; c++) {
                float[] col = new float[6];
                for (int r = 0; r < 6; r++) col[r] = x.at(r, c);
                float[] sorted = col.clone();
                Arrays.sort(sorted);
                for (int j = 0; j < 4; j++) {
                    assertEquals(sorted[5 - j], k.values().get(j, c));
                    assertEquals(sorted[5 - j], col[(int) k.indices().toIntArray()[j * 9 + c]]);
                }
            }
        }
        try (Tensor a = rand(4, 7); Tensor b = rand(4, 7)) {
            Nd x = Nd.of(a), y = Nd.of(b);
            same(Nd.build(new long[] {4}, i -> {
                double ab = 0, aa = 0, bb = 0;
                for (int k = 0; k < 7; k++) { ab += x.at(i[0], k) * y.at(i[0], k); aa += x.at(i[0], k) * x.at(i[0], k); bb += y.at(i[0], k) * y.at(i[0], k); }
                return (float) (ab / Math.sqrt(aa) / Math.sqrt(bb));
            }), a.cosineSimilarity(b, -1), "cosine");
        }
        try (Tensor z = Tensor.zeros(2, 3); Tensor c = z.cosineSimilarity(z, 1)) {
            assertArrayEquals(new float[] {0, 0}, c.toFloatArray(), "zero vectors: 0, as torch with eps");
        }
    }

    @Test void badInputThrowsNamingTheProblem() {
        long before = Tensor.liveBytes();
        try (Tensor t = rand(2, 3); Tensor ints = Tensor.ofInts(new int[] {1, 2}, 2)) {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> t.sum(2)).getMessage().contains("dimension 2"));
            assertThrows(IllegalArgumentException.class, () -> t.slice(-3, 0, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> t.select(0, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> t.narrow(1, 2, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> t.indexSelect(1, 0, 3));
            assertThrows(IllegalArgumentException.class, () -> t.permute(0, 0));
            assertThrows(IllegalArgumentException.class, () -> t.permute(1));
            assertThrows(IllegalArgumentException.class, () -> t.topk(4, 1));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> ints.exp()).getMessage().contains("I32"));
            try (Tensor e = Tensor.zeros(2, 0)) {
                assertThrows(IllegalArgumentException.class, () -> e.max(1));
                assertThrows(IllegalArgumentException.class, () -> e.argmax(1));
                try (Tensor s = e.sum(1)) { assertArrayEquals(new float[] {0, 0}, s.toFloatArray(), "sum over nothing is 0"); }
            }
        }
        Tensor closed = rand(2);
        closed.close();
        assertThrows(IllegalStateException.class, closed::exp);
        assertEquals(before, Tensor.liveBytes(), "nothing leaked by failed calls");
    }
}
