package dev.lens4j.cli;

import dev.lens4j.analysis.AttributionPatching;
import dev.lens4j.analysis.NeuronScoring;
import dev.lens4j.backend.CpuBackend;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.scan.NeuronScan;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * The Spark jobs (the spark module, found with ServiceLoader so that the core build never needs Spark): `scan
 * --spark MASTER` and `sweep`. Paths are strings so that executors can receive them.
 */
public interface SparkJobs {
    /** How every executor loads the model: the --model options, as given. */
    record ModelSpec(String model, String config, String tokenizer, boolean noProcessWeights, boolean allowNonFinite, Integer threads,
                     String dtype, String device) implements java.io.Serializable {
        /** f32 weights on the CPU. */
        public ModelSpec(String model, String config, String tokenizer, boolean noProcessWeights, boolean allowNonFinite, Integer threads) {
            this(model, config, tokenizer, noProcessWeights, allowNonFinite, threads, "f32", "cpu");
        }

        /** On the CPU. */
        public ModelSpec(String model, String config, String tokenizer, boolean noProcessWeights, boolean allowNonFinite, Integer threads,
                         String dtype) {
            this(model, config, tokenizer, noProcessWeights, allowNonFinite, threads, dtype, "cpu");
        }

        public HookedTransformer load() {
            if (threads != null) CpuBackend.get().setNumThreads(threads);
            LoadOptions opts = (noProcessWeights ? LoadOptions.noProcessing() : LoadOptions.defaults())
                    .config(config == null ? null : Path.of(config)).allowNonFinite(allowNonFinite).dtype(ModelOptions.parseDtype(dtype));
            return HookedTransformer.fromPretrained(Path.of(model), tokenizer == null ? null : Path.of(tokenizer), opts, ModelOptions.parseDevice(device));
        }
    }

    /** The scan of `./lens4j scan`, its documents split into partitions; writes the same outputs into out. */
    void scan(String master, ModelSpec model, List<Path> corpus, NeuronScan.Options options, int partitions, Path out);

    /**
     * Attribution patching over prompt pairs (tokenised and checked; lines number them in the prompt file): per-pair
     * scores as Parquet in out/prompts.parquet; returns their sum, what `attribute --prompts` computes.
     */
    AttributionPatching.Result sweep(String master, ModelSpec model, int[][] clean, int[][] corrupt, int[] answer, int[] wrong, int[] lines,
                                     int partitions, Path out);

    /** A per-prompt sweep's results: each prompt's scalar values in prompt order, and its vector scores summed over prompts. */
    record PromptResults(Map<String, double[]> perPrompt, Map<String, double[]> sums) {}

    /** `score-neurons --prompts` of block layer as a sweep (lines number the prompts): per-prompt rows in out/prompts.parquet. */
    PromptResults scoreNeurons(String master, ModelSpec model, List<NeuronScoring.Prompt> prompts, int[] lines, int layer, int partitions, Path out);

    /** logit(answer) - logit(wrong) and log p(answer) at the last position, one forward per prompt: rows in out/prompts.parquet. */
    PromptResults metric(String master, ModelSpec model, int[][] tokens, int[] answer, int[] wrong, int[] lines, int partitions, Path out);

    /** The Spark jobs, or an error saying how to get them. */
    static SparkJobs find() {
        for (SparkJobs j : ServiceLoader.load(SparkJobs.class)) return j;
        throw new IllegalArgumentException("Spark support is not on the classpath: build the spark module "
                + "(mvn -B -pl spark -am package -DskipTests), and ./lens4j picks it up");
    }
}
