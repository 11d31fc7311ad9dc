package dev.lens4j.spark;

import dev.lens4j.load.RegularFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The partitions a job has committed to DIR/spark-parts (one safetensors file each, written to a temporary file and
 * renamed, so a file that exists is complete; a retried task writes the same bytes). A manifest holds the job's key
 * (model, inputs, options, partitioning): a rerun with the same key skips what is there, another key is an error.
 */
final class CommittedParts implements java.io.Serializable {
    private final String dir;

    CommittedParts(Path out, String key) {
        Path d = out.resolve("spark-parts");
        this.dir = d.toString();
        try {
            Files.createDirectories(d);
            Path manifest = d.resolve("manifest.txt");
            if (Files.exists(manifest)) {
                RegularFiles.requireInput(manifest, p -> new IllegalArgumentException(manifest + ": " + p));
                String old = Files.readString(manifest);
                if (!old.equals(key))
                    throw new IllegalArgumentException(d + " holds partitions of another job (" + old.lines().findFirst().orElse("") + " ...): "
                            + "remove it or choose another --out");
            } else {
                RegularFiles.writeString(manifest, key);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(d + ": " + e.getMessage(), e);
        }
    }

    Path file(int partition) { return Path.of(dir, String.format("part-%05d.safetensors", partition)); }

    boolean has(int partition) { return Files.isRegularFile(file(partition)); }

    int count(int partitions) {
        int n = 0;
        for (int p = 0; p < partitions; p++) if (has(p)) n++;
        return n;
    }
}
