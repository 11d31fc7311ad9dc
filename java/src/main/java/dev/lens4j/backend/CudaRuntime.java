package dev.lens4j.backend;

import dev.lens4j.nativ.CpuKernels;
import dev.lens4j.nativ.CudaKernels;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;

import java.io.File;
import java.net.URL;

/**
 * Loads the CUDA half of lens4j once per JVM: {@link Kind#GPU}, lens4j_cuda (built by nvcc, needs an NVIDIA driver
 * and GPU), or {@link Kind#EMULATED}, lens4j_cuda_emu, the same kernel sources run on the CPU by native/cuda/emu
 * (for tests and for trying the CUDA path without a GPU: correct, slow, and no evidence about a real GPU).
 * The system property {@code lens4j.cuda.library} names a library file to load instead of the bundled one.
 */
public final class CudaRuntime {
    public enum Kind { GPU, EMULATED }

    private static Kind loaded;
    private static String deviceName;

    private CudaRuntime() {}

    /** Loads the library of this kind (a no-op when it is loaded); a one-line IllegalStateException otherwise. */
    public static synchronized void load(Kind kind) {
        if (loaded == kind) return;
        if (loaded != null)
            throw new IllegalStateException("the " + loaded.name().toLowerCase() + " CUDA library is already loaded in this JVM; one kind per process");
        CpuKernels.load();
        CudaKernels.load();
        String path = libraryPath(kind);
        try (BytePointer err = new BytePointer(1024)) {
            if (CudaKernels.l4jd_open(path, err, 1024) != CpuKernels.L4J_OK)
                throw new IllegalStateException("CUDA: " + cString(err));
        }
        boolean emulated = CudaKernels.l4jc_is_emulated() == 1;
        if (emulated != (kind == Kind.EMULATED))
            throw new IllegalStateException("CUDA: " + path + " is " + (emulated ? "the emulation" : "the GPU library") + ", not the " + kind.name().toLowerCase() + " one");
        int devices = CudaKernels.l4jc_device_count();
        if (devices <= 0)
            throw new IllegalStateException("CUDA: no GPU or NVIDIA driver found (cudaGetDeviceCount reports none); run on the CPU (--device cpu)");
        try (BytePointer name = new BytePointer(256)) {
            check(CudaKernels.l4jc_device_name(0, name, 256), "device_name");
            deviceName = cString(name);
        }
        loaded = kind;
    }

    /** The kind loaded in this JVM, or null. */
    public static synchronized Kind loaded() { return loaded; }

    /** The device's name as CUDA reports it ("lens4j CUDA emulation (CPU)" for the emulation). */
    public static synchronized String deviceName() { return deviceName; }

    /** The functions of the C ABI the loaded library lacks (space-separated, empty when complete). */
    public static String missingFunctions() {
        try (BytePointer buf = new BytePointer(8192)) {
            CudaKernels.l4jd_missing(buf, 8192);
            return cString(buf);
        }
    }

    /** Throws for a non-OK status, with the CUDA error's description where there is one. */
    public static void check(int status, String op) {
        switch (status) {
            case CpuKernels.L4J_OK: return;
            case CpuKernels.L4J_ERR_ARG: throw new IllegalArgumentException("cuda " + op + ": kernel rejected its arguments");
            case CpuKernels.L4J_ERR_RANGE: throw new IndexOutOfBoundsException("cuda " + op + ": index out of range");
            case CpuKernels.L4J_ERR_UNSUPPORTED: throw new UnsupportedOperationException("cuda " + op + ": not in the loaded CUDA library");
            case CpuKernels.L4J_ERR_NOMEM: throw new OutOfMemoryError("cuda " + op + ": out of device memory (" + lastError() + ")");
            default: throw new IllegalStateException("cuda " + op + ": " + lastError());
        }
    }

    static String lastError() {
        try (BytePointer buf = new BytePointer(512)) {
            CudaKernels.l4jc_last_error(buf, 512);
            return cString(buf);
        }
    }

    /** The NUL-terminated string at the start of buf (BytePointer.getString reads its whole capacity). */
    static String cString(BytePointer buf) {
        long n = 0, cap = buf.capacity();
        while (n < cap && buf.get(n) != 0) n++;
        byte[] bytes = new byte[(int) n];
        buf.get(bytes);
        return new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
    }

    private static String libraryPath(Kind kind) {
        String explicit = System.getProperty("lens4j.cuda.library");
        if (explicit != null && !explicit.isBlank()) {
            if (!new File(explicit).isFile()) throw new IllegalStateException("CUDA: lens4j.cuda.library " + explicit + " is not a file");
            return explicit;
        }
        String file = kind == Kind.GPU ? "liblens4j_cuda.so" : "liblens4j_cuda_emu.so";
        String resource = Loader.getPlatform() + "/" + file;
        URL url = CudaKernels.class.getResource(resource);
        if (url == null)
            throw new IllegalStateException(kind == Kind.GPU
                    ? "CUDA: lens4j was built without the CUDA kernels (no nvcc found by CMake); rebuild on a machine with the CUDA toolkit"
                    : "CUDA: the emulation library " + file + " is missing from the build");
        try {
            return Loader.cacheResource(CudaKernels.class, resource).getAbsolutePath();
        } catch (Exception e) {
            throw new IllegalStateException("CUDA: cannot extract " + resource + ": " + e.getMessage());
        }
    }
}
