package dev.lens4j.bench;

import dev.lens4j.analysis.AttributionPatching;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metric;
import dev.lens4j.model.Metrics;
import dev.lens4j.model.Shapes;
import dev.lens4j.tensor.Tensor;
import org.bytedeco.javacpp.PointerScope;
import org.openjdk.jmh.annotations.*;
import org.openjdk.jmh.infra.Blackhole;

import java.util.concurrent.TimeUnit;

/**
 * All-neuron attribution patching (corrupt forward + clean forward + backward, scores for every MLP neuron, head and
 * residual position) on a GPT-2-small-shaped model, next to the same computation with libtorch autograd in one JVM.
 * Setup prints lens4j's peak native memory with and without weight gradients. Tokens/s = ops/s * batch * seq.
 * Run: benchmarks/run.sh AttributionBench (or java -cp ... dev.lens4j.bench.BenchMain AttributionBench).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx8g", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 2, time = 10)
@Measurement(iterations = 4, time = 15)
public class AttributionBench {
    @Param({"gpt2-small"}) public String shape;
    @Param({"8"}) public int batch;
    @Param({"128"}) public int seq;

    HookedTransformer model;
    TorchGpt2 torchModel;
    int[][] clean, corrupt;
    int[] cleanFlat, corruptFlat, answers, wrongs;
    Metric metric;

    @Setup(Level.Trial)
    public void setup() {
        Config cfg = Shapes.get(shape);
        model = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 1234));
        torchModel = new TorchGpt2(cfg, model.weights());
        BenchTokens.Contrast in = BenchTokens.contrast(batch, seq, cfg.dVocab, 7);
        clean = in.clean();
        corrupt = in.corrupt();
        answers = in.answers();
        wrongs = in.wrongs();
        cleanFlat = BenchTokens.flat(clean);
        corruptFlat = BenchTokens.flat(corrupt);
        metric = Metrics.logitDiff(answers, wrongs);
        System.out.printf("%nthreads: lens4j %d, libtorch %d%n", dev.lens4j.backend.CpuBackend.get().numThreads(), TorchGpt2.threads());
        System.out.println(memoryReport(model, clean, corrupt, metric));
    }

    /** lens4j's peak native bytes above the weights: attribution, and a clean backward without / with weight gradients. */
    static String memoryReport(HookedTransformer model, int[][] clean, int[][] corrupt, Metric metric) {
        double mib = 1 << 20;
        long base = Tensor.liveBytes();
        Tensor.resetPeakBytes();
        AttributionPatching.run(model, clean, corrupt, metric);
        long attr = Tensor.peakBytes() - base;
        Tensor.resetPeakBytes();
        try (var g = model.backward(clean, metric, new HookedTransformer.RunOptions())) { /* no caches, no weight grads */ }
        long bwd = Tensor.peakBytes() - base;
        Tensor.resetPeakBytes();
        try (var g = model.backward(clean, metric, new HookedTransformer.RunOptions().allWeightGrads())) { /* + every weight gradient */ }
        long bwdW = Tensor.peakBytes() - base;
        return String.format("lens4j peak native memory above the %.0f MiB of weights: attribution %.0f MiB, backward %.0f MiB, "
                + "backward with all weight gradients %.0f MiB", base / mib, attr / mib, bwd / mib, bwdW / mib);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        torchModel.close();
        model.close();
    }

    @Benchmark
    public void lens4jAttribution(Blackhole bh) {
        bh.consume(AttributionPatching.run(model, clean, corrupt, metric).mlpNeuron(0, 0));
    }

    @Benchmark
    public void libtorchAttribution(Blackhole bh) {
        try (PointerScope scope = new PointerScope()) {
            bh.consume(torchModel.attribution(cleanFlat, corruptFlat, batch, seq, answers, wrongs)[0].numel());
        }
    }
}
