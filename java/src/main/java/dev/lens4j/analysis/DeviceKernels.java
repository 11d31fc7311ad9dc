package dev.lens4j.analysis;

import dev.lens4j.backend.CudaRuntime;
import dev.lens4j.nativ.AnalysisKernels;
import dev.lens4j.nativ.CpuKernels;
import dev.lens4j.nativ.CudaKernels;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Device;
import dev.lens4j.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

import java.util.Arrays;

/**
 * The design card's analysis kernels on tensors wherever they live: neuron scores, attribution patching's
 * reductions, and linear / probability metrics of the logits with their gradients. Each method validates in Java,
 * then runs native/cpu/analysis_kernels.cpp for CPU tensors or native/cuda/analysis_kernels.cu for CUDA tensors (the
 * loaded CUDA library, {@link CudaRuntime}; asynchronous on the default stream). Every tensor of a call must be on
 * one device; outputs are written in place.
 */
public final class DeviceKernels {
    private DeviceKernels() {}

    /**
     * Seed 000's scores out[r, j] = h[r, j] * (W_out[j] . g[r]). h: [rows, d_mlp] or [rows, pos, d_mlp]; g: [rows,
     * d_model] or [rows, pos, d_model] (a position dimension: its last position is read, each row's last real token
     * in a left-padded batch); W_out [d_mlp, d_model]; out [rows, d_mlp] (F32, overwritten).
     */
    public static void neuronScores(Tensor h, Tensor wOut, Tensor g, Tensor out) {
        Device dev = sameDevice(h, wOut, g, out);
        requireF32(h, wOut, g, out);
        if (wOut.rank() != 2) throw new IllegalArgumentException("W_out must be [d_mlp, d_model], got " + Arrays.toString(wOut.shape()));
        long F = wOut.size(0), D = wOut.size(1), rows = h.size(0);
        Last hl = last("h", h, F), gl = last("g", g, D);
        if (g.size(0) != rows) throw new IllegalArgumentException("h has " + rows + " rows, g " + g.size(0));
        Tensor.requireShape("neuron scores out", out, rows, F);
        FloatPointer hp = at(h, hl.offset), gp = at(g, gl.offset);
        if (dev.isCpu())
            check(AnalysisKernels.l4j_neuron_scores(rows, F, D, hp, hl.stride, wOut.floatPointer(), gp, gl.stride, out.floatPointer()), "neuron_scores");
        else
            CudaRuntime.check(CudaKernels.l4jc_neuron_scores(rows, F, D, hp, hl.stride, wOut.floatPointer(), gp, gl.stride, out.floatPointer(), null), "neuron_scores");
    }

    /**
     * Attribution patching's reduction: out[j] = sum over every dimension but keepDim of (corrupt - clean) * grad,
     * with j the index along keepDim (neurons: keepDim 2 of [batch, pos, d_mlp]; heads: 2 of [batch, pos, n_heads,
     * d_head]; resid positions: 1 of [batch, pos, d_model]). clean may be null when corrupt already holds the
     * difference. out: [size(keepDim)] F32, overwritten.
     */
    public static void attributionReduce(Tensor clean, Tensor corrupt, Tensor grad, int keepDim, Tensor out) {
        Device dev = clean == null ? sameDevice(corrupt, grad, out) : sameDevice(clean, corrupt, grad, out);
        requireF32(corrupt, grad, out);
        if (clean != null) { requireF32(clean); requireSame("clean", clean, corrupt); }
        requireSame("grad", grad, corrupt);
        int r = corrupt.rank();
        if (keepDim < 0 || keepDim >= r) throw new IllegalArgumentException("keepDim " + keepDim + " is outside a rank-" + r + " tensor");
        long outer = 1, inner = 1, n = corrupt.size(keepDim);
        for (int d = 0; d < keepDim; d++) outer *= corrupt.size(d);
        for (int d = keepDim + 1; d < r; d++) inner *= corrupt.size(d);
        Tensor.requireShape("attribution out", out, n);
        FloatPointer c = clean == null ? null : clean.floatPointer();
        if (dev.isCpu())
            check(AnalysisKernels.l4j_attribution_reduce(outer, n, inner, c, corrupt.floatPointer(), grad.floatPointer(), out.floatPointer()), "attribution_reduce");
        else
            CudaRuntime.check(CudaKernels.l4jc_attribution_reduce(outer, n, inner, c, corrupt.floatPointer(), grad.floatPointer(), out.floatPointer(), null), "attribution_reduce");
    }

