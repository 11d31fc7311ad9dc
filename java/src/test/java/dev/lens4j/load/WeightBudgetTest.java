package dev.lens4j.load;

import dev.lens4j.model.Config;
import dev.lens4j.oracle.HfTestCheckpoints;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.MemoryLimits;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The memory a checkpoint needs, computed from its config before loading, and the refusal when it cannot fit. */
class WeightBudgetTest {
    @TempDir Path tmp;

    private Config gpt2(String name, int d, int layers, int heads, boolean tied) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name + tied));
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"gpt2\", \"n_embd\": " + d + ", \"n_layer\": " + layers
            + ", \"n_head\": " + heads + ", \"n_positions\": 1024, \"vocab_size\": 50257, \"tie_word_embeddings\": " + tied + "}");
        return HfCheckpoint.readConfig(dir);
    }

    /**
     * Hugging Face's published parameter counts of GPT-2 medium, large and xl (embedding tied), plus what TransformerLens
     * holds besides: W_U [d_model, 50257] and b_U [50257]. Tied or not, TL holds W_U, so the need is the same.
     */
    @Test void gpt2MediumLargeXlNeedTheirPublishedParametersPlusWU() throws IOException {
        long v = 50257;
        long[][] shapes = {{1024, 24, 16, 354_823_168L}, {1280, 36, 20, 774_030_080L}, {1600, 48, 25, 1_557_611_200L}};
        for (long[] s : shapes)
            for (boolean tied : new boolean[] {true, false}) {
                Config c = gpt2("gpt2-" + s[0], (int) s[0], (int) s[1], (int) s[2], tied);
                long expected = s[3] + s[0] * v + v;
                assertEquals(expected, WeightBudget.parameterCount(c), "d_model " + s[0] + " tied " + tied);
                assertEquals(4 * expected, WeightBudget.residentBytes(c));
            }
        // GPT-2 large as F32: 3.35 GB, the figure LoadBench measures against
        assertEquals(3_353_637_188L, WeightBudget.residentBytes(gpt2("large", 1280, 36, 20, true)));
    }

    /** The count is exactly what a loader allocates, for every family (unprocessed: norms, zero biases and W_U included). */
    @Test void countIsWhatEachFamilyLoads() {
        HfTestCheckpoints.llamaLike(tmp.resolve("llama"), 1, "llama", false, false, DType.F32);
        HfTestCheckpoints.llamaLike(tmp.resolve("qwen2"), 2, "qwen2", true, false, DType.F32);
        HfTestCheckpoints.llamaLike(tmp.resolve("mistral"), 3, "mistral", false, false, DType.F32);
        HfTestCheckpoints.gemma(tmp.resolve("gemma"), 4, DType.F32);
        HfTestCheckpoints.gemma2(tmp.resolve("gemma2"), 5, DType.F32);
        HfTestCheckpoints.neox(tmp.resolve("neox"), 6, true, DType.F32);
        TestCheckpoints.gpt2(tmp.resolve("gpt2"), 7);
        for (String f : new String[] {"llama", "qwen2", "mistral", "gemma", "gemma2", "neox", "gpt2"}) {
            long before = Tensor.liveBytes();
            try (Checkpoint c = HfCheckpoint.load(tmp.resolve(f), LoadOptions.noProcessing())) {
                assertEquals(c.weights().parameterCount(), WeightBudget.parameterCount(HfCheckpoint.readConfig(tmp.resolve(f))), f);
                assertEquals(WeightBudget.residentBytes(c.config()), Tensor.liveBytes() - before, f + ": native bytes held");
            }
        }
    }

    /** A config whose weights cannot fit is refused at once, in one line naming the directory, the need and what is available. */
    @Test void aModelThatCannotFitIsRefusedBeforeAnythingIsAllocated() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("huge"));
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"gpt2\", \"n_embd\": 65536, \"n_layer\": 4096, \"n_head\": 64,"
            + " \"n_positions\": 1024, \"vocab_size\": 50257}");
        long before = Tensor.liveBytes(), t0 = System.nanoTime();
        CheckpointException e = assertThrows(CheckpointException.class, () -> HfCheckpoint.load(dir));
        String m = e.getMessage();
        assertTrue(m.startsWith(dir + ": its weights need 768.0 TB as F32"), m);
        assertTrue(m.contains("of memory is available (" + MemoryLimits.size(MemoryLimits.physicalBytes()) + " in all)"), m);
        assertTrue(!m.contains("\n"), "one line");
        assertEquals(before, Tensor.liveBytes());
        assertTrue(System.nanoTime() - t0 < 2_000_000_000L, "refused without reading any weight (there is no weight file)");
    }

    @Test void availableMemoryIsPositiveAndAtMostThePhysical() {
        long a = MemoryLimits.availableBytes();
        assertTrue(a > 0 && a <= MemoryLimits.physicalBytes(), a + " of " + MemoryLimits.physicalBytes());
    }
}
