package dev.lens4j.backend;

import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;

import java.util.Arrays;

/**
 * The argument checks every {@link Backend} runs in Java before its kernel (one copy for the CPU and the CUDA
 * backends): each throws IllegalArgumentException / IndexOutOfBoundsException naming the op and the operand, and
 * returns the sizes its kernel takes. Token ids, targets and indices are checked on host values here because a
 * device kernel cannot report a bad one without a host sync (the CUDA kernels skip them instead).
 */
final class BackendChecks {
    private BackendChecks() {}

    static void numel(String op, String what, Tensor t, long n) {
        if (t.numel() != n)
            throw new IllegalArgumentException(op + ": " + what + " " + t.describe() + " should hold " + n + " values, holds " + t.numel());
    }

    static void sameShape(String op, Tensor a, Tensor b) {
        if (!Arrays.equals(a.shape(), b.shape()))
            throw new IllegalArgumentException(op + ": shapes differ: " + a.describe() + " vs " + b.describe());
    }

    static long lastDim(Tensor t) { return t.rank() == 0 ? 1 : t.size(-1); }

    /** A required float operand: present, F32. */
    static Tensor req(String op, String what, Tensor t) {
        if (t == null) throw new IllegalArgumentException(op + ": " + what + " is required");
        if (t.dtype() != DType.F32) throw new IllegalArgumentException(op + ": " + what + " must be F32, got " + t.describe());
        return t;
    }

    static void req(String op, String what, Tensor t, long n) { numel(op, what, req(op, what, t), n); }

    /** An optional float operand: null, or F32 with n values. */
    static void opt(String op, String what, Tensor t, long n) { if (t != null) req(op, what, t, n); }

    static void matrix(String op, String what, Tensor t) {
        req(op, what, t);
        if (t.rank() != 2) throw new IllegalArgumentException(op + ": " + what + " must be 2-D, got " + t.describe());
    }

