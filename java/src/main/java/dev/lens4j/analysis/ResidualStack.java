package dev.lens4j.analysis;

import dev.lens4j.tensor.Tensor;

import java.util.List;

/**
 * A stack of residual-stream components, [components, batch, pos, d_model], with TransformerLens's labels
 * ("0_pre", "3_mid", "final_post", "embed", "2_attn_out", "L1H3", "L0N17", "remainder", "bias"). What TL's cache
 * methods return with return_labels=True. Owns its tensor.
 */
public record ResidualStack(Tensor stack, List<String> labels) implements AutoCloseable {
    public ResidualStack {
        labels = List.copyOf(labels);
        if (stack.rank() != 4 || stack.size(0) != labels.size())
            throw new IllegalArgumentException("stack " + stack.describe() + " does not match " + labels.size() + " labels");
    }

    public int size() { return labels.size(); }
    public int batch() { return (int) stack.size(1); }
    public int pos() { return (int) stack.size(2); }
    public int dModel() { return (int) stack.size(3); }

    /** Index of a label; throws naming the known labels when absent. */
    public int indexOf(String label) {
        int i = labels.indexOf(label);
        if (i < 0) throw new IllegalArgumentException("no component '" + label + "' in " + labels);
        return i;
    }

    @Override public void close() { stack.close(); }
}
