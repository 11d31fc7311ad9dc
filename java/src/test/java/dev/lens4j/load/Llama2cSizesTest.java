package dev.lens4j.load;

import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.MemoryLimits;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/**
 * llama2.c headers whose sizes do not fit: the header's implied size is compared with the file and with memory before
 * anything is allocated, and the error names the header fields responsible.
 */
class Llama2cSizesTest {
    @TempDir Path tmp;

    private static final int DIM = 64, HIDDEN = 8, LAYERS = 1, HEADS = 2, KV_HEADS = 2;

    /** Bytes a v0 file with this header has (shared classifier). */
    private static long implied(long vocab, long seqLen) {
        long d = DIM, f = HIDDEN, L = LAYERS, kv = (long) DIM * KV_HEADS / HEADS, headSize = DIM / HEADS;
        long floats = vocab * d + L * d + L * d * d + 2 * L * kv * d + L * d * d + L * d + 3 * L * f * d + d + seqLen * headSize;
        return 28 + 4 * floats;
    }

    /** A header followed by zeros up to fileBytes (a sparse file: nothing is written past the header). */
    private Path file(String name, int vocab, int seqLen, long fileBytes) throws IOException {
        Path f = tmp.resolve(name);
        ByteBuffer h = ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : new int[] {DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, vocab, seqLen}) h.putInt(v);
        Files.write(f, h.array());
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) { raf.setLength(fileBytes); }
        return f;
    }

    @Test
    void headerImplying32GbOfASmallFileNamesTheFields() throws IOException {
        int vocab = 134_217_728; // 2^27 x dim 64 x 4 bytes = 32 GiB of token embedding
        Path f = file("big-vocab.bin", vocab, 8, 1000);
        long before = Tensor.liveBytes();
        CheckpointException e = assertThrows(CheckpointException.class, () -> Llama2cCheckpoint.load(f).close());
        assertEquals(before, Tensor.liveBytes());
        for (String s : new String[] {f.toString(), "implies " + implied(vocab, 8) + " bytes (32.0 GB", "mostly token_embedding (vocab_size "
                + vocab + " x dim 64)", "but the file has 1000 (truncated)"})
            assertTrue(e.getMessage().contains(s), "'" + s + "' in: " + e.getMessage());
    }

    @Test
    void weightsLargerThanMemoryAreRefusedBeforeAllocating() throws IOException {
        long physical = MemoryLimits.physicalBytes();
        long vocab = 2 * physical / (4L * DIM); // twice this machine's memory, in a sparse file of the right size
        Assumptions.assumeTrue(vocab < Integer.MAX_VALUE, "skipped: this machine has more memory than an int vocab can exceed");
        Path f = file("too-big.bin", (int) vocab, 8, implied(vocab, 8));
        long before = Tensor.liveBytes();
        CheckpointException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
                () -> assertThrows(CheckpointException.class, () -> Llama2cCheckpoint.load(f).close()));
        assertEquals(before, Tensor.liveBytes());
        for (String s : new String[] {f.toString(), "its weights needs", "this machine has " + MemoryLimits.size(physical) + " of memory",
                "token_embedding (vocab_size " + vocab})
            assertTrue(e.getMessage().contains(s), "'" + s + "' in: " + e.getMessage());
    }

    @Test
    void hugeSeqLenOnlyCostsTheRopeTablesItSkips() throws IOException {
        // seq_len 2^31-1: 32 GB of freq_cis in the file, which lens4j recomputes for the positions it runs
        int seqLen = Integer.MAX_VALUE;
        Path f = file("long-context.bin", 40, seqLen, implied(40, seqLen));
        long before = Tensor.liveBytes();
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            Checkpoint c = Llama2cCheckpoint.load(f, LoadOptions.noProcessing());
            assertEquals(seqLen, c.config().nCtx);
            try (HookedTransformer m = new HookedTransformer(c.config(), c.weights());
                 var o = m.run(new int[][] {{1, 2, 3}}, new HookedTransformer.RunOptions())) {
                assertEquals(3 * 40, o.logits().numel());
            }
        });
        assertEquals(before, Tensor.liveBytes());
    }
}
