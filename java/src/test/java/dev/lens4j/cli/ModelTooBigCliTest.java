package dev.lens4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.lens4j.cli.CliTest.cli;

/** A checkpoint whose weights cannot fit in memory is refused by the CLI in one line, exit 2, before any weight is read. */
class ModelTooBigCliTest {
    @TempDir Path tmp;

    @Test void runRefusesAModelThatCannotFit() throws IOException {
        // a GPT-2 config of 211 T parameters over a weight file that does not even exist: the config alone decides
        Files.writeString(tmp.resolve("config.json"), "{\"model_type\": \"gpt2\", \"n_embd\": 65536, \"n_layer\": 4096, \"n_head\": 64,"
            + " \"n_positions\": 1024, \"vocab_size\": 50257}");
        CliErrorsTest.assertOneLineError(cli("run", "--model", tmp.toString(), "--prompt", "x"),
            tmp + ": its weights need 768.0 TB as F32", "of memory is available");
    }
}
