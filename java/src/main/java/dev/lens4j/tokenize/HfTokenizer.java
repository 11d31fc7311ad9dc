package dev.lens4j.tokenize;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.load.JsonErrors;
import dev.lens4j.load.RegularFiles;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A Hugging Face tokenizer.json run by DJL's HuggingFaceTokenizer (the Rust `tokenizers` library).
 * encode adds no special tokens and never truncates, whatever tokenizer.json or tokenizer_config.json say;
 * decode keeps special tokens and does no clean-up of spaces (TL decodes with clean_up_tokenization_spaces=False).
 *
 * <p>BOS / EOS / PAD, per token, from the first that names one: tokenizer_config.json, special_tokens_map.json
 * (next to tokenizer.json; a token may be a string or {"content": ...}), config.json's *_token_id; then, as
 * TransformerLens's set_tokenizer does, EOS defaults to "&lt;|endoftext|&gt;" when the vocabulary has it and
 * BOS and PAD default to EOS.
 */
public final class HfTokenizer implements Tokenizer {
    static final String ENDOFTEXT = "<|endoftext|>";
    private static final ObjectMapper JSON = new ObjectMapper();
    // DJL truncates to 512 by default; TL never truncates. Passed without a TokenizerConfig so that DJL
    // applies nothing from tokenizer_config.json (model_max_length, accent stripping, space clean-up).
    private static final Map<String, String> OPTIONS = Map.of(
            "addSpecialTokens", "false",
            "truncation", "false",
            "padding", "false",
            "withOverflowingTokens", "false");

    private final Path source;
    private final HuggingFaceTokenizer djl;
    private final int vocabSize;
    private final Map<String, Integer> tokenIds;
    private final Integer bos;
    private final Integer eos;
    private final Integer pad;

    private HfTokenizer(Path source, HuggingFaceTokenizer djl, Map<String, Integer> tokenIds, int vocabSize,
                        Integer bos, Integer eos, Integer pad) {
        this.source = source;
        this.djl = djl;
        this.tokenIds = tokenIds;
        this.vocabSize = vocabSize;
        this.bos = bos;
        this.eos = eos;
        this.pad = pad;
    }

    /** Loads a tokenizer.json file, or the tokenizer.json inside a directory. */
    public static HfTokenizer load(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        byte[] bytes;
        if (Files.exists(file)) RegularFiles.requireInput(file, problem -> new TokenizerException(file + ": " + problem));
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new TokenizerException("tokenizer.json not found: " + file, e);
        } catch (IOException e) {
            throw new TokenizerException("cannot read " + file + ": " + e.getMessage(), e);
        }
        JsonNode root;
        try {
            root = JSON.readTree(bytes);
        } catch (IOException e) {
            throw new TokenizerException("malformed JSON in " + file + ": " + JsonErrors.describe(e), e);
        }
        if (root == null || !root.isObject() || !root.path("model").isObject()) {
            throw new TokenizerException(file + " is not a Hugging Face tokenizer.json (no \"model\" object)");
        }
        Map<String, Integer> ids = readVocabulary(root, file);
        int vocab = 0;
        for (int id : ids.values()) vocab = Math.max(vocab, id + 1);
        if (vocab == 0) throw new TokenizerException(file + " has an empty vocabulary");

        Path dir = file.toAbsolutePath().getParent();
        JsonNode tokCfg = readOptional(dir.resolve("tokenizer_config.json"));
        JsonNode specialMap = readOptional(dir.resolve("special_tokens_map.json"));
        JsonNode modelCfg = readOptional(dir.resolve("config.json"));
        Integer eos = special("eos", ids, vocab, tokCfg, specialMap, modelCfg);
        if (eos == null) eos = ids.get(ENDOFTEXT);
        Integer bos = special("bos", ids, vocab, tokCfg, specialMap, modelCfg);
        if (bos == null) bos = eos;
        Integer pad = special("pad", ids, vocab, tokCfg, specialMap, modelCfg);
        if (pad == null) pad = eos;

