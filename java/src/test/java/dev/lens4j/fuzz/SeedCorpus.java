package dev.lens4j.fuzz;

import com.code_intelligence.jazzer.agent.AgentInstaller;
import com.code_intelligence.jazzer.driver.FuzzedDataProviderImpl;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes the valid seed inputs of every fuzz target under src/test/resources (Jazzer replays them in every test run and
 * starts fuzzing from them). Run from java/: {@code java -cp target/test-classes:target/classes:$(cat cp.txt)
 * dev.lens4j.fuzz.SeedCorpus src/test/resources}. Findings are added by hand, next to these, under their own names.
 */
public final class SeedCorpus {
    private final Path root;

    private SeedCorpus(Path root) { this.root = root; }

    public static void main(String[] args) throws IOException {
        SeedCorpus s = new SeedCorpus(Path.of(args.length > 0 ? args[0] : "src/test/resources"));
        s.safetensors();
        s.configJson();
        s.shardedIndex();
        s.llama2c();
        s.tokenizer();
        s.promptLines();
    }

    private void put(String cls, String method, String name, byte[] bytes) throws IOException {
        String pkg = cls.equals("PromptLinesFuzzTest") ? "dev/lens4j/cli" : "dev/lens4j/fuzz";
        Path dir = root.resolve(pkg).resolve(cls + "Inputs").resolve(method);
        Files.createDirectories(dir);
        Files.write(dir.resolve("seed-" + name), bytes);
    }

    /** The bytes followed by choice bytes, the last choice last (FuzzedDataProvider reads choices from the end). */
    static byte[] withChoices(byte[] front, int... choicesFirstToLast) {
        byte[] out = new byte[front.length + choicesFirstToLast.length];
        System.arraycopy(front, 0, out, 0, front.length);
        for (int i = 0; i < choicesFirstToLast.length; i++) out[out.length - 1 - i] = (byte) choicesFirstToLast[i];
        return out;
    }

