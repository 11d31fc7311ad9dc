package dev.lens4j.cuda;

import dev.lens4j.backend.CudaCapture;
import dev.lens4j.backend.CudaRuntime;
import dev.lens4j.nativ.CudaKernels;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Device;
import dev.lens4j.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** Double-buffered capture to pinned memory on the emulated CUDA library: values equal a gather done here by hand. */
class CudaCaptureTest {
    static Tensor device(float[] v, long... shape) {
        try (PointerPointer<Pointer> pp = new PointerPointer<>(1); FloatPointer host = new FloatPointer(v)) {
            CudaRuntime.check(CudaKernels.l4jc_malloc(pp, 4L * v.length), "malloc");
            Pointer p = pp.get(0);
            CudaRuntime.check(CudaKernels.l4jc_memcpy(p, host, 4L * v.length, 0), "upload");
            return Tensor.foreign(p, DType.F32, Device.cuda(0), shape, () -> CudaKernels.l4jc_free(p));
        }
    }

    /** src [outer, n, inner] at positions, by hand. */
    static float[] gather(float[] src, int outer, int n, int inner, int... positions) {
        float[] out = new float[outer * positions.length * inner];
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < positions.length; j++)
                System.arraycopy(src, (o * n + positions[j]) * inner, out, (o * positions.length + j) * inner, inner);
        return out;
    }

    @Test
    void capturesOverlapAndNoResultIsLostWhenASlotIsReused() {
        CudaRuntime.load(CudaRuntime.Kind.EMULATED);
        int B = 2, S = 5, D = 3;
        float[] a = new float[B * S * D], b = new float[B * S * D];
        for (int i = 0; i < a.length; i++) { a[i] = i; b[i] = -0.5f * i; }
        try (Tensor ta = device(a, B, S, D); Tensor tb = device(b, B, S, D); CudaCapture cap = new CudaCapture(B * S * D, S, null)) {
            CudaCapture.Pending first = cap.capture(ta, 1, new int[] {4, 0});
            CudaCapture.Pending second = cap.capture(tb, 1, new int[] {2});
            CudaCapture.Pending third = cap.capture(tb, 2, new int[] {1, 1, 0}); // reuses the first slot before anyone awaited it
            assertArrayEquals(new long[] {B, 2, D}, first.shape());
            assertArrayEquals(gather(b, B * S, D, 1, 1, 1, 0), third.await());
            assertArrayEquals(gather(a, B, S, D, 4, 0), first.await());
            assertArrayEquals(gather(b, B, S, D, 2), second.await());
            assertArrayEquals(new long[] {B * S, 3, 1}, third.shape());
            CudaCapture.Pending all = cap.capture(ta, 1, new int[] {0, 1, 2, 3, 4});
            assertArrayEquals(a, all.await());
        }
    }

    @Test
    void badRequestsAreOneLineErrors() {
        CudaRuntime.load(CudaRuntime.Kind.EMULATED);
        try (Tensor t = device(new float[12], 2, 3, 2); Tensor host = Tensor.zeros(2, 3, 2); CudaCapture cap = new CudaCapture(8, 2, null)) {
            var e = assertThrows(IllegalArgumentException.class, () -> cap.capture(t, 1, new int[] {3}));
            assertEquals("position 3 is outside [0, 3) of tensor [2, 3, 2] F32 on cuda:0", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> cap.capture(t, 1, new int[] {0, 1, 2}));
            assertEquals("3 positions to capture; this capture takes 1 to 2", e.getMessage());
            assertArrayEquals(new float[8], cap.capture(t, 1, new int[] {0, 1}).await(), "exactly the size it was made for");
            e = assertThrows(IllegalArgumentException.class, () -> cap.capture(t, 0, new int[] {0, 1}));
            assertEquals("capture of 12 values exceeds the 8 this capture was sized for", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> cap.capture(host, 1, new int[] {0}));
            assertTrue(e.getMessage().startsWith("CUDA capture needs a CUDA F32 tensor"), e.getMessage());
        }
    }
}
