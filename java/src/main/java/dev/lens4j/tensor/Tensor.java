package dev.lens4j.tensor;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An off-heap, contiguous, row-major tensor (F32 or I32; BF16 for weights loaded with {@code dtype(BF16)}) on a
 * device, with an explicit owner. BF16 tensors are read-only to Java: {@link #toFloatArray()} widens them, while
 * {@link #floatPointer()}, {@link #get}, {@link #put} and {@link #set} need F32.
 * <p>Memory is released by {@link #close()} (or by the {@link TensorScope} that owns it), never by the GC.
 * Views ({@link #reshape}) share memory with their base and become unusable when it closes.
 * Using a closed tensor throws {@link IllegalStateException} naming it, never touches freed memory.
 */
public final class Tensor implements AutoCloseable {
    private static final AtomicLong LIVE_BYTES = new AtomicLong();
    private static final AtomicLong LIVE_COUNT = new AtomicLong();
    private static final AtomicLong PEAK_BYTES = new AtomicLong(); // high-water mark of LIVE_BYTES, for memory reports
    private static final Map<Device.Kind, DeviceAllocator> ALLOCATORS = new ConcurrentHashMap<>();

    static {
        ALLOCATORS.put(Device.Kind.CPU, new HostAllocator());
    }

    private final long[] shape;
    private final long numel;
    private final DType dtype;
    private final Device device;
    private final Pointer data;      // base address of this tensor's first element
    private final Tensor base;       // non-null for views
    private final long allocatedBytes;
    private String name;
    private volatile boolean closed;
    private Runnable release; // foreign memory (allocatedBytes < 0): what close() does instead of freeing

    private Tensor(long[] shape, DType dtype, Device device, Pointer data, Tensor base, long allocatedBytes) {
        this.shape = shape;
        this.numel = numel(shape);
        this.dtype = dtype;
        this.device = device;
        this.data = data;
        this.base = base;
        this.allocatedBytes = allocatedBytes;
    }

    // ---------------------------------------------------------------- allocation

    public static void registerAllocator(Device.Kind kind, DeviceAllocator allocator) { ALLOCATORS.put(kind, allocator); }

    static DeviceAllocator allocator(Device device) {
        DeviceAllocator a = ALLOCATORS.get(device.kind);
        if (a == null) throw new IllegalStateException("no allocator registered for device " + device);
        return a;
    }

    /** Zero-filled tensor, owned by the current {@link TensorScope} if one is open. */
    public static Tensor zeros(Device device, DType dtype, long... shape) { return allocate(device, dtype, true, shape); }

    /**
     * A tensor with undefined contents, for outputs that a kernel overwrites entirely (skips zero-filling);
     * owned by the current {@link TensorScope} if one is open.
     */
    public static Tensor empty(Device device, DType dtype, long... shape) { return allocate(device, dtype, false, shape); }

    private static Tensor allocate(Device device, DType dtype, boolean zero, long... shape) {
        if (dtype != DType.F32 && dtype != DType.I32 && dtype != DType.BF16)
            throw new IllegalArgumentException("tensors in memory are F32, I32 or BF16 (weights), not " + dtype);
        long[] s = shape.clone();
        long n = numel(s);
        long bytes = Math.max(1, n) * dtype.bytes;
        Pointer p = zero ? allocator(device).allocate(bytes) : allocator(device).allocateUninitialized(bytes);
        Tensor t = new Tensor(s, dtype, device, p, null, bytes);
        long live = LIVE_BYTES.addAndGet(bytes);
        PEAK_BYTES.accumulateAndGet(live, Math::max);
        LIVE_COUNT.incrementAndGet();
        TensorScope.register(t);
        return t;
    }

    public static Tensor zeros(long... shape) { return zeros(Device.CPU, DType.F32, shape); }

    /**
     * A tensor over memory lens4j does not own (another library's buffer, e.g. a torch tensor's storage): close()
     * runs {@code release} (may be null) and frees nothing. The caller guarantees the memory outlives the tensor.
     */
    public static Tensor foreign(Pointer data, DType dtype, Device device, long[] shape, Runnable release) {
        if (data == null || data.isNull()) throw new IllegalArgumentException("foreign tensor: null data pointer");
        if (dtype != DType.F32 && dtype != DType.I32) throw new IllegalArgumentException("foreign tensor: " + dtype + " (F32 or I32 only)");
        Tensor t = new Tensor(shape.clone(), dtype, device, data, null, -1);
        t.release = release;
        return t;
    }

    public static Tensor of(float[] values, long... shape) {
        if (numel(shape) != values.length)
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + numel(shape) + " values, got " + values.length);
        Tensor t = zeros(Device.CPU, DType.F32, shape);
        t.floatPointer().put(values, 0, values.length);
        return t;
    }

    public static Tensor ofInts(int[] values, long... shape) {
        if (numel(shape) != values.length)
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + numel(shape) + " values, got " + values.length);
        Tensor t = zeros(Device.CPU, DType.I32, shape);
        t.intPointer().put(values, 0, values.length);
        return t;
    }

    /**
     * Native bytes held by open, owning tensors in this JVM (views count nothing). For leak checks. Freed blocks
     * kept in the host cache ({@link #hostCacheBytes()}) are not live and do not count, here or in the peak.
     */
    public static long liveBytes() { return LIVE_BYTES.get(); }
    public static long liveCount() { return LIVE_COUNT.get(); }
    /** The most native bytes live at once since the last {@link #resetPeakBytes()} (all threads together). */
    public static long peakBytes() { return PEAK_BYTES.get(); }
    /** Starts a new high-water mark at the bytes live now. */
    public static void resetPeakBytes() { PEAK_BYTES.set(LIVE_BYTES.get()); }

    /**
     * Bytes of freed host blocks that lens4j keeps mapped for reuse. Host tensors of 1 MiB or more live on 2 MiB huge
     * pages, and when closed go to a process-wide cache instead of back to the system, so the next forward pass finds
     * its intermediates resident rather than page-faulting them in afresh. The cache holds at most
     * min(1 GiB, physical memory / 8) by default, evicting the least recently freed first; the environment variable
     * LENS4J_HOST_CACHE_MB sets another limit in MiB (0 turns caching off).
     */
    public static long hostCacheBytes() { return dev.lens4j.nativ.CpuKernels.l4j_host_cache_bytes(); }

    /** Gives every cached host block back to the system (see {@link #hostCacheBytes()}); before measuring memory, say. */
    public static void releaseHostCache() { dev.lens4j.nativ.CpuKernels.l4j_host_cache_release(); }

    // ---------------------------------------------------------------- metadata

    public long[] shape() { return shape.clone(); }
    public long size(int dim) { return shape[dim < 0 ? shape.length + dim : dim]; }
    public int rank() { return shape.length; }
    public long numel() { return numel; }
    public DType dtype() { return dtype; }
    public Device device() { return device; }
    public boolean isView() { return base != null; }
    public String name() { return name; }
    public Tensor named(String name) { this.name = name; return this; }

    public boolean isClosed() { return closed || (base != null && base.isClosed()); }

    public void checkOpen() {
        if (isClosed())
            throw new IllegalStateException("tensor " + (name != null ? "'" + name + "' " : "") + Arrays.toString(shape) + " is closed");
    }

    /** Typed pointers are host memory that Java may read: a device tensor's must go through its backend (or .to(CPU)). */
    private void checkHost() {
        checkOpen();
        if (!device.isCpu())
            throw new IllegalStateException(describe() + " is device memory: copy it to the host first (.to(Device.CPU), toFloatArray())");
    }

    /** Raw address of the first element (for native calls). Throws if closed. */
    public Pointer pointer() { checkOpen(); return data; }

    public FloatPointer floatPointer() {
        checkHost();
        if (dtype != DType.F32) throw new IllegalStateException(describe() + " is " + dtype + ", not F32");
        return new FloatPointer(data).capacity(numel);
    }

    /** The raw bf16 bits of a BF16 tensor. */
    public ShortPointer bf16Pointer() {
        checkHost();
        if (dtype != DType.BF16) throw new IllegalStateException(describe() + " is " + dtype + ", not BF16");
        return new ShortPointer(data).capacity(numel);
    }

    public IntPointer intPointer() {
        checkHost();
        if (dtype != DType.I32) throw new IllegalStateException(describe() + " is " + dtype + ", not I32");
        return new IntPointer(data).capacity(numel);
    }

    public String describe() {
        return "tensor " + (name != null ? "'" + name + "' " : "") + Arrays.toString(shape) + " " + dtype + " on " + device;
    }

    @Override public String toString() { return describe() + (isClosed() ? " (closed)" : ""); }

    // ---------------------------------------------------------------- views

    /** Same memory, new shape (one dimension may be -1). */
    public Tensor reshape(long... newShape) {
        checkOpen();
        long[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException("only one dimension may be -1");
                infer = i;
            } else known *= s[i];
        }
        if (infer >= 0) {
            if (known == 0 || numel % known != 0)
                throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
            s[infer] = numel / known;
        }
        if (numel(s) != numel)
            throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        Tensor v = new Tensor(s, dtype, device, data, root(), 0);
        v.name = name;
        return v;
    }

    private Tensor root() { return base != null ? base : this; }

    // ---------------------------------------------------------------- copies

    /** A new owning tensor with the same contents, on the same device. */
    public Tensor copy() {
        checkOpen();
        Tensor t = zeros(device, dtype, shape);
        allocator(device).copy(t.data, device, data, device, numel * dtype.bytes);
        return t.named(name);
    }

    /** A copy on another device. */
    public Tensor to(Device target) {
        checkOpen();
        Tensor t = zeros(target, dtype, shape);
        DeviceAllocator a = target.isCpu() ? allocator(device) : allocator(target);
        a.copy(t.data, target, data, device, numel * dtype.bytes);
        return t.named(name);
    }

    /** Copy another tensor's contents (same numel and dtype) into this one. */
    public void copyFrom(Tensor src) {
        checkOpen();
        src.checkOpen();
        if (src.numel != numel || src.dtype != dtype)
            throw new IllegalArgumentException("cannot copy " + src.describe() + " into " + describe());
        DeviceAllocator a = device.isCpu() ? allocator(src.device) : allocator(device);
        a.copy(data, device, src.data, src.device, numel * dtype.bytes);
    }

    public float[] toFloatArray() {
        if (numel > Integer.MAX_VALUE - 8) throw new IllegalStateException(describe() + " is too large for a Java array");
        if (!device.isCpu()) { try (Tensor h = to(Device.CPU)) { return h.toFloatArray(); } }
        float[] out = new float[(int) numel];
        if (dtype == DType.BF16) {
            short[] bits = new short[out.length];
            bf16Pointer().get(bits, 0, bits.length);
            for (int i = 0; i < bits.length; i++) out[i] = Float.intBitsToFloat(bits[i] << 16);
            return out;
        }
        floatPointer().get(out, 0, out.length);
        return out;
    }

    public int[] toIntArray() {
        if (!device.isCpu()) { try (Tensor h = to(Device.CPU)) { return h.toIntArray(); } }
        int[] out = new int[(int) numel];
        intPointer().get(out, 0, out.length);
        return out;
    }

    /** Write values into this CPU or device tensor. */
    public Tensor set(float[] values) {
        if (values.length != numel) throw new IllegalArgumentException(describe() + " holds " + numel + " values, got " + values.length);
        if (!device.isCpu()) { try (Tensor h = Tensor.of(values, shape)) { copyFrom(h); } return this; }
        floatPointer().put(values, 0, values.length);
        return this;
    }

    /** One element of a CPU F32 tensor. */
    public float get(long... index) {
        if (!device.isCpu()) throw new IllegalStateException("get() reads host memory; " + describe() + " is on " + device);
        return floatPointer().get(flatIndex(index));
    }

    public void put(float value, long... index) {
        if (!device.isCpu()) throw new IllegalStateException("put() writes host memory; " + describe() + " is on " + device);
        floatPointer().put(flatIndex(index), value);
    }

    public long flatIndex(long... index) {
        if (index.length != shape.length)
            throw new IllegalArgumentException("index of rank " + index.length + " for " + describe());
        long flat = 0;
        for (int i = 0; i < shape.length; i++) {
            if (index[i] < 0 || index[i] >= shape[i])
                throw new IndexOutOfBoundsException("index " + Arrays.toString(index) + " out of bounds for " + describe());
            flat = flat * shape[i] + index[i];
        }
        return flat;
    }

    // ---------------------------------------------------------------- operations (see TensorOps; new tensors)

    public Tensor slice(int dim, long start, long end) { return TensorOps.slice(this, dim, start, end); }
    public Tensor narrow(int dim, long start, long length) { return TensorOps.narrow(this, dim, start, length); }
    public Tensor select(int dim, long index) { return TensorOps.select(this, dim, index); }
    public Tensor indexSelect(int dim, int... indices) { return TensorOps.indexSelect(this, dim, indices); }
    public Tensor transpose(int dim0, int dim1) { return TensorOps.transpose(this, dim0, dim1); }
    public Tensor permute(int... dims) { return TensorOps.permute(this, dims); }
    public Tensor matmul(Tensor other) { return TensorOps.matmul(this, other); }
    public Tensor add(Tensor other) { return TensorOps.binary(TensorOps.Binary.ADD, this, other); }
    public Tensor sub(Tensor other) { return TensorOps.binary(TensorOps.Binary.SUB, this, other); }
    public Tensor mul(Tensor other) { return TensorOps.binary(TensorOps.Binary.MUL, this, other); }
    public Tensor div(Tensor other) { return TensorOps.binary(TensorOps.Binary.DIV, this, other); }
    public Tensor maximum(Tensor other) { return TensorOps.binary(TensorOps.Binary.MAXIMUM, this, other); }
    public Tensor minimum(Tensor other) { return TensorOps.binary(TensorOps.Binary.MINIMUM, this, other); }
    public Tensor add(float s) { return TensorOps.binary(TensorOps.Binary.ADD, this, s); }
    public Tensor sub(float s) { return TensorOps.binary(TensorOps.Binary.SUB, this, s); }
    public Tensor mul(float s) { return TensorOps.binary(TensorOps.Binary.MUL, this, s); }
    public Tensor div(float s) { return TensorOps.binary(TensorOps.Binary.DIV, this, s); }
    public Tensor neg() { return TensorOps.unary(TensorOps.Unary.NEG, this); }
    public Tensor exp() { return TensorOps.unary(TensorOps.Unary.EXP, this); }
    public Tensor log() { return TensorOps.unary(TensorOps.Unary.LOG, this); }
    public Tensor abs() { return TensorOps.unary(TensorOps.Unary.ABS, this); }
    public Tensor sqrt() { return TensorOps.unary(TensorOps.Unary.SQRT, this); }
    public Tensor square() { return TensorOps.unary(TensorOps.Unary.SQUARE, this); }
    public Tensor sum() { return TensorOps.sumAll(this); }
    public Tensor sum(int dim) { return TensorOps.reduce(TensorOps.Reduction.SUM, this, dim, false); }
    public Tensor sum(int dim, boolean keepDim) { return TensorOps.reduce(TensorOps.Reduction.SUM, this, dim, keepDim); }
    public Tensor mean(int dim) { return TensorOps.reduce(TensorOps.Reduction.MEAN, this, dim, false); }
    public Tensor mean(int dim, boolean keepDim) { return TensorOps.reduce(TensorOps.Reduction.MEAN, this, dim, keepDim); }
    public Tensor max(int dim) { return TensorOps.reduce(TensorOps.Reduction.MAX, this, dim, false); }
    public Tensor min(int dim) { return TensorOps.reduce(TensorOps.Reduction.MIN, this, dim, false); }
    public Tensor argmax(int dim) { return TensorOps.argReduce(true, this, dim, false); }
    public Tensor argmin(int dim) { return TensorOps.argReduce(false, this, dim, false); }
    /** L2 norm along dim. */
    public Tensor norm(int dim) { return TensorOps.reduce(TensorOps.Reduction.NORM, this, dim, false); }
    public TensorOps.TopK topk(int k, int dim) { return TensorOps.topk(this, k, dim); }
    public Tensor softmax(int dim) { return TensorOps.softmax(this, dim, false); }
    public Tensor logSoftmax(int dim) { return TensorOps.softmax(this, dim, true); }
    public Tensor cosineSimilarity(Tensor other, int dim) { return TensorOps.cosineSimilarity(this, other, dim); }

    // ---------------------------------------------------------------- lifetime

    @Override public void close() {
        if (closed) return;
        closed = true;
        if (allocatedBytes < 0) {
            if (release != null) release.run();
            return;
        }
        if (base == null) {
            allocator(device).free(data, allocatedBytes);
            LIVE_BYTES.addAndGet(-allocatedBytes);
            LIVE_COUNT.decrementAndGet();
        }
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public static boolean sameShape(Tensor a, long... shape) { return Arrays.equals(a.shape, shape); }

    /** Throws an exception naming `what` unless t has exactly this shape. */
    public static void requireShape(String what, Tensor t, long... shape) {
        if (!Arrays.equals(t.shape, shape))
            throw new IllegalArgumentException(what + ": expected shape " + Arrays.toString(shape) + ", got " + Arrays.toString(t.shape));
    }
}
