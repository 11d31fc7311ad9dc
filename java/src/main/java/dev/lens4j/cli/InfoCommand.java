package dev.lens4j.cli;

import dev.lens4j.model.HookedTransformer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "info", description = "Print the model's config, parameter count and hook points.")
final class InfoCommand implements Callable<Integer> {
    @Mixin ModelOptions m;

    @Option(names = "--json", description = "print the config as JSON only")
    boolean json;

    @Override public Integer call() {
        try (HookedTransformer model = m.load()) {
            if (json) { System.out.println(model.cfg().toJson()); return 0; }
            System.out.println("model: " + m.model);
            System.out.println("config (TransformerLens HookedTransformerConfig fields):");
            System.out.println(model.cfg().toJson());
            System.out.printf("parameters: %,d%n", model.weights().parameterCount());
            System.out.println("tokenizer: " + (model.hasTokenizer() ? model.tokenizer().vocabSize() + " tokens" : "none"));
            System.out.println("hook points (" + model.hookNames().size() + "):");
            for (String h : model.hookNames()) System.out.println("  " + h);
        }
        return 0;
    }
}