    /** I32 ids (read from wherever they live) each within [0, bound); returns them. */
    static int[] ids(String op, String what, Tensor t, long bound) {
        if (t == null) throw new IllegalArgumentException(op + ": " + what + " is required");
        if (t.dtype() != DType.I32) throw new IllegalArgumentException(op + ": " + what + " must be I32, got " + t.describe());
        int[] ids = t.toIntArray();
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= bound)
                throw new IndexOutOfBoundsException(op + ": " + what + " " + ids[i] + " at index " + i + " is outside [0, " + bound + ")");
        return ids;
    }

    // ------------------------------------------------------------------ per op: the sizes each kernel takes

    static void gemm(long M, long N, long K, boolean transA, boolean transB, Tensor A, long offA, long lda, Tensor B, long offB, long ldb,
                     Tensor C, long offC, long ldc, Tensor bias, long offBias) {
        if (M < 0 || N < 0 || K < 0) throw new IllegalArgumentException("gemm: negative size M=" + M + " N=" + N + " K=" + K);
        long aRows = transA ? K : M, aCols = transA ? M : K, bRows = transB ? N : K, bCols = transB ? K : N;
        span("gemm", "A", A, offA, aRows, aCols, lda);
        span("gemm", "B", B, offB, bRows, bCols, ldb);
        span("gemm", "C", C, offC, M, N, ldc);
        if (bias != null && (offBias < 0 || offBias + N > bias.numel()))
            throw new IllegalArgumentException("gemm: bias " + bias.describe() + " too small for N=" + N + " at offset " + offBias);
    }

    /** {@link Backend#projectHeads}'s shapes, checked: {rows, heads, d_model, d_head}. */
    static long[] projectHeads(Tensor x, Tensor W, Tensor b, Tensor out) {
        if (W.rank() != 3) throw new IllegalArgumentException("projectHeads: W " + W.describe() + " is not [heads, d_model, d_head]");
        long heads = W.size(0), D = W.size(1), dh = W.size(2);
        if (heads < 1 || D < 1 || dh < 1) throw new IllegalArgumentException("projectHeads: empty W " + W.describe());
        if (x.dtype() != DType.F32 || out.dtype() != DType.F32)
            throw new IllegalArgumentException("projectHeads: x " + x.describe() + " and out " + out.describe() + " must be F32");
        if (x.numel() % D != 0) throw new IllegalArgumentException("projectHeads: input " + x.describe() + " is not a multiple of d_model " + D);
        long rows = x.numel() / D;
        if (out.numel() != rows * heads * dh)
            throw new IllegalArgumentException("projectHeads: output " + out.describe() + " should hold " + rows + "x" + heads + "x" + dh);
        if (b != null && (b.dtype() != DType.F32 || b.numel() != heads * dh))
            throw new IllegalArgumentException("projectHeads: bias " + b.describe() + " should be F32 [" + heads + ", " + dh + "]");
        return new long[] {rows, heads, D, dh};
    }

    /** A bf16 weight as B needs an F32, untransposed A (both backends' bf16 GEMMs). */
    static void bf16Right(boolean transA, Tensor A, Tensor B) {
        if (transA || A.dtype() != DType.F32)
            throw new IllegalArgumentException("gemm: with a bf16 weight " + B.describe() + " as B, A must be F32 and not transposed, got "
                    + A.describe() + (transA ? " transposed" : ""));
    }

    /** Elements of A a transposed-or-not bf16 left operand spans (what a widening copy must hold). */
    static long leftSpan(boolean transA, long M, long K, long lda) {
        long rows = transA ? K : M, cols = transA ? M : K;
        return rows == 0 || cols == 0 ? 0 : (rows - 1) * lda + cols;
    }

    private static void span(String op, String what, Tensor t, long off, long rows, long cols, long ld) {
        if (ld < cols) throw new IllegalArgumentException(op + ": leading dimension of " + what + " (" + ld + ") < its columns (" + cols + ")");
        if (rows == 0 || cols == 0) return;
        long end = off + (rows - 1) * ld + cols;
        if (off < 0 || end > t.numel())
            throw new IllegalArgumentException(op + ": " + what + " " + t.describe() + " too small for a " + rows + "x" + cols + " matrix at offset " + off);
    }

    /** {d_vocab, d_model}; tokens checked in range. */
    static long[] embed(Tensor tokens, Tensor W_E, Tensor out) {
        if (tokens.dtype() != DType.I32) throw new IllegalArgumentException("embed: tokens must be I32, got " + tokens.describe());
        long dVocab = W_E.size(0), dModel = W_E.size(1);
        numel("embed", "output", out, tokens.numel() * dModel);
        int[] ids = tokens.toIntArray();
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= dVocab)
                throw new IndexOutOfBoundsException("token id " + ids[i] + " at index " + i + " is outside the vocabulary [0, " + dVocab + ")");
        return new long[] {dVocab, dModel};
    }

    /** {n_ctx, d_model}. */
    static long[] posEmbed(long batch, long seq, long offset, Tensor W_pos, Tensor out) {
        long nCtx = W_pos.size(0), dModel = W_pos.size(1);
        if (offset < 0 || offset + seq > nCtx)
            throw new IllegalArgumentException("positions " + offset + ".." + (offset + seq - 1) + " exceed n_ctx " + nCtx);
        numel("pos_embed", "output", out, batch * seq * dModel);
        return new long[] {nCtx, dModel};
    }

    /** {rows, d}. */
    static long[] layerNorm(Tensor x, Tensor w, Tensor b, Tensor out, Tensor scale) {
        long d = lastDim(x), rows = x.numel() / d;
        numel("layer_norm", "output", out, x.numel());
        if (w != null) numel("layer_norm", "weight", w, d);
        if (b != null) numel("layer_norm", "bias", b, d);
        if (scale != null) numel("layer_norm", "scale", scale, rows);
        return new long[] {rows, d};
    }

    /** {rows, d}. */
    static long[] rmsNorm(Tensor x, Tensor w, Tensor out, Tensor scale, Tensor normalized) {
        long d = lastDim(x), rows = x.numel() / d;
        numel("rms_norm", "output", out, x.numel());
        if (w != null) numel("rms_norm", "weight", w, d);
        if (scale != null) numel("rms_norm", "scale", scale, rows);
        if (normalized != null) numel("rms_norm", "normalized", normalized, x.numel());
        return new long[] {rows, d};
    }

    /** Rotary and its backward: {batch, seq, heads, d_head, n_ctx} of x (or dOut) against the tables. */
    static long[] rotary(String op, String inName, Tensor x, long rotaryDim, long offset, Tensor cos, Tensor sin, String outName, Tensor out) {
        req(op, inName, x);
        if (x.rank() != 4) throw new IllegalArgumentException(op + ": " + inName + " must be [batch, pos, head, d_head], got " + x.describe());
        long batch = x.size(0), seq = x.size(1), heads = x.size(2), dHead = x.size(3);
        if (rotaryDim <= 0 || rotaryDim % 2 != 0 || rotaryDim > dHead)
            throw new IllegalArgumentException(op + ": rotary_dim " + rotaryDim + " must be even and in (0, d_head=" + dHead + "]");
        matrix(op, "cos table", cos);
        req(op, "sin table", sin);
        long nCtx = cos.size(0);
        if (cos.size(1) != rotaryDim / 2 || !Arrays.equals(cos.shape(), sin.shape()))
            throw new IllegalArgumentException(op + ": tables " + cos.describe() + " / " + sin.describe() + " do not match rotary_dim " + rotaryDim);
        if (offset < 0 || offset + seq > nCtx)
            throw new IllegalArgumentException(op + ": positions " + offset + ".." + (offset + seq - 1) + " exceed n_ctx " + nCtx);
        req(op, outName, out);
        sameShape(op, x, out);
        return new long[] {batch, seq, heads, dHead, nCtx};
    }

    /** {batch, seq, heads, kv_heads, d_head} of q against k of the same length. */
    static long[] qkv(String op, Tensor q, Tensor k) {
        if (q.rank() != 4 || k.rank() != 4)
            throw new IllegalArgumentException(op + ": q and k must be [batch, pos, head, d_head], got " + q.describe() + ", " + k.describe());
        long batch = q.size(0), seq = q.size(1), heads = q.size(2), dHead = q.size(3), kvHeads = k.size(2);
        if (k.size(0) != batch || k.size(1) != seq || k.size(3) != dHead || kvHeads <= 0 || heads % kvHeads != 0)
            throw new IllegalArgumentException(op + ": k " + k.describe() + " does not fit q " + q.describe());
        return new long[] {batch, seq, heads, kvHeads, dHead};
    }

    /** [batch, q_len, k_len, heads, kv_heads, d_head] of q against k (k_len >= q_len: a KV cache's earlier keys). */
    static long[] qkvCached(String op, Tensor q, Tensor k) {
        if (q.rank() != 4 || k.rank() != 4)
            throw new IllegalArgumentException(op + ": q and k must be [batch, pos, head, d_head], got " + q.describe() + ", " + k.describe());
        long batch = q.size(0), qLen = q.size(1), heads = q.size(2), dHead = q.size(3), kLen = k.size(1), kvHeads = k.size(2);
        if (k.size(0) != batch || kLen < qLen || k.size(3) != dHead || kvHeads <= 0 || heads % kvHeads != 0)
            throw new IllegalArgumentException(op + ": k " + k.describe() + " does not fit q " + q.describe());
        return new long[] {batch, qLen, kLen, heads, kvHeads, dHead};
    }

    /** Each row's valid keys [start, end) within [0, kLen] (null: all valid). */
    static void keyRanges(String op, long[] ranges, long batch, long kLen) {
        if (ranges == null) return;
        if (ranges.length != 2 * batch)
            throw new IllegalArgumentException(op + ": key ranges hold " + ranges.length + " values, need 2 per row (" + 2 * batch + ")");
        for (int b = 0; b < batch; b++)
            if (ranges[2 * b] < 0 || ranges[2 * b] > ranges[2 * b + 1] || ranges[2 * b + 1] > kLen)
                throw new IllegalArgumentException(op + ": row " + b + "'s valid keys [" + ranges[2 * b] + ", " + ranges[2 * b + 1]
                        + ") are not a range within [0, " + kLen + "]");
    }

    static void maskArgs(String op, long window, float softcap) {
        if (window < 0) throw new IllegalArgumentException(op + ": sliding window must be >= 0 (0 = none), got " + window);
        if (!(softcap >= 0) || Float.isInfinite(softcap))
            throw new IllegalArgumentException(op + ": soft cap must be finite and >= 0 (0 = none), got " + softcap);
    }

    /** attn_scores (masked): the sizes of {@link #qkvCached}. */
    static long[] attnScores(Tensor q, Tensor k, long window, float softcap, long[] keyRanges, Tensor scores) {
        String op = "attn_scores";
        long[] s = qkvCached(op, q, k);
        maskArgs(op, window, softcap);
        numel(op, "scores", scores, s[0] * s[3] * s[1] * s[2]);
        keyRanges(op, keyRanges, s[0], s[2]);
        return s;
    }

    static long[] attnApply(Tensor pattern, Tensor v, Tensor z) {
        if (z.rank() != 4) throw new IllegalArgumentException("attn_apply: z must be [batch, pos, head, d_head], got " + z.describe());
        long[] s = qkvCached("attn_apply", z, v);
        numel("attn_apply", "pattern", pattern, s[0] * s[3] * s[1] * s[2]);
        return s;
    }

    static long[] attention(Tensor q, Tensor k, Tensor v, long window, float softcap, long[] keyRanges, Tensor z, Tensor scores, Tensor pattern) {
        String op = "attention";
        long[] s = qkvCached(op, q, k);
        maskArgs(op, window, softcap);
        sameShape(op, k, v);
        sameShape(op, q, z);
        long n = s[0] * s[3] * s[1] * s[2];
        if (scores != null) numel(op, "scores", scores, n);
        if (pattern != null) numel(op, "pattern", pattern, n);
        keyRanges(op, keyRanges, s[0], s[2]);
        return s;
    }

    static void softcap(String op, float cap) {
        if (!(cap > 0) || Float.isInfinite(cap)) throw new IllegalArgumentException(op + ": cap must be finite and > 0, got " + cap);
    }

    static void softcapBackward(Tensor y, Tensor dy, float cap, Tensor dx) {
        String op = "softcap_backward";
        softcap(op, cap);
        req(op, "y", y);
        req(op, "dy", dy, y.numel());
        req(op, "dx", dx, y.numel());
    }

    /** An element-wise op over n = first.numel() values: every other operand holds n; returns n. */
    static long elementwise(String op, Tensor first, String[] names, Tensor... others) {
        for (int i = 0; i < others.length; i++) numel(op, names[i], others[i], first.numel());
        return first.numel();
    }

    /** softmax / log_softmax over the last dimension: {rows, n}. */
    static long[] lastDimRows(String op, Tensor x, Tensor out) {
        long n = lastDim(x);
        numel(op, "output", out, x.numel());
        return new long[] {x.numel() / n, n};
    }

    /** x viewed as [rows, w.numel()]: the row count. */
    static long rowsOf(String op, Tensor x, Tensor w, Tensor out) {
        long d = w.numel();
        if (d == 0 || x.numel() % d != 0) throw new IllegalArgumentException(op + ": " + x.describe() + " is not a multiple of " + d);
        numel(op, "output", out, x.numel());
        return x.numel() / d;
    }

    /** gather along dim: {outer, n, inner} of src; indices checked. */
    static long[] gather(Tensor src, int dim, int[] idx, Tensor out) {
        if (dim < 0 || dim >= src.rank()) throw new IllegalArgumentException("gather: dim " + dim + " of " + src.describe());
        long[] shape = src.shape();
        long outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.length; i++) inner *= shape[i];
        for (int i : idx) if (i < 0 || i >= shape[dim]) throw new IndexOutOfBoundsException("gather: index " + i + " outside dimension " + dim + " of " + src.describe());
        numel("gather", "output", out, outer * idx.length * inner);
        if (src.dtype() != out.dtype() && !(src.dtype() == DType.BF16 && out.dtype() == DType.F32))
            throw new IllegalArgumentException("gather: " + src.describe() + " into " + out.describe());
        return new long[] {outer, shape[dim], inner};
    }

    /** cross_entropy: {rows, n}; targets checked. */
    static long[] crossEntropy(Tensor logits, Tensor targets, Tensor loss) {
        long n = lastDim(logits), rows = logits.numel() / n;
        if (targets.dtype() != DType.I32) throw new IllegalArgumentException("cross_entropy: targets must be I32");
        numel("cross_entropy", "targets", targets, rows);
        numel("cross_entropy", "loss", loss, rows);
        int[] t = targets.toIntArray();
        for (int i = 0; i < t.length; i++)
            if (t[i] < 0 || t[i] >= n) throw new IndexOutOfBoundsException("cross_entropy: target " + t[i] + " at row " + i + " outside [0, " + n + ")");
        return new long[] {rows, n};
    }

    // ------------------------------------------------------------------ backward

    /** sum_rows: the column count. */
    static long sumRows(Tensor x, Tensor out) {
        req("sum_rows", "x", x);
        long d = req("sum_rows", "out", out).numel();
        if (d == 0 || x.numel() % d != 0) throw new IllegalArgumentException("sum_rows: x " + x.describe() + " is not a multiple of out's " + d + " columns");
        return d;
    }

    /** {d_vocab, d_model}. */
    static long[] embedBackward(Tensor tokens, Tensor dOut, Tensor dW_E) {
        String op = "embed_backward";
        matrix(op, "dW_E", dW_E);
        long dVocab = dW_E.size(0), dModel = dW_E.size(1);
        ids(op, "token", tokens, dVocab);
        req(op, "dOut", dOut, tokens.numel() * dModel);
        return new long[] {dVocab, dModel};
    }

    /** {n_ctx, d_model}. */
    static long[] posEmbedBackward(long batch, long seq, long offset, Tensor dOut, Tensor dW_pos) {
        String op = "pos_embed_backward";
        matrix(op, "dW_pos", dW_pos);
        long nCtx = dW_pos.size(0), dModel = dW_pos.size(1);
        if (batch < 0 || seq < 0) throw new IllegalArgumentException(op + ": negative batch " + batch + " or seq " + seq);
        if (offset < 0 || offset + seq > nCtx)
            throw new IllegalArgumentException(op + ": positions " + offset + ".." + (offset + seq - 1) + " exceed n_ctx " + nCtx);
        req(op, "dOut", dOut, batch * seq * dModel);
        return new long[] {nCtx, dModel};
    }

    /** LayerNorm's and RMSNorm's backward ({rows, d}): dExtra is LayerNorm's db (per column) or RMSNorm's dNormalized (like x). */
    static long[] normBackward(String op, Tensor x, Tensor w, Tensor scale, Tensor dOut, Tensor dx, Tensor dw, String extra, Tensor dExtra,
                               boolean extraPerColumn, Tensor dScale) {
        long d = lastDim(req(op, "x", x)), rows = x.numel() / d;
        opt(op, "weight w", w, d);
        req(op, "scale", scale, rows);
        req(op, "dOut", dOut, x.numel());
        opt(op, "dx", dx, x.numel());
        opt(op, "dw", dw, d);
        opt(op, extra, dExtra, extraPerColumn ? d : x.numel());
        opt(op, "dScale", dScale, rows);
        return new long[] {rows, d};
    }

    static long[] attnScoresBackward(Tensor q, Tensor k, long window, long[] keyRanges, Tensor dScores, Tensor dq, Tensor dk) {
        String op = "attn_scores_backward";
        maskArgs(op, window, 0f);
        long[] s = qkv(op, req(op, "q", q), req(op, "k", k));
        req(op, "dScores", dScores, s[0] * s[2] * s[1] * s[1]);
        if (dq != null) { req(op, "dq", dq); sameShape(op, q, dq); }
        if (dk != null) { req(op, "dk", dk); sameShape(op, k, dk); }
        keyRanges(op, keyRanges, s[0], s[1]);
        return s;
    }

    static long[] attnApplyBackward(Tensor pattern, Tensor v, Tensor dz, Tensor dPattern, Tensor dv) {
        String op = "attn_apply_backward";
        long[] s = qkv(op, req(op, "dz", dz), req(op, "v", v));
        long n = s[0] * s[2] * s[1] * s[1];
        req(op, "pattern", pattern, n);
        opt(op, "dPattern", dPattern, n);
        if (dv != null) { req(op, "dv", dv); sameShape(op, v, dv); }
        return s;
    }

    /** activation_backward: n. */
    static long activationBackward(Activation act, Tensor x, Tensor dOut, Tensor dx) {
        String op = "activation_backward";
        if (act == null) throw new IllegalArgumentException(op + ": activation is required");
        long n = req(op, "x", x).numel();
        req(op, "dOut", dOut, n);
        req(op, "dx", dx, n);
        return n;
    }

    /** gated_activation_backward: n. */
    static long gatedActivationBackward(Activation act, Tensor gatePre, Tensor linear, Tensor dOut, Tensor dGate, Tensor dLinear) {
        String op = "gated_activation_backward";
        if (act == null) throw new IllegalArgumentException(op + ": activation is required");
        long n = req(op, "gatePre", gatePre).numel();
        req(op, "linear", linear, n);
        req(op, "dOut", dOut, n);
        opt(op, "dGate", dGate, n);
        opt(op, "dLinear", dLinear, n);
        return n;
    }

    /** scale_cols_backward: {rows, d}. */
    static long[] scaleColsBackward(Tensor x, Tensor w, Tensor dOut, Tensor dx, Tensor dw) {
        String op = "scale_cols_backward";
        long d = req(op, "weight w", w).numel(), n = req(op, "x", x).numel();
        if (d == 0 || n % d != 0) throw new IllegalArgumentException(op + ": x " + x.describe() + " is not a multiple of " + d);
        req(op, "dOut", dOut, n);
        opt(op, "dx", dx, n);
        opt(op, "dw", dw, d);
        return new long[] {n / d, d};
    }

    /** softmax / log_softmax backward: {rows, n}. */
    static long[] softmaxBackward(String op, Tensor out, Tensor dOut, Tensor dx) {
        long n = lastDim(req(op, "out", out)), size = out.numel();
        req(op, "dOut", dOut, size);
        req(op, "dx", dx, size);
        return new long[] {size / n, n};
    }

    /** {rows, n}; targets checked. */
    static long[] crossEntropyBackward(Tensor logits, Tensor targets, Tensor dLoss, Tensor dLogits) {
        String op = "cross_entropy_backward";
        long n = lastDim(req(op, "logits", logits)), rows = logits.numel() / n;
        if (targets == null) throw new IllegalArgumentException(op + ": targets is required");
        numel(op, "targets", targets, rows);
        ids(op, "target", targets, n);
        req(op, "dLoss", dLoss, rows);
        req(op, "dLogits", dLogits, logits.numel());
        return new long[] {rows, n};
    }

    static void threads(int n) {
        if (n <= 0) throw new IllegalArgumentException("thread count must be > 0, got " + n);
    }
}
