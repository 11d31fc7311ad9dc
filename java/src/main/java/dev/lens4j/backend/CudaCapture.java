package dev.lens4j.backend;

import dev.lens4j.nativ.CudaKernels;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * Activation capture from the GPU that does not stall the forward pass (the design card's "gather the cached
 * positions and copy to pinned host memory asynchronously, overlapped with the next layer").
 *
 * <p>Design: {@link #capture} is called from a hook with the device activation [outer, n, inner] and the cached
 * positions (along n). It enqueues, on the compute stream, the gather into a device staging buffer
 * (l4jc_capture_async), and on a second copy stream the device-to-host copy into pinned memory, ordered
 * by an event; then it returns at once, so the host goes on enqueuing the next layer while the copy runs beside it.
 * Two slots alternate (double buffering): layer l's copy overlaps layer l + 1's kernels. Reusing a slot first waits
 * (on the compute stream, not the host) for its previous copy, and collects that copy's values into its
 * {@link Pending} if nobody has yet, so no result is lost. {@link Pending#await} blocks only on its own copy.
 * Sizes are fixed at construction (the largest capture); everything is freed by close().
 */
public final class CudaCapture implements AutoCloseable {
    private final long maxFloats;
    private final int maxPositions;
    private final Pointer computeStream, copyStream;
    private final Slot[] slots = new Slot[2];
    private int next;
    private boolean closed;

    /** A capture slot: device staging and indices, pinned host destination and indices, and its two events. */
    private static final class Slot {
        Pointer staging, deviceIdx, hostDst, hostIdx, ready, done;
        Pending pending;
    }

    /** One capture's values, available once its copy has finished. */
    public final class Pending {
        private final Slot slot;
        private final long[] shape;
        private float[] values;

        private Pending(Slot slot, long[] shape) { this.slot = slot; this.shape = shape; }

        /** [outer, k, inner]: the activation at the captured positions. */
        public long[] shape() { return shape.clone(); }

        /** Waits for this capture's copy (only it) and returns its values, row-major over shape(). */
        public float[] await() {
            if (values == null) {
                if (closed) throw new IllegalStateException("capture closed before its values were collected");
                CudaRuntime.check(CudaKernels.l4jc_event_synchronize(slot.done), "event_synchronize");
                values = new float[(int) Tensor.numel(shape)];
                new FloatPointer(slot.hostDst).get(values);
                if (slot.pending == this) slot.pending = null;
            }
            return values;
        }
    }

    /**
     * @param maxFloats    the most values one capture holds (outer * positions * inner)
     * @param maxPositions the most positions one capture gathers
     * @param stream       the compute stream the activations are written on (null: the default stream)
     */
    public CudaCapture(long maxFloats, int maxPositions, Pointer stream) {
        if (CudaRuntime.loaded() == null) throw new IllegalStateException("CUDA capture: no CUDA library is loaded (CudaRuntime.load)");
        if (maxFloats <= 0 || maxFloats > Integer.MAX_VALUE - 8 || maxPositions <= 0)
            throw new IllegalArgumentException("CUDA capture: sizes must be positive (and fit a Java array), got " + maxFloats + " values, " + maxPositions + " positions");
        this.maxFloats = maxFloats;
        this.maxPositions = maxPositions;
        this.computeStream = stream;
        Pointer copy = null;
        try {
            copy = alloc(p -> CudaKernels.l4jc_stream_create(p), "stream_create");
            for (int i = 0; i < slots.length; i++) {
                Slot s = slots[i] = new Slot();
                s.staging = alloc(p -> CudaKernels.l4jc_malloc_uninit(p, 4 * maxFloats), "malloc");
                s.deviceIdx = alloc(p -> CudaKernels.l4jc_malloc_uninit(p, 4L * maxPositions), "malloc");
                s.hostDst = alloc(p -> CudaKernels.l4jc_host_alloc(p, 4 * maxFloats), "host_alloc");
                s.hostIdx = alloc(p -> CudaKernels.l4jc_host_alloc(p, 4L * maxPositions), "host_alloc");
                s.ready = alloc(p -> CudaKernels.l4jc_event_create(p), "event_create");
                s.done = alloc(p -> CudaKernels.l4jc_event_create(p), "event_create");
            }
        } catch (RuntimeException | Error e) {
            free(copy);
            throw e;
        }
        this.copyStream = copy;
    }

    /**
     * Starts copying src[:, positions, :] to the host, viewing the CUDA F32 tensor src as [outer, n, inner] around
     * dimension dim (n = src.size(dim)); returns without waiting.
     */
    public Pending capture(Tensor src, int dim, int[] positions) {
        if (closed) throw new IllegalStateException("CUDA capture is closed");
        if (src.device().isCpu() || src.dtype() != DType.F32) throw new IllegalArgumentException("CUDA capture needs a CUDA F32 tensor, got " + src.describe());
        if (dim < 0 || dim >= src.rank()) throw new IllegalArgumentException("dimension " + dim + " is outside " + src.describe());
        long outer = 1, inner = 1, n = src.size(dim);
        for (int d = 0; d < dim; d++) outer *= src.size(d);
        for (int d = dim + 1; d < src.rank(); d++) inner *= src.size(d);
        int k = positions.length;
        if (k == 0 || k > maxPositions) throw new IllegalArgumentException(k + " positions to capture; this capture takes 1 to " + maxPositions);
        for (int p : positions)
            if (p < 0 || p >= n) throw new IllegalArgumentException("position " + p + " is outside [0, " + n + ") of " + src.describe());
        if (outer * k * inner > maxFloats)
            throw new IllegalArgumentException("capture of " + outer * k * inner + " values exceeds the " + maxFloats + " this capture was sized for");

        Slot s = slots[next];
        next = (next + 1) % slots.length;
        if (s.pending != null) s.pending.await();  // the host has read the slot's last copy before it is overwritten
        CudaRuntime.check(CudaKernels.l4jc_stream_wait_event(computeStream, s.done), "stream_wait_event");
        new IntPointer(s.hostIdx).put(positions);
        CudaRuntime.check(CudaKernels.l4jc_memcpy_async(s.deviceIdx, s.hostIdx, 4L * k, 0, computeStream), "memcpy_async");
        CudaRuntime.check(CudaKernels.l4jc_capture_async(outer, n, inner, new FloatPointer(src.pointer()).capacity(src.numel()), k, new IntPointer(s.deviceIdx),
                new FloatPointer(s.staging), new FloatPointer(s.hostDst), s.ready, s.done, copyStream, computeStream), "capture_async");
        Pending p = new Pending(s, new long[] {outer, k, inner});
        s.pending = p;
        return p;
    }

    /** Waits for every copy in flight and frees the buffers, streams and events (results not yet awaited are lost). */
    @Override public void close() {
        if (closed) return;
        CudaKernels.l4jc_stream_synchronize(copyStream);
        CudaKernels.l4jc_stream_synchronize(computeStream);
        closed = true;
        free(copyStream);
    }

    private interface Allocation { int run(PointerPointer<Pointer> out); }

    private static Pointer alloc(Allocation a, String op) {
        try (PointerPointer<Pointer> pp = new PointerPointer<>(1)) {
            CudaRuntime.check(a.run(pp), op);
            return pp.get(0);
        }
    }

    /** Frees what the slots hold (some may be unallocated after a failed constructor) and the copy stream. */
    private void free(Pointer copy) {
        for (Slot s : slots) {
            if (s == null) continue;
            if (s.staging != null) CudaKernels.l4jc_free(s.staging);
            if (s.deviceIdx != null) CudaKernels.l4jc_free(s.deviceIdx);
            if (s.hostDst != null) CudaKernels.l4jc_host_free(s.hostDst);
            if (s.hostIdx != null) CudaKernels.l4jc_host_free(s.hostIdx);
            if (s.ready != null) CudaKernels.l4jc_event_destroy(s.ready);
            if (s.done != null) CudaKernels.l4jc_event_destroy(s.done);
        }
        if (copy != null) CudaKernels.l4jc_stream_destroy(copy);
    }
}
