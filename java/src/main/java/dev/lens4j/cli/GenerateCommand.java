package dev.lens4j.cli;

import dev.lens4j.model.HookedTransformer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "generate", description = "Greedy continuation of a prompt (prints only the new text; --prompt \"\" starts from BOS).")
final class GenerateCommand implements Callable<Integer> {
    @Mixin ModelOptions m;

    @Option(names = "--prompt", required = true) String prompt;
    @Option(names = "--max-new-tokens", defaultValue = "50") int maxNewTokens;

    @Override public Integer call() {
        try (HookedTransformer model = m.load()) {
            System.out.println(model.generate(prompt, maxNewTokens));
        }
        return 0;
    }
}
