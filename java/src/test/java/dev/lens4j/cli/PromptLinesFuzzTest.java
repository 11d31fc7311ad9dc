package dev.lens4j.cli;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lens4j.fuzz.FuzzContract;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The --prompts parser (PromptLines, package-private, hence this package) on arbitrary bytes, read as each gradient
 * command reads it: the fields a command needs, with and without option fallbacks, and "truth".
 * <p>Input layout: the last byte picks the key of plain lines ("prompt" or "clean"); the rest is the file.
 */
public class PromptLinesFuzzTest {
    /** Every field any command reads (each command passes its own set; the union exercises every path). */
    static final java.util.Set<String> FIELDS = java.util.Set.of("prompt", "clean", "corrupt", "answer", "wrong", "truth", "yes", "no", "group");

    /** Fuzzing's first finding: invalid UTF-8 escaped as UncheckedIOException "Input length = 1". */
    @Test
    void invalidUtf8NamesTheFileAndLine(@TempDir Path dir) throws Exception {
        Path f = Files.write(dir.resolve("p.txt"), new byte[] {'o', 'k', '\r', '\n', 'a', (byte) 0xff, '\n'});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PromptLines.read(f, "prompt", FIELDS));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().startsWith(f + " line 2: not valid UTF-8"), e.getMessage());
    }

    @FuzzTest(maxDuration = "10m")
    void promptLines(FuzzedDataProvider data) { run(data); }

    /** One input; true when it loaded and ran, false when it was rejected with an accepted exception. */
    public static boolean run(FuzzedDataProvider data) {
        String plainKey = data.consumeBoolean() ? "clean" : "prompt";
        byte[] file = data.consumeRemainingAsBytes();
        return FuzzContract.check(tmp -> {
            Path f = Files.write(tmp.resolve("prompts.txt"), file);
            for (PromptLines.Line line : PromptLines.read(f, plainKey, FIELDS)) {
                if (line.number() <= 0) throw new AssertionError("line number " + line.number());
                line.get("group", "");
                line.require(plainKey, null, "--" + plainKey);
                line.require("answer", " Paris", "--answer");
                line.require("corrupt", "x", "--corrupt");
                PromptLines.truth(line.get("truth", "yes"), "line " + line.number());
            }
        });
    }
}
