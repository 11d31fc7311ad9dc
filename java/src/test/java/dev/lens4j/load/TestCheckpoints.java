package dev.lens4j.load;

import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Tiny seeded Hugging Face checkpoint directories for tests (oracle tests reuse these), and the shared real models.
 * GPT-2 ones have random LayerNorm weights and biases everywhere; Llama ones have GQA and random RMSNorm weights.
 */
public final class TestCheckpoints {
    private TestCheckpoints() {}

    /** 2 layers, d_model 16, 4 heads, vocab 37, n_ctx 12. */
    public static Config tinyGpt2Config() { return RandomWeights.gpt2Config(2, 16, 4, 37, 12); }

    /** 2 layers, d_model 16, 4 heads / 2 kv heads (d_head 4), d_mlp 24, vocab 37, n_ctx 12. */
    public static Config tinyLlamaConfig() { return RandomWeights.llamaConfig(2, 16, 4, 2, 24, 37, 12); }

    public static Path gpt2(Path dir, long seed) { return gpt2(dir, tinyGpt2Config(), seed, DType.F32); }

    public static Path gpt2(Path dir, Config cfg, long seed, DType storage) {
        try (Checkpoint c = new Checkpoint(cfg.clone(), RandomWeights.gpt2(cfg, seed))) {
            HfCheckpointWriter.writeGpt2(c, dir, storage);
        }
        return dir;
    }

    public static Path llama(Path dir, long seed) { return llama(dir, tinyLlamaConfig(), seed, DType.F32); }

    public static Path llama(Path dir, Config cfg, long seed, DType storage) {
        try (Checkpoint c = new Checkpoint(cfg.clone(), RandomWeights.llama(cfg, seed))) {
            HfCheckpointWriter.writeLlama(c, dir, storage);
        }
        return dir;
    }

    /** ../shared (set by surefire as lens4j.shared), or a skipped test when absent. */
    public static Path shared() {
        String p = System.getProperty("lens4j.shared");
        Assumptions.assumeTrue(p != null && Files.isDirectory(Path.of(p)),
            "skipped: shared data folder not found (system property lens4j.shared=" + p + ")");
        return Path.of(p);
    }

    public static Path stories260K() {
        Path f = shared().resolve("models/stories260K/stories260K.bin");
        Assumptions.assumeTrue(Files.isRegularFile(f), "skipped: " + f + " not found");
        return f;
    }

    /** A deep copy (the processing steps work in place). */
    public static Weights copy(Weights w) {
        Weights out = new Weights();
        for (var e : w.asMap().entrySet()) out.put(e.getKey(), e.getValue().copy());
        return out;
    }

    /** Same names, shapes and bit-identical values. */
    public static void assertSameWeights(Weights expected, Weights actual) {
        assertEquals(expected.names(), actual.names(), "weight names");
        for (String n : expected.names()) {
            Tensor a = expected.get(n), b = actual.get(n);
            assertArrayEquals(a.shape(), b.shape(), n + " shape");
            assertArrayEquals(a.toFloatArray(), b.toFloatArray(), 0f, n);
        }
    }

    public static float[] values(Weights w, String name) { return w.get(name).toFloatArray(); }

    static String shape(Tensor t) { return Arrays.toString(t.shape()); }
}
