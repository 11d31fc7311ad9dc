package dev.lens4j.train;

import dev.lens4j.load.Checkpoint;
import dev.lens4j.load.CheckpointException;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.load.NonFinite;
import dev.lens4j.load.RegularFiles;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Checkpoints of models trained or edited in lens4j: a directory with lens4j_config.json (TL's config field
 * names) and model.safetensors under TL's parameter names. Every command that takes --model loads it.
 */
public final class Lens4jCheckpoint {
    public static final String CONFIG_FILE = "lens4j_config.json";
    public static final String WEIGHTS_FILE = "model.safetensors";

    private Lens4jCheckpoint() {}

    public static boolean isLens4jCheckpoint(Path dir) { return Files.isRegularFile(dir.resolve(CONFIG_FILE)); }

    public static void save(Config cfg, Weights weights, Path dir, Map<String, String> metadata) {
        try {
            Files.createDirectories(dir);
            RegularFiles.writeString(dir.resolve(CONFIG_FILE), cfg.toJson());
        } catch (IOException | java.io.UncheckedIOException e) {
            throw new CheckpointException("cannot write checkpoint to " + dir + ": " + e.getMessage(), e);
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "lens4j");
        if (metadata != null) meta.putAll(metadata);
        SafeTensors.write(dir.resolve(WEIGHTS_FILE), weights.asMap(), meta);
    }

    public static Checkpoint load(Path dir) { return load(dir, LoadOptions.defaults()); }

    /** Loads the weights as saved; of the options only allowNonFinite applies (the weights were processed, or not, when trained). */
    public static Checkpoint load(Path dir, LoadOptions options) {
        Path cfgFile = dir.resolve(CONFIG_FILE);
        RegularFiles.requireInput(cfgFile, problem -> new CheckpointException(cfgFile + ": " + problem));
        Config cfg;
        try {
            cfg = Config.fromJson(Files.readString(cfgFile));
        } catch (IOException e) {
            throw new CheckpointException("cannot read " + cfgFile + ": " + e.getMessage(), e);
        }
        Weights w = new Weights();
        try (SafeTensors st = SafeTensors.open(dir.resolve(WEIGHTS_FILE))) {
            for (String name : st.names()) w.put(name, st.read(name));
            NonFinite.checkWeights(dir, w, options);
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
        return new Checkpoint(cfg, w);
    }

}
