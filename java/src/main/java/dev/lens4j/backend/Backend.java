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

    /** C = A[M,K] @ B[K,N] (+ bias[N]); transposes when asked. Tensors are viewed as 2-D matrices with the
     *  given leading dimensions, so per-head slices of [.., heads, d_head] can be addressed with offsets. */
    void gemm(boolean transA, boolean transB, long M, long N, long K, float alpha,
              Tensor A, long offA, long lda, Tensor B, long offB, long ldb, float beta,
              Tensor C, long offC, long ldc, Tensor bias, long offBias);

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
    void attnScores(Tensor q, Tensor k, float scale, Tensor scores);

    /** z [batch, seq, heads, d_head] = pattern @ v (per head, kv head = h / group). */
    void attnApply(Tensor pattern, Tensor v, Tensor z);

    /** Fused causal attention; scores and pattern written only when non-null. */
    void attention(Tensor q, Tensor k, Tensor v, float scale, Tensor z, Tensor scores, Tensor pattern);

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

    void setNumThreads(int n);
}
