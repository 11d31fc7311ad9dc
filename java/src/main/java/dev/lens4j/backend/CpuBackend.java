package dev.lens4j.backend;

import dev.lens4j.nativ.CpuKernels;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Device;
import dev.lens4j.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;

import java.util.Arrays;

/** Native CPU kernels (C++ + OpenBLAS + OpenMP) behind {@link Backend}. */
public final class CpuBackend implements Backend {
    private static final CpuBackend INSTANCE = new CpuBackend();

    public static CpuBackend get() { return INSTANCE; }

    private CpuBackend() { CpuKernels.load(); }

    @Override public Device device() { return Device.CPU; }

    @Override public void setNumThreads(int n) {
        if (n <= 0) throw new IllegalArgumentException("thread count must be > 0, got " + n);
        check(CpuKernels.l4j_set_num_threads(n), "set_num_threads");
    }

    /** The calling thread's native thread count (see {@link Backend#setNumThreads}). */
    public int numThreads() { return CpuKernels.l4j_get_num_threads(); }

    /** The OpenBLAS core type whose kernels run here (OPENBLAS_CORETYPE, or detected), e.g. "Haswell". */
    public String blasCoreName() { return CpuKernels.l4j_blas_corename().getString(); }

    // ------------------------------------------------------------------ helpers

    static void check(int status, String op) {
        switch (status) {
            case CpuKernels.L4J_OK: return;
            case CpuKernels.L4J_ERR_RANGE: throw new IndexOutOfBoundsException(op + ": index out of range");
            case CpuKernels.L4J_ERR_NOMEM: throw new OutOfMemoryError(op + ": native allocation failed");
            case CpuKernels.L4J_ERR_UNSUPPORTED: throw new UnsupportedOperationException(op + ": unsupported");
            default: throw new IllegalArgumentException(op + ": native kernel rejected its arguments (status " + status + ")");
        }
    }

    private static FloatPointer f(Tensor t) {
        if (t == null) return null;
        if (!t.device().isCpu()) throw new IllegalArgumentException(t.describe() + " is not on the CPU");
        return t.floatPointer();
    }

    private static FloatPointer f(Tensor t, long offset) {
        FloatPointer p = f(t);
        return p == null ? null : offset == 0 ? p : new FloatPointer(p).position(offset);
    }

    private static void numel(String op, String what, Tensor t, long n) {
        if (t.numel() != n)
            throw new IllegalArgumentException(op + ": " + what + " " + t.describe() + " should hold " + n + " values, holds " + t.numel());
    }

    private static void sameShape(String op, Tensor a, Tensor b) {
        if (!Arrays.equals(a.shape(), b.shape()))
            throw new IllegalArgumentException(op + ": shapes differ: " + a.describe() + " vs " + b.describe());
    }

    private static long lastDim(Tensor t) { return t.rank() == 0 ? 1 : t.size(-1); }

    // ------------------------------------------------------------------ kernels

    @Override
    public void gemm(boolean transA, boolean transB, long M, long N, long K, float alpha,
                     Tensor A, long offA, long lda, Tensor B, long offB, long ldb, float beta,
                     Tensor C, long offC, long ldc, Tensor bias, long offBias) {
        if (M < 0 || N < 0 || K < 0) throw new IllegalArgumentException("gemm: negative size M=" + M + " N=" + N + " K=" + K);
        long aRows = transA ? K : M, aCols = transA ? M : K, bRows = transB ? N : K, bCols = transB ? K : N;
        span("gemm", "A", A, offA, aRows, aCols, lda);
        span("gemm", "B", B, offB, bRows, bCols, ldb);
        span("gemm", "C", C, offC, M, N, ldc);
        if (bias != null && (offBias < 0 || offBias + N > bias.numel()))
            throw new IllegalArgumentException("gemm: bias " + bias.describe() + " too small for N=" + N + " at offset " + offBias);
        if (A.dtype() == DType.BF16) { // a weight on the left (weight-based analyses): widen the span used
            long n = aRows == 0 || aCols == 0 ? 0 : (aRows - 1) * lda + aCols;
            try (Tensor a = Bf16Gemm.widen(A, offA, n)) { gemm(transA, transB, M, N, K, alpha, a, 0, lda, B, offB, ldb, beta, C, offC, ldc, bias, offBias); }
            return;
        }
        if (B.dtype() == DType.BF16) {
            Bf16Gemm.gemm(transA, transB, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc, bias, offBias);
            return;
        }
        check(CpuKernels.l4j_gemm(transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, f(A, offA), lda, f(B, offB), ldb,
                beta, f(C, offC), ldc, f(bias, offBias)), "gemm");
    }

