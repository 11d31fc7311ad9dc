package dev.lens4j.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lens4j.load.LoadOptions;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A sharded checkpoint: valid config.json, the tiny model's tensors split over up to three shards as the fuzzer picks,
 * and a model.safetensors.index.json whose weight_map the fuzzer edits (entries dropped, renamed, pointed at missing
 * files, directories, paths outside the checkpoint, the config, the index itself, non-string values) or gives verbatim.
 * <p>Input layout (choices read from the end): mode, family, shard count, one shard per tensor, edits. The empty input
 * is the valid gpt2 checkpoint in one shard; {@link #RAW} mode puts every tensor in the first shard and takes the rest
 * of the bytes (after mode and family) as the index file.
 */
class ShardedIndexFuzzTest {
    static final int RAW = 7;
    static final List<String> ODD_SHARDS = List.of("missing.safetensors", "", ".", "..", "../model-00001-of-00003.safetensors",
        "/etc/passwd", "sub/model.safetensors", "sub\\model.safetensors", "config.json", "model.safetensors.index.json",
        "model-00001-of-00003.safetensors\u0000", "subdir");

    static String shardName(int i) { return "model-0000" + (i + 1) + "-of-00003.safetensors"; }

    @FuzzTest(maxDuration = "10m")
    void shardedIndex(FuzzedDataProvider data) { run(data); }

    /** One input; true when it loaded and ran, false when it was rejected with an accepted exception. */
    static boolean run(FuzzedDataProvider data) {
        int mode = data.consumeInt(0, RAW);
        Templates.Family family = data.consumeBoolean() ? Templates.LLAMA : Templates.GPT2;
        boolean raw = mode == RAW;
        int shards = raw ? 1 : data.consumeInt(1, 3);
        List<String> names = new ArrayList<>(family.values().keySet());
        List<List<String>> byShard = new ArrayList<>();
        for (int s = 0; s < shards; s++) byShard.add(new ArrayList<>());
        ObjectNode index = Templates.JSON.createObjectNode();
        index.putObject("metadata").put("total_size", family.safetensors().length);
        ObjectNode map = index.putObject("weight_map");
        for (String n : names) {
            int s = raw ? 0 : data.consumeInt(0, shards - 1);
            byShard.get(s).add(n);
            map.put(n, shardName(s));
        }
        byte[] indexBytes;
        int truncateShard = -1, truncateTo = 0;
        if (raw) {
            indexBytes = data.consumeRemainingAsBytes();
        } else {
            int edits = data.consumeInt(0, 4);
            for (int i = 0; i < edits; i++) {
                int k = data.consumeInt(0, names.size());
                String key = k < names.size() ? names.get(k) : data.consumeString(24);
                switch (data.consumeInt(0, 7)) {
                    case 0 -> map.remove(key);
                    case 1 -> map.put(key, shardName(data.consumeInt(0, 2)));
                    case 2 -> map.put(key, ODD_SHARDS.get(data.consumeInt(0, ODD_SHARDS.size() - 1)));
                    case 3 -> map.put(key, data.consumeString(24));
                    case 4 -> map.put(key, data.consumeInt());
                    case 5 -> map.putNull(key);
                    case 6 -> map.putArray(key).add(shardName(0));
                    default -> {
                        truncateShard = data.consumeInt(0, shards - 1);
                        truncateTo = data.consumeInt(0, 200);
                    }
                }
            }
            switch (data.consumeInt(0, 8)) {
                case 1 -> index.remove("weight_map");
                case 2 -> index.putArray("weight_map").add(shardName(0));
                case 3 -> index.putNull("weight_map");
                case 4 -> index.put("metadata", data.consumeString(8));
                default -> { }
            }
            indexBytes = index.toString().getBytes(StandardCharsets.UTF_8);
        }
        int cut = truncateShard, cutTo = truncateTo;
        return FuzzContract.check(tmp -> {
            Files.writeString(tmp.resolve("config.json"), family.config().toString());
            Files.write(tmp.resolve("model.safetensors.index.json"), indexBytes);
            Files.createDirectory(tmp.resolve("subdir"));
            for (int s = 0; s < shards; s++) {
                Path f = tmp.resolve(shardName(s));
                Templates.writeShard(family, byShard.get(s), f);
                if (s == cut) {
                    byte[] b = Files.readAllBytes(f);
                    Files.write(f, java.util.Arrays.copyOf(b, Math.min(b.length, cutTo)));
                }
            }
            ConfigJsonFuzzTest.loadAndRun(tmp, LoadOptions.noProcessing());
        });
    }
}
