package dev.lens4j.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * A llama2.c checkpoint (.bin) with its tokenizer.bin, loaded as the CLI loads them, then used: encode, forward, decode.
 * Structured mode: each of the 7 header fields is the valid default (dim 8, hidden 12, 1 layer, 2 heads, 1 kv head,
 * vocab 11, seq_len 6), a small number, an edge value or any int; the body has the size the header implies (or a few
 * floats more or less) and may hold a NaN / infinity; the tokenizer is a valid 11-token file, optionally with a header or
 * entry changed. RAW_MODEL / RAW_TOKENIZER modes take the rest of the input verbatim as that file.
 * <p>Input layout (choices read from the end): mode, header fields, body changes, tokenizer changes, text. The empty input
 * is the valid pair; in the raw modes the mode is the only choice.
 */
class Llama2cFuzzTest {
    static final int RAW_MODEL = 8, RAW_TOKENIZER = 9;
    static final int[] DEFAULTS = {8, 12, 1, 2, 1, 11, 6};
    static final int[] EDGES = {0, -1, 1, 2, 3, 7, Integer.MIN_VALUE, Integer.MAX_VALUE, 1 << 16, 1 << 29, 1 << 30, -11, 0x616b3432};
    static final List<String> TEXTS = List.of("ab", "", " a b", "abba", "A\u00e9\n", "\uD83D\uDE00", "\uD800", "\u0000 <s>");
    static final String[] PIECES = {"<unk>", "\n<s>\n", "\n</s>\n", " ", "a", "b", "ab", " a", "<0x41>", "\u00e9", "ba"};

    @FuzzTest(maxDuration = "10m")
    void llama2c(FuzzedDataProvider data) { run(data); }

    /** One input; true when it loaded and ran, false when it was rejected with an accepted exception. */
    static boolean run(FuzzedDataProvider data) {
        int mode = data.consumeInt(0, RAW_TOKENIZER);
        int[] h = DEFAULTS.clone();
        int extraFloats = 0, specialAt = -1, tokMaxLen = 8, tokEntries = PIECES.length, badLenAt = -1, badLen = 0;
        float special = Float.NaN;
        String text = TEXTS.get(0);
        if (mode < RAW_MODEL) { // raw modes take every byte after the mode as the file
            for (int i = 0; i < h.length; i++) {
                switch (data.consumeInt(0, 3)) {
                    case 1 -> h[i] = data.consumeInt(-2, 40);
                    case 2 -> h[i] = EDGES[data.consumeInt(0, EDGES.length - 1)];
                    case 3 -> h[i] = data.consumeInt();
                    default -> { }
                }
            }
            if (data.consumeBoolean()) extraFloats = data.consumeInt(-3, 3);
            if (data.consumeBoolean()) specialAt = data.consumeInt(0, 1 << 12);
            special = new float[] {Float.NaN, Float.POSITIVE_INFINITY, -Float.MAX_VALUE, 1e30f}[data.consumeInt(0, 3)];
            if (data.consumeBoolean()) tokMaxLen = data.consumeInt(-1, 8);
            if (data.consumeBoolean()) tokEntries = data.consumeInt(0, 14);
            if (data.consumeBoolean()) badLenAt = data.consumeInt(0, 13);
            badLen = data.consumeInt(-2, 100);
            text = TEXTS.get(data.consumeInt(0, TEXTS.size() - 1));
        }
        byte[] model = mode == RAW_MODEL ? data.consumeRemainingAsBytes() : model(h, extraFloats, specialAt, special);
        byte[] tokenizer = mode == RAW_TOKENIZER ? data.consumeRemainingAsBytes() : tokenizer(tokMaxLen, tokEntries, badLenAt, badLen);
        boolean process = mode % 2 == 0;
        String input = text;
        return FuzzContract.check(tmp -> {
            Path bin = Files.write(tmp.resolve("model.bin"), model);
            Path tok = Files.write(tmp.resolve("tokenizer.bin"), tokenizer);
            try (HookedTransformer m = HookedTransformer.fromPretrained(bin, tok, process ? LoadOptions.defaults() : LoadOptions.noProcessing(), null)) {
                int[] ids = m.toTokens(input);
                int[] run = Arrays.copyOf(ids, Math.min(ids.length, m.cfg().nCtx));
                try (Tensor logits = m.forward(run)) {
                    if (logits.size(1) != run.length) throw new AssertionError("logits have shape " + logits.describe());
                }
                m.toString(ids);
                m.toStrTokens(ids);
            }
        });
    }

    /** The header and a body of the size the header implies (capped), plus extra floats and one special value. */
    static byte[] model(int[] h, int extraFloats, int specialAt, float special) {
        long floats;
        try {
            int dim = h[0], hidden = h[1], layers = h[2], heads = h[3], kv = h[4], vocab = Math.abs(h[5]), seq = h[6];
            long kvDim = (long) dim * kv / heads, headSize = dim / heads;
            floats = Math.addExact(Math.multiplyExact((long) vocab, dim) * (h[5] < 0 ? 2 : 1),
                Math.multiplyExact((long) layers, 2L * dim + 2L * dim * dim + 2L * kvDim * dim + 3L * hidden * dim)) + dim
                + Math.multiplyExact((long) seq, headSize);
        } catch (ArithmeticException e) {
            floats = 64;
        }
        if (floats < 0 || floats > 1 << 16) floats = 64;
        floats = Math.max(0, floats + extraFloats);
        ByteBuffer b = ByteBuffer.allocate((int) (28 + 4 * floats)).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : h) b.putInt(v);
        for (int i = 0; i < floats; i++) b.putFloat(i == specialAt ? special : (float) Math.sin(i) * 0.3f);
        return b.array();
    }

    /** llama2.c's tokenizer.bin: max_token_length, then (score, length, bytes) per token. */
    static byte[] tokenizer(int maxLen, int entries, int badLenAt, int badLen) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        out.write(b.putInt(0, maxLen).array(), 0, 4);
        for (int i = 0; i < entries; i++) {
            byte[] piece = PIECES[i % PIECES.length].getBytes(StandardCharsets.UTF_8);
            b.putFloat(0, i < 3 ? 0f : -i).putInt(4, i == badLenAt ? badLen : piece.length);
            out.write(b.array(), 0, 8);
            out.writeBytes(piece);
        }
        return out.toByteArray();
    }
}
