package dev.lens4j.load;

/**
 * What to do to weights after loading. Defaults follow TransformerLens's {@code from_pretrained}: process the weights
 * (fold_ln, center_writing_weights, center_unembed, fold_value_biases all on). {@link #noProcessing()} is
 * {@code from_pretrained_no_processing}.
 */
public final class LoadOptions {
    private boolean processWeights = true;
    private boolean foldLn = true;
    private boolean centerWritingWeights = true;
    private boolean centerUnembed = true;
    private boolean foldValueBiases = true;
    private java.nio.file.Path config;
    private boolean allowNonFinite;
    private dev.lens4j.tensor.DType dtype = dev.lens4j.tensor.DType.F32;

    public static LoadOptions defaults() { return new LoadOptions(); }

    public static LoadOptions noProcessing() { return new LoadOptions().processWeights(false); }

    public boolean processWeights() { return processWeights; }
    public boolean foldLn() { return processWeights && foldLn; }
    public boolean centerWritingWeights() { return processWeights && centerWritingWeights; }
    public boolean centerUnembed() { return processWeights && centerUnembed; }
    public boolean foldValueBiases() { return processWeights && foldValueBiases; }

    /** Whether weights holding NaN or Inf load; by default such a checkpoint is rejected, naming the first bad weight. */
    public boolean allowNonFinite() { return allowNonFinite; }

    public LoadOptions processWeights(boolean v) { processWeights = v; return this; }
    public LoadOptions foldLn(boolean v) { foldLn = v; return this; }
    public LoadOptions centerWritingWeights(boolean v) { centerWritingWeights = v; return this; }
    public LoadOptions centerUnembed(boolean v) { centerUnembed = v; return this; }
    public LoadOptions foldValueBiases(boolean v) { foldValueBiases = v; return this; }
    public LoadOptions allowNonFinite(boolean v) { allowNonFinite = v; return this; }

    /** The weight matrices' dtype in memory: F32 (default, as in TransformerLens) or BF16 (see {@link Bf16Weights}). */
    public dev.lens4j.tensor.DType dtype() { return dtype; }
    public LoadOptions dtype(dev.lens4j.tensor.DType v) {
        if (v != dev.lens4j.tensor.DType.F32 && v != dev.lens4j.tensor.DType.BF16)
            throw new IllegalArgumentException("dtype must be F32 or BF16, got " + v);
        dtype = v;
        return this;
    }

    /** TransformerLens's config JSON for a torch state dict (.pth / .pt); null: config.json beside it. */
    public java.nio.file.Path config() { return config; }
    public LoadOptions config(java.nio.file.Path v) { config = v; return this; }

    @Override public String toString() {
        return "LoadOptions{processWeights=" + processWeights + ", foldLn=" + foldLn + ", centerWritingWeights=" + centerWritingWeights
            + ", centerUnembed=" + centerUnembed + ", foldValueBiases=" + foldValueBiases + ", allowNonFinite=" + allowNonFinite + ", dtype=" + dtype + "}";
    }
}
