package dev.lens4j.model;

import dev.lens4j.backend.Backend;
import dev.lens4j.load.Checkpoint;
import dev.lens4j.load.HfCheckpoint;
import dev.lens4j.load.Llama2cCheckpoint;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.load.TorchCheckpoint;
import dev.lens4j.tokenize.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * TL's from_pretrained for local files: a Hugging Face checkpoint directory (config.json + safetensors
 * [+ tokenizer.json]), a llama2.c .bin (tokenizer: given, or tokenizer.bin / a single tok*.bin beside it), a lens4j
 * checkpoint, or a TransformerLens state dict saved with torch.save (.pth / .pt, or a directory holding one, with
 * TL's config JSON).
 */
final class Pretrained {
    private Pretrained() {}

    static HookedTransformer load(Path model, Path tokenizerPath, LoadOptions options, Backend backend) {
        if (model == null) throw new IllegalArgumentException("no model path given");
        if (!Files.exists(model)) throw new IllegalArgumentException("model path does not exist: " + model);
        Checkpoint ckpt;
        Path tokPath;
        if (Files.isDirectory(model)) {
            Path pth = hasSafetensors(model) ? null : TorchCheckpoint.findInDirectory(model);
            if (dev.lens4j.train.Lens4jCheckpoint.isLens4jCheckpoint(model))
                ckpt = dev.lens4j.train.Lens4jCheckpoint.load(model, options); // trained in lens4j: used as saved
            else if (pth != null)
                ckpt = TorchCheckpoint.load(pth, options.config() != null ? options.config() : model.resolve("config.json"));
            else
                ckpt = HfCheckpoint.load(model, options);
            Path t = tokenizerPath != null ? tokenizerPath : model.resolve("tokenizer.json");
            tokPath = tokenizerPath != null || Files.exists(t) ? t : null;
        } else if (TorchCheckpoint.isTorchFile(model)) {
            ckpt = TorchCheckpoint.load(model, options.config()); // a TransformerLens state dict: used as saved
            Path t = tokenizerPath != null ? tokenizerPath : model.toAbsolutePath().getParent().resolve("tokenizer.json");
            tokPath = tokenizerPath != null || Files.exists(t) ? t : null;
        } else if (model.getFileName().toString().endsWith(".bin")) {
            ckpt = Llama2cCheckpoint.load(model, options);
            tokPath = tokenizerPath != null ? tokenizerPath : findLlama2cTokenizer(model);
        } else {
            throw new IllegalArgumentException("unrecognised model path " + model
                    + ": expected a Hugging Face checkpoint directory, a llama2.c .bin file or a torch state dict (.pth/.pt)");
        }
        // from here the weights are loaded: whatever fails frees them
        Tokenizer tok = null;
        try {
            tok = tokPath == null ? null : Tokenizer.load(tokPath);
            if (tok != null && tok.vocabSize() > ckpt.config().dVocab)
                throw new IllegalArgumentException("tokenizer has " + tok.vocabSize() + " tokens but the model's d_vocab is " + ckpt.config().dVocab);
            // processed and rounded on the host, then moved to the backend's device
            if (options.dtype() == dev.lens4j.tensor.DType.BF16) dev.lens4j.load.Bf16Weights.convert(ckpt.weights(), dev.lens4j.backend.CpuBackend.get());
            if (backend != null) ckpt.weights().to(backend.device());
        } catch (RuntimeException | Error e) {
            ckpt.close();
            if (tok != null) tok.close();
            throw e;
        }
        return new HookedTransformer(ckpt.config(), ckpt.weights(), tok, backend); // frees both itself if it fails
    }

    private static boolean hasSafetensors(Path dir) {
        return Files.exists(dir.resolve("model.safetensors")) || Files.exists(dir.resolve("model.safetensors.index.json"));
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
