package dev.lens4j.cli;

import dev.lens4j.load.TestCheckpoints;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** stderr of a real `java` process running the CLI: a run that loads a tokenizer.json prints nothing there. */
class CliStderrTest {
    @TempDir Path tmp;

    record Proc(int code, String out, String err) {}

    /** A tiny Llama checkpoint (vocabulary 37) with a word-level tokenizer.json beside it. */
    private Path modelWithTokenizerJson() throws IOException {
        Path dir = TestCheckpoints.llama(tmp.resolve("model"), 1);
        StringBuilder vocab = new StringBuilder("\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"hello\":3,\"world\":4");
        for (int i = 5; i < 37; i++) vocab.append(",\"w").append(i).append("\":").append(i); // one word per id the model may emit
        String tok = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[],\"normalizer\":null,"
                + "\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"post_processor\":null,\"decoder\":null,"
                + "\"model\":{\"type\":\"WordLevel\",\"vocab\":{" + vocab + "},\"unk_token\":\"<unk>\"}}";
        Files.writeString(dir.resolve("tokenizer.json"), tok);
        return dir;
    }

    private static Proc java(List<String> jvmOptions, String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile("lens4j-out", ".txt"), err = Files.createTempFile("lens4j-err", ".txt");
        try {
            Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail("timed out: " + cmd);
            }
            return new Proc(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    @Test
    void loadingATokenizerJsonPrintsNothingOnStderr() throws Exception {
        Path dir = modelWithTokenizerJson();
        String[] args = {"generate", "--model", dir.toString(), "--prompt", "hello world", "--max-new-tokens", "2"};
        Proc quiet = java(List.of(), args);
        assertEquals(0, quiet.code(), quiet.err());
        assertEquals("", quiet.err(), "stderr");
        // the user's own choice of SLF4J verbosity is kept: asking for warnings shows the ones lens4j silences by default
        Proc verbose = java(List.of("-Dslf4j.internal.verbosity=WARN"), args);
        assertEquals(0, verbose.code(), verbose.err());
        assertTrue(verbose.err().contains("SLF4J(W)"), "stderr with verbosity WARN: " + verbose.err());
        assertEquals(quiet.out(), verbose.out());
    }
}