    private static byte[] utf8(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    // ------------------------------------------------------------------ targets

    private void safetensors() throws IOException {
        Path tmp = Files.createTempDirectory("seeds");
        try {
            Map<String, Tensor> ts = new LinkedHashMap<>();
            ts.put("w", Tensor.of(new float[] {1, -2, 3.5f, 0, 1e-3f, -7}, 2, 3));
            ts.put("ids", Tensor.ofInts(new int[] {0, 5, -1}, 3));
            ts.put("scalar", Tensor.of(new float[] {42}));
            ts.put("empty", Tensor.zeros(0, 4));
            for (DType storage : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                Path f = tmp.resolve(storage + ".safetensors");
                SafeTensors.write(f, ts, Map.of("format", "pt", "note", "seed"), storage);
                put("SafeTensorsFuzzTest", "safetensors", storage.toString().toLowerCase(), Files.readAllBytes(f));
            }
            ts.values().forEach(Tensor::close);
            put("SafeTensorsFuzzTest", "safetensors", "model-gpt2", Templates.GPT2.safetensors());
        } finally {
            FuzzContract.deleteTree(tmp);
        }
        // F64 and I64, which lens4j reads but does not write; and a header-only file
        put("SafeTensorsFuzzTest", "safetensors", "f64-i64", rawSafetensors(
            "{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"I64\",\"shape\":[1,1],\"data_offsets\":[16,24]}}",
            ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putDouble(1.25).putDouble(-3e40).putLong(7).array()));
        put("SafeTensorsFuzzTest", "safetensors", "u8-unreadable", rawSafetensors(
            "{\"__metadata__\":{},\"m\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}", new byte[] {1, 2, 3}));
        put("SafeTensorsFuzzTest", "safetensors", "empty-header", rawSafetensors("{}", new byte[0]));
    }

    static byte[] rawSafetensors(String header, byte[] data) {
        byte[] h = utf8(header);
        int padded = (h.length + 7) / 8 * 8;
        ByteBuffer b = ByteBuffer.allocate(8 + padded + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(padded).put(h);
        while (b.position() < 8 + padded) b.put((byte) ' ');
        return b.put(data).array();
    }

    private void configJson() throws IOException {
        // structured: mode 0, model_type 0/1/2, no edits
        put("ConfigJsonFuzzTest", "configJson", "gpt2", new byte[0]);
        put("ConfigJsonFuzzTest", "configJson", "llama", withChoices(new byte[0], 0, 1));
        put("ConfigJsonFuzzTest", "configJson", "mistral", withChoices(new byte[0], 0, 2));
        // raw config.json text, model_type's weights picked by the second choice
        put("ConfigJsonFuzzTest", "configJson", "raw-gpt2", withChoices(utf8(Templates.GPT2.config().toString()), ConfigJsonFuzzTest.RAW, 0));
        put("ConfigJsonFuzzTest", "configJson", "raw-llama", withChoices(utf8(Templates.LLAMA.config().toString()), ConfigJsonFuzzTest.RAW, 1));
        var mistral = Templates.LLAMA.config().deepCopy().put("model_type", "mistral").put("sliding_window", 4096);
        put("ConfigJsonFuzzTest", "configJson", "raw-mistral", withChoices(utf8(mistral.toString()), ConfigJsonFuzzTest.RAW, 2));
        var gqa = Templates.LLAMA.config().deepCopy().put("num_key_value_heads", 1).put("head_dim", 4).put("rope_theta", 500000.0);
        put("ConfigJsonFuzzTest", "configJson", "raw-llama-fields", withChoices(utf8(gqa.toString()), ConfigJsonFuzzTest.RAW, 1));
    }

    private void shardedIndex() throws IOException {
        put("ShardedIndexFuzzTest", "shardedIndex", "gpt2-one-shard", new byte[0]);
        // llama in three shards: mode 0, llama, 3 shards, then tensor i in shard i % 3
        int n = Templates.LLAMA.values().size();
        int[] c = new int[3 + n];
        c[0] = 0; c[1] = 1; c[2] = 2; // consumeInt(1, 3): 1 + 2
        for (int i = 0; i < n; i++) c[3 + i] = i % 3;
        put("ShardedIndexFuzzTest", "shardedIndex", "llama-three-shards", withChoices(new byte[0], c));
        String index = "{\"metadata\":{\"total_size\":1},\"weight_map\":{" + String.join(",",
            Templates.GPT2.values().keySet().stream().map(k -> "\"" + k + "\":\"model-00001-of-00003.safetensors\"").toList()) + "}}";
        put("ShardedIndexFuzzTest", "shardedIndex", "raw-gpt2", withChoices(utf8(index), ShardedIndexFuzzTest.RAW, 0));
    }

    private void llama2c() throws IOException {
        put("Llama2cFuzzTest", "llama2c", "valid", new byte[0]);
        put("Llama2cFuzzTest", "llama2c", "valid-no-processing", withChoices(new byte[0], 1));
        byte[] model = Llama2cFuzzTest.model(Llama2cFuzzTest.DEFAULTS, 0, -1, 0);
        byte[] tok = Llama2cFuzzTest.tokenizer(8, Llama2cFuzzTest.PIECES.length, -1, 0);
        put("Llama2cFuzzTest", "llama2c", "raw-model", withChoices(model, Llama2cFuzzTest.RAW_MODEL));
        put("Llama2cFuzzTest", "llama2c", "raw-tokenizer", withChoices(tok, Llama2cFuzzTest.RAW_TOKENIZER));
        int[] unshared = Llama2cFuzzTest.DEFAULTS.clone();
        unshared[5] = -11;
        put("Llama2cFuzzTest", "llama2c", "raw-model-unshared", withChoices(Llama2cFuzzTest.model(unshared, 0, -1, 0), Llama2cFuzzTest.RAW_MODEL));
    }

    private void tokenizer() throws IOException {
        String[] jsons = {
            // byte-level BPE, GPT-2 style
            "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":6,\"content\":\"<|endoftext|>\",\"special\":true,\"single_word\":false,"
                + "\"lstrip\":false,\"rstrip\":false,\"normalized\":false}],\"normalizer\":null,"
                + "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true},"
                + "\"post_processor\":null,\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},"
                + "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":\"\",\"end_of_word_suffix\":\"\","
                + "\"fuse_unk\":false,\"byte_fallback\":false,\"vocab\":{\"a\":0,\"b\":1,\"\u0120\":2,\"ab\":3,\"\u0120a\":4,\"h\":5},"
                + "\"merges\":[\"a b\",\"\u0120 a\"]}}",
            // WordLevel with whitespace splitting
            "{\"version\":\"1.0\",\"added_tokens\":[],\"normalizer\":{\"type\":\"Lowercase\"},\"pre_tokenizer\":{\"type\":\"Whitespace\"},"
                + "\"post_processor\":null,\"decoder\":null,\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"[UNK]\":0,\"hello\":1,\"world\":2,\"ab\":3},"
                + "\"unk_token\":\"[UNK]\"}}",
            // WordPiece
            "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":0,\"content\":\"[UNK]\",\"special\":true,\"single_word\":false,\"lstrip\":false,"
                + "\"rstrip\":false,\"normalized\":false}],\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
                + "\"post_processor\":null,\"decoder\":{\"type\":\"WordPiece\",\"prefix\":\"##\",\"cleanup\":true},"
                + "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\",\"max_input_chars_per_word\":100,"
                + "\"vocab\":{\"[UNK]\":0,\"he\":1,\"##llo\":2,\"world\":3,\"a\":4,\"##b\":5}}}",
            // SentencePiece-like Unigram with Metaspace and byte fallback
            "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":1,\"content\":\"<s>\",\"special\":true,\"single_word\":false,\"lstrip\":false,"
                + "\"rstrip\":false,\"normalized\":false}],\"normalizer\":null,"
                + "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\u2581\",\"prepend_scheme\":\"always\",\"split\":true},"
                + "\"post_processor\":null,\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"\u2581\",\"prepend_scheme\":\"always\",\"split\":true},"
                + "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":false,"
                + "\"vocab\":[[\"<unk>\",0.0],[\"<s>\",0.0],[\"\u2581\",-1.0],[\"\u2581hello\",-2.0],[\"a\",-3.0],[\"b\",-3.0],[\"\u2581world\",-2.5]]}}",
        };
        String[] names = {"bpe", "wordlevel", "wordpiece", "unigram"};
        for (int i = 0; i < jsons.length; i++) {
            // choices: kind 0 (json), text 0, probe 4 bytes, special 0
            put("TokenizerFuzzTest", "tokenizer", names[i], withChoices(utf8(jsons[i]), 0, i, 3, 0, 0, 0, i % 7));
        }
        put("TokenizerFuzzTest", "tokenizer", "llama2c",
            withChoices(Llama2cFuzzTest.tokenizer(8, Llama2cFuzzTest.PIECES.length, -1, 0), 1, 3, 5, 0, 0, 0, 7));
    }

    private void promptLines() throws IOException {
        put("PromptLinesFuzzTest", "promptLines", "plain", withChoices(utf8("The capital of France is\n# a comment\n\nThe Eiffel Tower is in\n"), 0));
        put("PromptLinesFuzzTest", "promptLines", "json", withChoices(utf8(
            "{\"prompt\": \"The capital of France is\", \"answer\": \" Paris\", \"wrong\": \" Rome\"}\n"
                + "{\"prompt\": \"Is 9.11 > 9.9?\", \"truth\": \"no\", \"group\": \"decimals\"}\n"), 0));
        put("PromptLinesFuzzTest", "promptLines", "clean-corrupt", withChoices(utf8(
            "{\"clean\": \"Mary and John went; John gave to\", \"corrupt\": \"Mary and Anna went; Anna gave to\", \"answer\": \" Mary\", \"wrong\": \" John\"}\n"
                + "plain clean line\n"), 1));
    }

    /**
     * What Jazzer's FuzzedDataProvider makes of a seed, for the check that seeds decode as intended. Its implementation
     * lives in Jazzer's bootstrap jar, which Jazzer's JUnit extension installs without instrumenting anything; so do we.
     */
    static FuzzedDataProviderImpl provider(byte[] seed) {
        AgentInstaller.install(false);
        return FuzzedDataProviderImpl.withJavaData(seed);
    }
}
