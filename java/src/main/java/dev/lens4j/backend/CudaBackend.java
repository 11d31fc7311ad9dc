package dev.lens4j.backend;

import dev.lens4j.nativ.CudaKernels;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Device;
import dev.lens4j.tensor.DeviceAllocator;
import dev.lens4j.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.ShortPointer;

/**
 * The CUDA kernels (native/cuda, the l4jc_* C ABI) behind {@link Backend}, on device 0: {@link #gpu()} on an NVIDIA
 * GPU, {@link #emulated()} on the CPU through the CUDA emulation (the same kernel sources; for tests, slow).
 * Every kernel runs on one CUDA stream this backend owns, so kernels run in the order Java calls them; copies to the
 * host wait for the stream. Arguments are checked in Java exactly as {@link CpuBackend} checks them ({@link BackendChecks})
 * before anything is launched. Host arrays of the CPU API (attention key ranges, gather indices) and tokens or targets
 * given as CPU tensors are validated on the host and uploaded. Registers the allocator for {@link Device.Kind#CUDA}
 * tensors: zero-filled allocations are zeroed on the stream, frees rely on cudaFree's implicit device synchronisation.
 */
public final class CudaBackend implements Backend {
    private static final Device DEVICE = Device.cuda(0);
    private static CudaBackend instance;

    private final Pointer stream;

    private CudaBackend() {
        try (PointerPointer<Pointer> pp = new PointerPointer<>(1)) {
            CudaRuntime.check(CudaKernels.l4jc_stream_create(pp), "stream_create");
            stream = pp.get(0);
        }
        Tensor.registerAllocator(Device.Kind.CUDA, new Allocator());
        dev.lens4j.tensor.TensorOps.registerDeviceOps(Device.Kind.CUDA, new CudaOps(stream));
    }

    /** The backend on the GPU; a one-line IllegalStateException when there is no GPU, driver or CUDA build. */
    public static CudaBackend gpu() { return open(CudaRuntime.Kind.GPU); }

    /** The backend on the CUDA emulation (the kernel sources run on the CPU): tests and trying the CUDA path. */
    public static CudaBackend emulated() { return open(CudaRuntime.Kind.EMULATED); }

    private static synchronized CudaBackend open(CudaRuntime.Kind kind) {
        CudaRuntime.load(kind); // one kind per JVM: throws when the other one is loaded
        if (instance == null) instance = new CudaBackend();
        return instance;
    }

    @Override public Device device() { return DEVICE; }

    /** The stream this backend's kernels run on, for other CUDA code that must be ordered with them (null: none opened). */
    public Pointer stream() { return stream; }

    /** The opened CUDA backend's stream for tensors of device d (null for the CPU or before a CUDA backend exists). */
    public static synchronized Pointer streamOf(Device d) { return d.isCpu() || instance == null ? null : instance.stream; }

    /** Native thread counts are a CPU notion: checked as the CPU checks them, then ignored. */
    @Override public void setNumThreads(int n) { BackendChecks.threads(n); }

    /** TF32 tensor cores for the f32 GEMMs (off by default, so results match the CPU's to ~1e-6). */
    public void setTf32(boolean on) { CudaRuntime.check(CudaKernels.l4jc_set_tf32(on ? 1 : 0), "set_tf32"); }

    /** Waits for every kernel launched so far (for timing). */
    public void synchronize() { CudaRuntime.check(CudaKernels.l4jc_stream_synchronize(stream), "stream_synchronize"); }

    /** Free and total device memory in bytes. */
    public long[] memInfo() {
        try (LongPointer free = new LongPointer(1); LongPointer total = new LongPointer(1)) {
            CudaRuntime.check(CudaKernels.l4jc_mem_info(free, total), "mem_info");
            return new long[] {free.get(), total.get()};
        }
    }

    // ------------------------------------------------------------------ helpers

    private static void check(int status, String op) { CudaRuntime.check(status, op); }

    private static FloatPointer f(Tensor t) { return t == null ? null : devF32(t); }

    // device addresses (Tensor's floatPointer() & co. are host memory only); never dereferenced in Java
    static FloatPointer devF32(Tensor t) { return new FloatPointer(dev(t, DType.F32)).capacity(t.numel()); }
    static IntPointer devI32(Tensor t) { return new IntPointer(dev(t, DType.I32)).capacity(t.numel()); }
    static ShortPointer devBf16(Tensor t) { return new ShortPointer(dev(t, DType.BF16)).capacity(t.numel()); }

