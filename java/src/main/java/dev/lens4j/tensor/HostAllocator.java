package dev.lens4j.tensor;

import dev.lens4j.nativ.CpuKernels;
import org.bytedeco.javacpp.Pointer;

/**
 * Host memory for CPU tensors from native/cpu/host_memory.cpp: blocks of 1 MiB or more are mapped on huge pages and,
 * when freed, kept in a process-wide cache so that the next pass reuses resident memory instead of page-faulting it
 * in afresh. See {@link Tensor#hostCacheBytes()}.
 */
final class HostAllocator implements DeviceAllocator {
    static final String CACHE_ENV = "LENS4J_HOST_CACHE_MB";

    HostAllocator() {
        CpuKernels.load();
        warnOnBadLimit(System.getenv(CACHE_ENV));
    }

    /** The native side falls back to its default on anything but 1 to 12 digits; say so once, here. */
    private static void warnOnBadLimit(String value) {
        if (value != null && !value.matches("[0-9]{1,12}"))
            System.err.println("lens4j: warning: " + CACHE_ENV + "=\"" + value + "\" is not a whole number of MiB (1 to 12 digits); using the default host cache limit of "
                    + (CpuKernels.l4j_host_cache_limit(-1) >> 20) + " MiB");
    }

    @Override public Pointer allocate(long bytes) { return allocate(bytes, true); }
    @Override public Pointer allocateUninitialized(long bytes) { return allocate(bytes, false); }

    private static Pointer allocate(long bytes, boolean zero) {
        Pointer p = CpuKernels.l4j_host_alloc(bytes, zero ? 1 : 0);
        if (p == null || p.isNull()) throw new OutOfMemoryError("could not allocate " + bytes + " bytes of host memory");
        return p;
    }

    /** Without the size, a large block could not find its cache slot: tensors always free with {@link #free(Pointer, long)}. */
    @Override public void free(Pointer p) {
        throw new UnsupportedOperationException("host memory is freed with its size: free(p, bytes)");
    }

    @Override public void free(Pointer p, long bytes) { CpuKernels.l4j_host_free(p, bytes); }

    @Override public void copy(Pointer dst, Device dd, Pointer src, Device sd, long bytes) {
        if (!dd.isCpu() || !sd.isCpu()) throw new IllegalStateException("CPU allocator cannot copy " + sd + " -> " + dd);
        Pointer.memcpy(new Pointer(dst).position(0), new Pointer(src).position(0), bytes);
    }
}
