package dev.lens4j.tokenize;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HfTokenizerTest {
    private static HfTokenizer gpt2;

    // loaded on first use, so the hand-written-file tests still run where ../shared is absent
    private static synchronized HfTokenizer gpt2() {
        if (gpt2 == null) gpt2 = HfTokenizer.load(SharedData.gpt2Dir().resolve("tokenizer.json"));
        return gpt2;
    }

    @AfterAll
    static void close() {
        if (gpt2 != null) gpt2.close();
    }

    @Test
    void gpt2KnownIds() {
        assertArrayEquals(new int[] {6342, 318, 262, 3139, 286, 4881}, gpt2().encode(" Paris is the capital of France"));
        assertArrayEquals(new int[] {40313}, gpt2().encode("Paris"));
        assertArrayEquals(new int[0], gpt2().encode(""));
    }

    @Test
    void gpt2VocabAndSpecialTokens() {
        assertEquals(50257, gpt2().vocabSize());
        // no config files beside the shared tokenizer.json: TL's <|endoftext|> fallback for all three
        assertEquals(OptionalInt.of(50256), gpt2().bosTokenId());
        assertEquals(OptionalInt.of(50256), gpt2().eosTokenId());
        assertEquals(OptionalInt.of(50256), gpt2().padTokenId());
        assertEquals(OptionalInt.of(262), gpt2().tokenId("\u0120the"));
        assertEquals("<|endoftext|>", gpt2().tokenString(50256));
    }

    @Test
    void gpt2TokenStrings() {
        assertEquals(" Paris", gpt2().tokenString(6342));
        assertEquals("Paris", gpt2().tokenString(40313));
        assertEquals(" the", gpt2().tokenString(262));
    }

    @Test
    void encodeAddsNoSpecialTokensAndDecodeKeepsThem() {
        int[] ids = gpt2().encode("<|endoftext|>Hi");
        assertEquals(50256, ids[0], "the special token in the text is recognised, not split");
        assertEquals(2, ids.length);
        assertEquals("<|endoftext|>Hi", gpt2().decode(ids));
    }

    @Test
    void decodeDoesNoSpaceCleanUp() {
        // transformers' clean-up would give "Hello, world. It's"; TL decodes with clean-up off
        String text = "Hello , world . It 's ok ?";
        assertEquals(text, gpt2().decode(gpt2().encode(text)));
    }

    @Test
    void noTruncationAt512() {
        String sentence = " Paris is the capital of France.";
        int[] one = gpt2().encode(sentence);
        assertEquals(7, one.length);
        int reps = 300;
        String text = sentence.repeat(reps);
        int[] ids = gpt2().encode(text);
        assertEquals(reps * one.length, ids.length, "2100 tokens expected, none dropped");
        for (int i = 0; i < ids.length; i++) assertEquals(one[i % one.length], ids[i], "token " + i);
        assertEquals(text, gpt2().decode(ids));
    }

    @Test
    void roundTripsUnicode() {
        for (String s : new String[] {"héllo wörld ✓ 日本語", "emoji 🤖 and tabs\tand\nnewlines", "  leading spaces"}) {
            assertEquals(s, gpt2().decode(gpt2().encode(s)), s);
        }
    }

    // ---- a tiny hand-written tokenizer.json, to test what the GPT-2 file cannot show ----

    private static final String TINY = "{\"version\":\"1.0\","
            + "\"truncation\":{\"direction\":\"Right\",\"max_length\":4,\"strategy\":\"LongestFirst\",\"stride\":0},"
            + "\"padding\":null,"
            + "\"added_tokens\":["
            + tok(0, "<s>") + "," + tok(1, "</s>") + "," + tok(2, "<pad>") + "," + tok(3, "<unk>") + "],"
            + "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Whitespace\"},"
            + "\"post_processor\":{\"type\":\"TemplateProcessing\","
            + "\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],"
            + "\"pair\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}}],"
            + "\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[0],\"tokens\":[\"<s>\"]}}},"
            + "\"decoder\":null,"
            + "\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"<s>\":0,\"</s>\":1,\"<pad>\":2,\"<unk>\":3,"
            + "\"hello\":4,\"world\":5},\"unk_token\":\"<unk>\"}}";

    private static String tok(int id, String content) {
        return "{\"id\":" + id + ",\"content\":\"" + content + "\",\"single_word\":false,\"lstrip\":false,"
                + "\"rstrip\":false,\"normalized\":false,\"special\":true}";
    }

    private static Path tiny(Path dir) throws Exception {
        Path f = dir.resolve("tokenizer.json");
        Files.writeString(f, TINY);
        return f;
    }

    @Test
    void ignoresTruncationAndPostProcessorInTheFile(@TempDir Path dir) throws Exception {
        Path f = tiny(dir);
        // control: DJL's own defaults do truncate this file and add <s>, so the assertions below can fail
        try (HuggingFaceTokenizer raw = HuggingFaceTokenizer.newInstance(f)) {
            long[] rawIds = raw.encode("hello world hello world hello world").getIds();
            assertTrue(rawIds.length <= 4 && rawIds[0] == 0, "control: DJL defaults truncate and add BOS");
        }
        try (HfTokenizer t = HfTokenizer.load(f)) {
            assertArrayEquals(new int[] {4, 5, 4, 5, 4, 5}, t.encode("hello world hello world hello world"));
            assertEquals(6, t.vocabSize());
        }
    }

    @Test
    void specialTokensFromTokenizerConfigAndSpecialTokensMap(@TempDir Path dir) throws Exception {
        Path f = tiny(dir);
        Files.writeString(dir.resolve("tokenizer_config.json"),
                "{\"bos_token\":{\"content\":\"<s>\",\"lstrip\":false},\"eos_token\":\"</s>\",\"pad_token\":null}");
        Files.writeString(dir.resolve("special_tokens_map.json"), "{\"pad_token\":\"<pad>\",\"bos_token\":\"</s>\"}");
        Files.writeString(dir.resolve("config.json"), "{\"bos_token_id\":5,\"eos_token_id\":5,\"pad_token_id\":5}");
        try (Tokenizer t = Tokenizer.load(dir)) {
            assertTrue(t instanceof HfTokenizer);
            assertEquals(OptionalInt.of(0), t.bosTokenId(), "tokenizer_config.json wins over the others");
            assertEquals(OptionalInt.of(1), t.eosTokenId());
            assertEquals(OptionalInt.of(2), t.padTokenId(), "null in tokenizer_config.json falls to special_tokens_map");
        }
    }

    @Test
    void specialTokensFromModelConfig(@TempDir Path dir) throws Exception {
        tiny(dir);
        Files.writeString(dir.resolve("config.json"), "{\"bos_token_id\":0,\"eos_token_id\":[1,5]}");
        try (Tokenizer t = Tokenizer.load(dir)) {
            assertEquals(OptionalInt.of(0), t.bosTokenId());
            assertEquals(OptionalInt.of(1), t.eosTokenId(), "first of a list of EOS ids");
            assertEquals(OptionalInt.of(1), t.padTokenId(), "PAD defaults to EOS as in TL");
        }
    }

    @Test
    void noSpecialTokensWhenNothingNamesThem(@TempDir Path dir) throws Exception {
        try (Tokenizer t = Tokenizer.load(tiny(dir))) {
            assertEquals(OptionalInt.empty(), t.bosTokenId());
            assertEquals(OptionalInt.empty(), t.eosTokenId());
            assertEquals(OptionalInt.empty(), t.padTokenId());
            assertEquals("hello world", t.decode(new int[] {4, 5}));
            assertThrows(TokenizerException.class, () -> t.decode(new int[] {6}));
        }
    }

    @Test
    void unigramVocabularyIsCountedFromTheList(@TempDir Path dir) throws Exception {
        String json = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[],"
                + "\"normalizer\":null,\"pre_tokenizer\":null,\"post_processor\":null,\"decoder\":null,"
                + "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0.0],[\"a\",-1.0],[\"b\",-2.0],[\"ab\",-0.5]]}}";
        Files.writeString(dir.resolve("tokenizer.json"), json);
        try (HfTokenizer t = HfTokenizer.load(dir)) {
            assertEquals(4, t.vocabSize());
            assertArrayEquals(new int[] {3, 1}, t.encode("aba"));
            Map<String, Integer> expect = Map.of("a", 1, "ab", 3);
            expect.forEach((k, v) -> assertEquals(OptionalInt.of(v), t.tokenId(k)));
        }
    }
}