    private static Pointer dev(Tensor t, DType dtype) {
        onDevice(t);
        if (t.dtype() != dtype) throw new IllegalArgumentException(t.describe() + " is " + t.dtype() + ", not " + dtype);
        return t.pointer();
    }

    private static FloatPointer f(Tensor t, long offset) {
        FloatPointer p = f(t);
        return p == null ? null : offset == 0 ? p : new FloatPointer(p).position(offset);
    }

    private static void onDevice(Tensor t) {
        if (!DEVICE.equals(t.device()))
            throw new IllegalArgumentException(t.describe() + " is not on " + DEVICE + " (the CUDA backend's device): move it with .to(backend.device())");
    }

    /** I32 ids (already checked by the caller) on the device: the tensor itself, or an uploaded copy the caller closes. */
    private static Tensor ints(Tensor t) {
        if (t.dtype() != DType.I32) throw new IllegalArgumentException(t.describe() + " must be I32");
        return DEVICE.equals(t.device()) ? t : t.to(DEVICE);
    }

    private static void closeCopy(Tensor copy, Tensor original) { if (copy != original) copy.close(); }

    /** Raw device memory for a host array (key ranges, indices) that a kernel reads; freed by close(). */
    private final class Upload implements AutoCloseable {
        final Pointer ptr;

        Upload(Pointer host, long bytes) {
            try (PointerPointer<Pointer> pp = new PointerPointer<>(1)) {
                check(CudaKernels.l4jc_malloc_uninit(pp, Math.max(bytes, 1)), "malloc");
                ptr = pp.get(0);
            }
            // pageable host memory is staged before memcpy_async returns, so host may be freed right after
            int s = CudaKernels.l4jc_memcpy_async(ptr, host, bytes, 0, stream);
            if (s != 0) { CudaKernels.l4jc_free(ptr); check(s, "memcpy"); }
        }

        @Override public void close() { check(CudaKernels.l4jc_free(ptr), "free"); }
    }

    private Upload upload(long[] values) {
        if (values == null) return null;
        try (LongPointer h = new LongPointer(values)) { return new Upload(h, 8L * values.length); }
    }

    private Upload upload(int[] values) {
        try (IntPointer h = new IntPointer(values)) { return new Upload(h, 4L * values.length); }
    }

    private static LongPointer longs(Upload u) { return u == null ? null : new LongPointer(u.ptr); }

    // ------------------------------------------------------------------ kernels

    @Override
    public void gemm(boolean transA, boolean transB, long M, long N, long K, float alpha,
                     Tensor A, long offA, long lda, Tensor B, long offB, long ldb, float beta,
                     Tensor C, long offC, long ldc, Tensor bias, long offBias) {
        BackendChecks.gemm(M, N, K, transA, transB, A, offA, lda, B, offB, ldb, C, offC, ldc, bias, offBias);
        if (B.dtype() == DType.BF16 && A.dtype() != DType.BF16) { // a weight as B: cuBLAS's bf16 x f32 GEMM
            BackendChecks.bf16Right(transA, A, B);
            ShortPointer b = devBf16(B);
            check(CudaKernels.l4jc_gemm_bf16(transB ? 1 : 0, M, N, K, alpha, f(A, offA), lda, offB == 0 ? b : new ShortPointer(b).position(offB), ldb,
                    beta, f(C, offC), ldc, f(bias, offBias), 0, stream), "gemm_bf16");
            return;
        }
        if (A.dtype() == DType.BF16) { // a weight on the left (weight-based analyses): widen the span used
            try (Tensor a = widen(A, offA, BackendChecks.leftSpan(transA, M, K, lda))) {
                gemm(transA, transB, M, N, K, alpha, a, 0, lda, B, offB, ldb, beta, C, offC, ldc, bias, offBias);
            }
            return;
        }
        check(CudaKernels.l4jc_gemm(transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, f(A, offA), lda, f(B, offB), ldb,
                beta, f(C, offC), ldc, f(bias, offBias), stream), "gemm");
    }

