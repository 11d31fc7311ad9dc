package dev.lens4j.cli;

import dev.lens4j.analysis.NeuronScoring;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

@Command(name = "sweep", description = {
        "A per-prompt job over a large prompt file as a Spark job (the spark module): the prompts split into partitions, each "
                + "executor loading the model once. Writes DIR/prompts.parquet (one row per prompt) and one safetensors file; a rerun "
                + "skips the partitions already committed to DIR/spark-parts.",
        "--kind attribute (default): JSON lines {\"clean\", \"corrupt\", \"answer\", \"wrong\"} (--answer/--wrong are the defaults); "
                + "rows: line, clean_metric, corrupt_metric, mlp_neurons, heads, resid_pre (flattened row-major); DIR/sums.safetensors "
                + "holds their sums, what `attribute --prompts` writes.",
        "--kind score-neurons: JSON lines {\"prompt\", \"truth\", \"yes\", \"no\", \"group\"} (--yes/--no/--truth, --layer as in "
                + "score-neurons); rows: line, group, truth, margin, c; DIR/sums.safetensors holds c and g summed and margin [n], as "
                + "`score-neurons --prompts` writes them (c per prompt is in the Parquet rows).",
        "--kind metric: JSON lines {\"prompt\", \"answer\", \"wrong\"}; rows: line, logit_diff (logit(answer) - logit(wrong) at the "
                + "last position), log_prob (log p(answer) there); DIR/metric.safetensors holds both per prompt [n], in file order."})
final class SweepCommand implements Callable<Integer> {
    @Mixin ModelOptions m;

    @Option(names = "--prompts", required = true, paramLabel = "FILE") Path prompts;
    @Option(names = "--answer", paramLabel = "TEXT") String answer;
    @Option(names = "--wrong", paramLabel = "TEXT") String wrong;
    @Option(names = "--kind", defaultValue = "attribute", paramLabel = "KIND", description = "attribute, score-neurons or metric (default attribute)") String kind;
    @Option(names = "--yes", paramLabel = "TEXT", description = "score-neurons: the yes answer") String yes;
    @Option(names = "--no", paramLabel = "TEXT", description = "score-neurons: the no answer") String no;
    @Option(names = "--truth", paramLabel = "yes|no", description = "score-neurons: the true answer (per line in the file)") String truth;
    @Option(names = "--layer", paramLabel = "L", description = "score-neurons: block to score (default: the last)") Integer layer;
    @Option(names = "--spark", defaultValue = "local[*]", paramLabel = "MASTER", description = "Spark master (default local[*])") String spark;
    @Option(names = "--partitions", defaultValue = "8", paramLabel = "N", description = "prompt partitions (default 8)") int partitions;
    @Option(names = "--out", required = true, paramLabel = "DIR") Path out;

    @Override public Integer call() {
        if (partitions < 1) throw new IllegalArgumentException("--partitions must be >= 1, got " + partitions);
        switch (kind) {
            case "attribute" -> { only("attribute", yes, "--yes", no, "--no", truth, "--truth", layer, "--layer"); attribute(); }
            case "score-neurons" -> { only("score-neurons", answer, "--answer", wrong, "--wrong"); scoreNeurons(); }
            case "metric" -> { only("metric", yes, "--yes", no, "--no", truth, "--truth", layer, "--layer"); metric(); }
            default -> throw new IllegalArgumentException("--kind must be attribute, score-neurons or metric, got '" + kind + "'");
        }
        return 0;
    }

    private void attribute() {
        OutDir.check(out, "sums.safetensors");
        List<PromptLines.Line> lines = PromptLines.read(prompts, "clean", Set.of("clean", "corrupt", "answer", "wrong"));
        SparkJobs jobs = SparkJobs.find();
        AttributePairs p;
        try (HookedTransformer model = m.load()) {
            p = AttributePairs.tokenize(model, lines, answer, wrong);
        }
        var sum = jobs.sweep(spark, m.spec(), p.clean(), p.corrupt(), p.answer(), p.wrong(), numbers(lines), partitions, out);
        AttributeCommand.write(out.resolve("sums.safetensors"), sum, lines.size(), Inputs.meta(m));
    }