    /**
     * Token weights of a linear metric: per row, value = sum_t weights[t] * logit[ids[t]]. Either one shared list
     * (ids.length == k) or one list per row (ids.length == rows * k).
     */
    public record TokenWeights(int k, int[] ids, float[] weights) {
        public TokenWeights {
            if (k <= 0 || ids.length != weights.length || ids.length % k != 0)
                throw new IllegalArgumentException(ids.length + " ids and " + weights.length + " weights for lists of " + k);
        }

        /** logit(answers[b]) - logit(wrongs[b]) (1 or batch entries each, as Metrics.logitDiff). */
        public static TokenWeights logitDiff(int[] answers, int[] wrongs, int batch) {
            return pairs(answers, wrongs, null, batch);
        }

        /** The forced-choice margin logit(yes) - logit(no), times -1 where the truth is no (Metrics.forcedChoiceMargin). */
        public static TokenWeights forcedChoice(int[] yes, int[] no, boolean[] truthIsYes) {
            return pairs(yes, no, truthIsYes, truthIsYes.length);
        }

        /** Mean logit of set A minus mean logit of set B, shared by every row (Metrics.logitSetDiff). */
        public static TokenWeights setDiff(int[] setA, int[] setB) {
            return sets(setA, setB, 1f / setA.length, -1f / setB.length);
        }

        /** Sum over set A minus sum over set B (unit weights): with probMetric, Metrics.probSetDiff (seed 004). */
        public static TokenWeights setSumDiff(int[] setA, int[] setB) {
            return sets(setA, setB, 1f, -1f);
        }

        private static TokenWeights sets(int[] setA, int[] setB, float wa, float wb) {
            if (setA.length == 0 || setB.length == 0) throw new IllegalArgumentException("empty token set");
            int k = setA.length + setB.length;
            int[] ids = new int[k];
            float[] w = new float[k];
            for (int t = 0; t < setA.length; t++) { ids[t] = setA[t]; w[t] = wa; }
            for (int t = 0; t < setB.length; t++) { ids[setA.length + t] = setB[t]; w[setA.length + t] = wb; }
            return new TokenWeights(k, ids, w);
        }

        private static TokenWeights pairs(int[] a, int[] b, boolean[] sign, int batch) {
            if (a.length != 1 && a.length != batch || b.length != 1 && b.length != batch)
                throw new IllegalArgumentException(a.length + " and " + b.length + " tokens for a batch of " + batch + " (give 1 or " + batch + ")");
            int[] ids = new int[2 * batch];
            float[] w = new float[2 * batch];
            for (int r = 0; r < batch; r++) {
                float s = sign == null || sign[r] ? 1f : -1f;
                ids[2 * r] = a[a.length == 1 ? 0 : r]; w[2 * r] = s;
                ids[2 * r + 1] = b[b.length == 1 ? 0 : r]; w[2 * r + 1] = -s;
            }
            return new TokenWeights(2, ids, w);
        }
    }

    /**
     * A linear metric of each row's last position: logits [rows, pos, vocab] (or [rows, vocab]); value [rows] gets
     * sum_t w_t * logit(ids_t); dlogits (same shape as logits, or null) gets += w_t at those entries.
     */
    public static void logitMetric(Tensor logits, TokenWeights tw, Tensor value, Tensor dlogits) {
        metric(false, logits, tw, value, dlogits);
    }

    /** As logitMetric on softmax probabilities (Metrics.probSetDiff): dlogits += p_v (c_v - value). */
    public static void probMetric(Tensor logits, TokenWeights tw, Tensor value, Tensor dlogits) {
        metric(true, logits, tw, value, dlogits);
    }

