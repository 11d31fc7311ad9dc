package dev.lens4j.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lens4j.tokenize.Tokenizer;
import dev.lens4j.tokenize.TokenizerException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Tokenizer loading (a Hugging Face tokenizer.json through DJL, or a llama2.c tokenizer.bin) on arbitrary bytes, then
 * encode, decode and the special ids on a text, as the CLI uses a tokenizer.
 * <p>Input layout (choices read from the end): kind, then text choice, then a probe id; the file is the rest of the bytes
 * from the front. Optionally a tokenizer_config.json naming a special token sits next to tokenizer.json.
 * Seeds: small hand-written BPE, WordLevel, WordPiece and Unigram tokenizer.json files and llama2.c files.
 */
class TokenizerFuzzTest {
    static final List<String> TEXTS = List.of("hello world", "", " ", "ab ba", "\u00e9\u00e8\n \uD83D\uDE00", "\uD800x",
        "<|endoftext|>hi", "\u0000\u0001", "a".repeat(200));
    static final List<String> SPECIALS = List.of("<|endoftext|>", "<s>", "</s>", "<unk>", "[UNK]", "missing", "");

    @FuzzTest(maxDuration = "10m")
    void tokenizer(FuzzedDataProvider data) { run(data); }

    /** One input; true when it loaded and ran, false when it was rejected with an accepted exception. */
    static boolean run(FuzzedDataProvider data) {
        boolean llama2c = data.consumeBoolean();
        int t = data.consumeInt(0, TEXTS.size());
        int probe = data.consumeInt();
        int special = data.consumeInt(0, SPECIALS.size());
        String text = t < TEXTS.size() ? TEXTS.get(t) : data.consumeString(64);
        byte[] file = data.consumeRemainingAsBytes();
        return FuzzContract.check(tmp -> {
            Path f = Files.write(tmp.resolve(llama2c ? "tokenizer.bin" : "tokenizer.json"), file);
            if (!llama2c && special < SPECIALS.size())
                Files.writeString(tmp.resolve("tokenizer_config.json"), "{\"bos_token\": \"" + SPECIALS.get(special) + "\"}");
            try (Tokenizer tok = Tokenizer.load(f)) {
                int vocab = tok.vocabSize();
                if (vocab <= 0) throw new AssertionError("vocabulary size " + vocab);
                int[] ids = tok.encode(text);
                for (int id : ids)
                    if (id < 0 || id >= vocab) throw new AssertionError("encode gave id " + id + " outside [0, " + vocab + ")");
                tok.decode(ids);
                for (var s : List.of(tok.bosTokenId(), tok.eosTokenId(), tok.padTokenId()))
                    if (s.isPresent()) tok.tokenString(s.getAsInt());
                // an id in range decodes; one outside [0, vocab) is a TokenizerException, never an index error or native crash
                int id = Math.floorMod(probe, vocab + 4) - 2;
                if (id >= 0 && id < vocab) {
                    tok.decode(new int[] {id});
                } else {
                    try {
                        tok.decode(new int[] {id});
                        throw new AssertionError("decode accepted id " + id + " with vocabulary size " + vocab);
                    } catch (TokenizerException expected) {
                        // the contract for ids out of range
                    }
                }
            }
        });
    }
}
