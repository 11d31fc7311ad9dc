package dev.lens4j.load;

import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.DType;

import java.nio.file.Path;

/**
 * What happens to each part of TransformerLens's state dict once a loader has it complete, in the order the loaders
 * finish them: the embedding (W_E, W_pos; a tied W_U is already copied from the unprocessed W_E), the unembedding
 * (ln_final, W_U, b_U), then each block in order; {@link #finish} after the last. A float32 load checks and processes
 * the whole model at the end ({@link #of}); a bf16 load ({@link Bf16Parts}) processes and rounds each part as it
 * arrives. Families whose tensors need adjusting after reading (Gemma's 1 + w norms) chain a stage in front
 * ({@link #LoadStages(LoadStages) next}): each method does its part, then hands over to the next.
 */
class LoadStages {
    private final LoadStages next;

    LoadStages(LoadStages next) { this.next = next; }

    void embed(Weights w) { if (next != null) next.embed(w); }

    void unembed(Weights w) { if (next != null) next.unembed(w); }

    void layer(Weights w, int l) { if (next != null) next.layer(w, l); }

    void finish(Weights w) { if (next != null) next.finish(w); }

    /** The stages a load with these options runs: bf16 part by part, or float32 checked and processed as a whole. */
    static LoadStages of(Path source, Config cfg, LoadOptions o) {
        if (o.dtype() == DType.BF16) return new Bf16Parts(source, cfg, o);
        return new LoadStages(null) {
            @Override void finish(Weights w) {
                NonFinite.checkWeights(source, w, o);
                if (o.processWeights()) WeightProcessing.process(cfg, w, o);
            }
        };
    }
}
