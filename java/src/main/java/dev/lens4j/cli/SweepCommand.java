package dev.lens4j.cli;

import dev.lens4j.model.HookedTransformer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

@Command(name = "sweep", description = {
        "Attribution patching over a large prompt file as a Spark job (the spark module): the pairs split into partitions, each "
                + "executor loading the model once. Writes DIR/prompts.parquet (one row per pair: line, clean_metric, corrupt_metric, "
                + "mlp_neurons, heads, resid_pre, flattened row-major) and DIR/sums.safetensors (their sums: what `attribute --prompts` "
                + "writes). A rerun skips the partitions already committed to DIR/spark-parts.",
        "Prompts: JSON lines {\"clean\":..., \"corrupt\":..., \"answer\":..., \"wrong\":...} (--answer/--wrong are the defaults)."})
final class SweepCommand implements Callable<Integer> {
    @Mixin ModelOptions m;

    @Option(names = "--prompts", required = true, paramLabel = "FILE") Path prompts;
    @Option(names = "--answer", paramLabel = "TEXT") String answer;
    @Option(names = "--wrong", paramLabel = "TEXT") String wrong;
    @Option(names = "--spark", defaultValue = "local[*]", paramLabel = "MASTER", description = "Spark master (default local[*])") String spark;
    @Option(names = "--partitions", defaultValue = "8", paramLabel = "N", description = "prompt partitions (default 8)") int partitions;
    @Option(names = "--out", required = true, paramLabel = "DIR") Path out;

    @Override public Integer call() {
        OutDir.check(out, "sums.safetensors");
        if (partitions < 1) throw new IllegalArgumentException("--partitions must be >= 1, got " + partitions);
        List<PromptLines.Line> lines = PromptLines.read(prompts, "clean", Set.of("clean", "corrupt", "answer", "wrong"));
        SparkJobs jobs = SparkJobs.find();
        AttributePairs p;
        try (HookedTransformer model = m.load()) {
            p = AttributePairs.tokenize(model, lines, answer, wrong);
        }
        int[] numbers = lines.stream().mapToInt(PromptLines.Line::number).toArray();
        var sum = jobs.sweep(spark, m.spec(), p.clean(), p.corrupt(), p.answer(), p.wrong(), numbers, partitions, out);
        AttributeCommand.write(out.resolve("sums.safetensors"), sum, lines.size(), Inputs.meta(m));
        return 0;
    }
}