    private void scoreNeurons() {
        OutDir.check(out, "sums.safetensors");
        List<PromptLines.Line> lines = PromptLines.read(prompts, "prompt", Set.of("prompt", "truth", "yes", "no", "group"));
        SparkJobs jobs = SparkJobs.find();
        List<NeuronScoring.Prompt> ps;
        int L;
        try (HookedTransformer model = m.load()) {
            L = ScoreNeuronsCommand.layer(model, layer);
            if (model.cfg().attnOnly) throw new IllegalArgumentException("an attention-only model has no MLP neurons to score");
            ps = ScoreNeuronsCommand.prompts(model, lines, yes, no, truth);
        }
        var r = jobs.scoreNeurons(spark, m.spec(), ps, numbers(lines), L, partitions, out);
        Map<String, String> meta = Inputs.meta(m);
        meta.put("layer", Integer.toString(L));
        meta.put("prompts", Integer.toString(ps.size()));
        meta.put("c", "h_j * (W_out[j] . g), truth-aligned, summed over prompts");
        write(out.resolve("sums.safetensors"), Map.of("c", r.sums().get("c"), "g", r.sums().get("g"), "margin", r.perPrompt().get("margin")), meta);
        long right = java.util.Arrays.stream(r.perPrompt().get("margin")).filter(v -> v > 0).count();
        System.out.printf("block %d, %d prompt(s), forced-choice accuracy %.3f; wrote c, g, margin to %s and rows to %s%n", L, ps.size(),
                right / (double) ps.size(), out.resolve("sums.safetensors"), out.resolve("prompts.parquet"));
    }

    private void metric() {
        OutDir.check(out, "metric.safetensors");
        List<PromptLines.Line> lines = PromptLines.read(prompts, "prompt", Set.of("prompt", "answer", "wrong"));
        SparkJobs jobs = SparkJobs.find();
        int n = lines.size();
        AnswerPrompts p;
        try (HookedTransformer model = m.load()) {
            p = AnswerPrompts.tokenize(model, lines, answer, wrong);
        }
        var r = jobs.metric(spark, m.spec(), p.tokens(), p.answer(), p.wrong(), numbers(lines), partitions, out);
        Map<String, String> meta = Inputs.meta(m);
        meta.put("prompts", Integer.toString(n));
        meta.put("logit_diff", "logit(answer) - logit(wrong) at the last position, per prompt in file order");
        meta.put("log_prob", "log p(answer) at the last position, per prompt in file order");
        write(out.resolve("metric.safetensors"), Map.of("logit_diff", r.perPrompt().get("logit_diff"), "log_prob", r.perPrompt().get("log_prob")), meta);
        System.out.printf("%d prompt(s), mean logit_diff %.6f; wrote logit_diff, log_prob to %s and rows to %s%n", n,
                java.util.Arrays.stream(r.perPrompt().get("logit_diff")).average().orElse(0), out.resolve("metric.safetensors"), out.resolve("prompts.parquet"));
    }

    /** Options that belong to one kind only: given with another kind they are a mistake. */
    private void only(String kindName, Object... optionAndName) {
        for (int i = 0; i < optionAndName.length; i += 2)
            if (optionAndName[i] != null)
                throw new IllegalArgumentException(optionAndName[i + 1] + " does not apply to --kind " + kindName);
    }

    private static int[] numbers(List<PromptLines.Line> lines) { return lines.stream().mapToInt(PromptLines.Line::number).toArray(); }

    /** 1-d float tensors by name (sorted, so the file is the same every run). */
    private static void write(Path file, Map<String, double[]> values, Map<String, String> meta) {
        Map<String, Tensor> t = new java.util.TreeMap<>();
        try {
            values.forEach((k, v) -> t.put(k, Tensor.of(Inputs.floats(v), v.length)));
            SafeTensors.write(file, t, meta);
        } finally {
            t.values().forEach(Tensor::close);
        }
    }
}
