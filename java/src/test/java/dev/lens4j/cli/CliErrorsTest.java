package dev.lens4j.cli;

import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.tensor.MemoryLimits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import static dev.lens4j.cli.CliTest.cli;
import static org.junit.jupiter.api.Assertions.*;

/** Bad command lines and bad input files: one line on stderr naming the problem, exit status 2, no stack trace. */
class CliErrorsTest {
    @TempDir Path tmp;

    /** Exit 2 and exactly one stderr line, starting "error: ", containing every fragment. */
    static String assertOneLineError(CliTest.Result r, String... fragments) {
        assertEquals(2, r.code(), r.err());
        String err = r.err().strip();
        assertEquals(1, err.lines().count(), "one line, got:\n" + r.err());
        assertTrue(err.startsWith("error: "), err);
        assertFalse(err.contains("\tat ") || err.contains("Exception") || err.contains("[Source"), err);
        for (String f : fragments) assertTrue(err.contains(f), "'" + f + "' in: " + err);
        return err;
    }

    // ------------------------------------------------------------------ usage errors and Errors

    @Test
    void unknownOptionIsOneLineNotTheUsage() {
        CliTest.Result r = cli("run", "--model", "m", "--prompt", "x", "--frobnicate");
        assertOneLineError(r, "Unknown option: '--frobnicate'", "(see 'lens4j run --help')");
        // and what the error points to works: every command prints its usage for --help, exit 0
        for (String cmd : new String[] {"run", "generate", "lens", "patch", "scan", "bench"}) {
            CliTest.Result h = CliTest.cli(cmd, "--help");
            assertEquals(0, h.code(), cmd + " --help: " + h.err());
            assertTrue(h.out().startsWith("Usage: lens4j " + cmd), h.out());
        }
        assertFalse(r.out().contains("Usage"), r.out());
    }

    @Test
    void missingValueIsOneLine() {
        assertOneLineError(cli("generate", "--model"), "--model", "(see 'lens4j generate --help')");
        assertOneLineError(cli("bench", "--batch", "many"), "--batch", "many");
    }

    @Command(name = "boom")
    static final class Boom implements Callable<Integer> {
        @CommandLine.Option(names = "--what") String what;

        @Override public Integer call() {
            if (what.equals("oom")) throw new OutOfMemoryError("Java heap space");
            if (what.equals("stack")) throw new StackOverflowError();
            throw new AssertionError("a bug");
        }
    }

    private static CliTest.Result boom(String what) {
        PrintStream oldErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            CommandLine cl = new CommandLine(new Main()).addSubcommand("boom", new Boom());
            int code = Main.execute(cl, "boom", "--what", what);
            return new CliTest.Result(code, "", err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(oldErr);
        }
    }

    @Test
    void errorsFromACommandAreOneLineWithExit2() {
        assertOneLineError(boom("oom"), "out of memory", "Java heap space");
        assertOneLineError(boom("stack"), "stack overflow");
        assertOneLineError(boom("bug"), "a bug");
    }

    // ------------------------------------------------------------------ sizes checked up front

