package dev.lens4j.cuda;

import dev.lens4j.backend.CudaRuntime;
import dev.lens4j.nativ.CudaKernels;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The CUDA library loads through the dispatch (here the emulation, which every build has) and runs a kernel. */
class CudaRuntimeTest {
    @Test
    void emulationLoadsAndRunsAKernelThroughTheDispatch() {
        CudaRuntime.load(CudaRuntime.Kind.EMULATED);
        assertEquals(CudaRuntime.Kind.EMULATED, CudaRuntime.loaded());
        assertTrue(CudaRuntime.deviceName().contains("emulation"), CudaRuntime.deviceName());
        assertEquals("", CudaRuntime.missingFunctions(), "every function of lens4j_cuda.h's L4JC_API is in the CUDA library");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> CudaRuntime.load(CudaRuntime.Kind.GPU));
        assertTrue(e.getMessage().contains("already loaded"), e.getMessage());

        int n = 1000;
        float[] a = new float[n], b = new float[n];
        for (int i = 0; i < n; i++) { a[i] = i * 0.5f; b[i] = -i + 3f; }
        Pointer[] dev = new Pointer[3];
        for (int i = 0; i < 3; i++) {
            try (PointerPointer<Pointer> pp = new PointerPointer<>(1)) {
                CudaRuntime.check(CudaKernels.l4jc_malloc(pp, 4L * n), "malloc");
                dev[i] = pp.get(0);
            }
        }
        {
            try (FloatPointer ha = new FloatPointer(a); FloatPointer hb = new FloatPointer(b); FloatPointer hc = new FloatPointer(n)) {
                CudaRuntime.check(CudaKernels.l4jc_memcpy(dev[0], ha, 4L * n, 0), "upload");
                CudaRuntime.check(CudaKernels.l4jc_memcpy(dev[1], hb, 4L * n, 0), "upload");
                CudaRuntime.check(CudaKernels.l4jc_add(n, new FloatPointer(dev[0]), new FloatPointer(dev[1]), new FloatPointer(dev[2]), null), "add");
                CudaRuntime.check(CudaKernels.l4jc_memcpy(hc, dev[2], 4L * n, 1), "download");
                for (int i = 0; i < n; i++) assertEquals(a[i] + b[i], hc.get(i), "element " + i);
            }
            assertThrows(IllegalArgumentException.class, () -> CudaRuntime.check(CudaKernels.l4jc_add(-1, null, null, null, null), "add"));
            for (Pointer p : dev) CudaRuntime.check(CudaKernels.l4jc_free(p), "free");
        }
    }
}
