package dev.lens4j.backend;

/** Activation functions by TransformerLens / Hugging Face name, with the native kernel code. */
public enum Activation {
    RELU("relu", 0), GELU("gelu", 1), GELU_NEW("gelu_new", 2), GELU_PYTORCH_TANH("gelu_pytorch_tanh", 3), SILU("silu", 4);

    public final String tlName;
    public final int code;

    Activation(String tlName, int code) { this.tlName = tlName; this.code = code; }

    public static Activation of(String name) {
        switch (name) {
            case "gelu_fast": return GELU_NEW; // HF alias with the same tanh formula
            case "swish": return SILU;
            default:
                for (Activation a : values()) if (a.tlName.equals(name)) return a;
        }
        throw new IllegalArgumentException("unsupported activation '" + name + "' (relu, gelu, gelu_new, gelu_pytorch_tanh, silu)");
    }
}
