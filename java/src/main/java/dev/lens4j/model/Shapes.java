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
        return Config.gpt2Family(name, layers, d, heads, 50257, 1024);
    }

    static Config llama(String name, int layers, int d, int heads, int kvHeads, int dMlp, int vocab, int nCtx) {
        return Config.llamaFamily(name, layers, d, heads, kvHeads, dMlp, vocab, nCtx, false);
    }
}
