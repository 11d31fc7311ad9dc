package dev.lens4j.cli;

import dev.lens4j.hooks.HookNames;
import dev.lens4j.load.RegularFiles;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metrics;
import dev.lens4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

@Command(name = "grads", description = {
        "Gradient of logit(answer) - logit(wrong) at the last position under every hook name, written to safetensors "
                + "(TL's run_with_cache(incl_bwd=True); ln hooks hold the total gradient).",
        "Answers are tokenised after the prompt and must be single tokens.",
        "With --prompts FILE (one prompt per line, or JSON lines {\"prompt\":..., \"answer\":..., \"wrong\":...}; "
                + "--answer/--wrong are the defaults) the metric is summed over the prompts, which must have one token length; "
                + "each tensor keeps one row per prompt (row b is the gradient of prompt b's logit difference)."})
final class GradsCommand implements Callable<Integer> {
    @Mixin ModelOptions m;

    @Option(names = "--prompt") String prompt;
    @Option(names = "--prompts", paramLabel = "FILE") Path prompts;
    @Option(names = "--answer", paramLabel = "TEXT") String answer;
    @Option(names = "--wrong", paramLabel = "TEXT") String wrong;
    @Option(names = "--hooks", paramLabel = "REGEX", description = "keep only hook names matching this regex") String hooks;
    @Option(names = "--out", required = true, paramLabel = "FILE.safetensors") Path out;

    @Override public Integer call() {
        RegularFiles.checkOutput(out); // before the model loads and runs
        List<PromptLines.Line> lines = Inputs.lines(prompt, prompts, "prompt", "--prompt", Set.of("prompt", "answer", "wrong"));
        var hookFilter = hooks == null ? null : Inputs.hookRegex(hooks, "--hooks");
        try (HookedTransformer model = m.load()) {
            int n = lines.size();
            AnswerPrompts ap = AnswerPrompts.tokenize(model, lines, answer, wrong);
            int[][] tokens = ap.tokens();
            int[] a = ap.answer(), w = ap.wrong();
            Inputs.oneLength(tokens, lines, "grads keeps positions");
            var opts = new HookedTransformer.RunOptions();
            if (hookFilter != null) opts.cacheGrads(name -> hookFilter.matcher(name).find()); else opts.cacheAllGrads();
            if (hooks != null) HookNames.requireAnyMatch(hooks, model.hookNames(), "--hooks"); // an empty file would be silent
            try (var g = model.backward(tokens, Metrics.logitDiff(a, w), opts)) {
                Map<String, Tensor> tensors = new LinkedHashMap<>(); // forward order (the reverse pass fills them backwards)
                for (String h : model.hookNames()) if (g.grads().has(h)) tensors.put(h, g.grads().get(h));
                Map<String, String> meta = Inputs.meta(m);
                meta.put("metric", "logit(answer) - logit(wrong) at the last position, summed over " + n + " prompt(s)");
                meta.put("metric_value", Double.toString(g.value()));
                meta.put("answer_tokens", Arrays.toString(a));
                meta.put("wrong_tokens", Arrays.toString(w));
                if (n == 1) meta.put("tokens", Arrays.toString(tokens[0]));
                SafeTensors.write(out, tensors, meta);
                System.out.printf("logit difference %.6f; wrote gradients at %d hook points for %d prompt(s) of %d tokens to %s%n",
                        g.value(), tensors.size(), n, tokens[0].length, out);
            }
        }
        return 0;
    }
}
