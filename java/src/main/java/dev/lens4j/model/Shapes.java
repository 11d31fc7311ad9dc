package dev.lens4j.model;

import java.util.LinkedHashMap;
import java.util.Map;

/** Named model shapes for benchmarks (random weights): real architectures' dimensions, no checkpoint needed. */
public final class Shapes {
    private Shapes() {}

    private static final Map<String, java.util.function.Supplier<Config>> SHAPES = new LinkedHashMap<>();

    static {
        SHAPES.put("gpt2-small", () -> gpt2("gpt2-small", 12, 768, 12));
        SHAPES.put("gpt2-medium", () -> gpt2("gpt2-medium", 24, 1024, 16));
        // llama2.c's stories15M dimensions
        SHAPES.put("llama-tiny", () -> llama("llama-tiny", 6, 288, 6, 6, 768, 32000, 256));
        // a small grouped-query Llama
        SHAPES.put("llama-small", () -> llama("llama-small", 12, 768, 12, 4, 2048, 32000, 1024));
    }

    public static Iterable<String> names() { return SHAPES.keySet(); }

    public static Config get(String name) {
        var s = SHAPES.get(name);
        if (s == null) throw new IllegalArgumentException("unknown shape '" + name + "' (known: " + String.join(", ", SHAPES.keySet()) + ")");
        return s.get().validate();
    }

    static Config gpt2(String name, int layers, int d, int heads) {
        Config c = new Config();
        c.modelName = name; c.originalArchitecture = "GPT2LMHeadModel";
        c.nLayers = layers; c.dModel = d; c.nHeads = heads; c.dHead = d / heads; c.dMlp = 4 * d;
        c.dVocab = 50257; c.nCtx = 1024; c.actFn = "gelu_new"; c.normalizationType = "LN"; c.eps = 1e-5;
        return c;
    }

    static Config llama(String name, int layers, int d, int heads, int kvHeads, int dMlp, int vocab, int nCtx) {
        Config c = new Config();
        c.modelName = name; c.originalArchitecture = "LlamaForCausalLM";
        c.nLayers = layers; c.dModel = d; c.nHeads = heads; c.dHead = d / heads; c.nKeyValueHeads = kvHeads;
        c.dMlp = dMlp; c.dVocab = vocab; c.nCtx = nCtx; c.actFn = "silu"; c.normalizationType = "RMS"; c.eps = 1e-5;
        c.positionalEmbeddingType = "rotary"; c.gatedMlp = true; c.finalRms = true;
        return c;
    }
}
