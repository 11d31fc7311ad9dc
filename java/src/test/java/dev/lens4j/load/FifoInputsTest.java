package dev.lens4j.load;

import dev.lens4j.tokenize.Tokenizer;
import dev.lens4j.tokenize.TokenizerException;
import dev.lens4j.train.Lens4jCheckpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** Every input file is opened only when it is a regular file: opening a FIFO for reading would block forever. */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FifoInputsTest {
    @TempDir Path tmp;

    private static void assertNotRegular(RuntimeException e, Path fifo) {
        assertTrue(e.getMessage().contains(fifo.getFileName().toString()) && e.getMessage().contains("not a regular file"), e.getMessage());
    }

    @Test void configJson() throws Exception {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        Files.delete(d.resolve("config.json"));
        Path fifo = Fifos.make(d.resolve("config.json"));
        assertNotRegular(assertThrows(CheckpointException.class, () -> HfCheckpoint.load(d).close()), fifo);
    }

    @Test void llama2cBin() throws Exception {
        Path fifo = Fifos.make(tmp.resolve("model.bin"));
        assertNotRegular(assertThrows(CheckpointException.class, () -> Llama2cCheckpoint.load(fifo).close()), fifo);
        assertNotRegular(assertThrows(CheckpointException.class, () -> Llama2cCheckpoint.readConfig(fifo)), fifo);
    }

    @Test void tokenizers() throws Exception {
        Path json = Fifos.make(tmp.resolve("tokenizer.json"));
        assertNotRegular(assertThrows(TokenizerException.class, () -> Tokenizer.load(json).close()), json);
        Path bin = Fifos.make(tmp.resolve("tok512.bin"));
        assertNotRegular(assertThrows(TokenizerException.class, () -> Tokenizer.load(bin).close()), bin);
    }

    @Test void lens4jCheckpoint() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("trained"));
        Path fifo = Fifos.make(dir.resolve(Lens4jCheckpoint.CONFIG_FILE));
        assertNotRegular(assertThrows(CheckpointException.class, () -> Lens4jCheckpoint.load(dir).close()), fifo);
    }
}
