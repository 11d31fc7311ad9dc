package dev.lens4j.tokenize;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Both tokenizers through Tokenizer.load, plus bad input: every failure names the file or the id. */
class TokenizerRoundTripTest {
    private static final String[] TEXTS = {
        "Once upon a time, there was a little girl named Lily.",
        "héllo wörld ✓ 日本語",
        "emoji 🤖, tabs\tand\nnewlines",
        "x",
    };

    @Test
    void loadPicksTheImplementation() {
        try (Tokenizer dir = Tokenizer.load(SharedData.gpt2Dir());
             Tokenizer json = Tokenizer.load(SharedData.gpt2Dir().resolve("tokenizer.json"));
             Tokenizer bin = Tokenizer.load(SharedData.tok512())) {
            assertInstanceOf(HfTokenizer.class, dir);
            assertInstanceOf(HfTokenizer.class, json);
            assertInstanceOf(Llama2cTokenizer.class, bin);
            assertEquals(50257, dir.vocabSize());
            assertEquals(512, bin.vocabSize());
        }
    }

    @Test
    void gpt2RoundTripsWithBosPrepended() {
        try (Tokenizer t = Tokenizer.load(SharedData.gpt2Dir())) {
            for (String s : TEXTS) {
                int[] ids = t.encode(s);
                assertEquals(s, t.decode(ids));
                int[] withBos = Llama2cTokenizerTest.prepend(t.bosTokenId().getAsInt(), ids);
                assertEquals("<|endoftext|>" + s, t.decode(withBos));
                // tokenString of each token concatenates back to the text when all tokens are whole characters
                if (s.chars().allMatch(ch -> ch < 128)) {
                    StringBuilder sb = new StringBuilder();
                    for (int id : ids) sb.append(t.tokenString(id));
                    assertEquals(s, sb.toString());
                }
            }
        }
    }

    @Test
    void llama2cRoundTripsWithBosPrepended() {
        try (Tokenizer t = Tokenizer.load(SharedData.tok512())) {
            for (String s : TEXTS) {
                int[] ids = t.encode(s);
                assertTrue(Arrays.stream(ids).allMatch(id -> id >= 0 && id < t.vocabSize()));
                assertEquals(" " + s, t.decode(ids));
                assertEquals("<s>" + s, t.decode(Llama2cTokenizerTest.prepend(t.bosTokenId().getAsInt(), ids)));
            }
        }
    }

    // ---- bad input ----

    @Test
    void missingFiles(@TempDir Path dir) {
        Path none = dir.resolve("nope.bin");
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.load(none));
        assertTrue(e.getMessage().contains(none.toString()), e.getMessage());
        e = assertThrows(TokenizerException.class, () -> Llama2cTokenizer.load(none));
        assertTrue(e.getMessage().contains(none.toString()), e.getMessage());
        Path noneJson = dir.resolve("tokenizer.json");
        e = assertThrows(TokenizerException.class, () -> HfTokenizer.load(noneJson));
        assertTrue(e.getMessage().contains(noneJson.toString()), e.getMessage());
        e = assertThrows(TokenizerException.class, () -> Tokenizer.load(dir));
        assertTrue(e.getMessage().contains(dir.toString()), "empty directory named: " + e.getMessage());
    }

    @Test
    void unknownFileKind(@TempDir Path dir) throws Exception {
        Path f = Files.writeString(dir.resolve("vocab.txt"), "hello");
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.load(f));
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
    }

    @Test
    void truncatedTok512(@TempDir Path dir) throws Exception {
        byte[] full = Files.readAllBytes(SharedData.tok512());
        Path cut = Files.write(dir.resolve("tok512-cut.bin"), Arrays.copyOf(full, full.length - 3));
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.load(cut));
        assertTrue(e.getMessage().contains(cut.toString()) && e.getMessage().contains("truncated"), e.getMessage());

        Path tiny = Files.write(dir.resolve("tiny.bin"), new byte[] {7, 0});
        e = assertThrows(TokenizerException.class, () -> Tokenizer.load(tiny));
        assertTrue(e.getMessage().contains(tiny.toString()), e.getMessage());
    }

    @Test
    void tok512CutAtATokenBoundaryIsCaughtByTheExpectedCount(@TempDir Path dir) throws Exception {
        byte[] full = Files.readAllBytes(SharedData.tok512());
        // header + the first 300 whole entries
        int off = 4;
        for (int i = 0; i < 300; i++) {
            int len = (full[off + 4] & 0xFF) | (full[off + 5] & 0xFF) << 8 | (full[off + 6] & 0xFF) << 16
                    | (full[off + 7] & 0xFF) << 24;
            off += 8 + len;
        }
        Path cut = Files.write(dir.resolve("tok300.bin"), Arrays.copyOf(full, off));
        try (Llama2cTokenizer t = Llama2cTokenizer.load(cut)) {
            assertEquals(300, t.vocabSize(), "without a count the format cannot tell");
        }
        TokenizerException e = assertThrows(TokenizerException.class, () -> Llama2cTokenizer.load(cut, 512));
        assertTrue(e.getMessage().contains("300") && e.getMessage().contains("512")
                && e.getMessage().contains(cut.toString()), e.getMessage());
        e = assertThrows(TokenizerException.class, () -> Llama2cTokenizer.load(SharedData.tok512(), 400));
        assertTrue(e.getMessage().contains("after its 400 tokens"), e.getMessage());
    }

    @Test
    void malformedTokenizerJson(@TempDir Path dir) throws Exception {
        Path bad = Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"vocab\": ");
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.load(bad));
        assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());

        Path noModel = Files.writeString(dir.resolve("other.json"), "{\"hello\": 1}");
        e = assertThrows(TokenizerException.class, () -> Tokenizer.load(noModel));
        assertTrue(e.getMessage().contains(noModel.toString()), e.getMessage());

        // valid JSON with a vocabulary, but not something the tokenizers library accepts
        Path bogus = Files.writeString(dir.resolve("bogus.json"),
                "{\"model\": {\"type\": \"NoSuchModel\", \"vocab\": {\"a\": 0}}}");
        e = assertThrows(TokenizerException.class, () -> Tokenizer.load(bogus));
        assertTrue(e.getMessage().contains(bogus.toString()), e.getMessage());
    }

    @Test
    void badIds() {
        try (Tokenizer gpt2 = Tokenizer.load(SharedData.gpt2Dir());
             Tokenizer l2c = Tokenizer.load(SharedData.tok512())) {
            for (Tokenizer t : new Tokenizer[] {gpt2, l2c}) {
                int n = t.vocabSize();
                TokenizerException e = assertThrows(TokenizerException.class, () -> t.decode(new int[] {5, n}));
                assertTrue(e.getMessage().contains("token id " + n), e.getMessage());
                e = assertThrows(TokenizerException.class, () -> t.tokenString(-1));
                assertTrue(e.getMessage().contains("token id -1"), e.getMessage());
                assertThrows(IllegalArgumentException.class, () -> t.decode(null));
                assertThrows(IllegalArgumentException.class, () -> t.encode(null));
                assertArrayEquals(new int[0], t.encode(""));
                assertEquals("", t.decode(new int[0]));
            }
        }
    }
}
