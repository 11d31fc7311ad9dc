package dev.lens4j.torch;

import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Device;
import dev.lens4j.tensor.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * Hands lens4j tensors to bytedeco's PyTorch (org.bytedeco.pytorch.Tensor) without copying, and back, so any torch
 * operation is one call away. Optional: needs org.bytedeco:pytorch and its platform jar on the class path (lens4j
 * itself never loads libtorch); call {@link #load()} once first (extracts libtorch before loading it, which avoids
 * a crash on a cold JavaCPP cache when a system libtorch exists).
 * <p>Both directions share memory, so lifetimes are the caller's business: the torch tensor from {@link #toTorch}
 * must not be used after the lens4j tensor is closed; the lens4j tensor from {@link #fromTorch} keeps its torch
 * tensor referenced until it is closed. Writes through either are seen by the other.
 */
public final class TorchBridge {
    private static volatile boolean loaded;

    private TorchBridge() {}

    public static synchronized void load() {
        if (loaded) return;
        try {
            org.bytedeco.javacpp.Loader.cacheResources(torch.class, "/org/bytedeco/pytorch/" + org.bytedeco.javacpp.Loader.getPlatform() + "/");
        } catch (java.io.IOException e) {
            throw new IllegalStateException("could not extract libtorch: " + e.getMessage(), e);
        }
        org.bytedeco.javacpp.Loader.load(torch.class);
        loaded = true;
    }

    /** A torch tensor over the same memory (float32 or int32, CPU), same shape. */
    public static org.bytedeco.pytorch.Tensor toTorch(Tensor t) {
        load();
        t.checkOpen();
        if (!t.device().isCpu()) throw new UnsupportedOperationException("toTorch: " + t.describe() + " is on " + t.device() + " (CPU only for now)");
        torch.ScalarType type = t.dtype() == DType.F32 ? torch.ScalarType.Float : torch.ScalarType.Int;
        return torch.from_blob(t.pointer(), t.shape(), new TensorOptions(type));
    }

    /** A lens4j tensor over a contiguous CPU float32 or int32 torch tensor's memory (no copy). */
    public static Tensor fromTorch(org.bytedeco.pytorch.Tensor x) {
        load();
        if (!x.is_cpu()) throw new UnsupportedOperationException("fromTorch: the torch tensor is not on the CPU");
        if (!x.is_contiguous()) throw new IllegalArgumentException("fromTorch: the torch tensor is not contiguous (call .contiguous() first)");
        torch.ScalarType st = x.scalar_type();
        DType dtype;
        // compare values: the preset may hand back a different enum instance for the same type
        if (st.value == torch.ScalarType.Float.value) dtype = DType.F32;
        else if (st.value == torch.ScalarType.Int.value) dtype = DType.I32;
        else throw new IllegalArgumentException("fromTorch: torch dtype " + st + " (float32 or int32 only; convert with .toType())");
        long[] shape = x.sizes().vec().get();
        org.bytedeco.pytorch.Tensor keep = x; // referenced until close()
        return Tensor.foreign(x.data_ptr(), dtype, Device.CPU, shape, () -> { if (keep != null) keep.numel(); });
    }
}
