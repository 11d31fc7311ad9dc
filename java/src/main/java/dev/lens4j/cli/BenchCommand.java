package dev.lens4j.cli;

import dev.lens4j.backend.CpuBackend;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Shapes;
import dev.lens4j.tensor.MemoryLimits;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.SplittableRandom;
import java.util.concurrent.Callable;

@Command(name = "bench", description = "Tokens/s of a forward pass on random weights of a named shape (quick check; JMH in benchmarks/ for numbers to report).")
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--shape", defaultValue = "gpt2-small", description = "gpt2-small, gpt2-medium, llama-tiny, llama-small")
    String shape;
    @Option(names = "--batch", defaultValue = "8") int batch;
    @Option(names = "--seq", defaultValue = "128") int seq;
    @Option(names = "--mode", defaultValue = "forward", description = "forward | cache (every hook point)") String mode;
    @Option(names = "--iters", defaultValue = "5") int iters;
    @Option(names = "--threads", description = "native threads (default: all cores)") Integer threads;
    @Option(names = "--dtype", defaultValue = "f32", description = "weight matrices: f32 or bf16") String dtype;
    @Option(names = "--device", defaultValue = "cpu", description = "cpu, cuda or cuda-emulated") String device;

    @Override public Integer call() {
        if (!mode.equals("forward") && !mode.equals("cache"))
            throw new IllegalArgumentException("--mode must be forward or cache, got '" + mode + "'");
        if (batch <= 0 || seq <= 0 || iters <= 0) throw new IllegalArgumentException("--batch, --seq and --iters must be > 0");
        if (threads != null) CpuBackend.get().setNumThreads(threads);
        Config cfg = Shapes.get(shape);
        if (seq > cfg.nCtx) throw new IllegalArgumentException("--seq " + seq + " exceeds the shape's n_ctx " + cfg.nCtx);
        MemoryLimits.requireNative(estimateBytes(cfg, batch, seq), "bench --shape " + shape + " --batch " + batch + " --seq " + seq);
        MemoryLimits.requireHeap(MemoryLimits.times(batch, seq, 4), "the token array of --batch " + batch + " x --seq " + seq);
        var weightDtype = ModelOptions.parseDtype(dtype);
        var weights = cfg.isRotary() ? RandomWeights.llama(cfg, 1) : RandomWeights.gpt2(cfg, 1);
        if (weightDtype == dev.lens4j.tensor.DType.BF16) {
            try { dev.lens4j.load.Bf16Weights.convert(weights, CpuBackend.get()); } catch (RuntimeException e) { weights.close(); throw e; }
        }
        dev.lens4j.backend.Backend backend;
        try {
            backend = ModelOptions.parseDevice(device);
            weights.to(backend.device());
        } catch (RuntimeException | Error e) {
            weights.close();
            throw e;
        }
        try (HookedTransformer model = new HookedTransformer(cfg, weights, null, backend)) {
            SplittableRandom r = new SplittableRandom(7);
            int[][] tokens = new int[batch][seq];
            for (int[] row : tokens) for (int i = 0; i < seq; i++) row[i] = r.nextInt(cfg.dVocab);
            var opts = new HookedTransformer.RunOptions();
            if (mode.equals("cache")) opts.cacheAll();
            try (var o = model.run(tokens, opts)) { /* warm-up */ }
            long t0 = System.nanoTime();
            for (int i = 0; i < iters; i++) try (var o = model.run(tokens, opts)) { /* timed */ }
            if (backend instanceof dev.lens4j.backend.CudaBackend cuda) cuda.synchronize();
            double secs = (System.nanoTime() - t0) / 1e9;
            String where = backend.device().isCpu() ? CpuBackend.get().numThreads() + " threads" : device + " (" + dev.lens4j.backend.CudaRuntime.deviceName() + ")";
            System.out.printf("%s %s batch %d x seq %d, %s: %.1f tokens/s (%.1f ms per pass), %s weights%n", shape, mode, batch, seq,
                    where, (double) batch * seq * iters / secs, 1000 * secs / iters, dtype);
        }
        return 0;
    }

    /**
     * Weights plus what one pass holds at its peak, roughly (a lower bound is enough to refuse what cannot fit): per
     * layer the residual stream, q/k/v/z and the MLP activations, attention scores and pattern, all live until the pass
     * ends; then the logits.
     */
    static long estimateBytes(Config c, long batch, long seq) {
        long tokens = MemoryLimits.times(batch, seq);
        long perLayer = MemoryLimits.plus(MemoryLimits.times(tokens, 8L * c.dModel + 3L * c.dMlp),
                MemoryLimits.times(2, batch, c.nHeads, seq, seq));
        long floats = MemoryLimits.plus(c.parameterCountEstimate(), MemoryLimits.times(c.nLayers, perLayer),
                MemoryLimits.times(tokens, c.dVocabOut()));
        return MemoryLimits.times(4, floats);
    }
}
