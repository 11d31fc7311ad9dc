package dev.lens4j.bench;

import dev.lens4j.hooks.ActivationCache;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Shapes;
import org.bytedeco.javacpp.PointerScope;
import org.openjdk.jmh.annotations.*;
import org.openjdk.jmh.infra.Blackhole;

import java.util.concurrent.TimeUnit;

/**
 * Forward and forward + cache of a GPT-2-small-shaped model (random weights) at batch x seq, next to the same
 * forward in libtorch eager ops, in one JVM. Tokens/s = ops/s * batch * seq.
 * Run: benchmarks/run.sh (or java -jar ... ForwardBench).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx8g", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 2, time = 8)
@Measurement(iterations = 4, time = 10)
public class ForwardBench {
    @Param({"gpt2-small"}) public String shape;
    @Param({"8"}) public int batch;
    @Param({"128"}) public int seq;

    private HookedTransformer model;
    private TorchGpt2 torchModel;
    private int[][] tokens;
    private int[] flat;
    private HookedTransformer.RunOptions fullCache, mlpPostOnly;

    @Setup(Level.Trial)
    public void setup() {
        Config cfg = Shapes.get(shape);
        model = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 1234));
        torchModel = new TorchGpt2(cfg, model.weights());
        tokens = BenchTokens.random(batch, seq, cfg.dVocab, 7);
        flat = BenchTokens.flat(tokens);
        fullCache = new HookedTransformer.RunOptions().cacheAll();
        mlpPostOnly = new HookedTransformer.RunOptions().cacheRegex("mlp\\.hook_post$");
        System.out.printf("%nthreads: lens4j %d, libtorch %d%n", dev.lens4j.backend.CpuBackend.get().numThreads(), TorchGpt2.threads());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        torchModel.close();
        model.close();
    }

    @Benchmark
    public void lens4jForward(Blackhole bh) {
        try (var logits = model.forward(tokens)) { bh.consume(logits.numel()); }
    }

    @Benchmark
    public void lens4jForwardFullCache(Blackhole bh) {
        try (var out = model.run(tokens, fullCache)) {
            ActivationCache c = out.cache();
            bh.consume(c.size());
        }
    }

    @Benchmark
    public void lens4jForwardCacheMlpPost(Blackhole bh) {
        try (var out = model.run(tokens, mlpPostOnly)) { bh.consume(out.cache().size()); }
    }

    @Benchmark
    public void libtorchForward(Blackhole bh) {
        try (PointerScope scope = new PointerScope()) {
            bh.consume(torchModel.forward(flat, batch, seq).numel());
        }
    }
}
