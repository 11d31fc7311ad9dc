package dev.lens4j.torch;

import dev.lens4j.tensor.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** Zero-copy hand-over to libtorch and back: same memory both ways, torch ops on lens4j data. */
class TorchBridgeTest {
    @Test void sharesMemoryBothWays() {
        long before = Tensor.liveBytes();
        try (Tensor t = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)) {
            org.bytedeco.pytorch.Tensor x = TorchBridge.toTorch(t);
            assertArrayEquals(new long[] {2, 3}, x.sizes().vec().get());
            // a torch op on lens4j's data: the row sums
            org.bytedeco.pytorch.Tensor sums = x.sum(new long[] {1}, false, new org.bytedeco.pytorch.ScalarTypeOptional());
            float[] got = new float[2];
            sums.contiguous().data_ptr_float().get(got);
            assertArrayEquals(new float[] {6, 15}, got);
            // a write through torch is seen by lens4j: no copy
            x.mul_(new org.bytedeco.pytorch.Scalar(2.0));
            assertEquals(12f, t.get(1, 2));
            // and back: a lens4j tensor over torch's memory
            org.bytedeco.pytorch.Tensor y = torch.arange(new org.bytedeco.pytorch.Scalar(6)).toType(torch.ScalarType.Float).reshape(3, 2).contiguous();
            try (Tensor back = TorchBridge.fromTorch(y); Tensor s = back.sum(0)) {
                assertArrayEquals(new long[] {3, 2}, back.shape());
                assertArrayEquals(new float[] {6, 9}, s.toFloatArray(), "lens4j ops on torch memory");
                back.put(-1f, 0, 0);
                float[] first = new float[1];
                y.data_ptr_float().get(first);
                assertEquals(-1f, first[0], "a write through lens4j is seen by torch");
            }
            assertThrows(IllegalArgumentException.class, () -> TorchBridge.fromTorch(y.t())); // not contiguous
            assertThrows(IllegalArgumentException.class, () -> TorchBridge.fromTorch(torch.arange(new org.bytedeco.pytorch.Scalar(3))));  // int64
        }
        assertEquals(before, Tensor.liveBytes(), "foreign tensors count no lens4j bytes and free none");
    }
}
