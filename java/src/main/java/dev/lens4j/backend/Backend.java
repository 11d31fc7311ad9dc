package dev.lens4j.backend;

import dev.lens4j.tensor.Device;
import dev.lens4j.tensor.Tensor;

/**
 * The kernels a model runs on, over tensors of one device. Every method validates shapes in Java and throws
 * IllegalArgumentException naming the operand before any native call; native status codes become exceptions.
 * Outputs are caller-allocated (so hooks and caches decide what lives), and may alias inputs where noted.
 * Shapes: activations [rows, d] with rows = batch * pos, or as documented per method.
 */
public interface Backend {
    Device device();

    default Tensor zeros(long... shape) { return Tensor.zeros(device(), dev.lens4j.tensor.DType.F32, shape); }

    /** Undefined contents: only for outputs a kernel overwrites entirely. */
    default Tensor empty(long... shape) { return Tensor.empty(device(), dev.lens4j.tensor.DType.F32, shape); }

    /** C = A[M,K] @ B[K,N] (+ bias[N]); transposes when asked. Tensors are viewed as 2-D matrices with the
     *  given leading dimensions, so per-head slices of [.., heads, d_head] can be addressed with offsets. */
    void gemm(boolean transA, boolean transB, long M, long N, long K, float alpha,
              Tensor A, long offA, long lda, Tensor B, long offB, long ldb, float beta,
              Tensor C, long offC, long ldc, Tensor bias, long offBias);

    /**
     * out [rows, heads * d_head] = x [rows, d_model] @ W + b for W in TL's layout [heads, d_model, d_head] (b [heads,
     * d_head] or null): every head's projection in one product, head h in columns [h * d_head, (h + 1) * d_head). This
     * default repacks a float32 W for the call and runs one GEMM per head for other dtypes; the CPU backend reads W in
     * place.
     */
    default void projectHeads(Tensor x, Tensor W, Tensor b, Tensor out) {
        long[] s = BackendChecks.projectHeads(x, W, b, out);
        long rows = s[0], heads = s[1], D = s[2], dh = s[3], HD = heads * dh;
        if (W.dtype() == dev.lens4j.tensor.DType.F32) {
            try (Tensor packed = dev.lens4j.tensor.TensorOps.transpose(W, 0, 1)) {
                gemm(false, false, rows, HD, D, 1f, x, 0, D, packed, 0, HD, 0f, out, 0, HD, b, 0);
            }
            return;
        }
        for (long h = 0; h < heads; h++)
            gemm(false, false, rows, dh, D, 1f, x, 0, D, W, h * D * dh, dh, 0f, out, h * dh, HD, b, h * dh);
    }

    /** out [rows, N] = x [rows, K] @ W [K, N] + bias [N] (bias may be null). */
    default void linear(Tensor x, Tensor W, Tensor bias, Tensor out) {
        long K = W.size(0), N = W.numel() / K, rows = x.numel() / K;
        if (x.numel() % K != 0) throw new IllegalArgumentException("linear: input " + x.describe() + " is not a multiple of " + K);
        if (out.numel() != rows * N) throw new IllegalArgumentException("linear: output " + out.describe() + " should hold " + rows + "x" + N);
        if (bias != null && bias.numel() != N) throw new IllegalArgumentException("linear: bias " + bias.describe() + " should hold " + N);
        gemm(false, false, rows, N, K, 1f, x, 0, K, W, 0, N, 0f, out, 0, N, bias, 0);
    }

    void embed(Tensor tokens, Tensor W_E, Tensor out);

    void posEmbed(long batch, long seq, long offset, Tensor W_pos, Tensor out);

    /** LayerNorm over the last dim; w, b null for LNPre; scale [rows] optional. */
    void layerNorm(Tensor x, Tensor w, Tensor b, float eps, Tensor out, Tensor scale);

    /** RMSNorm; w null for RMSPre; scale and normalized (before the weight) optional. */
    void rmsNorm(Tensor x, Tensor w, float eps, Tensor out, Tensor scale, Tensor normalized);

    /** x, out [batch, seq, heads, d_head]; cos/sin tables [n_ctx, rotary_dim/2]. out may alias x. */
    void rotary(Tensor x, long rotaryDim, long offset, Tensor cos, Tensor sin, boolean adjacentPairs, Tensor out);

    /** scores [batch, heads, seq, seq] = scale * q k^T, -inf above the diagonal. */
    default void attnScores(Tensor q, Tensor k, float scale, Tensor scores) { attnScores(q, k, scale, 0, 0f, scores); }

    /**
     * As above, with a sliding window (window > 0: query i sees keys i - window + 1 .. i; 0: all keys up to i) and
     * soft-capping of the scaled scores (softcap > 0: cap * tanh(s / cap) before the mask; 0: none).
     */
    default void attnScores(Tensor q, Tensor k, float scale, long window, float softcap, Tensor scores) {
        attnScores(q, k, scale, window, softcap, null, scores);
    }

