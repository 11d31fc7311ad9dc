package dev.lens4j.tensor;

import org.bytedeco.javacpp.Pointer;

/** Allocates and frees raw memory on one device. CPU is built in; a CUDA backend registers its own. */
public interface DeviceAllocator {
    /** Zero-filled memory of the given size, or an exception naming the device and size. */
    Pointer allocate(long bytes);

    /** Memory whose contents are undefined (for outputs a kernel overwrites entirely). */
    default Pointer allocateUninitialized(long bytes) { return allocate(bytes); }

    void free(Pointer p);

    /** Frees memory allocated with this many bytes (what allocate was asked); the host allocator caches by size. */
    default void free(Pointer p, long bytes) { free(p); }

    /** Copy between host and this device (or within it); kinds: see {@link Tensor#copyFrom}. */
    void copy(Pointer dst, Device dstDevice, Pointer src, Device srcDevice, long bytes);
}
