package dev.lens4j.load;

import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;

import java.nio.file.Path;
import java.util.function.Predicate;

/**
 * A bf16 load, part by part: each part of the state dict is checked for NaN / Inf, processed (fold_ln, centring,
 * value-bias folding: each step needs only the part's own tensors) and its matrices rounded to bf16 as soon as the
 * loader completes it, so the float32 tensors of at most one part (the embedding, the unembedding or one block) exist
 * at a time next to the bf16 weights. The result is bit for bit a float32 load, processed, then
 * {@link Bf16Weights#convert}: every step is elementwise or per row / column within one part, in the same order.
 */
final class Bf16Parts extends LoadStages {
    private final Path source;
    private final Config cfg;
    private final LoadOptions o;
    private int partsDone; // the embedding, the unembedding and every block: finish() checks that none was skipped

    Bf16Parts(Path source, Config cfg, LoadOptions o) {
        super(null);
        this.source = source;
        this.cfg = cfg;
        this.o = o;
    }

    @Override void embed(Weights w) {
        part(w, n -> n.startsWith("embed.") || n.startsWith("pos_embed."), () -> WeightProcessing.processEmbed(cfg, w, o));
    }

    @Override void unembed(Weights w) {
        part(w, n -> n.startsWith("unembed.") || n.startsWith("ln_final."), () -> WeightProcessing.processUnembed(cfg, w, o));
    }

    @Override void layer(Weights w, int l) {
        String prefix = "blocks." + l + ".";
        part(w, n -> n.startsWith(prefix), () -> WeightProcessing.processLayer(cfg, w, o, l));
    }

    /** Checks the part's weights, processes them, then rounds its matrices (each float32 tensor freed as it is replaced). */
    private void part(Weights w, Predicate<String> names, Runnable process) {
        NonFinite.checkWeights(source, w, o, names);
        process.run();
        Bf16Weights.round(w, names);
        // the freed float32 tensors lie between bf16 ones that stay: glibc keeps such holes resident unless trimmed,
        // and lens4j's host cache would keep the large ones
        dev.lens4j.tensor.Tensor.releaseHostCache();
        org.bytedeco.javacpp.Pointer.trimMemory();
        partsDone++;
    }

    @Override void finish(Weights w) {
        if (partsDone != cfg.nLayers + 2)
            throw new IllegalStateException("the loader handed over " + partsDone + " parts of " + (cfg.nLayers + 2));
        WeightProcessing.markProcessed(cfg, o);
    }
}
