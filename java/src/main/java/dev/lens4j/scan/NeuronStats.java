package dev.lens4j.scan;

import dev.lens4j.nativ.ScanKernels;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Running statistics of every neuron of one hook point over a corpus: count, mean, variance, max, fraction > 0 and
 * the top-k (value, document, position), held in native memory and updated by the capture kernel straight from the
 * activation buffer (native/cpu/scan.cpp); constant memory whatever the corpus size. Order of the top-k: value
 * descending, then document, then position, so results do not depend on batching. Owns native memory: close().
 */
public final class NeuronStats implements AutoCloseable {
    private final int n, k;
    private final DoublePointer count, mean, m2, npos;
    private final FloatPointer maxv, topVal;
    private final LongPointer topDoc;
    private final IntPointer topPos, filled;
    private boolean closed;

    public NeuronStats(int neurons, int k) {
        if (neurons <= 0 || k < 0) throw new IllegalArgumentException("neuron stats need neurons > 0 and k >= 0, got " + neurons + ", " + k);
        long nk = Math.multiplyExact((long) neurons, (long) Math.max(k, 1));
        this.n = neurons;
        this.k = k;
        count = new DoublePointer(n).fill(0);
        mean = new DoublePointer(n).fill(0);
        m2 = new DoublePointer(n).fill(0);
        npos = new DoublePointer(n).fill(0);
        maxv = new FloatPointer(n);
        for (int j = 0; j < n; j++) maxv.put(j, Float.NEGATIVE_INFINITY);
        topVal = new FloatPointer(nk).fill(0);
        topDoc = new LongPointer(nk).fill(0);
        topPos = new IntPointer(nk).fill(0);
        filled = new IntPointer(n).fill(0);
    }

    public int neurons() { return n; }
    public int k() { return k; }

    /**
     * Folds activations [rows, neurons] (any tensor whose last dimension is the neurons: [batch, pos, neurons]) into
     * the statistics. Row r is document doc[r] at position pos[r]; pos[r] < 0 skips the row (BOS, padding).
     */
    public void update(Tensor act, long[] doc, int[] pos) {
        check();
        if (act.dtype() != DType.F32) throw new IllegalArgumentException("scan: " + act.describe() + " must be F32");
        if (!act.device().isCpu()) { // a model on a GPU: the activations come to the host (one copy per batch)
            try (Tensor host = act.to(dev.lens4j.tensor.Device.CPU)) { update(host, doc, pos); }
            return;
        }
        if (act.size(-1) != n) throw new IllegalArgumentException("scan: " + act.describe() + " has " + act.size(-1) + " neurons, stats hold " + n);
        long rows = act.numel() / n;
        if (doc.length != rows || pos.length != rows)
            throw new IllegalArgumentException("scan: " + rows + " activation rows but " + doc.length + " document ids and " + pos.length + " positions");
        try (LongPointer d = new LongPointer(doc); IntPointer p = new IntPointer(pos)) {
            int rc = ScanKernels.l4j_scan_update(rows, n, act.floatPointer(), n, d, p, k, count, mean, m2, maxv, npos, topVal, topDoc, topPos, filled);
            if (rc != 0) throw new IllegalStateException("scan update failed (native status " + rc + ")");
        }
    }

    /** Folds another partial result (e.g. another machine's) into this one: the same as scanning both inputs here. */
    public void merge(NeuronStats b) {
        check();
        b.check();
        if (b.n != n || b.k != k) throw new IllegalArgumentException("cannot merge stats of " + b.n + "x" + b.k + " into " + n + "x" + k);
        int rc = ScanKernels.l4j_scan_merge(n, k, count, mean, m2, maxv, npos, topVal, topDoc, topPos, filled,
                b.count, b.mean, b.m2, b.maxv, b.npos, b.topVal, b.topDoc, b.topPos, b.filled);
        if (rc != 0) throw new IllegalStateException("scan merge failed (native status " + rc + ")");
    }

    public double count(int j) { return count.get(j); }
    public double mean(int j) { return mean.get(j); }
    /** Population standard deviation. */
    public double std(int j) { return count.get(j) > 0 ? Math.sqrt(m2.get(j) / count.get(j)) : Double.NaN; }
    public float max(int j) { return maxv.get(j); }
    public double fractionPositive(int j) { return count.get(j) > 0 ? npos.get(j) / count.get(j) : Double.NaN; }
    public int filled(int j) { return filled.get(j); }
    public float topValue(int j, int i) { return topVal.get((long) j * k + i); }
    public long topDoc(int j, int i) { return topDoc.get((long) j * k + i); }
    public int topPosition(int j, int i) { return topPos.get((long) j * k + i); }