    @Test
    void benchThatCannotFitSaysHowMuchItNeeds() {
        long t0 = System.nanoTime();
        String err = assertOneLineError(cli("bench", "--batch", "100000"), "bench --shape gpt2-small --batch 100000 --seq 128 needs",
                "this machine has " + MemoryLimits.size(MemoryLimits.physicalBytes()));
        assertTrue(err.contains(" TB"), err);
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "refused before allocating anything");
    }

    @Test
    void estimateOfTheDefaultBenchFits() {
        long bytes = BenchCommand.estimateBytes(dev.lens4j.model.Shapes.get("gpt2-small"), 8, 128);
        // weights alone are 124M parameters (about 0.5 GB); the estimate adds activations and logits
        assertTrue(bytes > 500_000_000L && bytes < 4_000_000_000L, "estimate " + bytes);
    }

    // ------------------------------------------------------------------ JSON and regex errors

    @Test
    void invalidConfigJsonNamesFileLineAndColumn() throws Exception {
        Path d = TestCheckpoints.gpt2(tmp.resolve("m"), 1);
        Files.writeString(d.resolve("config.json"), "{\n  \"model_type\": \"gpt2\",\n  \"n_embd\": 16,,\n}");
        assertOneLineError(cli("info", "--model", d.toString()), d.resolve("config.json").toString(), "not valid JSON",
                "line 3, column");
    }

    @Test
    void badHooksRegexNamesTheOption() {
        String err = assertOneLineError(cli("cache", "--model", "unused", "--prompt", "x", "--hooks", "blocks.(0", "--out",
                tmp.resolve("o.safetensors").toString()), "--hooks 'blocks.(0'", "not a valid regular expression");
        assertFalse(Files.exists(tmp.resolve("o.safetensors")));
        assertOneLineError(cli("grads", "--model", "unused", "--prompt", "x", "--answer", "a", "--wrong", "b", "--hooks", "[",
                "--out", tmp.resolve("g.safetensors").toString()), "--hooks '['");
        assertNotNull(err);
    }

    // ------------------------------------------------------------------ --prompts files

    private CliTest.Result grads(String promptsFileContent) throws Exception {
        Path f = tmp.resolve("prompts.txt");
        Files.writeString(f, promptsFileContent);
        return grads(f);
    }

    private CliTest.Result grads(Path promptsFile) {
        // the prompts are read before the model, so a broken file fails before "unused" is looked at
        return cli("grads", "--model", tmp.resolve("unused").toString(), "--prompts", promptsFile.toString(), "--answer", " a",
                "--wrong", " b", "--out", tmp.resolve("g.safetensors").toString());
    }

    @Test
    void promptsJsonLinesAreCheckedFieldByField() throws Exception {
        String file = tmp.resolve("prompts.txt").toString();
        assertOneLineError(grads("plain prompt\n{\"prompt\": null}\n"), file + " line 2", "\"prompt\" must be a string, got null");
        assertOneLineError(grads("{\"prompt\": 12345}\n"), file + " line 1", "\"prompt\" must be a string, got number 12345");
        assertOneLineError(grads("{\"prompt\": \"x\", \"answer\": [\" a\"]}\n"), "line 1", "\"answer\" must be a string, got array");
        assertOneLineError(grads("# c\n\n[\"a\", \"b\"]\n"), file + " line 3", "a JSON array");
        assertOneLineError(grads("{\"prompt\": \"x\"} trailing\n"), file + " line 1", "not a valid JSON object", "column");
        assertOneLineError(grads("{\"prompt\": \"x\", \"promt\": \"y\"}\n"), file + " line 1", "unknown field \"promt\"",
                "answer, prompt, wrong");
        assertOneLineError(grads("{\"prompt\": \"x\", \"prompt\": \"y\"}\n"), file + " line 1", "Duplicate field 'prompt'");
        assertOneLineError(grads("{\"prompt\": \"x\"\n"), file + " line 1", "not a valid JSON object");
    }

    @Test
    void promptsPlainTextThatStartsWithABracketStaysAPrompt() throws Exception {
        // gets past the prompts file: the next error is the model path
        assertOneLineError(grads("[INST] hello [/INST]\n"), "unused");
    }

    @Test
    void promptsFileWithInvalidUtf8NamesFileAndLine() throws Exception {
        Path f = tmp.resolve("bad-utf8.txt");
        byte[] good = "first prompt\r\nsecond ".getBytes(StandardCharsets.UTF_8);
        byte[] bytes = new byte[good.length + 3];
        System.arraycopy(good, 0, bytes, 0, good.length);
        bytes[good.length] = (byte) 0xC3; // a two-byte sequence cut short
        bytes[good.length + 1] = (byte) 'x';
        bytes[good.length + 2] = '\n';
        Files.write(f, bytes);
        assertOneLineError(grads(f), f + " line 2", "not valid UTF-8", "byte 8 of the line, 0xc3");
    }
}
