package dev.lens4j.load;

import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;

/** A loaded model: its TransformerLens config and canonical weights. close() frees the weights. */
public record Checkpoint(Config config, Weights weights) implements AutoCloseable {
    @Override public void close() { weights.close(); }
}
