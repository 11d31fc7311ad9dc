package dev.lens4j.tensor;

/** Element types. Tensors in memory are F32 (activations, weights), I32 (token ids) or BF16 (weights loaded with
 *  {@code LoadOptions.dtype(BF16)}); F16 and the others exist only on disk and are converted to F32 on load. */
public enum DType {
    F32(4), I32(4), F16(2), BF16(2), F64(8), I64(8);

    public final int bytes;

    DType(int bytes) { this.bytes = bytes; }

    /** The safetensors dtype string ("F32", "BF16", ...). */
    public String safetensorsName() { return name(); }

    public static DType fromSafetensors(String s) {
        for (DType d : values()) if (d.name().equals(s)) return d;
        throw new IllegalArgumentException("unsupported safetensors dtype '" + s + "' (supported: F32, F16, BF16, F64, I32, I64)");
    }
}
