package dev.lens4j.bench;

import dev.lens4j.analysis.SecondOrderEffects;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Shapes;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;

import java.util.SplittableRandom;

/**
 * Seed 002's second-order pass for every neuron of a GPT-2-small-shaped model (random weights) on N problems of T
 * tokens: (a) as SecondOrderEffects computes it (per-head projections precomputed, one GEMM per layer and batch) and
 * (b) the naive loop it replaces, transcribing the formula per neuron and per later head (d · w̃ W_V W_O, then the
 * sum over problems and positions). Both read the same cached forward (timed separately). (b) runs on a sample of
 * neurons per layer and is extrapolated to all; the sampled neurons' values are checked to agree with (a).
 * Usage: SecondOrderBench [shape=gpt2-small] [problems=1000] [seq=12] [batch=32] [sample=8] [threads=1]
 */
public final class SecondOrderBench {
    public static void main(String[] args) {
        String shape = args.length > 0 ? args[0] : "gpt2-small";
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 1000;
        int seq = args.length > 2 ? Integer.parseInt(args[2]) : 12;
        int batch = args.length > 3 ? Integer.parseInt(args[3]) : 32;
        int sample = args.length > 4 ? Integer.parseInt(args[4]) : 8;
        dev.lens4j.backend.CpuBackend.get().setNumThreads(args.length > 5 ? Integer.parseInt(args[5]) : 1);
        Config cfg = Shapes.get(shape);
        int L = cfg.nLayers, H = cfg.nHeads, F = cfg.dMlp, d = cfg.dModel, q = seq - 1, T = seq;
        SplittableRandom r = new SplittableRandom(7);
        double[] dir = new double[d];
        for (int j = 0; j < d; j++) dir[j] = r.nextDouble() - 0.5;
        int[][] sampled = new int[L - 1][sample];
        for (int l = 0; l < L - 1; l++) for (int s = 0; s < sample; s++) sampled[l][s] = (int) ((long) s * F / sample + l) % F;
        int kAll = (L - 1) * H;
        float[][] phi = new float[L - 1][n * F];
        float[] g = new float[n * T * kAll];          // a/s for every later head (l' >= 1), for the naive loop
        float[][] p = new float[L - 1][n * sample * T]; // sampled neurons' activations
        try (HookedTransformer model = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 1234));
             SecondOrderEffects so = new SecondOrderEffects(model, dir)) {
            String[] names = so.hookNames().toArray(String[]::new);
            // wall time and this thread's CPU time (native code included): on a loaded shared machine the CPU time is the stable number
            java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
            long forwardNs = 0, gemmNs = 0, forwardCpu = 0, gemmCpu = 0;
            for (int start = 0; start < n; start += batch) {
                int b = Math.min(batch, n - start);
                int[][] tokens = new int[b][seq];
                for (int[] t : tokens) for (int i = 0; i < seq; i++) t[i] = r.nextInt(cfg.dVocab);
                long t0 = System.nanoTime(), c0 = cpu.getCurrentThreadCpuTime();
                try (var out = model.run(tokens, new HookedTransformer.RunOptions().cacheNames(names).noLogits(true))) {
                    long t1 = System.nanoTime(), c1 = cpu.getCurrentThreadCpuTime();
                    for (int l = 0; l < L - 1; l++) System.arraycopy(so.effects(out.cache(), l, q), 0, phi[l], start * F, b * F);
                    long t2 = System.nanoTime(), c2 = cpu.getCurrentThreadCpuTime();
                    forwardNs += t1 - t0;
                    gemmNs += t2 - t1;
                    forwardCpu += c1 - c0;
                    gemmCpu += c2 - c1;
                    try (Tensor gw = so.headWeights(out.cache(), 0, q)) { System.arraycopy(gw.toFloatArray(), 0, g, start * T * kAll, b * T * kAll); }
                    for (int l = 0; l < L - 1; l++) {
                        float[] post = out.cache().get("blocks." + l + ".mlp.hook_post").toFloatArray();
                        for (int bi = 0; bi < b; bi++) for (int s = 0; s < sample; s++) for (int i = 0; i < T; i++)
                            p[l][((start + bi) * sample + s) * T + i] = post[(bi * seq + i) * F + sampled[l][s]];
                    }
                }
            }
            // the naive loop on the sampled neurons
            long t3 = System.nanoTime(), c3 = cpu.getCurrentThreadCpuTime();
            double maxErr = 0, maxAbs = 0;
            Weights w = model.weights();
            boolean ln = "LN".equals(cfg.normalizationType) || "LNPre".equals(cfg.normalizationType);
            for (int l = 0; l < L - 1; l++) {
                float[] wOut = w.get("blocks." + l + ".mlp.W_out").toFloatArray();
                for (int s = 0; s < sample; s++) {
                    int neuron = sampled[l][s];
                    double[] phiNaive = new double[n];
                    for (int lp = l + 1; lp < L; lp++) {
                        float[] wv = w.get("blocks." + lp + ".attn.W_V").toFloatArray(), wo = w.get("blocks." + lp + ".attn.W_O").toFloatArray();
                        Tensor gt = w.getOrNull("blocks." + lp + ".ln1.w");
                        float[] gl = gt == null ? null : gt.toFloatArray();
                        int dh = cfg.dHead;
                        for (int h = 0; h < H; h++) {
                            double mean = 0;
                            for (int e = 0; e < d; e++) mean += wOut[neuron * d + e];
                            mean = ln ? mean / d : 0;
                            double[] v = new double[dh];
                            for (int e = 0; e < d; e++) {
                                double x = (wOut[neuron * d + e] - mean) * (gl == null ? 1 : gl[e]);
                                for (int c = 0; c < dh; c++) v[c] += x * wv[(h * d + e) * dh + c];
                            }
                            double c = 0;
                            for (int e = 0; e < d; e++) {
                                double y = 0;
                                for (int k = 0; k < dh; k++) y += v[k] * wo[(h * dh + k) * d + e];
                                c += y * dir[e];
                            }
                            int col = (lp - 1) * H + h;
                            for (int x = 0; x < n; x++)
                                for (int i = 0; i < T; i++)
                                    phiNaive[x] += p[l][(x * sample + s) * T + i] * g[(x * T + i) * kAll + col] * c;
                        }
                    }
                    for (int x = 0; x < n; x++) {
                        maxErr = Math.max(maxErr, Math.abs(phiNaive[x] - phi[l][x * F + neuron]));
                        maxAbs = Math.max(maxAbs, Math.abs(phiNaive[x]));
                    }
                }
            }
            double naiveSampleS = (System.nanoTime() - t3) / 1e9, naiveSampleCpu = (cpu.getCurrentThreadCpuTime() - c3) / 1e9;
            double naiveAllS = naiveSampleS * F / sample, naiveAllCpu = naiveSampleCpu * F / sample;
            System.out.printf("%s: %d layers x %d neurons, %d heads; %d problems of %d tokens, batch %d, %d native threads%n",
                    shape, L, F, H, n, seq, batch, dev.lens4j.backend.CpuBackend.get().numThreads());
            System.out.printf("forward with the cache (patterns, ln1 scales, hook_post): %.1f s%n", forwardNs / 1e9);
            System.out.printf("second-order effects, all %d neurons with later heads, GEMMs: %.2f s%n", (L - 1) * F, gemmNs / 1e9);
            System.out.printf("naive loop per neuron and head: %.2f s for %d sampled neurons -> %.0f s extrapolated to all; speed-up %.0fx "
                    + "(end to end with the forward: %.0fx)%n", naiveSampleS, sample * (L - 1), naiveAllS, naiveAllS / (gemmNs / 1e9),
                    (naiveAllS + forwardNs / 1e9) / ((gemmNs + forwardNs) / 1e9));
            System.out.printf("CPU seconds (this thread): forward %.1f, GEMM effects %.2f, naive %.2f for the sample -> %.0f for all; speed-up %.0fx "
                    + "(end to end with the forward: %.0fx)%n", forwardCpu / 1e9, gemmCpu / 1e9, naiveSampleCpu, naiveAllCpu, naiveAllCpu / (gemmCpu / 1e9),
                    (naiveAllCpu + forwardCpu / 1e9) / ((gemmCpu + forwardCpu) / 1e9));
            System.out.printf("max |naive - GEMM| on the sample %.2e (max |phi| %.2e)%n", maxErr, maxAbs);
        }
    }
}