    /**
     * The exact state as tensors for a checkpoint (prefix + name): float64 moments as their raw bits in int32 pairs,
     * so that a resumed scan continues bit for bit. {@link #summaryTensors} is the readable form.
     */
    public Map<String, Tensor> toTensors(String prefix) {
        check();
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put(prefix + "count", doubles(count, n));
        out.put(prefix + "mean", doubles(mean, n));
        out.put(prefix + "m2", doubles(m2, n));
        out.put(prefix + "npos", doubles(npos, n));
        float[] mx = new float[n];
        maxv.get(mx);
        out.put(prefix + "max", Tensor.of(mx, n));
        long nk = (long) n * k;
        float[] tv = new float[(int) nk];
        topVal.get(tv);
        out.put(prefix + "top_values", Tensor.of(tv, n, k));
        int[] td = new int[(int) nk];
        for (int i = 0; i < nk; i++) {
            long d = topDoc.get(i);
            if (d > Integer.MAX_VALUE) throw new IllegalStateException("document id " + d + " does not fit the output's int32");
            td[i] = (int) d;
        }
        out.put(prefix + "top_docs", Tensor.ofInts(td, n, k));
        int[] tp = new int[(int) nk];
        topPos.get(tp);
        out.put(prefix + "top_positions", Tensor.ofInts(tp, n, k));
        int[] f = new int[n];
        filled.get(f);
        out.put(prefix + "filled", Tensor.ofInts(f, n));
        return out;
    }

    /** The state written by {@link #toTensors}. */
    public static NeuronStats fromTensors(Map<String, Tensor> t, String prefix) {
        Tensor tv = get(t, prefix + "top_values");
        NeuronStats s = new NeuronStats((int) tv.size(0), (int) tv.size(1));
        try {
            s.setDoubles(s.count, get(t, prefix + "count"));
            s.setDoubles(s.mean, get(t, prefix + "mean"));
            s.setDoubles(s.m2, get(t, prefix + "m2"));
            s.setDoubles(s.npos, get(t, prefix + "npos"));
            s.maxv.put(get(t, prefix + "max").toFloatArray());
            s.topVal.put(tv.toFloatArray());
            int[] td = get(t, prefix + "top_docs").toIntArray();
            for (int i = 0; i < td.length; i++) s.topDoc.put(i, td[i]);
            s.topPos.put(get(t, prefix + "top_positions").toIntArray());
            s.filled.put(get(t, prefix + "filled").toIntArray());
            return s;
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
    }

    private static Tensor get(Map<String, Tensor> t, String name) {
        Tensor x = t.get(name);
        if (x == null) throw new IllegalArgumentException("scan checkpoint lacks '" + name + "'");
        return x;
    }

    private static Tensor doubles(DoublePointer p, int n) {
        int[] bits = new int[2 * n];
        for (int j = 0; j < n; j++) {
            long b = Double.doubleToRawLongBits(p.get(j));
            bits[2 * j] = (int) (b >>> 32);
            bits[2 * j + 1] = (int) b;
        }
        return Tensor.ofInts(bits, n, 2);
    }

    private void setDoubles(DoublePointer p, Tensor t) {
        if (t.numel() != 2L * n) throw new IllegalArgumentException("scan checkpoint: " + t.describe() + " for " + n + " neurons");
        int[] bits = t.toIntArray();
        for (int j = 0; j < n; j++) p.put(j, Double.longBitsToDouble(((long) bits[2 * j] << 32) | (bits[2 * j + 1] & 0xffffffffL)));
    }

    /** Readable float32 statistics and top-k lists: count, mean, std, max, frac_pos [n]; top_* [n, k] (prefix + name). */
    public Map<String, Tensor> summaryTensors(String prefix) {
        check();
        Map<String, Tensor> out = new LinkedHashMap<>();
        float[] c = new float[n], mu = new float[n], sd = new float[n], mx = new float[n], fp = new float[n];
        for (int j = 0; j < n; j++) {
            c[j] = (float) count(j); mu[j] = (float) mean(j); sd[j] = (float) std(j); mx[j] = max(j); fp[j] = (float) fractionPositive(j);
        }
        out.put(prefix + "count", Tensor.of(c, n));
        out.put(prefix + "mean", Tensor.of(mu, n));
        out.put(prefix + "std", Tensor.of(sd, n));
        out.put(prefix + "max", Tensor.of(mx, n));
        out.put(prefix + "frac_pos", Tensor.of(fp, n));
        Map<String, Tensor> state = toTensors(prefix);
        for (String key : new String[] {"top_values", "top_docs", "top_positions", "filled"}) out.put(prefix + key, state.remove(prefix + key));
        state.values().forEach(Tensor::close);
        return out;
    }

    private void check() { if (closed) throw new IllegalStateException("neuron stats are closed"); }

    @Override public void close() {
        if (closed) return;
        closed = true;
        for (var p : new org.bytedeco.javacpp.Pointer[] {count, mean, m2, npos, maxv, topVal, topDoc, topPos, filled}) p.close();
    }
}
