package dev.lens4j.backend;

/**
 * Plain-Java double-precision reference implementations of the Backend ops (TransformerLens semantics),
 * written for clarity, not speed. Inputs are float arrays (what the kernels see); outputs are doubles.
 */
final class Reference {
    private Reference() {}

    /** C = alpha * op(A) op(B) + beta * C (+ bias), over strided views; returns the whole C buffer. */
    static double[] gemm(boolean tA, boolean tB, int M, int N, int K, double alpha,
                         float[] A, int offA, int lda, float[] B, int offB, int ldb, double beta,
                         float[] C, int offC, int ldc, float[] bias, int offBias) {
        double[] out = new double[C.length];
        for (int i = 0; i < C.length; i++) out[i] = C[i];
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double s = 0;
                for (int k = 0; k < K; k++) {
                    double a = tA ? A[offA + k * lda + i] : A[offA + i * lda + k];
                    double b = tB ? B[offB + j * ldb + k] : B[offB + k * ldb + j];
                    s += a * b;
                }
                int c = offC + i * ldc + j;
                double v = alpha * s + (beta == 0 ? 0 : beta * C[c]);
                if (bias != null) v += bias[offBias + j];
                out[c] = v;
            }
        return out;
    }

    static double[] linear(float[] x, float[] W, float[] bias, int rows, int K, int N) {
        return linear(toDouble(x), toDouble(W), toDouble(bias), rows, K, N);
    }

    static double[] linear(double[] x, double[] W, double[] bias, int rows, int K, int N) {
        double[] out = new double[rows * N];
        for (int r = 0; r < rows; r++)
            for (int n = 0; n < N; n++) {
                double s = bias == null ? 0 : bias[n];
                for (int k = 0; k < K; k++) s += x[r * K + k] * W[k * N + n];
                out[r * N + n] = s;
            }
        return out;
    }

    static double[] embed(int[] tokens, float[] WE, int d) { return embed(tokens, toDouble(WE), d); }

    static double[] embed(int[] tokens, double[] WE, int d) {
        double[] out = new double[tokens.length * d];
        for (int i = 0; i < tokens.length; i++)
            for (int j = 0; j < d; j++) out[i * d + j] = WE[tokens[i] * d + j];
        return out;
    }

    static double[] posEmbed(int batch, int seq, int offset, float[] Wpos, int d) { return posEmbed(batch, seq, offset, toDouble(Wpos), d); }

    static double[] posEmbed(int batch, int seq, int offset, double[] Wpos, int d) {
        double[] out = new double[batch * seq * d];
        for (int b = 0; b < batch; b++)
            for (int p = 0; p < seq; p++)
                for (int j = 0; j < d; j++) out[(b * seq + p) * d + j] = Wpos[(p + offset) * d + j];
        return out;
    }

    /** Returns {out, scale}. */
    static double[][] layerNorm(float[] x, float[] w, float[] b, double eps, int rows, int d) {
        return layerNorm(toDouble(x), toDouble(w), toDouble(b), eps, rows, d);
    }

    static double[][] layerNorm(double[] x, double[] w, double[] b, double eps, int rows, int d) {
        double[] out = new double[rows * d], scale = new double[rows];
        for (int r = 0; r < rows; r++) {
            double mean = 0;
            for (int i = 0; i < d; i++) mean += x[r * d + i];
            mean /= d;
            double var = 0;
            for (int i = 0; i < d; i++) { double c = x[r * d + i] - mean; var += c * c; }
            double s = Math.sqrt(var / d + eps);
            scale[r] = s;
            for (int i = 0; i < d; i++) {
                double v = (x[r * d + i] - mean) / s;
                if (w != null) v *= w[i];
                if (b != null) v += b[i];
                out[r * d + i] = v;
            }
        }
        return new double[][] {out, scale};
    }

    /** Returns {out, scale, normalized}. */
    static double[][] rmsNorm(float[] x, float[] w, double eps, int rows, int d) { return rmsNorm(toDouble(x), toDouble(w), eps, rows, d); }

    static double[][] rmsNorm(double[] x, double[] w, double eps, int rows, int d) {
        double[] out = new double[rows * d], scale = new double[rows], norm = new double[rows * d];
        for (int r = 0; r < rows; r++) {
            double sq = 0;
            for (int i = 0; i < d; i++) sq += x[r * d + i] * x[r * d + i];
            double s = Math.sqrt(sq / d + eps);
            scale[r] = s;
            for (int i = 0; i < d; i++) {
                norm[r * d + i] = x[r * d + i] / s;
                out[r * d + i] = w == null ? norm[r * d + i] : norm[r * d + i] * w[i];
            }
        }
        return new double[][] {out, scale, norm};
    }

    /** TL's calculate_sin_cos_rotary: freq_i = base^(-2i/rotary_dim), angle = pos * freq_i; tables [n_ctx, rd/2]. */
    static float[][] rotaryTables(int nCtx, int rotaryDim, double base) {
        int half = rotaryDim / 2;
        float[] cos = new float[nCtx * half], sin = new float[nCtx * half];
        for (int p = 0; p < nCtx; p++)
            for (int i = 0; i < half; i++) {
                double angle = p * Math.pow(base, -2.0 * i / rotaryDim);
                cos[p * half + i] = (float) Math.cos(angle);
                sin[p * half + i] = (float) Math.sin(angle);
            }
        return new float[][] {cos, sin};
    }

    /** TL's apply_rotary: x_rot * cos + rotate_every_two(x_rot) * sin on the first rd features; rest passes. */
    static double[] rotary(float[] x, int batch, int seq, int heads, int dHead, int rd, int offset,
                           float[] cos, float[] sin, boolean adjacent) {
        return rotary(toDouble(x), batch, seq, heads, dHead, rd, offset, cos, sin, adjacent);
    }

    static double[] rotary(double[] x, int batch, int seq, int heads, int dHead, int rd, int offset,
                           float[] cos, float[] sin, boolean adjacent) {
        int half = rd / 2;
        double[] out = new double[x.length];
        for (int b = 0; b < batch; b++)
            for (int p = 0; p < seq; p++)
                for (int h = 0; h < heads; h++) {
                    int base = ((b * seq + p) * heads + h) * dHead;
                    for (int i = 0; i < dHead; i++) out[base + i] = x[base + i];
                    for (int f = 0; f < rd; f++) {
                        // the table column of feature f, and rotate_every_two's value at f
                        int col = adjacent ? f / 2 : f % half;
                        double rot;
                        if (adjacent) rot = f % 2 == 0 ? -x[base + f + 1] : x[base + f - 1];
                        else rot = f < half ? -x[base + f + half] : x[base + f - half];
                        int t = (p + offset) * half + col;
                        out[base + f] = x[base + f] * (double) cos[t] + rot * sin[t];
                    }
                }
        return out;
    }

    /** scores [batch, heads, seq, seq], -inf above the diagonal. */
    static double[] attnScores(float[] q, float[] k, int batch, int seq, int heads, int kvHeads, int dHead, double scale) {
        return attnScores(toDouble(q), toDouble(k), batch, seq, heads, kvHeads, dHead, scale);
    }

    static double[] attnScores(double[] q, double[] k, int batch, int seq, int heads, int kvHeads, int dHead, double scale) {
        int group = heads / kvHeads;
        double[] s = new double[batch * heads * seq * seq];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < seq; i++)
                    for (int j = 0; j < seq; j++) {
                        double v = Double.NEGATIVE_INFINITY;
                        if (j <= i) {
                            v = 0;
                            for (int d = 0; d < dHead; d++)
                                v += q[((b * seq + i) * heads + h) * dHead + d]
                                        * k[((b * seq + j) * kvHeads + h / group) * dHead + d];
                            v *= scale;
                        }
                        s[((b * heads + h) * seq + i) * seq + j] = v;
                    }
        return s;
    }

    /**
     * Gemma 2's scores: cap * tanh(scale q.k / cap) (cap 0: uncapped), -inf unless i - window < j <= i (window 0: j <= i).
     */
    static double[] attnScores(float[] q, float[] k, int batch, int seq, int heads, int kvHeads, int dHead, double scale,
                               int window, double cap) {
        double[] s = attnScores(q, k, batch, seq, heads, kvHeads, dHead, scale);
        for (int r = 0; r < batch * heads * seq; r++)
            for (int j = 0; j < seq; j++) {
                int i = r % seq, at = r * seq + j;
                if (window > 0 && j <= i - window) s[at] = Double.NEGATIVE_INFINITY;
                else if (cap > 0 && Double.isFinite(s[at])) s[at] = cap * Math.tanh(s[at] / cap);
            }
        return s;
    }

    static double[] attnApply(double[] pattern, float[] v, int batch, int seq, int heads, int kvHeads, int dHead) {
        return attnApply(pattern, toDouble(v), batch, seq, heads, kvHeads, dHead);
    }

    static double[] attnApply(double[] pattern, double[] v, int batch, int seq, int heads, int kvHeads, int dHead) {
        int group = heads / kvHeads;
        double[] z = new double[batch * seq * heads * dHead];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < seq; i++)
                    for (int j = 0; j < seq; j++) {
                        double p = pattern[((b * heads + h) * seq + i) * seq + j];
                        for (int d = 0; d < dHead; d++)
                            z[((b * seq + i) * heads + h) * dHead + d] += p * v[((b * seq + j) * kvHeads + h / group) * dHead + d];
                    }
        return z;
    }

    /** null stays null (optional weights). */
    static double[] toDouble(float[] a) {
        if (a == null) return null;
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    static double act(Activation a, double x) {
        switch (a) {
            case RELU: return x > 0 ? x : 0;
            case GELU: return 0.5 * x * (1 + erf(x / Math.sqrt(2)));
            case GELU_NEW:
            case GELU_PYTORCH_TANH: return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            case SILU: return x / (1 + Math.exp(-x));
            default: throw new AssertionError(a);
        }
    }

    /** erf to ~1e-14: Taylor series for |x| <= 3, continued fraction for erfc beyond. */
    static double erf(double x) {
        if (Double.isNaN(x)) return x;
        double z = Math.abs(x);
        double r;
        if (z <= 3) {
            double term = z, sum = z, z2 = z * z;
            for (int n = 1; n < 200 && Math.abs(term) > 1e-18 * Math.abs(sum); n++) {
                term *= -z2 / n;
                sum += term / (2 * n + 1);
            }
            r = 2 / Math.sqrt(Math.PI) * sum;
        } else if (z > 30) {
            r = 1;
        } else {
            // erfc(z) = exp(-z^2)/sqrt(pi) * 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...))))
            double f = z;
            for (int n = 80; n >= 1; n--) f = z + (n / 2.0) / f;
            r = 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
        }
        return x < 0 ? -r : r;
    }

    /** softmax over rows of length n; rows with -inf entries give exact zeros there. */
    static double[] softmax(float[] x, int rows, int n) {
        double[] out = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double m = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) m = Math.max(m, x[r * n + i]);
            double s = 0;
            for (int i = 0; i < n; i++) s += Math.exp(x[r * n + i] - m);
            for (int i = 0; i < n; i++) out[r * n + i] = Math.exp(x[r * n + i] - m) / s;
        }
        return out;
    }

    static double[] softmax(double[] x, int rows, int n) {
        double[] out = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double m = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) m = Math.max(m, x[r * n + i]);
            double s = 0;
            for (int i = 0; i < n; i++) s += Math.exp(x[r * n + i] - m);
            for (int i = 0; i < n; i++) out[r * n + i] = Math.exp(x[r * n + i] - m) / s;
        }
        return out;
    }

    static double[] logSoftmax(float[] x, int rows, int n) { return logSoftmax(toDouble(x), rows, n); }

    static double[] logSoftmax(double[] x, int rows, int n) {
        double[] out = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double m = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) m = Math.max(m, x[r * n + i]);
            double s = 0;
            for (int i = 0; i < n; i++) s += Math.exp(x[r * n + i] - m);
            double lse = m + Math.log(s);
            for (int i = 0; i < n; i++) out[r * n + i] = x[r * n + i] - lse;
        }
        return out;
    }

    static double[] crossEntropy(float[] logits, int[] targets, int rows, int n) { return crossEntropy(toDouble(logits), targets, rows, n); }

    static double[] crossEntropy(double[] logits, int[] targets, int rows, int n) {
        double[] ls = logSoftmax(logits, rows, n), loss = new double[rows];
        for (int r = 0; r < rows; r++) loss[r] = -ls[r * n + targets[r]];
        return loss;
    }

    // ---- forwards with an explicit scale, for the gradient at hook_scale (the scale as an independent input)

    /** LayerNorm's out = (x - mean) / scale[r] * w + b with scale given. */
    static double[] layerNormGivenScale(double[] x, double[] w, double[] b, double[] scale, int rows, int d) {
        double[] out = new double[rows * d];
        for (int r = 0; r < rows; r++) {
            double mean = 0;
            for (int i = 0; i < d; i++) mean += x[r * d + i];
            mean /= d;
            for (int i = 0; i < d; i++) {
                double v = (x[r * d + i] - mean) / scale[r];
                if (w != null) v *= w[i];
                if (b != null) v += b[i];
                out[r * d + i] = v;
            }
        }
        return out;
    }

    /** RMSNorm's out = x / scale[r] * w with scale given. */
    static double[] rmsNormGivenScale(double[] x, double[] w, double[] scale, int rows, int d) {
        double[] out = new double[rows * d];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < d; i++) out[r * d + i] = x[r * d + i] / scale[r] * (w == null ? 1 : w[i]);
        return out;
    }

    /** out[r, c] = x[r, c] * w[c] */
    static double[] scaleCols(double[] x, double[] w) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = x[i] * w[i % w.length];
        return out;
    }

    /**
     * Ragged / KV-cache attention in double: q [batch, qLen, heads, dh] against k, v [batch, kLen, kvHeads, dh], query
     * i at position kLen - qLen + i; row b sees keys [ranges[2b], ranges[2b+1]) (null: all) inside the causal window,
     * scores soft-capped then -inf where masked. Returns {scores, pattern, z}; a row that sees nothing has pattern 0
     * (TL's NaN -> 0) and z 0.
     */
    static double[][] attentionMasked(float[] q, float[] k, float[] v, int batch, int qLen, int kLen, int heads, int kvHeads,
                                      int dh, double scale, int window, double cap, long[] ranges) {
        int group = heads / kvHeads, off = kLen - qLen;
        double[] scores = new double[batch * heads * qLen * kLen], pattern = new double[scores.length];
        double[] z = new double[batch * qLen * heads * dh];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < qLen; i++) {
                    int row = ((b * heads + h) * qLen + i) * kLen, pos = off + i;
                    long ks = ranges == null ? 0 : ranges[2 * b], ke = ranges == null ? kLen : ranges[2 * b + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < kLen; j++) {
                        boolean visible = j <= pos && (window <= 0 || j > pos - window) && j >= ks && j < ke;
                        if (!visible) { scores[row + j] = Double.NEGATIVE_INFINITY; continue; }
                        double d = 0;
                        for (int e = 0; e < dh; e++)
                            d += (double) q[((b * qLen + i) * heads + h) * dh + e] * k[((b * kLen + j) * kvHeads + h / group) * dh + e];
                        d *= scale;
                        if (cap > 0) d = cap * Math.tanh(d / cap);
                        scores[row + j] = d;
                        max = Math.max(max, d);
                    }
                    if (max == Double.NEGATIVE_INFINITY) continue; // sees nothing: pattern and z stay 0
                    double sum = 0;
                    for (int j = 0; j < kLen; j++) sum += pattern[row + j] = Math.exp(scores[row + j] - max);
                    for (int j = 0; j < kLen; j++) {
                        pattern[row + j] /= sum;
                        for (int e = 0; e < dh; e++)
                            z[((b * qLen + i) * heads + h) * dh + e] += pattern[row + j] * v[((b * kLen + j) * kvHeads + h / group) * dh + e];
                    }
                }
        return new double[][] {scores, pattern, z};
    }
}
