package dev.lens4j.load;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** ShardedIndexTest's fixture for tests elsewhere: a checkpoint directory split into two shards with an index. */
public final class ShardedIndexTestAccess {
    private ShardedIndexTestAccess() {}

    public static void shard(Path dir) throws java.io.IOException {
        List<String> names = ShardedIndexTest.shard(dir);
        Files.writeString(dir.resolve("model.safetensors.index.json"),
            ShardedIndexTest.index(names, "\"" + ShardedIndexTest.A + "\"", "\"" + ShardedIndexTest.B + "\""));
    }
}