    private static void span(String op, String what, Tensor t, long off, long rows, long cols, long ld) {
        if (ld < cols) throw new IllegalArgumentException(op + ": leading dimension of " + what + " (" + ld + ") < its columns (" + cols + ")");
        if (rows == 0 || cols == 0) return;
        long end = off + (rows - 1) * ld + cols;
        if (off < 0 || end > t.numel())
            throw new IllegalArgumentException(op + ": " + what + " " + t.describe() + " too small for a " + rows + "x" + cols + " matrix at offset " + off);
    }

    @Override public void embed(Tensor tokens, Tensor W_E, Tensor out) {
        if (tokens.dtype() != DType.I32) throw new IllegalArgumentException("embed: tokens must be I32, got " + tokens.describe());
        long dVocab = W_E.size(0), dModel = W_E.size(1);
        numel("embed", "output", out, tokens.numel() * dModel);
        int[] ids = tokens.toIntArray();
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= dVocab)
                throw new IndexOutOfBoundsException("token id " + ids[i] + " at index " + i + " is outside the vocabulary [0, " + dVocab + ")");
        IntPointer tp = tokens.intPointer();
        if (W_E.dtype() == DType.BF16) {
            check(CpuKernels.l4j_embed_bf16(tokens.numel(), tp, W_E.bf16Pointer(), dVocab, dModel, f(out)), "embed");
            return;
        }
        check(CpuKernels.l4j_embed(tokens.numel(), tp, f(W_E), dVocab, dModel, f(out)), "embed");
    }

    @Override public void posEmbed(long batch, long seq, long offset, Tensor W_pos, Tensor out) {
        long nCtx = W_pos.size(0), dModel = W_pos.size(1);
        if (offset < 0 || offset + seq > nCtx)
            throw new IllegalArgumentException("positions " + offset + ".." + (offset + seq - 1) + " exceed n_ctx " + nCtx);
        numel("pos_embed", "output", out, batch * seq * dModel);
        check(CpuKernels.l4j_pos_embed(batch, seq, offset, f(W_pos), nCtx, dModel, f(out)), "pos_embed");
    }

    @Override public void layerNorm(Tensor x, Tensor w, Tensor b, float eps, Tensor out, Tensor scale) {
        long d = lastDim(x), rows = x.numel() / d;
        numel("layer_norm", "output", out, x.numel());
        if (w != null) numel("layer_norm", "weight", w, d);
        if (b != null) numel("layer_norm", "bias", b, d);
        if (scale != null) numel("layer_norm", "scale", scale, rows);
        check(CpuKernels.l4j_layernorm(rows, d, f(x), f(w), f(b), eps, f(out), f(scale)), "layer_norm");
    }

    @Override public void rmsNorm(Tensor x, Tensor w, float eps, Tensor out, Tensor scale, Tensor normalized) {
        long d = lastDim(x), rows = x.numel() / d;
        numel("rms_norm", "output", out, x.numel());
        if (w != null) numel("rms_norm", "weight", w, d);
        if (scale != null) numel("rms_norm", "scale", scale, rows);
        if (normalized != null) numel("rms_norm", "normalized", normalized, x.numel());
        check(CpuKernels.l4j_rmsnorm(rows, d, f(x), f(w), eps, f(out), f(scale), f(normalized)), "rms_norm");
    }

    @Override public void rotary(Tensor x, long rotaryDim, long offset, Tensor cos, Tensor sin, boolean adjacentPairs, Tensor out) {
        if (x.rank() != 4) throw new IllegalArgumentException("rotary: expected [batch, pos, head, d_head], got " + x.describe());
        long batch = x.size(0), seq = x.size(1), heads = x.size(2), dHead = x.size(3);
        if (rotaryDim <= 0 || rotaryDim % 2 != 0 || rotaryDim > dHead)
            throw new IllegalArgumentException("rotary: rotary_dim " + rotaryDim + " must be even and in (0, d_head=" + dHead + "]");
        long nCtx = cos.size(0);
        if (cos.size(1) != rotaryDim / 2 || !Arrays.equals(cos.shape(), sin.shape()))
            throw new IllegalArgumentException("rotary: tables " + cos.describe() + " / " + sin.describe() + " do not match rotary_dim " + rotaryDim);
        if (offset < 0 || offset + seq > nCtx)
            throw new IllegalArgumentException("rotary: positions " + offset + ".." + (offset + seq - 1) + " exceed n_ctx " + nCtx);
        sameShape("rotary", x, out);
        check(CpuKernels.l4j_rotary(batch, seq, heads, dHead, rotaryDim, offset, f(cos), f(sin), nCtx, adjacentPairs ? 1 : 0,
                f(x), f(out)), "rotary");
    }

    private static long[] qkv(String op, Tensor q, Tensor k) {
        if (q.rank() != 4 || k.rank() != 4)
            throw new IllegalArgumentException(op + ": q and k must be [batch, pos, head, d_head], got " + q.describe() + ", " + k.describe());
        long batch = q.size(0), seq = q.size(1), heads = q.size(2), dHead = q.size(3), kvHeads = k.size(2);
        if (k.size(0) != batch || k.size(1) != seq || k.size(3) != dHead || kvHeads <= 0 || heads % kvHeads != 0)
            throw new IllegalArgumentException(op + ": k " + k.describe() + " does not fit q " + q.describe());
        return new long[] {batch, seq, heads, kvHeads, dHead};
    }

    /** [batch, q_len, k_len, heads, kv_heads, d_head] of q against k (k_len >= q_len: a KV cache's earlier keys). */
    private static long[] qkvCached(String op, Tensor q, Tensor k) {
        if (q.rank() != 4 || k.rank() != 4)
            throw new IllegalArgumentException(op + ": q and k must be [batch, pos, head, d_head], got " + q.describe() + ", " + k.describe());
        long batch = q.size(0), qLen = q.size(1), heads = q.size(2), dHead = q.size(3), kLen = k.size(1), kvHeads = k.size(2);
        if (k.size(0) != batch || kLen < qLen || k.size(3) != dHead || kvHeads <= 0 || heads % kvHeads != 0)
            throw new IllegalArgumentException(op + ": k " + k.describe() + " does not fit q " + q.describe());
        return new long[] {batch, qLen, kLen, heads, kvHeads, dHead};
    }

    /** Each row's valid keys [start, end) within [0, kLen], as a native array the caller closes (null: all valid). */
    private static LongPointer keyRanges(String op, long[] ranges, long batch, long kLen) {
        if (ranges == null) return null;
        if (ranges.length != 2 * batch)
            throw new IllegalArgumentException(op + ": key ranges hold " + ranges.length + " values, need 2 per row (" + 2 * batch + ")");
        for (int b = 0; b < batch; b++)
            if (ranges[2 * b] < 0 || ranges[2 * b] > ranges[2 * b + 1] || ranges[2 * b + 1] > kLen)
                throw new IllegalArgumentException(op + ": row " + b + "'s valid keys [" + ranges[2 * b] + ", " + ranges[2 * b + 1]
                        + ") are not a range within [0, " + kLen + "]");
        return new LongPointer(ranges);
    }

    @Override public void attnScores(Tensor q, Tensor k, float scale, long window, float softcap, long[] keyRanges, Tensor scores) {
        String op = "attn_scores";
        long[] s = qkvCached(op, q, k);
        maskArgs(op, window, softcap);
        numel(op, "scores", scores, s[0] * s[3] * s[1] * s[2]);
        try (LongPointer kr = keyRanges(op, keyRanges, s[0], s[2])) {
            check(CpuKernels.l4j_attn_scores_masked(s[0], s[1], s[2], s[3], s[4], s[5], f(q), f(k), scale, window, softcap, kr, f(scores)), op);
        }
    }

    private static void maskArgs(String op, long window, float softcap) {
        if (window < 0) throw new IllegalArgumentException(op + ": sliding window must be >= 0 (0 = none), got " + window);
        if (!(softcap >= 0) || Float.isInfinite(softcap))
            throw new IllegalArgumentException(op + ": soft cap must be finite and >= 0 (0 = none), got " + softcap);
    }

    @Override public void softcap(Tensor x, float cap, Tensor out) {
        if (!(cap > 0) || Float.isInfinite(cap)) throw new IllegalArgumentException("softcap: cap must be finite and > 0, got " + cap);
        numel("softcap", "output", out, x.numel());
        check(CpuKernels.l4j_softcap(x.numel(), f(x), cap, f(out)), "softcap");
    }

    @Override public void softcapBackward(Tensor y, Tensor dy, float cap, Tensor dx) {
        String op = "softcap_backward";
        if (!(cap > 0) || Float.isInfinite(cap)) throw new IllegalArgumentException(op + ": cap must be finite and > 0, got " + cap);
        req(op, "y", y);
        req(op, "dy", dy, y.numel());
        req(op, "dx", dx, y.numel());
        check(CpuKernels.l4j_softcap_backward(y.numel(), f(y), f(dy), cap, f(dx)), op);
    }

    @Override public void attnApply(Tensor pattern, Tensor v, Tensor z) {
        if (z.rank() != 4) throw new IllegalArgumentException("attn_apply: z must be [batch, pos, head, d_head], got " + z.describe());
        long[] s = qkvCached("attn_apply", z, v);
        numel("attn_apply", "pattern", pattern, s[0] * s[3] * s[1] * s[2]);
        check(CpuKernels.l4j_attn_apply_kv(s[0], s[1], s[2], s[3], s[4], s[5], f(pattern), f(v), f(z)), "attn_apply");
    }

    @Override public void attention(Tensor q, Tensor k, Tensor v, float scale, long window, float softcap, long[] keyRanges,
                                    Tensor z, Tensor scores, Tensor pattern) {
        String op = "attention";
        long[] s = qkvCached(op, q, k);
        maskArgs(op, window, softcap);
        sameShape(op, k, v);
        sameShape(op, q, z);
        long n = s[0] * s[3] * s[1] * s[2];
        if (scores != null) numel(op, "scores", scores, n);
        if (pattern != null) numel(op, "pattern", pattern, n);
        try (LongPointer kr = keyRanges(op, keyRanges, s[0], s[2])) {
            check(CpuKernels.l4j_attention_masked(s[0], s[1], s[2], s[3], s[4], s[5], f(q), f(k), f(v), scale, window, softcap, kr,
                    f(z), f(scores), f(pattern)), op);
        }
    }

    @Override public void activation(Activation act, Tensor x, Tensor out) {
        numel("activation", "output", out, x.numel());
        check(CpuKernels.l4j_activation(act.code, x.numel(), f(x), f(out)), "activation " + act.tlName);
    }

    @Override public void gatedActivation(Activation act, Tensor gatePre, Tensor linear, Tensor out) {
        numel("gated_activation", "linear", linear, gatePre.numel());
        numel("gated_activation", "output", out, gatePre.numel());
        check(CpuKernels.l4j_gated_activation(act.code, gatePre.numel(), f(gatePre), f(linear), f(out)), "gated " + act.tlName);
    }

    @Override public void add(Tensor a, Tensor b, Tensor out) {
        numel("add", "b", b, a.numel());
        numel("add", "output", out, a.numel());
        check(CpuKernels.l4j_add(a.numel(), f(a), f(b), f(out)), "add");
    }

    @Override public void scaleCols(Tensor x, Tensor w, Tensor out) {
        long d = w.numel();
        if (x.numel() % d != 0) throw new IllegalArgumentException("scale_cols: " + x.describe() + " is not a multiple of " + d);
        numel("scale_cols", "output", out, x.numel());
        check(CpuKernels.l4j_scale_cols(x.numel() / d, d, f(x), f(w), f(out)), "scale_cols");
    }

    @Override public void addBias(Tensor x, Tensor bias, Tensor out) {
        long d = bias.numel();
        if (x.numel() % d != 0) throw new IllegalArgumentException("add_bias: " + x.describe() + " is not a multiple of " + d);
        numel("add_bias", "output", out, x.numel());
        check(CpuKernels.l4j_add_bias(x.numel() / d, d, f(x), f(bias), f(out)), "add_bias");
    }

    @Override public void gather(Tensor src, int dim, int[] idx, Tensor out) {
        if (dim < 0 || dim >= src.rank()) throw new IllegalArgumentException("gather: dim " + dim + " of " + src.describe());
        long[] shape = src.shape();
        long outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.length; i++) inner *= shape[i];
        for (int i : idx) if (i < 0 || i >= shape[dim]) throw new IndexOutOfBoundsException("gather: index " + i + " outside dimension " + dim + " of " + src.describe());
        numel("gather", "output", out, outer * idx.length * inner);
        if (src.dtype() == DType.BF16 && out.dtype() == DType.F32) { Bf16Gemm.gatherWidened(src, outer, shape[dim], inner, idx, out); return; }
        if (src.dtype() != out.dtype()) throw new IllegalArgumentException("gather: " + src.describe() + " into " + out.describe());
        long es = src.dtype().bytes, chunk = inner * es;
        org.bytedeco.javacpp.Pointer s = src.pointer(), o = out.pointer();
        org.bytedeco.javacpp.BytePointer sb = new org.bytedeco.javacpp.BytePointer(s), ob = new org.bytedeco.javacpp.BytePointer(o);
        for (long a = 0; a < outer; a++)
            for (int j = 0; j < idx.length; j++) {
                long from = (a * shape[dim] + idx[j]) * chunk, to = (a * idx.length + j) * chunk;
                org.bytedeco.javacpp.Pointer.memcpy(new org.bytedeco.javacpp.BytePointer(ob).position(to),
                        new org.bytedeco.javacpp.BytePointer(sb).position(from), chunk);
            }
    }

    @Override public void softmax(Tensor x, Tensor out) {
        long n = lastDim(x);
        numel("softmax", "output", out, x.numel());
        check(CpuKernels.l4j_softmax(x.numel() / n, n, f(x), f(out)), "softmax");
    }

    @Override public void logSoftmax(Tensor x, Tensor out) {
        long n = lastDim(x);
        numel("log_softmax", "output", out, x.numel());
        check(CpuKernels.l4j_log_softmax(x.numel() / n, n, f(x), f(out)), "log_softmax");
    }

    @Override public void crossEntropy(Tensor logits, Tensor targets, Tensor loss) {
        long n = lastDim(logits), rows = logits.numel() / n;
        if (targets.dtype() != DType.I32) throw new IllegalArgumentException("cross_entropy: targets must be I32");
        numel("cross_entropy", "targets", targets, rows);
        numel("cross_entropy", "loss", loss, rows);
        int[] t = targets.toIntArray();
        for (int i = 0; i < t.length; i++)
            if (t[i] < 0 || t[i] >= n) throw new IndexOutOfBoundsException("cross_entropy: target " + t[i] + " at row " + i + " outside [0, " + n + ")");
        check(CpuKernels.l4j_cross_entropy(rows, n, f(logits), targets.intPointer(), f(loss)), "cross_entropy");
    }

    // ------------------------------------------------------------------ backward

    /** A required float operand: present, F32. */
    private static Tensor req(String op, String what, Tensor t) {
        if (t == null) throw new IllegalArgumentException(op + ": " + what + " is required");
        if (t.dtype() != DType.F32) throw new IllegalArgumentException(op + ": " + what + " must be F32, got " + t.describe());
        return t;
    }

    private static void req(String op, String what, Tensor t, long n) { numel(op, what, req(op, what, t), n); }

    /** An optional float operand: null, or F32 with n values. */
    private static void opt(String op, String what, Tensor t, long n) { if (t != null) req(op, what, t, n); }

    private static int[] tokenIds(String op, String what, Tensor t, long bound) {
        if (t == null) throw new IllegalArgumentException(op + ": " + what + " is required");
        if (t.dtype() != DType.I32) throw new IllegalArgumentException(op + ": " + what + " must be I32, got " + t.describe());
        int[] ids = t.toIntArray();
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= bound)
                throw new IndexOutOfBoundsException(op + ": " + what + " " + ids[i] + " at index " + i + " is outside [0, " + bound + ")");
        return ids;
    }

    private static void matrix(String op, String what, Tensor t) {
        req(op, what, t);
        if (t.rank() != 2) throw new IllegalArgumentException(op + ": " + what + " must be 2-D, got " + t.describe());
    }

    @Override public void sumRows(Tensor x, Tensor out) {
        req("sum_rows", "x", x);
        long d = req("sum_rows", "out", out).numel();
        if (d == 0 || x.numel() % d != 0) throw new IllegalArgumentException("sum_rows: x " + x.describe() + " is not a multiple of out's " + d + " columns");
        check(CpuKernels.l4j_sum_rows(x.numel() / d, d, f(x), f(out)), "sum_rows");
    }

    @Override public void embedBackward(Tensor tokens, Tensor dOut, Tensor dW_E) {
        String op = "embed_backward";
        matrix(op, "dW_E", dW_E);
        long dVocab = dW_E.size(0), dModel = dW_E.size(1);
        tokenIds(op, "token", tokens, dVocab);
        req(op, "dOut", dOut, tokens.numel() * dModel);
        check(CpuKernels.l4j_embed_backward(tokens.numel(), tokens.intPointer(), f(dOut), dVocab, dModel, f(dW_E)), op);
    }

    @Override public void posEmbedBackward(long batch, long seq, long offset, Tensor dOut, Tensor dW_pos) {
        String op = "pos_embed_backward";
        matrix(op, "dW_pos", dW_pos);
        long nCtx = dW_pos.size(0), dModel = dW_pos.size(1);
        if (batch < 0 || seq < 0) throw new IllegalArgumentException(op + ": negative batch " + batch + " or seq " + seq);
        if (offset < 0 || offset + seq > nCtx)
            throw new IllegalArgumentException(op + ": positions " + offset + ".." + (offset + seq - 1) + " exceed n_ctx " + nCtx);
        req(op, "dOut", dOut, batch * seq * dModel);
        check(CpuKernels.l4j_pos_embed_backward(batch, seq, offset, f(dOut), nCtx, dModel, f(dW_pos)), op);
    }

    @Override public void layerNormBackward(Tensor x, Tensor w, Tensor scale, Tensor dOut, Tensor dx, Tensor dw, Tensor db, Tensor dScale) {
        String op = "layer_norm_backward";
        long d = lastDim(req(op, "x", x)), rows = x.numel() / d;
        opt(op, "weight w", w, d);
        req(op, "scale", scale, rows);
        req(op, "dOut", dOut, x.numel());
        opt(op, "dx", dx, x.numel());
        opt(op, "dw", dw, d);
        opt(op, "db", db, d);
        opt(op, "dScale", dScale, rows);
        check(CpuKernels.l4j_layernorm_backward(rows, d, f(x), f(w), f(scale), f(dOut), f(dx), f(dw), f(db), f(dScale)), op);
    }

    @Override public void rmsNormBackward(Tensor x, Tensor w, Tensor scale, Tensor dOut, Tensor dx, Tensor dw, Tensor dNormalized, Tensor dScale) {
        String op = "rms_norm_backward";
        long d = lastDim(req(op, "x", x)), rows = x.numel() / d;
        opt(op, "weight w", w, d);
        req(op, "scale", scale, rows);
        req(op, "dOut", dOut, x.numel());
        opt(op, "dx", dx, x.numel());
        opt(op, "dw", dw, d);
        opt(op, "dNormalized", dNormalized, x.numel());
        opt(op, "dScale", dScale, rows);
        check(CpuKernels.l4j_rmsnorm_backward(rows, d, f(x), f(w), f(scale), f(dOut), f(dx), f(dw), f(dNormalized), f(dScale)), op);
    }

    @Override public void rotaryBackward(Tensor dOut, long rotaryDim, long offset, Tensor cos, Tensor sin, boolean adjacentPairs, Tensor dx) {
        String op = "rotary_backward";
        req(op, "dOut", dOut);
        if (dOut.rank() != 4) throw new IllegalArgumentException(op + ": dOut must be [batch, pos, head, d_head], got " + dOut.describe());
        long batch = dOut.size(0), seq = dOut.size(1), heads = dOut.size(2), dHead = dOut.size(3);
        if (rotaryDim <= 0 || rotaryDim % 2 != 0 || rotaryDim > dHead)
            throw new IllegalArgumentException(op + ": rotary_dim " + rotaryDim + " must be even and in (0, d_head=" + dHead + "]");
        matrix(op, "cos table", cos);
        req(op, "sin table", sin);
        long nCtx = cos.size(0);
        if (cos.size(1) != rotaryDim / 2 || !Arrays.equals(cos.shape(), sin.shape()))
            throw new IllegalArgumentException(op + ": tables " + cos.describe() + " / " + sin.describe() + " do not match rotary_dim " + rotaryDim);
        if (offset < 0 || offset + seq > nCtx)
            throw new IllegalArgumentException(op + ": positions " + offset + ".." + (offset + seq - 1) + " exceed n_ctx " + nCtx);
        req(op, "dx", dx);
        sameShape(op, dOut, dx);
        check(CpuKernels.l4j_rotary_backward(batch, seq, heads, dHead, rotaryDim, offset, f(cos), f(sin), nCtx, adjacentPairs ? 1 : 0,
                f(dOut), f(dx)), op);
    }

    @Override public void attnScoresBackward(Tensor q, Tensor k, float scale, long window, long[] keyRanges, Tensor dScores, Tensor dq, Tensor dk) {
        String op = "attn_scores_backward";
        maskArgs(op, window, 0f);
        long[] s = qkv(op, req(op, "q", q), req(op, "k", k));
        req(op, "dScores", dScores, s[0] * s[2] * s[1] * s[1]);
        if (dq != null) { req(op, "dq", dq); sameShape(op, q, dq); }
        if (dk != null) { req(op, "dk", dk); sameShape(op, k, dk); }
        try (LongPointer kr = keyRanges(op, keyRanges, s[0], s[1])) {
            check(CpuKernels.l4j_attn_scores_backward_masked(s[0], s[1], s[2], s[3], s[4], f(q), f(k), f(dScores), scale, window, kr,
                    f(dq), f(dk)), op);
        }
    }

    @Override public void attnApplyBackward(Tensor pattern, Tensor v, Tensor dz, Tensor dPattern, Tensor dv) {
        String op = "attn_apply_backward";
        long[] s = qkv(op, req(op, "dz", dz), req(op, "v", v));
        long n = s[0] * s[2] * s[1] * s[1];
        req(op, "pattern", pattern, n);
        opt(op, "dPattern", dPattern, n);
        if (dv != null) { req(op, "dv", dv); sameShape(op, v, dv); }
        check(CpuKernels.l4j_attn_apply_backward(s[0], s[1], s[2], s[3], s[4], f(pattern), f(v), f(dz), f(dPattern), f(dv)), op);
    }

    @Override public void activationBackward(Activation act, Tensor x, Tensor dOut, Tensor dx) {
        String op = "activation_backward";
        if (act == null) throw new IllegalArgumentException(op + ": activation is required");
        long n = req(op, "x", x).numel();
        req(op, "dOut", dOut, n);
        req(op, "dx", dx, n);
        check(CpuKernels.l4j_activation_backward(act.code, n, f(x), f(dOut), f(dx)), op + " " + act.tlName);
    }

    @Override public void gatedActivationBackward(Activation act, Tensor gatePre, Tensor linear, Tensor dOut, Tensor dGate, Tensor dLinear) {
        String op = "gated_activation_backward";
        if (act == null) throw new IllegalArgumentException(op + ": activation is required");
        long n = req(op, "gatePre", gatePre).numel();
        req(op, "linear", linear, n);
        req(op, "dOut", dOut, n);
        opt(op, "dGate", dGate, n);
        opt(op, "dLinear", dLinear, n);
        check(CpuKernels.l4j_gated_activation_backward(act.code, n, f(gatePre), f(linear), f(dOut), f(dGate), f(dLinear)), op + " " + act.tlName);
    }

    @Override public void scaleColsBackward(Tensor x, Tensor w, Tensor dOut, Tensor dx, Tensor dw) {
        String op = "scale_cols_backward";
        long d = req(op, "weight w", w).numel(), n = req(op, "x", x).numel();
        if (d == 0 || n % d != 0) throw new IllegalArgumentException(op + ": x " + x.describe() + " is not a multiple of " + d);
        req(op, "dOut", dOut, n);
        opt(op, "dx", dx, n);
        opt(op, "dw", dw, d);
        check(CpuKernels.l4j_scale_cols_backward(n / d, d, f(x), f(w), f(dOut), f(dx), f(dw)), op);
    }

    private void softmaxFamilyBackward(String op, boolean log, Tensor out, Tensor dOut, Tensor dx) {
        long n = lastDim(req(op, "out", out)), size = out.numel();
        req(op, "dOut", dOut, size);
        req(op, "dx", dx, size);
        check(log ? CpuKernels.l4j_log_softmax_backward(size / n, n, f(out), f(dOut), f(dx))
                  : CpuKernels.l4j_softmax_backward(size / n, n, f(out), f(dOut), f(dx)), op);
    }

    @Override public void softmaxBackward(Tensor out, Tensor dOut, Tensor dx) { softmaxFamilyBackward("softmax_backward", false, out, dOut, dx); }

    @Override public void logSoftmaxBackward(Tensor out, Tensor dOut, Tensor dx) { softmaxFamilyBackward("log_softmax_backward", true, out, dOut, dx); }

    @Override public void crossEntropyBackward(Tensor logits, Tensor targets, Tensor dLoss, Tensor dLogits) {
        String op = "cross_entropy_backward";
        long n = lastDim(req(op, "logits", logits)), rows = logits.numel() / n;
        if (targets == null) throw new IllegalArgumentException(op + ": targets is required");
        numel(op, "targets", targets, rows);
        tokenIds(op, "target", targets, n);
        req(op, "dLoss", dLoss, rows);
        req(op, "dLogits", dLogits, logits.numel());
        check(CpuKernels.l4j_cross_entropy_backward(rows, n, f(logits), targets.intPointer(), f(dLoss), f(dLogits)), op);
    }
}