        HuggingFaceTokenizer djl;
        // lens4j never needs the network: keep DJL from its telemetry request (a user may still override)
        if (System.getProperty("offline") == null) System.setProperty("offline", "true");
        // DJL logs through slf4j-api 2, which prints three "SLF4J(W)" lines to stderr when the application binds no
        // logging backend; a library must not print that. Only SLF4J's own warnings are silenced, and only when the
        // user has not chosen a verbosity; an application with a backend gets DJL's log as before.
        if (System.getProperty("slf4j.internal.verbosity") == null) System.setProperty("slf4j.internal.verbosity", "ERROR");
        try {
            djl = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(bytes), OPTIONS);
        } catch (IOException | RuntimeException e) {
            throw new TokenizerException("DJL could not load " + file + ": " + e.getMessage(), e);
        }
        return new HfTokenizer(file, djl, ids, vocab, bos, eos, pad);
    }

    // model.vocab is {token: id} for BPE / WordPiece / WordLevel and [[piece, score], ...] for Unigram;
    // added_tokens may add ids beyond it.
    private static Map<String, Integer> readVocabulary(JsonNode root, Path file) {
        Map<String, Integer> ids = new HashMap<>();
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().canConvertToInt() || e.getValue().asInt() < 0) {
                    throw new TokenizerException(file + ": vocabulary entry " + e.getKey() + " has id " + e.getValue());
                }
                ids.put(e.getKey(), e.getValue().asInt());
            }
        } else if (vocab.isArray()) {
            for (int i = 0; i < vocab.size(); i++) ids.putIfAbsent(vocab.get(i).path(0).asText(), i);
        } else {
            throw new TokenizerException(file + " has no model.vocab");
        }
        for (JsonNode t : root.path("added_tokens")) {
            if (t.path("content").isTextual() && t.path("id").canConvertToInt() && t.path("id").asInt() >= 0) {
                ids.put(t.path("content").asText(), t.path("id").asInt());
            }
        }
        return ids;
    }

    private static JsonNode readOptional(Path file) {
        if (!Files.isRegularFile(file)) return null;
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new TokenizerException("malformed JSON in " + file + ": " + JsonErrors.describe(e), e);
        }
    }

    /** kind is "bos", "eos" or "pad"; a named token missing from the vocabulary counts as not named. */
    private static Integer special(String kind, Map<String, Integer> ids, int vocab,
                                   JsonNode tokCfg, JsonNode specialMap, JsonNode modelCfg) {
        for (JsonNode cfg : new JsonNode[] {tokCfg, specialMap}) {
            if (cfg == null) continue;
            JsonNode t = cfg.path(kind + "_token");
            String content = t.isTextual() ? t.asText() : t.path("content").isTextual() ? t.path("content").asText() : null;
            if (content != null && ids.containsKey(content)) return ids.get(content);
        }
        if (modelCfg != null) {
            JsonNode id = modelCfg.path(kind + "_token_id");
            if (id.isArray() && id.size() > 0) id = id.get(0); // e.g. Llama 3's list of EOS ids: the first is EOS
            if (id.canConvertToInt() && id.asInt() >= 0 && id.asInt() < vocab) return id.asInt();
        }
        return null;
    }

    @Override
    public int[] encode(String text) {
        if (text == null) throw new TokenizerException("text is null");
        Encoding enc;
        try {
            enc = djl.encode(text, false, false);
        } catch (RuntimeException e) { // e.g. "WordLevel error: Missing [UNK] token from the vocabulary"
            throw new TokenizerException("cannot encode with " + source + ": " + e.getMessage(), e);
        }
        long[] ids = enc.getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = Math.toIntExact(ids[i]);
        return out;
    }

    @Override
    public String decode(int[] ids) {
        TokenIds.check(ids, vocabSize);
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) l[i] = ids[i];
        try {
            return djl.decode(l, false);
        } catch (RuntimeException e) {
            throw new TokenizerException("cannot decode with " + source + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String tokenString(int id) {
        return decode(new int[] {id});
    }

    /** One more than the largest id in model.vocab and added_tokens (HF's len(tokenizer)). */
    @Override
    public int vocabSize() { return vocabSize; }

    @Override
    public OptionalInt bosTokenId() { return bos == null ? OptionalInt.empty() : OptionalInt.of(bos); }

    @Override
    public OptionalInt eosTokenId() { return eos == null ? OptionalInt.empty() : OptionalInt.of(eos); }

    @Override
    public OptionalInt padTokenId() { return pad == null ? OptionalInt.empty() : OptionalInt.of(pad); }

    /** The id of a vocabulary or added token given its exact stored text (e.g. "Ġthe" for GPT-2), if any. */
    public OptionalInt tokenId(String token) {
        Integer id = tokenIds.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    public Path source() { return source; }

    @Override
    public void close() { djl.close(); }

    @Override
    public String toString() {
        return "HfTokenizer[" + source + ", vocab " + vocabSize + "]";
    }
}
