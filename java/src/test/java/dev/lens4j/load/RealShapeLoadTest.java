package dev.lens4j.load;

import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * GPT-2 medium at its real shape (355 M parameters, random bf16 weights written tensor by tensor): the load holds
 * exactly TransformerLens's state dict in native memory at its peak (nothing transient), and it runs. GPT-2 large and
 * xl are the same code at 2-4x the bytes; their measured loads are in benchmarks/README.md (LoadBench).
 */
class RealShapeLoadTest {
    @TempDir Path tmp;

    @Test void gpt2MediumLoadsWithNoTransientNativeMemory() throws IOException {
        Path dir = tmp.resolve("gpt2-medium");
        RandomCheckpointFiles.write("gpt2-medium", dir, false);
        assertEquals(2L * 354_823_168 + 8 + jsonHeaderBytes(dir), Files.size(dir.resolve("model.safetensors")),
                "HF's published parameter count of GPT-2 medium, in bf16");
        Config cfg = HfCheckpoint.readConfig(dir);
        // TL's state dict: HF's parameters, plus W_U (tied in HF, its own matrix in TL) and b_U
        assertEquals(354_823_168L + 50257L * 1024 + 50257, WeightBudget.parameterCount(cfg));
        long before = Tensor.liveBytes();
        Tensor.resetPeakBytes();
        try (HookedTransformer m = HookedTransformer.fromPretrained(dir)) {
            assertEquals(WeightBudget.residentBytes(cfg), Tensor.peakBytes() - before, "peak native bytes of the load = the weights");
            int[] tokens = new SplittableRandom(1).ints(6, 0, 50257).toArray();
            try (Tensor logits = m.forward(tokens)) {
                assertArrayEquals(new long[] {1, 6, 50257}, logits.shape());
                for (float x : logits.toFloatArray()) assertTrue(Float.isFinite(x));
            }
        }
        assertEquals(before, Tensor.liveBytes());
    }

    private static long jsonHeaderBytes(Path dir) throws IOException {
        try (var ch = java.nio.channels.FileChannel.open(dir.resolve("model.safetensors"))) {
            var b = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            ch.read(b, 0);
            return b.getLong(0);
        }
    }
}