    /**
     * Ragged batches and KV caches: q [batch, q_len, heads, d_head] against k [batch, k_len, kv_heads, d_head] with
     * k_len >= q_len (query i sits at position k_len - q_len + i); scores [batch, heads, q_len, k_len]. keyRanges
     * [2 * batch] holds each row's valid keys [start, end) (TL's attention_mask; null: all valid); a query that sees
     * no valid key gets a row of -inf (its softmax is 0).
     */
    void attnScores(Tensor q, Tensor k, float scale, long window, float softcap, long[] keyRanges, Tensor scores);

    /** z [batch, q_len, heads, d_head] = pattern [batch, heads, q_len, k_len] @ v [batch, k_len, kv_heads, d_head]
     *  (per head, kv head = h / group; k_len = q_len without a KV cache). */
    void attnApply(Tensor pattern, Tensor v, Tensor z);

    /** Fused causal attention; scores and pattern written only when non-null. */
    default void attention(Tensor q, Tensor k, Tensor v, float scale, Tensor z, Tensor scores, Tensor pattern) {
        attention(q, k, v, scale, 0, 0f, z, scores, pattern);
    }

    /** Fused causal attention with a sliding window and score soft-capping (see attnScores). */
    default void attention(Tensor q, Tensor k, Tensor v, float scale, long window, float softcap, Tensor z, Tensor scores, Tensor pattern) {
        attention(q, k, v, scale, window, softcap, null, z, scores, pattern);
    }

    /** Fused attention for ragged batches and KV caches (shapes and keyRanges as the masked attnScores); a query
     *  that sees no valid key gets a zero pattern row and z = 0 (TL turns those NaNs into 0). */
    void attention(Tensor q, Tensor k, Tensor v, float scale, long window, float softcap, long[] keyRanges,
                   Tensor z, Tensor scores, Tensor pattern);

    /** out = cap * tanh(x / cap), cap > 0 (Gemma 2's final-logit soft-capping); out may alias x. */
    void softcap(Tensor x, float cap, Tensor out);

    /** From the capped output y: dx = dy * (1 - (y / cap)^2), 0 where y is -inf; dx may alias dy. */
    void softcapBackward(Tensor y, Tensor dy, float cap, Tensor dx);

    void activation(Activation act, Tensor x, Tensor out);

    void gatedActivation(Activation act, Tensor gatePre, Tensor linear, Tensor out);

    void add(Tensor a, Tensor b, Tensor out);

    /** out[r, :] = x[r, :] * w (w has the last dim's size). */
    void scaleCols(Tensor x, Tensor w, Tensor out);

    /** out[r, :] = x[r, :] + bias. */
    void addBias(Tensor x, Tensor bias, Tensor out);

    /** Keep indices idx along dimension dim: out has shape of src with shape[dim] = idx.length. */
    void gather(Tensor src, int dim, int[] idx, Tensor out);

    void softmax(Tensor x, Tensor out);

    void logSoftmax(Tensor x, Tensor out);

    /** loss[r] = -log_softmax(logits[r])[targets[r]]; logits [rows, vocab], targets I32 [rows]. */
    void crossEntropy(Tensor logits, Tensor targets, Tensor loss);


    // ------------------------------------------------------------------ backward
    // Vector-Jacobian products of the ops above (native/include/lens4j.h, "backward"). Gradients of weights and
    // of anything summed over rows (dW_E, dW_pos, dw, db, sumRows' out) ACCUMULATE (+=): zero them first.
    // Gradients of activations are overwritten. A null output is not computed. add's gradient passes through
    // unchanged and addBias's bias gradient is sumRows, so neither has a method of its own.

    /** out[c] += sum_r x[r, c] over x viewed as [rows, out.numel()]: the gradient of a bias. */
    void sumRows(Tensor x, Tensor out);

    /** Backward of {@link #linear}: dx [rows, K] = dOut W^T (overwritten), dW [K, N] += x^T dOut,
     *  db [N] += sum_r dOut. x may be null when dW is. */
    default void linearBackward(Tensor x, Tensor W, Tensor dOut, Tensor dx, Tensor dW, Tensor db) {
        if (W == null || dOut == null) throw new IllegalArgumentException("linear_backward: W and dOut are required");
        long K = W.size(0), N = W.numel() / K, rows = dOut.numel() / N;
        if (dOut.numel() % N != 0) throw new IllegalArgumentException("linear_backward: dOut " + dOut.describe() + " is not a multiple of " + N);
        if (dx != null) {
            if (dx.numel() != rows * K) throw new IllegalArgumentException("linear_backward: dx " + dx.describe() + " should hold " + rows + "x" + K);
            gemm(false, true, rows, K, N, 1f, dOut, 0, N, W, 0, N, 0f, dx, 0, K, null, 0);
        }
        if (dW != null) {
            if (x == null) throw new IllegalArgumentException("linear_backward: x is required for dW");
            if (x.numel() != rows * K) throw new IllegalArgumentException("linear_backward: x " + x.describe() + " should hold " + rows + "x" + K);
            if (dW.numel() != K * N) throw new IllegalArgumentException("linear_backward: dW " + dW.describe() + " should hold " + K + "x" + N);
            gemm(true, false, K, N, rows, 1f, x, 0, K, dOut, 0, N, 1f, dW, 0, N, null, 0);
        }
        if (db != null) {
            if (db.numel() != N) throw new IllegalArgumentException("linear_backward: db " + db.describe() + " should hold " + N);
            sumRows(dOut, db);
        }
    }

