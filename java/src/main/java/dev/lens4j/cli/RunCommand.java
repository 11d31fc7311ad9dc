package dev.lens4j.cli;

import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.TestPrompt;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "run", description = "TransformerLens's test_prompt: top-k next tokens, and the rank of an answer.")
final class RunCommand implements Callable<Integer> {
    @Mixin ModelOptions m;

    @Option(names = "--prompt", required = true) String prompt;
    @Option(names = "--answer", description = "expected continuation (its first token is ranked)") String answer;
    @Option(names = "--top-k", defaultValue = "10") int topK;
    @Option(names = "--json", description = "machine-readable output") boolean json;

    @Override public Integer call() {
        try (HookedTransformer model = m.load()) {
            TestPrompt r = model.testPrompt(prompt, answer, topK);
            System.out.print(json ? r.toJson() + "\n" : r.format());
        }
        return 0;
    }
}
