package dev.lens4j.tokenize;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class Llama2cTokenizerTest {
    private static Llama2cTokenizer tok;

    // loaded on first use, so the hand-written-file tests still run where ../shared is absent
    private static synchronized Llama2cTokenizer tok() {
        if (tok == null) tok = Llama2cTokenizer.load(SharedData.tok512(), 512);
        return tok;
    }

    @Test
    void fileFacts() {
        assertEquals(512, tok().vocabSize());
        assertEquals(7, tok().maxTokenLength());
        assertEquals(OptionalInt.of(1), tok().bosTokenId());
        assertEquals(OptionalInt.of(2), tok().eosTokenId());
        assertEquals(OptionalInt.empty(), tok().padTokenId());
        assertEquals(OptionalInt.of(403), tok().tokenId(" Once"));
        assertEquals(-144f, tok().score(403));
        assertEquals(" Once", tok().tokenString(403));
        assertEquals("<s>", tok().tokenString(1));
        assertEquals("</s>", tok().tokenString(2));
        assertEquals("\n", tok().tokenString(13), "<0x0A> decodes to the raw byte");
        assertArrayEquals("<0x0A>".getBytes(StandardCharsets.US_ASCII), tok().pieceBytes(13));
    }

    // expected ids from a Python transcription of run.c encode() run on the same file
    @Test
    void encodesLikeRunC() {
        assertArrayEquals(new int[] {403, 407, 261, 378}, tok().encode("Once upon a time"));
        assertArrayEquals(new int[] {403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426},
                tok().encode("Once upon a time, there was a little girl named Lily."));
        assertArrayEquals(new int[] {317, 336, 432, 410, 465, 440, 417, 443, 466}, tok().encode("Lily said, “Hi!”"));
        assertArrayEquals(new int[] {261, 13, 430, 12, 429}, tok().encode("a\nb\tc"));
        assertArrayEquals(new int[0], tok().encode(""));
    }

    @Test
    void byteFallbackForCodepointsNotInTheVocabulary() {
        // 日 = E6 97 A5, 本 = E6 9C AC: not pieces, so byte tokens byte+3; é (485) is a piece
        assertArrayEquals(new int[] {270, 485, 306, 414, 263, 198, 185, 420, 341, 410, 229, 159, 150,
                410, 233, 154, 168, 233, 159, 175}, tok().encode("héllo wörld ✓ 日本"));
        assertArrayEquals(new int[] {410, 0xE6 + 3, 0x97 + 3, 0xA5 + 3}, tok().encode("日"));
    }

    @Test
    void decodeFollowsRunC() {
        int[] ids = tok().encode("Once upon a time");
        assertEquals(" Once upon a time", tok().decode(ids), "the dummy-prefix space stays without BOS");
        int[] withBos = prepend(1, ids);
        assertEquals("<s>Once upon a time", tok().decode(withBos), "after BOS the leading space goes");
        assertEquals("<s></s>", tok().decode(new int[] {1, 410, 2}), "a bare space after BOS is stripped to nothing");
    }

    @Test
    void roundTrips() {
        for (String s : new String[] {"Once upon a time", "héllo wörld ✓ 日本", "emoji 🤖 ok", "Tabs\tand\nnewlines",
                "  two leading spaces", "x", "“quoted” — dash…"}) {
            assertEquals(" " + s, tok().decode(tok().encode(s)), s);
            assertEquals(s, tok().decode(prepend(1, tok().encode(s))).substring("<s>".length()), s);
        }
    }

    @Test
    void heapMergeMatchesNaiveRunCLoop() {
        String alphabet = "abcdefghijklmnopqrstuvwxyzTOLS   ,.!'\n éñ“”日🤖";
        int[] cps = alphabet.codePoints().toArray();
        Random rnd = new Random(42);
        for (int trial = 0; trial < 300; trial++) {
            StringBuilder sb = new StringBuilder();
            int len = rnd.nextInt(80);
            for (int i = 0; i < len; i++) sb.appendCodePoint(cps[rnd.nextInt(cps.length)]);
            String s = sb.toString();
            assertArrayEquals(naiveEncode(tok(), s), tok().encode(s), () -> "text: " + s);
        }
        String story = "Once upon a time, there was a little girl named Lily. She loved to play outside. ".repeat(20);
        assertArrayEquals(naiveEncode(tok(), story), tok().encode(story));
    }

    @Test
    void longTextIsFastAndRoundTrips() {
        String text = "One day, Tim and his mom went to the park to play with a big red ball. ".repeat(1500);
        long t0 = System.nanoTime();
        int[] ids = tok().encode(text);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(" " + text, tok().decode(ids));
        assertEquals(true, ms < 10_000, "encoding " + text.length() + " chars took " + ms + " ms");
    }

    /** Ties go to the leftmost pair, and scores at or below run.c's -1e10 floor never merge. */
    @Test
    void mergeTieBreakAndScoreFloor(@TempDir Path dir) throws Exception {
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        pieces.add("<unk>"); pieces.add("\n<s>\n"); pieces.add("\n</s>\n");
        for (int b = 0; b < 256; b++) pieces.add(String.format("<0x%02X>", b));
        while (scores.size() < pieces.size()) scores.add(0f);
        int space = add(pieces, scores, " ", 0f);
        int a = add(pieces, scores, "a", 0f);
        int b = add(pieces, scores, "b", 0f);
        int ab = add(pieces, scores, "ab", 1f);
        int ba = add(pieces, scores, "ba", 1f);
        int c = add(pieces, scores, "c", 0f);
        add(pieces, scores, "cc", -2e10f);
        int bab = add(pieces, scores, "bab", 0.5f);
        Path f = dir.resolve("tiny.bin");
        Files.write(f, write(pieces, scores));
        try (Llama2cTokenizer t = Llama2cTokenizer.load(f, pieces.size())) {
            assertArrayEquals(new int[] {space, ab, a}, t.encode("aba"), "tie: the left pair merges first");
            assertArrayEquals(new int[] {space, c, c}, t.encode("cc"), "score below -1e10: no merge");
            // "ba" (left) beats the tied "ab", then the new pair "ba"+"b" merges into "bab"
            assertArrayEquals(new int[] {space, bab}, t.encode("bab"));
            assertArrayEquals(new int[] {space, ba, ba}, t.encode("baba"), "the second ba (1.0) outscores bab (0.5)");
            assertArrayEquals(new int[] {space, 3 + 'z'}, t.encode("z"), "byte fallback");
            assertArrayEquals(naiveEncode(t, "abababbbaacbca"), t.encode("abababbbaacbca"));
        }
    }

    private static int add(List<String> pieces, List<Float> scores, String p, float s) {
        pieces.add(p);
        scores.add(s);
        return pieces.size() - 1;
    }

    static byte[] write(List<String> pieces, List<Float> scores) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer head = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(7);
        out.writeBytes(head.array());
        for (int i = 0; i < pieces.size(); i++) {
            byte[] p = pieces.get(i).getBytes(StandardCharsets.UTF_8);
            out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                    .putFloat(scores.get(i)).putInt(p.length).array());
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    static int[] prepend(int id, int[] ids) {
        int[] out = new int[ids.length + 1];
        out[0] = id;
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** run.c encode() transcribed literally (quadratic merge loop), over the tokenizer's public accessors. */
    static int[] naiveEncode(Llama2cTokenizer t, String text) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        List<Integer> tokens = new ArrayList<>();
        if (utf8.length == 0) return new int[0];
        tokens.add(t.tokenId(" ").orElse(' ' + 3));
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        for (int i = 0; i < utf8.length; i++) {
            if ((utf8[i] & 0xC0) != 0x80) buf.reset();
            buf.write(utf8[i]);
            if (i + 1 < utf8.length && (utf8[i + 1] & 0xC0) == 0x80 && buf.size() < 4) continue;
            OptionalInt id = t.tokenId(buf.toString(StandardCharsets.UTF_8));
            if (id.isPresent()) {
                tokens.add(id.getAsInt());
            } else {
                for (byte x : buf.toByteArray()) tokens.add((x & 0xFF) + 3);
            }
            buf.reset();
        }
        while (true) {
            float best = -1e10f;
            int bestId = -1;
            int bestIdx = -1;
            for (int i = 0; i + 1 < tokens.size(); i++) {
                byte[] x = t.pieceBytes(tokens.get(i));
                byte[] y = t.pieceBytes(tokens.get(i + 1));
                byte[] cat = Arrays.copyOf(x, x.length + y.length);
                System.arraycopy(y, 0, cat, x.length, y.length);
                OptionalInt id = t.tokenId(new String(cat, StandardCharsets.UTF_8));
                if (id.isPresent() && t.score(id.getAsInt()) > best) {
                    best = t.score(id.getAsInt());
                    bestId = id.getAsInt();
                    bestIdx = i;
                }
            }
            if (bestIdx < 0) break;
            tokens.set(bestIdx, bestId);
            tokens.remove(bestIdx + 1);
        }
        return tokens.stream().mapToInt(Integer::intValue).toArray();
    }
}