    /** Every head's projection from W [heads, d_model, d_head] in place: one cuBLAS product per head, no repacked copy. */
    @Override public void projectHeads(Tensor x, Tensor W, Tensor b, Tensor out) {
        long[] s = BackendChecks.projectHeads(x, W, b, out);
        long rows = s[0], heads = s[1], D = s[2], dh = s[3];
        if (W.dtype() == DType.BF16) {
            check(CudaKernels.l4jc_gemm_bf16_grouped(rows, heads * dh, D, 1f, f(x), D, devBf16(W), dh, dh, D * dh, 0f, f(out),
                    heads * dh, f(b), 0, stream), "projectHeads");
            return;
        }
        check(CudaKernels.l4jc_gemm_grouped(rows, heads * dh, D, 1f, f(x), D, f(W), dh, dh, D * dh, 0f, f(out), heads * dh,
                f(b), 0, stream), "projectHeads");
    }

    /** A new F32 device tensor [max(n, 1)] holding elements [off, off + n) of a BF16 device tensor. */
    private Tensor widen(Tensor t, long off, long n) {
        onDevice(t);
        Tensor out = Tensor.empty(DEVICE, DType.F32, Math.max(n, 1));
        try {
            if (n > 0) check(CudaKernels.l4jc_bf16_to_f32(n, new ShortPointer(devBf16(t)).position(off), devF32(out), stream), "bf16_to_f32");
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    @Override public void embed(Tensor tokens, Tensor W_E, Tensor out) {
        long[] s = BackendChecks.embed(tokens, W_E, out);
        Tensor t = ints(tokens);
        try {
            onDevice(W_E);
            if (W_E.dtype() == DType.BF16)
                check(CudaKernels.l4jc_embed_bf16(tokens.numel(), devI32(t), devBf16(W_E), s[0], s[1], f(out), stream), "embed");
            else
                check(CudaKernels.l4jc_embed(tokens.numel(), devI32(t), f(W_E), s[0], s[1], f(out), stream), "embed");
        } finally {
            closeCopy(t, tokens);
        }
    }

    @Override public void posEmbed(long batch, long seq, long offset, Tensor W_pos, Tensor out) {
        long[] s = BackendChecks.posEmbed(batch, seq, offset, W_pos, out);
        check(CudaKernels.l4jc_pos_embed(batch, seq, offset, f(W_pos), s[0], s[1], f(out), stream), "pos_embed");
    }

    @Override public void layerNorm(Tensor x, Tensor w, Tensor b, float eps, Tensor out, Tensor scale) {
        long[] s = BackendChecks.layerNorm(x, w, b, out, scale);
        check(CudaKernels.l4jc_layernorm(s[0], s[1], f(x), f(w), f(b), eps, f(out), f(scale), stream), "layer_norm");
    }

    @Override public void rmsNorm(Tensor x, Tensor w, float eps, Tensor out, Tensor scale, Tensor normalized) {
        long[] s = BackendChecks.rmsNorm(x, w, out, scale, normalized);
        check(CudaKernels.l4jc_rmsnorm(s[0], s[1], f(x), f(w), eps, f(out), f(scale), f(normalized), stream), "rms_norm");
    }

    @Override public void rotary(Tensor x, long rotaryDim, long offset, Tensor cos, Tensor sin, boolean adjacentPairs, Tensor out) {
        long[] s = BackendChecks.rotary("rotary", "x", x, rotaryDim, offset, cos, sin, "out", out);
        check(CudaKernels.l4jc_rotary(s[0], s[1], s[2], s[3], rotaryDim, offset, f(cos), f(sin), s[4], adjacentPairs ? 1 : 0,
                f(x), f(out), stream), "rotary");
    }

    @Override public void attnScores(Tensor q, Tensor k, float scale, long window, float softcap, long[] keyRanges, Tensor scores) {
        long[] s = BackendChecks.attnScores(q, k, window, softcap, keyRanges, scores);
        try (Upload kr = upload(keyRanges)) {
            check(CudaKernels.l4jc_attn_scores_masked(s[0], s[1], s[2], s[3], s[4], s[5], f(q), f(k), scale, window, softcap, longs(kr),
                    f(scores), stream), "attn_scores");
        }
    }

    @Override public void attnApply(Tensor pattern, Tensor v, Tensor z) {
        long[] s = BackendChecks.attnApply(pattern, v, z);
        check(CudaKernels.l4jc_attn_apply_kv(s[0], s[1], s[2], s[3], s[4], s[5], f(pattern), f(v), f(z), stream), "attn_apply");
    }

    @Override public void attention(Tensor q, Tensor k, Tensor v, float scale, long window, float softcap, long[] keyRanges,
                                    Tensor z, Tensor scores, Tensor pattern) {
        long[] s = BackendChecks.attention(q, k, v, window, softcap, keyRanges, z, scores, pattern);
        try (Upload kr = upload(keyRanges)) {
            check(CudaKernels.l4jc_attention_masked(s[0], s[1], s[2], s[3], s[4], s[5], f(q), f(k), f(v), scale, window, softcap, longs(kr),
                    f(z), f(scores), f(pattern), stream), "attention");
        }
    }

    @Override public void softcap(Tensor x, float cap, Tensor out) {
        BackendChecks.softcap("softcap", cap);
        BackendChecks.elementwise("softcap", x, new String[] {"output"}, out);
        check(CudaKernels.l4jc_softcap(x.numel(), f(x), cap, f(out), stream), "softcap");
    }

    @Override public void softcapBackward(Tensor y, Tensor dy, float cap, Tensor dx) {
        BackendChecks.softcapBackward(y, dy, cap, dx);
        check(CudaKernels.l4jc_softcap_backward(y.numel(), f(y), f(dy), cap, f(dx), stream), "softcap_backward");
    }

    @Override public void activation(Activation act, Tensor x, Tensor out) {
        BackendChecks.elementwise("activation", x, new String[] {"output"}, out);
        check(CudaKernels.l4jc_activation(act.code, x.numel(), f(x), f(out), stream), "activation " + act.tlName);
    }

    @Override public void gatedActivation(Activation act, Tensor gatePre, Tensor linear, Tensor out) {
        BackendChecks.elementwise("gated_activation", gatePre, new String[] {"linear", "output"}, linear, out);
        check(CudaKernels.l4jc_gated_activation(act.code, gatePre.numel(), f(gatePre), f(linear), f(out), stream), "gated " + act.tlName);
    }

    @Override public void add(Tensor a, Tensor b, Tensor out) {
        BackendChecks.elementwise("add", a, new String[] {"b", "output"}, b, out);
        check(CudaKernels.l4jc_add(a.numel(), f(a), f(b), f(out), stream), "add");
    }

    @Override public void scaleCols(Tensor x, Tensor w, Tensor out) {
        long rows = BackendChecks.rowsOf("scale_cols", x, w, out);
        check(CudaKernels.l4jc_scale_cols(rows, w.numel(), f(x), f(w), f(out), stream), "scale_cols");
    }

    @Override public void addBias(Tensor x, Tensor bias, Tensor out) {
        long rows = BackendChecks.rowsOf("add_bias", x, bias, out);
        check(CudaKernels.l4jc_add_bias(rows, bias.numel(), f(x), f(bias), f(out), stream), "add_bias");
    }

    @Override public void gather(Tensor src, int dim, int[] idx, Tensor out) {
        long[] s = BackendChecks.gather(src, dim, idx, out);
        long outer = s[0], n = s[1], inner = s[2];
        onDevice(src);
        onDevice(out);
        if (idx.length == 0 || outer * inner == 0) return;
        if (src.dtype() == DType.F32) {
            try (Upload u = upload(idx)) {
                check(CudaKernels.l4jc_index_select(outer, n, inner, f(src), idx.length, new IntPointer(u.ptr), f(out), stream), "gather");
            }
            return;
        }
        // bf16 rows (widened to f32) or I32: one conversion or copy per gathered row (gathers of weight rows: few rows)
        boolean widen = src.dtype() == DType.BF16 && out.dtype() == DType.F32;
        long es = src.dtype().bytes, oes = out.dtype().bytes;
        for (long a = 0; a < outer; a++)
            for (int j = 0; j < idx.length; j++) {
                long from = (a * n + idx[j]) * inner, to = (a * idx.length + j) * inner;
                if (widen)
                    check(CudaKernels.l4jc_bf16_to_f32(inner, new ShortPointer(devBf16(src)).position(from),
                            new FloatPointer(devF32(out)).position(to), stream), "gather");
                else
                    check(CudaKernels.l4jc_memcpy_async(at(out.pointer(), to * oes), at(src.pointer(), from * es), inner * es, 2, stream), "gather");
            }
    }

    /** A pointer to base + bytes (position 0, so every native signature sees exactly that address). */
    static Pointer at(Pointer base, long bytes) {
        long address = base.address() + bytes; // tensor base pointers sit at position 0
        return new Pointer() { { this.address = address; } };
    }

    @Override public void softmax(Tensor x, Tensor out) {
        long[] s = BackendChecks.lastDimRows("softmax", x, out);
        check(CudaKernels.l4jc_softmax(s[0], s[1], f(x), f(out), stream), "softmax");
    }

    @Override public void logSoftmax(Tensor x, Tensor out) {
        long[] s = BackendChecks.lastDimRows("log_softmax", x, out);
        check(CudaKernels.l4jc_log_softmax(s[0], s[1], f(x), f(out), stream), "log_softmax");
    }

    @Override public void crossEntropy(Tensor logits, Tensor targets, Tensor loss) {
        long[] s = BackendChecks.crossEntropy(logits, targets, loss);
        Tensor t = ints(targets);
        try {
            check(CudaKernels.l4jc_cross_entropy(s[0], s[1], f(logits), devI32(t), f(loss), stream), "cross_entropy");
        } finally {
            closeCopy(t, targets);
        }
    }

    // ------------------------------------------------------------------ backward

    @Override public void sumRows(Tensor x, Tensor out) {
        long d = BackendChecks.sumRows(x, out);
        check(CudaKernels.l4jc_sum_rows(x.numel() / d, d, f(x), f(out), stream), "sum_rows");
    }

    @Override public void embedBackward(Tensor tokens, Tensor dOut, Tensor dW_E) {
        long[] s = BackendChecks.embedBackward(tokens, dOut, dW_E);
        Tensor t = ints(tokens);
        try {
            check(CudaKernels.l4jc_embed_backward(tokens.numel(), devI32(t), f(dOut), s[0], s[1], f(dW_E), stream), "embed_backward");
        } finally {
            closeCopy(t, tokens);
        }
    }

    @Override public void posEmbedBackward(long batch, long seq, long offset, Tensor dOut, Tensor dW_pos) {
        long[] s = BackendChecks.posEmbedBackward(batch, seq, offset, dOut, dW_pos);
        check(CudaKernels.l4jc_pos_embed_backward(batch, seq, offset, f(dOut), s[0], s[1], f(dW_pos), stream), "pos_embed_backward");
    }

    @Override public void layerNormBackward(Tensor x, Tensor w, Tensor scale, Tensor dOut, Tensor dx, Tensor dw, Tensor db, Tensor dScale) {
        String op = "layer_norm_backward";
        long[] s = BackendChecks.normBackward(op, x, w, scale, dOut, dx, dw, "db", db, true, dScale);
        check(CudaKernels.l4jc_layernorm_backward(s[0], s[1], f(x), f(w), f(scale), f(dOut), f(dx), f(dw), f(db), f(dScale), stream), op);
    }

    @Override public void rmsNormBackward(Tensor x, Tensor w, Tensor scale, Tensor dOut, Tensor dx, Tensor dw, Tensor dNormalized, Tensor dScale) {
        String op = "rms_norm_backward";
        long[] s = BackendChecks.normBackward(op, x, w, scale, dOut, dx, dw, "dNormalized", dNormalized, false, dScale);
        check(CudaKernels.l4jc_rmsnorm_backward(s[0], s[1], f(x), f(w), f(scale), f(dOut), f(dx), f(dw), f(dNormalized), f(dScale), stream), op);
    }

    @Override public void rotaryBackward(Tensor dOut, long rotaryDim, long offset, Tensor cos, Tensor sin, boolean adjacentPairs, Tensor dx) {
        long[] s = BackendChecks.rotary("rotary_backward", "dOut", dOut, rotaryDim, offset, cos, sin, "dx", dx);
        check(CudaKernels.l4jc_rotary_backward(s[0], s[1], s[2], s[3], rotaryDim, offset, f(cos), f(sin), s[4], adjacentPairs ? 1 : 0,
                f(dOut), f(dx), stream), "rotary_backward");
    }

    @Override public void attnScoresBackward(Tensor q, Tensor k, float scale, long window, long[] keyRanges, Tensor dScores, Tensor dq, Tensor dk) {
        long[] s = BackendChecks.attnScoresBackward(q, k, window, keyRanges, dScores, dq, dk);
        try (Upload kr = upload(keyRanges)) {
            check(CudaKernels.l4jc_attn_scores_backward_masked(s[0], s[1], s[2], s[3], s[4], f(q), f(k), f(dScores), scale, window, longs(kr),
                    f(dq), f(dk), stream), "attn_scores_backward");
        }
    }

    @Override public void attnApplyBackward(Tensor pattern, Tensor v, Tensor dz, Tensor dPattern, Tensor dv) {
        long[] s = BackendChecks.attnApplyBackward(pattern, v, dz, dPattern, dv);
        check(CudaKernels.l4jc_attn_apply_backward(s[0], s[1], s[2], s[3], s[4], f(pattern), f(v), f(dz), f(dPattern), f(dv), stream),
                "attn_apply_backward");
    }

    @Override public void activationBackward(Activation act, Tensor x, Tensor dOut, Tensor dx) {
        long n = BackendChecks.activationBackward(act, x, dOut, dx);
        check(CudaKernels.l4jc_activation_backward(act.code, n, f(x), f(dOut), f(dx), stream), "activation_backward " + act.tlName);
    }

    @Override public void gatedActivationBackward(Activation act, Tensor gatePre, Tensor linear, Tensor dOut, Tensor dGate, Tensor dLinear) {
        long n = BackendChecks.gatedActivationBackward(act, gatePre, linear, dOut, dGate, dLinear);
        check(CudaKernels.l4jc_gated_activation_backward(act.code, n, f(gatePre), f(linear), f(dOut), f(dGate), f(dLinear), stream),
                "gated_activation_backward " + act.tlName);
    }

    @Override public void scaleColsBackward(Tensor x, Tensor w, Tensor dOut, Tensor dx, Tensor dw) {
        long[] s = BackendChecks.scaleColsBackward(x, w, dOut, dx, dw);
        check(CudaKernels.l4jc_scale_cols_backward(s[0], s[1], f(x), f(w), f(dOut), f(dx), f(dw), stream), "scale_cols_backward");
    }

    @Override public void softmaxBackward(Tensor out, Tensor dOut, Tensor dx) {
        long[] s = BackendChecks.softmaxBackward("softmax_backward", out, dOut, dx);
        check(CudaKernels.l4jc_softmax_backward(s[0], s[1], f(out), f(dOut), f(dx), stream), "softmax_backward");
    }

    @Override public void logSoftmaxBackward(Tensor out, Tensor dOut, Tensor dx) {
        long[] s = BackendChecks.softmaxBackward("log_softmax_backward", out, dOut, dx);
        check(CudaKernels.l4jc_log_softmax_backward(s[0], s[1], f(out), f(dOut), f(dx), stream), "log_softmax_backward");
    }

    @Override public void crossEntropyBackward(Tensor logits, Tensor targets, Tensor dLoss, Tensor dLogits) {
        long[] s = BackendChecks.crossEntropyBackward(logits, targets, dLoss, dLogits);
        Tensor t = ints(targets);
        try {
            check(CudaKernels.l4jc_cross_entropy_backward(s[0], s[1], f(logits), devI32(t), f(dLoss), f(dLogits), stream), "cross_entropy_backward");
        } finally {
            closeCopy(t, targets);
        }
    }

    // ------------------------------------------------------------------ device memory

    /** Device memory for {@link Device.Kind#CUDA} tensors; copies are ordered on the backend's stream. */
    private final class Allocator implements DeviceAllocator {
        @Override public Pointer allocate(long bytes) {
            Pointer p = allocateUninitialized(bytes);
            // zeroed on the stream (l4jc_malloc's cudaMemset runs on the legacy stream, unordered with ours)
            int s = CudaKernels.l4jc_memset_async(p, 0, bytes, stream);
            if (s != 0) { CudaKernels.l4jc_free(p); check(s, "memset"); }
            return p;
        }

        @Override public Pointer allocateUninitialized(long bytes) {
            try (PointerPointer<Pointer> pp = new PointerPointer<>(1)) {
                int s = CudaKernels.l4jc_malloc_uninit(pp, bytes);
                if (s != 0) throw new OutOfMemoryError("could not allocate " + bytes + " bytes on " + DEVICE + ": " + CudaRuntime.lastError());
                return pp.get(0);
            }
        }

        @Override public void free(Pointer p) { check(CudaKernels.l4jc_free(p), "free"); }

        @Override public void copy(Pointer dst, Device dstDevice, Pointer src, Device srcDevice, long bytes) {
            int kind = srcDevice.isCpu() ? 0 : dstDevice.isCpu() ? 1 : 2;
            if (srcDevice.isCpu() && dstDevice.isCpu()) throw new IllegalStateException("CUDA allocator asked to copy host -> host");
            check(CudaKernels.l4jc_memcpy_async(dst, src, bytes, kind, stream), "memcpy");
            if (kind == 1) synchronize(); // the host reads it next
        }
    }
}
