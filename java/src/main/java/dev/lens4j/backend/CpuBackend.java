package dev.lens4j.backend;

import dev.lens4j.nativ.CpuKernels;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Device;
import dev.lens4j.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;

/** Native CPU kernels (C++ + OpenBLAS + OpenMP) behind {@link Backend}. */
public final class CpuBackend implements Backend {
    private static final CpuBackend INSTANCE = new CpuBackend();

    public static CpuBackend get() { return INSTANCE; }

    private CpuBackend() { CpuKernels.load(); }

    @Override public Device device() { return Device.CPU; }

    @Override public void setNumThreads(int n) {
        BackendChecks.threads(n);
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

    // ------------------------------------------------------------------ kernels

    @Override
    public void gemm(boolean transA, boolean transB, long M, long N, long K, float alpha,
                     Tensor A, long offA, long lda, Tensor B, long offB, long ldb, float beta,
                     Tensor C, long offC, long ldc, Tensor bias, long offBias) {
        BackendChecks.gemm(M, N, K, transA, transB, A, offA, lda, B, offB, ldb, C, offC, ldc, bias, offBias);
        if (A.dtype() == DType.BF16) { // a weight on the left (weight-based analyses): widen the span used
            long n = BackendChecks.leftSpan(transA, M, K, lda);
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

    /** Every head's projection in one GEMM reading W [heads, d_model, d_head] in place (no repacked copy). */
    @Override public void projectHeads(Tensor x, Tensor W, Tensor b, Tensor out) {
        long[] s = BackendChecks.projectHeads(x, W, b, out);
        long rows = s[0], heads = s[1], D = s[2], dh = s[3];
        if (W.dtype() == DType.BF16) {
            check(CpuKernels.l4j_gemm_bf16_grouped(rows, heads * dh, D, 1f, f(x), D, W.bf16Pointer(), dh, dh, D * dh, 0f, f(out),
                    heads * dh, f(b), 0), "projectHeads");
            return;
        }
        if (W.dtype() != DType.F32) throw new IllegalArgumentException("projectHeads: W " + W.describe() + " must be F32 or BF16");
        check(CpuKernels.l4j_gemm_grouped(rows, heads * dh, D, 1f, f(x), D, f(W), dh, dh, D * dh, 0f, f(out), heads * dh, f(b), 0),
                "projectHeads");
    }

    @Override public void embed(Tensor tokens, Tensor W_E, Tensor out) {
        long[] s = BackendChecks.embed(tokens, W_E, out);
        long dVocab = s[0], dModel = s[1];
        IntPointer tp = tokens.intPointer();
        if (W_E.dtype() == DType.BF16) {
            check(CpuKernels.l4j_embed_bf16(tokens.numel(), tp, W_E.bf16Pointer(), dVocab, dModel, f(out)), "embed");
            return;
        }
        check(CpuKernels.l4j_embed(tokens.numel(), tp, f(W_E), dVocab, dModel, f(out)), "embed");
    }

    @Override public void posEmbed(long batch, long seq, long offset, Tensor W_pos, Tensor out) {
        long[] s = BackendChecks.posEmbed(batch, seq, offset, W_pos, out);
        check(CpuKernels.l4j_pos_embed(batch, seq, offset, f(W_pos), s[0], s[1], f(out)), "pos_embed");
    }

    @Override public void layerNorm(Tensor x, Tensor w, Tensor b, float eps, Tensor out, Tensor scale) {
        long[] s = BackendChecks.layerNorm(x, w, b, out, scale);
        check(CpuKernels.l4j_layernorm(s[0], s[1], f(x), f(w), f(b), eps, f(out), f(scale)), "layer_norm");
    }

    @Override public void rmsNorm(Tensor x, Tensor w, float eps, Tensor out, Tensor scale, Tensor normalized) {
        long[] s = BackendChecks.rmsNorm(x, w, out, scale, normalized);
        check(CpuKernels.l4j_rmsnorm(s[0], s[1], f(x), f(w), eps, f(out), f(scale), f(normalized)), "rms_norm");
    }

    @Override public void rotary(Tensor x, long rotaryDim, long offset, Tensor cos, Tensor sin, boolean adjacentPairs, Tensor out) {
        long[] s = BackendChecks.rotary("rotary", "x", x, rotaryDim, offset, cos, sin, "out", out);
        check(CpuKernels.l4j_rotary(s[0], s[1], s[2], s[3], rotaryDim, offset, f(cos), f(sin), s[4], adjacentPairs ? 1 : 0,
                f(x), f(out)), "rotary");
    }

    /** Key ranges as a native array the caller closes (null: all valid); checked by the caller. */
    private static LongPointer keyRanges(long[] ranges) { return ranges == null ? null : new LongPointer(ranges); }

    @Override public void attnScores(Tensor q, Tensor k, float scale, long window, float softcap, long[] keyRanges, Tensor scores) {
        String op = "attn_scores";
        long[] s = BackendChecks.attnScores(q, k, window, softcap, keyRanges, scores);
        try (LongPointer kr = keyRanges(keyRanges)) {
            check(CpuKernels.l4j_attn_scores_masked(s[0], s[1], s[2], s[3], s[4], s[5], f(q), f(k), scale, window, softcap, kr, f(scores)), op);
        }
    }

    @Override public void softcap(Tensor x, float cap, Tensor out) {
        BackendChecks.softcap("softcap", cap);
        BackendChecks.elementwise("softcap", x, new String[] {"output"}, out);
        check(CpuKernels.l4j_softcap(x.numel(), f(x), cap, f(out)), "softcap");
    }

    @Override public void softcapBackward(Tensor y, Tensor dy, float cap, Tensor dx) {
        BackendChecks.softcapBackward(y, dy, cap, dx);
        check(CpuKernels.l4j_softcap_backward(y.numel(), f(y), f(dy), cap, f(dx)), "softcap_backward");
    }

    @Override public void attnApply(Tensor pattern, Tensor v, Tensor z) {
        long[] s = BackendChecks.attnApply(pattern, v, z);
        check(CpuKernels.l4j_attn_apply_kv(s[0], s[1], s[2], s[3], s[4], s[5], f(pattern), f(v), f(z)), "attn_apply");
    }

    @Override public void attention(Tensor q, Tensor k, Tensor v, float scale, long window, float softcap, long[] keyRanges,
                                    Tensor z, Tensor scores, Tensor pattern) {
        String op = "attention";
        long[] s = BackendChecks.attention(q, k, v, window, softcap, keyRanges, z, scores, pattern);
        try (LongPointer kr = keyRanges(keyRanges)) {
            check(CpuKernels.l4j_attention_masked(s[0], s[1], s[2], s[3], s[4], s[5], f(q), f(k), f(v), scale, window, softcap, kr,
                    f(z), f(scores), f(pattern)), op);
        }
    }

    @Override public void activation(Activation act, Tensor x, Tensor out) {
        BackendChecks.elementwise("activation", x, new String[] {"output"}, out);
        check(CpuKernels.l4j_activation(act.code, x.numel(), f(x), f(out)), "activation " + act.tlName);
    }

    @Override public void gatedActivation(Activation act, Tensor gatePre, Tensor linear, Tensor out) {
        BackendChecks.elementwise("gated_activation", gatePre, new String[] {"linear", "output"}, linear, out);
        check(CpuKernels.l4j_gated_activation(act.code, gatePre.numel(), f(gatePre), f(linear), f(out)), "gated " + act.tlName);
    }

    @Override public void add(Tensor a, Tensor b, Tensor out) {
        BackendChecks.elementwise("add", a, new String[] {"b", "output"}, b, out);
        check(CpuKernels.l4j_add(a.numel(), f(a), f(b), f(out)), "add");
    }

    @Override public void scaleCols(Tensor x, Tensor w, Tensor out) {
        long rows = BackendChecks.rowsOf("scale_cols", x, w, out);
        check(CpuKernels.l4j_scale_cols(rows, w.numel(), f(x), f(w), f(out)), "scale_cols");
    }

    @Override public void addBias(Tensor x, Tensor bias, Tensor out) {
        long rows = BackendChecks.rowsOf("add_bias", x, bias, out);
        check(CpuKernels.l4j_add_bias(rows, bias.numel(), f(x), f(bias), f(out)), "add_bias");
    }

    @Override public void gather(Tensor src, int dim, int[] idx, Tensor out) {
        long[] s3 = BackendChecks.gather(src, dim, idx, out);
        long outer = s3[0], inner = s3[2];
        long[] shape = src.shape();
        if (src.dtype() == DType.BF16 && out.dtype() == DType.F32) { Bf16Gemm.gatherWidened(src, outer, shape[dim], inner, idx, out); return; }
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
        long[] s = BackendChecks.lastDimRows("softmax", x, out);
        check(CpuKernels.l4j_softmax(s[0], s[1], f(x), f(out)), "softmax");
    }

    @Override public void logSoftmax(Tensor x, Tensor out) {
        long[] s = BackendChecks.lastDimRows("log_softmax", x, out);
        check(CpuKernels.l4j_log_softmax(s[0], s[1], f(x), f(out)), "log_softmax");
    }

    @Override public void crossEntropy(Tensor logits, Tensor targets, Tensor loss) {
        long[] s = BackendChecks.crossEntropy(logits, targets, loss);
        check(CpuKernels.l4j_cross_entropy(s[0], s[1], f(logits), targets.intPointer(), f(loss)), "cross_entropy");
    }

    // ------------------------------------------------------------------ backward

    @Override public void sumRows(Tensor x, Tensor out) {
        long d = BackendChecks.sumRows(x, out);
        check(CpuKernels.l4j_sum_rows(x.numel() / d, d, f(x), f(out)), "sum_rows");
    }

    @Override public void embedBackward(Tensor tokens, Tensor dOut, Tensor dW_E) {
        long[] s = BackendChecks.embedBackward(tokens, dOut, dW_E);
        check(CpuKernels.l4j_embed_backward(tokens.numel(), tokens.intPointer(), f(dOut), s[0], s[1], f(dW_E)), "embed_backward");
    }

    @Override public void posEmbedBackward(long batch, long seq, long offset, Tensor dOut, Tensor dW_pos) {
        long[] s = BackendChecks.posEmbedBackward(batch, seq, offset, dOut, dW_pos);
        check(CpuKernels.l4j_pos_embed_backward(batch, seq, offset, f(dOut), s[0], s[1], f(dW_pos)), "pos_embed_backward");
    }

    @Override public void layerNormBackward(Tensor x, Tensor w, Tensor scale, Tensor dOut, Tensor dx, Tensor dw, Tensor db, Tensor dScale) {
        String op = "layer_norm_backward";
        long[] s = BackendChecks.normBackward(op, x, w, scale, dOut, dx, dw, "db", db, true, dScale);
        check(CpuKernels.l4j_layernorm_backward(s[0], s[1], f(x), f(w), f(scale), f(dOut), f(dx), f(dw), f(db), f(dScale)), op);
    }

    @Override public void rmsNormBackward(Tensor x, Tensor w, Tensor scale, Tensor dOut, Tensor dx, Tensor dw, Tensor dNormalized, Tensor dScale) {
        String op = "rms_norm_backward";
        long[] s = BackendChecks.normBackward(op, x, w, scale, dOut, dx, dw, "dNormalized", dNormalized, false, dScale);
        check(CpuKernels.l4j_rmsnorm_backward(s[0], s[1], f(x), f(w), f(scale), f(dOut), f(dx), f(dw), f(dNormalized), f(dScale)), op);
    }

    @Override public void rotaryBackward(Tensor dOut, long rotaryDim, long offset, Tensor cos, Tensor sin, boolean adjacentPairs, Tensor dx) {
        long[] s = BackendChecks.rotary("rotary_backward", "dOut", dOut, rotaryDim, offset, cos, sin, "dx", dx);
        check(CpuKernels.l4j_rotary_backward(s[0], s[1], s[2], s[3], rotaryDim, offset, f(cos), f(sin), s[4], adjacentPairs ? 1 : 0,
                f(dOut), f(dx)), "rotary_backward");
    }

    @Override public void attnScoresBackward(Tensor q, Tensor k, float scale, long window, long[] keyRanges, Tensor dScores, Tensor dq, Tensor dk) {
        String op = "attn_scores_backward";
        long[] s = BackendChecks.attnScoresBackward(q, k, window, keyRanges, dScores, dq, dk);
        try (LongPointer kr = keyRanges(keyRanges)) {
            check(CpuKernels.l4j_attn_scores_backward_masked(s[0], s[1], s[2], s[3], s[4], f(q), f(k), f(dScores), scale, window, kr,
                    f(dq), f(dk)), op);
        }
    }

    @Override public void attnApplyBackward(Tensor pattern, Tensor v, Tensor dz, Tensor dPattern, Tensor dv) {
        String op = "attn_apply_backward";
        long[] s = BackendChecks.attnApplyBackward(pattern, v, dz, dPattern, dv);
        check(CpuKernels.l4j_attn_apply_backward(s[0], s[1], s[2], s[3], s[4], f(pattern), f(v), f(dz), f(dPattern), f(dv)), op);
    }

    @Override public void activationBackward(Activation act, Tensor x, Tensor dOut, Tensor dx) {
        String op = "activation_backward";
        long n = BackendChecks.activationBackward(act, x, dOut, dx);
        check(CpuKernels.l4j_activation_backward(act.code, n, f(x), f(dOut), f(dx)), op + " " + act.tlName);
    }

    @Override public void gatedActivationBackward(Activation act, Tensor gatePre, Tensor linear, Tensor dOut, Tensor dGate, Tensor dLinear) {
        String op = "gated_activation_backward";
        long n = BackendChecks.gatedActivationBackward(act, gatePre, linear, dOut, dGate, dLinear);
        check(CpuKernels.l4j_gated_activation_backward(act.code, n, f(gatePre), f(linear), f(dOut), f(dGate), f(dLinear)), op + " " + act.tlName);
    }

    @Override public void scaleColsBackward(Tensor x, Tensor w, Tensor dOut, Tensor dx, Tensor dw) {
        long[] s = BackendChecks.scaleColsBackward(x, w, dOut, dx, dw);
        check(CpuKernels.l4j_scale_cols_backward(s[0], s[1], f(x), f(w), f(dOut), f(dx), f(dw)), "scale_cols_backward");
    }

    private void softmaxFamilyBackward(String op, boolean log, Tensor out, Tensor dOut, Tensor dx) {
        long[] s = BackendChecks.softmaxBackward(op, out, dOut, dx);
        check(log ? CpuKernels.l4j_log_softmax_backward(s[0], s[1], f(out), f(dOut), f(dx))
                  : CpuKernels.l4j_softmax_backward(s[0], s[1], f(out), f(dOut), f(dx)), op);
    }

    @Override public void softmaxBackward(Tensor out, Tensor dOut, Tensor dx) { softmaxFamilyBackward("softmax_backward", false, out, dOut, dx); }

    @Override public void logSoftmaxBackward(Tensor out, Tensor dOut, Tensor dx) { softmaxFamilyBackward("log_softmax_backward", true, out, dOut, dx); }

    @Override public void crossEntropyBackward(Tensor logits, Tensor targets, Tensor dLoss, Tensor dLogits) {
        long[] s = BackendChecks.crossEntropyBackward(logits, targets, dLoss, dLogits);
        check(CpuKernels.l4j_cross_entropy_backward(s[0], s[1], f(logits), targets.intPointer(), f(dLoss), f(dLogits)), "cross_entropy_backward");
    }
}