    private static void metric(boolean prob, Tensor logits, TokenWeights tw, Tensor value, Tensor dlogits) {
        Device dev = dlogits == null ? sameDevice(logits, value) : sameDevice(logits, value, dlogits);
        requireF32(logits, value);
        int r = logits.rank();
        if (r != 2 && r != 3) throw new IllegalArgumentException("logits must be [rows, vocab] or [rows, pos, vocab], got " + Arrays.toString(logits.shape()));
        long rows = logits.size(0), pos = r == 3 ? logits.size(1) : 1, vocab = logits.size(-1);
        if (rows > Integer.MAX_VALUE || rows * pos > Integer.MAX_VALUE) throw new IllegalArgumentException("too many logit rows: " + rows * pos);
        Tensor.requireShape("metric value", value, rows);
        if (dlogits != null) { requireF32(dlogits); requireSame("dlogits", dlogits, logits); }
        long lists = tw.ids().length / tw.k();
        if (lists != 1 && lists != rows) throw new IllegalArgumentException(lists + " token lists for " + rows + " rows (give 1 or " + rows + ")");
        for (int id : tw.ids())
            if (id < 0 || id >= vocab) throw new IllegalArgumentException("token " + id + " is outside the vocabulary [0, " + vocab + ")");
        int[] lastRow = new int[(int) rows];
        for (int b = 0; b < rows; b++) lastRow[b] = (int) (b * pos + pos - 1);
        long ld = lists == 1 ? 0 : tw.k();
        FloatPointer dl = dlogits == null ? null : dlogits.floatPointer();
        if (dev.isCpu()) {
            try (IntPointer rowp = new IntPointer(lastRow); IntPointer ids = new IntPointer(tw.ids()); FloatPointer w = new FloatPointer(tw.weights())) {
                check(prob ? AnalysisKernels.l4j_prob_metric(rows, vocab, logits.floatPointer(), rowp, tw.k(), ids, w, ld, value.floatPointer(), dl)
                           : AnalysisKernels.l4j_logit_metric(rows, vocab, logits.floatPointer(), rowp, tw.k(), ids, w, ld, value.floatPointer(), dl),
                        prob ? "prob_metric" : "logit_metric");
            }
            return;
        }
        // the small index arrays go to the device for the call; the kernel is ordered before the frees
        try (DeviceCopy rowp = new DeviceCopy(new IntPointer(lastRow), 4L * rows);
             DeviceCopy ids = new DeviceCopy(new IntPointer(tw.ids()), 4L * tw.ids().length);
             DeviceCopy w = new DeviceCopy(new FloatPointer(tw.weights()), 4L * tw.weights().length)) {
            IntPointer rp = new IntPointer(rowp.ptr), ip = new IntPointer(ids.ptr);
            FloatPointer wp = new FloatPointer(w.ptr);
            CudaRuntime.check(prob ? CudaKernels.l4jc_prob_metric(rows, vocab, logits.floatPointer(), rp, tw.k(), ip, wp, ld, value.floatPointer(), dl, null)
                                   : CudaKernels.l4jc_logit_metric(rows, vocab, logits.floatPointer(), rp, tw.k(), ip, wp, ld, value.floatPointer(), dl, null),
                    prob ? "prob_metric" : "logit_metric");
        }
    }

    /** A host array copied to fresh device memory (freed on close, after the device has finished with it). */
    private static final class DeviceCopy implements AutoCloseable {
        final Pointer ptr;

        DeviceCopy(Pointer host, long bytes) {
            try (host; PointerPointer<Pointer> pp = new PointerPointer<>(1)) {
                CudaRuntime.check(CudaKernels.l4jc_malloc_uninit(pp, bytes), "malloc");
                ptr = pp.get(0);
                int s = CudaKernels.l4jc_memcpy(ptr, host, bytes, 0);
                if (s != CpuKernels.L4J_OK) { CudaKernels.l4jc_free(ptr); CudaRuntime.check(s, "memcpy"); }
            }
        }

        @Override public void close() {
            int s = CudaKernels.l4jc_synchronize();
            CudaKernels.l4jc_free(ptr);
            CudaRuntime.check(s, "synchronize");
        }
    }

    /** Where a row's scored position starts and the stride between rows, for [rows, n] or [rows, pos, n]. */
    private record Last(long offset, long stride) {}

    private static Last last(String what, Tensor t, long n) {
        if (t.rank() == 2 && t.size(1) == n) return new Last(0, n);
        if (t.rank() == 3 && t.size(2) == n && t.size(1) > 0) return new Last((t.size(1) - 1) * n, t.size(1) * n);
        throw new IllegalArgumentException(what + " must be [rows, " + n + "] or [rows, pos, " + n + "], got " + Arrays.toString(t.shape()));
    }

    private static FloatPointer at(Tensor t, long offset) {
        return t.floatPointer().position(offset);
    }

    private static Device sameDevice(Tensor... ts) {
        Device d = ts[0].device();
        for (Tensor t : ts)
            if (!t.device().equals(d)) throw new IllegalArgumentException(t.describe() + " is not on " + d + " with the other arguments");
        return d;
    }

    private static void requireF32(Tensor... ts) {
        for (Tensor t : ts) if (t.dtype() != DType.F32) throw new IllegalArgumentException(t.describe() + " must be F32");
    }

    private static void requireSame(String what, Tensor t, Tensor like) {
        if (!Arrays.equals(t.shape(), like.shape()))
            throw new IllegalArgumentException(what + " has shape " + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(like.shape()));
    }

    private static void check(int status, String op) {
        if (status == CpuKernels.L4J_OK) return;
        throw new IllegalStateException("analysis kernel " + op + " failed with status " + status);
    }
}
