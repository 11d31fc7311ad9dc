package dev.lens4j.cli;

import dev.lens4j.hooks.HookNames;
import dev.lens4j.load.RegularFiles;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "cache", description = "run_with_cache: write every cached activation (batch dim kept) and the logits to safetensors.")
final class CacheCommand implements Callable<Integer> {
    @Mixin ModelOptions m;

    @Option(names = "--prompt", required = true) String prompt;
    @Option(names = "--hooks", paramLabel = "REGEX", description = "cache only hook names matching this regex (found anywhere in the name)")
    String hooks;
    @Option(names = "--no-prepend-bos", description = "do not prepend BOS (TL: prepend_bos=False)") boolean noBos;
    @Option(names = "--out", required = true, paramLabel = "FILE.safetensors") Path out;

    @Override public Integer call() {
        RegularFiles.checkOutput(out); // before the model loads and runs
        var hookFilter = hooks == null ? null : Inputs.hookRegex(hooks, "--hooks"); // before the model loads
        try (HookedTransformer model = m.load()) {
            int[] tokens = model.toTokens(prompt, !noBos);
            var opts = new HookedTransformer.RunOptions();
            if (hookFilter != null) opts.cache(name -> hookFilter.matcher(name).find()); else opts.cacheAll();
            if (hooks != null) HookNames.requireAnyMatch(hooks, model.hookNames(), "--hooks"); // an empty file would be silent
            try (var run = model.run(new int[][] {tokens}, opts)) {
                Map<String, Tensor> tensors = new LinkedHashMap<>(run.cache().asMap());
                tensors.put("logits", run.logits());
                Map<String, String> meta = new LinkedHashMap<>();
                meta.put("model", m.model.toString());
                meta.put("prompt", prompt);
                meta.put("tokens", java.util.Arrays.toString(tokens));
                meta.put("process_weights", Boolean.toString(!m.noProcessWeights));
                meta.put("dtype", m.dtype);
                meta.put("producer", "lens4j 0.1.0");
                SafeTensors.write(out, tensors, meta);
                System.out.printf("wrote %d tensors (%d hook points + logits) for %d tokens to %s%n",
                        tensors.size(), tensors.size() - 1, tokens.length, out);
            }
        }
        return 0;
    }
}
