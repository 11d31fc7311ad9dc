package dev.lens4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.model.GenerateOptions;
import dev.lens4j.model.HookedTransformer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "generate", description = "TL's generate: continues each prompt (greedy unless --temperature > 0; prints only the new text; "
        + "--prompt \"\" starts from BOS). Several --prompt options run as one left-padded batch with a KV cache.")
final class GenerateCommand implements Callable<Integer> {
    @Mixin ModelOptions m;

    @Option(names = "--prompt", required = true, description = "a prompt; repeat for several") List<String> prompts;
    @Option(names = "--max-new-tokens", defaultValue = "50") int maxNewTokens;
    @Option(names = "--temperature", defaultValue = "0", description = "0 (default): greedy; > 0: sample from softmax(logits / T)") double temperature;
    @Option(names = "--top-k", description = "sample among the k most likely tokens") Integer topK;
    @Option(names = "--top-p", description = "nucleus sampling: the most likely tokens up to probability p, in (0, 1]") Double topP;
    @Option(names = "--seed", description = "the sampler's seed (same seed, same text)") Long seed;
    @Option(names = "--stop-at-eos", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "stop a prompt at the tokenizer's EOS (default); --no-stop-at-eos runs every prompt to --max-new-tokens") boolean stopAtEos;
    @Option(names = "--eos-token-id", description = "the token id that ends a prompt's text (default: the tokenizer's EOS)") Integer eosTokenId;
    @Option(names = "--no-kv-cache", description = "recompute the whole sequence for each token (same text, O(n^2) work)") boolean noKvCache;
    @Option(names = "--json", description = "print a JSON array of the continuations, one per prompt") boolean json;

    @Override public Integer call() throws Exception {
        if (maxNewTokens < 0) throw new IllegalArgumentException("--max-new-tokens must be >= 0, got " + maxNewTokens);
        if (!(temperature >= 0) || Double.isInfinite(temperature)) throw new IllegalArgumentException("--temperature must be finite and >= 0, got " + temperature);
        if (topK != null && topK <= 0) throw new IllegalArgumentException("--top-k must be > 0, got " + topK);
        if (topP != null && !(topP > 0 && topP <= 1)) throw new IllegalArgumentException("--top-p must be in (0, 1], got " + topP);
        if (temperature == 0 && (topK != null || topP != null || seed != null))
            throw new IllegalArgumentException("--top-k, --top-p and --seed apply to sampling: give --temperature > 0 too");
        GenerateOptions o = (temperature == 0 ? GenerateOptions.greedy(maxNewTokens) : GenerateOptions.sampling(maxNewTokens).temperature(temperature))
                .stopAtEos(stopAtEos).useKvCache(!noKvCache);
        if (topK != null) o.topK(topK);
        if (topP != null) o.topP(topP);
        if (seed != null) o.seed(seed);
        if (eosTokenId != null) o.eosTokenId(eosTokenId);
        try (HookedTransformer model = m.load()) {
            List<String> out = model.generate(prompts, o);
            if (json) System.out.println(new ObjectMapper().writeValueAsString(out));
            else for (String s : out) System.out.println(s);
        }
        return 0;
    }
}
