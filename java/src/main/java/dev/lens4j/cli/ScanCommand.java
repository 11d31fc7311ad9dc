package dev.lens4j.cli;

import dev.lens4j.model.HookedTransformer;
import dev.lens4j.scan.Corpus;
import dev.lens4j.scan.NeuronScan;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;

@Command(name = "scan", description = {
        "A neuroscope over a corpus: for every neuron of the chosen hook points (default every layer's mlp.hook_post), the "
                + "top-k activating (document, position) pairs and count, mean, std, max, fraction > 0. Activations go straight "
                + "from the forward pass to the native capture kernel; memory is constant in the corpus size.",
        "Corpus: text files (one document each) or JSON lines ({\"text\": ...}), as files or directories. Writes DIR/neurons.safetensors, "
                + "DIR/index.json, DIR/docs.jsonl and a static neuron browser DIR/browser/index.html; DIR/checkpoint.safetensors every "
                + "--checkpoint-every batches, from which --resume continues after a kill with exactly the uninterrupted result."})
final class ScanCommand implements Callable<Integer> {
    @Mixin ModelOptions m;

    @Option(names = "--corpus", required = true, arity = "1..*", paramLabel = "PATH") List<Path> corpus;
    @Option(names = "--hooks", defaultValue = "mlp\\.hook_post$", paramLabel = "REGEX",
            description = "hook points to scan (default: every mlp.hook_post); their last dimension is the neurons") String hooks;
    @Option(names = "--top-k", defaultValue = "20", paramLabel = "K") int topK;
    @Option(names = "--context", defaultValue = "24", paramLabel = "N", description = "tokens of context shown before each activation") int context;
    @Option(names = "--max-tokens", paramLabel = "N", description = "stop after N scanned tokens") Long maxTokens;
    @Option(names = "--seq-len", paramLabel = "L", description = "tokens per forward row, BOS included (default: min(n_ctx, 256))") Integer seqLen;
    @Option(names = "--batch", defaultValue = "8", paramLabel = "B", description = "rows per forward (default 8)") int batch;
    @Option(names = "--checkpoint-every", defaultValue = "50", paramLabel = "N", description = "batches between checkpoints (default 50)") int checkpointEvery;
    @Option(names = "--stop-after-batches", hidden = true, defaultValue = "0") long stopAfterBatches;
    @Option(names = "--resume", description = "continue from DIR/checkpoint.safetensors") boolean resume;
    @Option(names = "--out", required = true, paramLabel = "DIR") Path out;
    @Option(names = "--spark", paramLabel = "MASTER", description = "run as a Spark job (local[2], or a cluster's master URL): the "
            + "documents in partitions, each executor loading the model once; a rerun skips the partitions already in DIR/spark-parts") String spark;
    @Option(names = "--partitions", defaultValue = "8", paramLabel = "N", description = "document partitions of a --spark scan (default 8)") int partitions;

    @Override public Integer call() {
        OutDir.check(out, "neurons.safetensors", "index.json", "docs.jsonl", "checkpoint.safetensors"); // before the model loads
        if (maxTokens != null && maxTokens <= 0) throw new IllegalArgumentException("--max-tokens must be > 0");
        Pattern hookRe = Inputs.hookRegex(hooks, "--hooks");
        Corpus c = Corpus.of(corpus);
        if (spark != null && (maxTokens != null || resume))
            throw new IllegalArgumentException("--spark scans the whole corpus (no --max-tokens) and resumes by itself (no --resume)");
        if (spark != null && partitions < 1) throw new IllegalArgumentException("--partitions must be >= 1, got " + partitions);
        SparkJobs jobs = spark != null ? SparkJobs.find() : null; // before the model loads
        try (HookedTransformer model = m.load()) {
            List<String> names = model.hookNames().stream().filter(n -> hookRe.matcher(n).find()).toList();
            if (names.isEmpty()) throw new IllegalArgumentException("--hooks '" + hooks + "' matches no hook point of this model");
            int L = seqLen != null ? seqLen : Math.min(model.cfg().nCtx, 256);
            var options = new NeuronScan.Options(names, topK, L, batch, maxTokens == null ? Long.MAX_VALUE : maxTokens, checkpointEvery, context, stopAfterBatches);
            if (jobs != null) {
                model.close(); // the job loads its own, as each executor does
                jobs.scan(spark, m.spec(), corpus, options, partitions, out);
                System.out.printf("scanned the corpus over %d hook point(s) with Spark (%s); wrote %s%n", names.size(), spark, out);
                return 0;
            }
            NeuronScan scan = new NeuronScan(model, c, options, out);
            boolean tty = System.console() != null;
            scan.run(resume, line -> { if (tty) System.err.print("\r" + line); });
            if (tty) System.err.println();
            System.out.printf("scanned %d tokens over %d hook point(s); wrote %s%n", scan.tokensScanned(), names.size(), out);
        }
        return 0;
    }
}