    /** dW_E [d_vocab, d_model] += dOut [n_tokens, d_model] scattered by token (deterministic). */
    void embedBackward(Tensor tokens, Tensor dOut, Tensor dW_E);

    /** dW_pos [n_ctx, d_model] rows offset.. += dOut [batch, seq, d_model] summed over the batch. */
    void posEmbedBackward(long batch, long seq, long offset, Tensor dOut, Tensor dW_pos);

    /** LayerNorm backward from the forward's x, w (null for LNPre) and scale [rows]. dx: total gradient
     *  (through mean and scale); dw, db accumulate (with w null, dw is the gradient of a unit weight);
     *  dScale [rows]: the gradient at hook_scale, through the division only. */
    void layerNormBackward(Tensor x, Tensor w, Tensor scale, Tensor dOut, Tensor dx, Tensor dw, Tensor db, Tensor dScale);

    /** RMSNorm backward: dNormalized = dOut * w is the gradient at RMS hook_normalized (before w); dw
     *  accumulates; dScale through the division only; dx total. */
    void rmsNormBackward(Tensor x, Tensor w, Tensor scale, Tensor dOut, Tensor dx, Tensor dw, Tensor dNormalized, Tensor dScale);

    /** dx = the inverse rotation of dOut [batch, seq, heads, d_head]; same tables as the forward. dx may alias dOut. */
    void rotaryBackward(Tensor dOut, long rotaryDim, long offset, Tensor cos, Tensor sin, boolean adjacentPairs, Tensor dx);

    /** Causal scores' backward: dq like q, dk like k (summed over each GQA group); dScores above the diagonal is ignored. */
    default void attnScoresBackward(Tensor q, Tensor k, float scale, Tensor dScores, Tensor dq, Tensor dk) {
        attnScoresBackward(q, k, scale, 0, dScores, dq, dk);
    }

    /** As above for a sliding window (window > 0): dScores before the window are never read either. */
    default void attnScoresBackward(Tensor q, Tensor k, float scale, long window, Tensor dScores, Tensor dq, Tensor dk) {
        attnScoresBackward(q, k, scale, window, null, dScores, dq, dk);
    }

    /** As above with the forward's keyRanges (null: all valid): dScores outside them are never read either. */
    void attnScoresBackward(Tensor q, Tensor k, float scale, long window, long[] keyRanges, Tensor dScores, Tensor dq, Tensor dk);

    /** attn_apply's backward: dPattern [batch, heads, seq, seq] for every (i, j); dv like v (summed over each GQA group). */
    void attnApplyBackward(Tensor pattern, Tensor v, Tensor dz, Tensor dPattern, Tensor dv);

    /** dx = dOut * act'(x); dx may alias dOut. */
    void activationBackward(Activation act, Tensor x, Tensor dOut, Tensor dx);

    /** out = act(gatePre) * linear: dGate = dOut * linear * act'(gatePre), dLinear = dOut * act(gatePre). */
    void gatedActivationBackward(Activation act, Tensor gatePre, Tensor linear, Tensor dOut, Tensor dGate, Tensor dLinear);

    /** out = x * w: dx = dOut * w (may alias dOut), dw += sum_r dOut * x. */
    void scaleColsBackward(Tensor x, Tensor w, Tensor dOut, Tensor dx, Tensor dw);

    /** From the forward's output: dx = out * (dOut - sum(out * dOut)), exactly 0 where out == 0 (masked). */
    void softmaxBackward(Tensor out, Tensor dOut, Tensor dx);

    /** From the forward's output (log-probabilities): dx = dOut - exp(out) * sum(dOut). */
    void logSoftmaxBackward(Tensor out, Tensor dOut, Tensor dx);

    /** dLogits [rows, vocab] = dLoss[r] * (softmax(logits[r]) - onehot(targets[r])), overwritten. */
    void crossEntropyBackward(Tensor logits, Tensor targets, Tensor dLoss, Tensor dLogits);

    /**
     * Native threads for the kernels this Java thread calls (OpenMP's per-thread setting: other threads keep theirs;
     * new threads start at OMP_NUM_THREADS or the core count). GEMMs split by it, so results agree bit for bit only
     * between calls made with the same count.
     */
    void setNumThreads(int n);
}
