package dev.lens4j.model;

import dev.lens4j.backend.Backend;
import dev.lens4j.load.Checkpoint;
import dev.lens4j.load.HfCheckpoint;
import dev.lens4j.load.Llama2cCheckpoint;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.tokenize.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * TL's from_pretrained for local files: a Hugging Face checkpoint directory (config.json + safetensors
 * [+ tokenizer.json]) or a llama2.c .bin (tokenizer: given, or tokenizer.bin / a single tok*.bin beside it).
 */
final class Pretrained {
    private Pretrained() {}

    static HookedTransformer load(Path model, Path tokenizerPath, LoadOptions options, Backend backend) {
        if (model == null) throw new IllegalArgumentException("no model path given");
        if (!Files.exists(model)) throw new IllegalArgumentException("model path does not exist: " + model);
        Checkpoint ckpt;
        Path t;
        if (Files.isDirectory(model)) {
            ckpt = dev.lens4j.train.Lens4jCheckpoint.isLens4jCheckpoint(model)
                    ? dev.lens4j.train.Lens4jCheckpoint.load(model) // trained in lens4j: used as saved
                    : HfCheckpoint.load(model, options);
            Path json = tokenizerPath != null ? tokenizerPath : model.resolve("tokenizer.json");
            t = Files.exists(json) ? json : null;
        } else if (model.getFileName().toString().endsWith(".bin")) {
            ckpt = Llama2cCheckpoint.load(model, options);
            t = tokenizerPath != null ? tokenizerPath : findLlama2cTokenizer(model);
        } else {
            throw new IllegalArgumentException("unrecognised model path " + model
                    + ": expected a Hugging Face checkpoint directory or a llama2.c .bin file");
        }
        // the weights are loaded: a bad tokenizer or a model that fails its checks must not leak them
        Tokenizer tok = null;
        try {
            tok = t == null ? null : Tokenizer.load(t);
            if (tok != null && tok.vocabSize() > ckpt.config().dVocab)
                throw new IllegalArgumentException("tokenizer has " + tok.vocabSize() + " tokens but the model's d_vocab is " + ckpt.config().dVocab);
            return new HookedTransformer(ckpt.config(), ckpt.weights(), tok, backend);
        } catch (RuntimeException e) {
            ckpt.close();
            if (tok != null) tok.close();
            throw e;
        }
    }

    private static Path findLlama2cTokenizer(Path bin) {
        Path dir = bin.toAbsolutePath().getParent();
        Path t = dir.resolve("tokenizer.bin");
        if (Files.exists(t)) return t;
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> toks = s.filter(p -> p.getFileName().toString().matches("tok.*\\.bin")).toList();
            return toks.size() == 1 ? toks.get(0) : null;
        } catch (IOException e) {
            return null;
        }
    }
}
