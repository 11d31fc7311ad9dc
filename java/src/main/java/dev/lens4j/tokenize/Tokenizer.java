package dev.lens4j.tokenize;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * Text to token ids and back, as TransformerLens uses a tokenizer: {@link #encode} never adds BOS
 * (callers prepend {@link #bosTokenId()} themselves, as TL's to_tokens does) and never truncates.
 */
public interface Tokenizer extends AutoCloseable {

    /** Token ids for the text, with no special tokens added and no truncation. */
    int[] encode(String text);

    /** The text of the ids, special tokens included. Throws TokenizerException naming any id outside [0, vocabSize). */
    String decode(int[] ids);

    /**
     * The text of ids that followed a BOS, without the BOS: what TL's generate returns (tokenizer.decode(output[1:])).
     * A Hugging Face decoder chain sees only these ids (so Llama's Strip removes the first word's dummy-prefix space).
     */
    default String decodeAfterBos(int[] ids) { return decode(ids); }

    /** The token's text as decoding that single token shows it (what TL's to_str_tokens gives). */
    String tokenString(int id);

    int vocabSize();

    OptionalInt bosTokenId();

    OptionalInt eosTokenId();

    OptionalInt padTokenId();

    /** Releases native resources, if any; no checked exception. */
    @Override
    void close();

    /**
     * Opens a tokenizer, choosing the format from the path: a directory holding tokenizer.json (Hugging Face)
     * or else tokenizer.bin (llama2.c); a *.json file (Hugging Face); a *.bin file (llama2.c).
     *
     * @throws TokenizerException when the path is missing, of no known kind, or malformed
     */
    static Tokenizer load(Path path) {
        if (path == null) throw new TokenizerException("tokenizer path is null");
        if (Files.isDirectory(path)) {
            Path json = path.resolve("tokenizer.json");
            if (Files.isRegularFile(json)) return HfTokenizer.load(json);
            Path bin = path.resolve("tokenizer.bin");
            if (Files.isRegularFile(bin)) return Llama2cTokenizer.load(bin);
            throw new TokenizerException("no tokenizer.json or tokenizer.bin in directory " + path);
        }
        if (!Files.exists(path)) throw new TokenizerException("tokenizer file not found: " + path);
        String name = path.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (name.endsWith(".json")) return HfTokenizer.load(path);
        if (name.endsWith(".bin")) return Llama2cTokenizer.load(path);
        throw new TokenizerException("unrecognised tokenizer file " + path
                + " (expected a directory, a tokenizer.json, or a llama2.c tokenizer .bin)");
    }
}
