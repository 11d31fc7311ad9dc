package dev.lens4j.cuda;

import dev.lens4j.backend.Backend;
import dev.lens4j.backend.CpuBackend;
import dev.lens4j.backend.CudaBackend;
import dev.lens4j.hooks.ActivationCache;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.hooks.Positions;
import dev.lens4j.model.GenerateOptions;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.HookedTransformer.RunOptions;
import dev.lens4j.model.Metric;
import dev.lens4j.model.Metrics;
import dev.lens4j.model.PaddedBatch;
import dev.lens4j.model.Weights;
import dev.lens4j.oracle.TinyModels;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static dev.lens4j.cuda.CudaTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The whole model on the (emulated) CUDA backend against the CPU backend, same weights: every hook point of
 * run_with_cache, every hook gradient and every weight gradient of the reverse pass, for tiny random GPT-2, Llama
 * (GQA, rotary, SwiGLU) and Gemma 2 (post norms, soft-capped scores and logits, sliding window, gelu_pytorch_tanh)
 * configs; padded batches (key ranges, per-row positions, last real tokens) and KV-cached generation; device memory.
 */
class CudaModelParityTest {
    static final double TOL = 1e-4; // max |cpu - cuda| <= 1e-4 x max |cpu|, float32 without TF32
    static final int[][] TOKENS = {{1, 5, 9, 2, 7, 3, 11}, {4, 4, 8, 0, 6, 2, 10}};

    static HookedTransformer model(String label, Backend be) {
        TinyModels.Tiny t = TinyModels.build(label, 42);
        return new HookedTransformer(t.cfg(), t.weights().to(be.device()), null, be);
    }

    static void assertCachesMatch(String what, ActivationCache cpu, ActivationCache cuda, CudaBackend be) {
        assertEquals(cpu.keys(), cuda.keys(), what + ": the same names");
        for (String name : cpu.keys()) {
            Tensor c = cuda.get(name);
            assertEquals(be.device(), c.device(), what + " " + name + " stays on the device");
            assertArrayEquals(cpu.get(name).shape(), c.shape(), what + " " + name);
            assertClose(what + " " + name, cpu.get(name).toFloatArray(), c.toFloatArray(), TOL);
        }
    }

    /**
     * Every weight gradient within TOL of the CPU's, relative to its own largest entry; except a gradient that is zero
     * in exact arithmetic (without rotary, b_K: a key bias shifts every score of a query equally, and softmax ignores
     * it), whose CPU entries are rounding noise (below 1e-6 of the largest weight gradient): the device's must be too.
     */
    static void assertWeightGradsMatch(String what, Weights cpu, Weights cuda) {
        assertEquals(cpu.names(), cuda.names());
        double global = 0;
        for (String n : cpu.names()) for (float v : cpu.get(n).toFloatArray()) global = Math.max(global, Math.abs(v));
        for (String n : cpu.names()) {
            float[] a = cpu.get(n).toFloatArray(), b = cuda.get(n).toFloatArray();
            double maxA = 0;
            for (float v : a) maxA = Math.max(maxA, Math.abs(v));
            if (maxA <= 1e-6 * global) { // zero in exact arithmetic (GPT-2's b_K): noise on both
                for (int i = 0; i < b.length; i++) assertTrue(Math.abs(b[i]) <= 1e-6 * global, what + " d/d " + n + " is not ~0 at " + i);
                continue;
            }
            assertClose(what + " d/d " + n, a, b, TOL);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gpt2", "llama", "gemma2-like"})
    void everyHookPointAndGradientMatchesTheCpu(String label) {
        assumeKernels(MODEL_KERNELS);
        CudaBackend cuda = backend();
        long live = Tensor.liveBytes();
        try (HookedTransformer cpu = model(label, CpuBackend.get()); HookedTransformer gpu = model(label, cuda)) {
            assertEquals(cuda.device(), gpu.weights().W_E().device());
            try (var a = cpu.runWithCache(TOKENS); var b = gpu.runWithCache(TOKENS)) {
                assertEquals(cpu.hookNames().size(), a.cache().keys().size());
                assertClose(label + " logits", a.logits().toFloatArray(), b.logits().toFloatArray(), TOL);
                assertCachesMatch(label + " forward", a.cache(), b.cache(), cuda);
            }
            // a last-position metric (its gradient scattered to the last row on the device) and a full-sequence one
            for (Metric metric : List.of(Metrics.logitDiff(new int[] {3, 5}, new int[] {4, 6}), Metrics.nextTokenLoss(TOKENS))) {
                RunOptions o = new RunOptions().cacheAll().cacheAllGrads().allWeightGrads();
                try (var a = cpu.backward(TOKENS, metric, o); var b = gpu.backward(TOKENS, metric, o)) {
                    assertEquals(a.value(), b.value(), TOL * Math.max(1, Math.abs(a.value())), label + " metric");
                    assertCachesMatch(label + " backward cache", a.cache(), b.cache(), cuda);
                    assertCachesMatch(label + " gradients", a.grads(), b.grads(), cuda);
                    assertWeightGradsMatch(label, a.weightGrads(), b.weightGrads());
                }
            }
        }
        assertEquals(live, Tensor.liveBytes(), "no native memory left behind");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"llama", "gpt2"})
    void paddedBatchesAndKvCachedGenerationMatchTheCpu(String label) {
        assumeKernels(MODEL_KERNELS);
        CudaBackend cuda = backend();
        long live = Tensor.liveBytes();
        List<int[]> prompts = List.of(new int[] {1, 5, 9, 2, 7}, new int[] {4, 8});
        try (HookedTransformer cpu = model(label, CpuBackend.get()); HookedTransformer gpu = model(label, cuda)) {
            for (PaddedBatch.Side side : PaddedBatch.Side.values()) {
                PaddedBatch batch = PaddedBatch.of(prompts, side, 0);
                RunOptions o = new RunOptions().cacheAll().cachePositions(Positions.lastReal()).logitsLastOnly(true);
                try (var a = cpu.run(batch, o); var b = gpu.run(batch, o)) {
                    assertClose(label + " " + side + " logits", a.logits().toFloatArray(), b.logits().toFloatArray(), TOL);
                    assertCachesMatch(label + " " + side + " last real positions", a.cache(), b.cache(), cuda);
                }
                Metric metric = Metrics.logitDiff(new int[] {3, 5}, new int[] {4, 6});
                RunOptions g = new RunOptions().cacheAllGrads().allWeightGrads();
                try (var a = cpu.backward(batch, metric, g); var b = gpu.backward(batch, metric, g)) {
                    assertCachesMatch(label + " " + side + " padded gradients", a.grads(), b.grads(), cuda);
                    assertWeightGradsMatch(label + " " + side, a.weightGrads(), b.weightGrads());
                }
            }
            int[][] p = prompts.toArray(new int[0][]);
            GenerateOptions greedy = GenerateOptions.greedy(6).stopAtEos(false);
            int[][] want = cpu.generate(p, greedy), got = gpu.generate(p, greedy);
            for (int i = 0; i < want.length; i++) assertArrayEquals(want[i], got[i], label + " KV-cached greedy generation, prompt " + i);
        }
        assertEquals(live, Tensor.liveBytes(), "no native memory left behind");
    }

    @Test
    void hooksReceiveDeviceTensorsAndEditThemWithTensorOpsOrCopies() {
        assumeKernels(MODEL_KERNELS);
        assumeKernels("binary");
        CudaBackend cuda = backend();
        long live = Tensor.liveBytes();
        try (HookedTransformer cpu = model("gpt2", CpuBackend.get()); HookedTransformer gpu = model("gpt2", cuda)) {
            java.util.List<dev.lens4j.tensor.Device> seen = new java.util.ArrayList<>();
            Hooks hooks = Hooks.none()
                    .add("blocks.1.mlp.hook_post", (act, hp) -> { seen.add(act.device()); return act.mul(0.5f); }) // a device op
                    .add("blocks.0.attn.hook_z", (z, hp) -> { // the slow path: a round trip through Java
                        float[] v = z.toFloatArray();
                        for (int i = 0; i < v.length; i += 12) v[i] = 0f;
                        z.set(v);
                        return null;
                    });
            try (Tensor a = cpu.runWithHooks(TOKENS, hooks); Tensor b = gpu.runWithHooks(TOKENS, hooks); Tensor plain = gpu.forward(TOKENS)) {
                assertEquals(List.of(dev.lens4j.tensor.Device.CPU, cuda.device()), seen);
                assertClose("hooked logits", a.toFloatArray(), b.toFloatArray(), TOL);
                float[] p = plain.toFloatArray(), h = b.toFloatArray();
                double diff = 0;
                for (int i = 0; i < p.length; i++) diff = Math.max(diff, Math.abs(p[i] - h[i]));
                assertTrue(diff > 1e-2, "the hooks changed the run on the device (max change " + diff + ")");
            }
        }
        assertEquals(live, Tensor.liveBytes());
    }

    /**
     * bf16 weights stay bf16 on the device (gemm_bf16, embed_bf16) and give the logits of the same rounded weights
     * widened to float32 on the CPU, to bf16's precision (the GEMM may round activations to bf16 as well).
     */
    @Test
    void bf16WeightsRunOnTheDevice() {
        assumeKernels(MODEL_KERNELS);
        assumeKernels("embed_bf16");
        CudaBackend cuda = backend();
        long live = Tensor.liveBytes();
        TinyModels.Tiny t = TinyModels.build("llama", 42);
        dev.lens4j.load.Bf16Weights.convert(t.weights(), CpuBackend.get());
        Weights widened = new Weights();
        for (String n : t.weights().names()) {
            Tensor w = t.weights().get(n);
            widened.put(n, Tensor.of(w.toFloatArray(), w.shape()));
        }
        try (HookedTransformer cpu = new HookedTransformer(t.cfg(), widened, null, CpuBackend.get());
             HookedTransformer gpu = new HookedTransformer(t.cfg(), t.weights().to(cuda.device()), null, cuda)) {
            assertEquals(dev.lens4j.tensor.DType.BF16, gpu.weights().W_Q(0).dtype(), "bf16 stays bf16 on the device");
            assertEquals(cuda.device(), gpu.weights().W_Q(0).device());
            try (Tensor a = cpu.forward(TOKENS); Tensor b = gpu.forward(TOKENS)) {
                assertClose("bf16 logits", a.toFloatArray(), b.toFloatArray(), 2e-2);
            }
        }
        assertEquals(live, Tensor.liveBytes());
    }

    /**
     * Device memory stays flat over repeated forward + backward runs. A real GPU would run 1,000; the emulation runs
     * every CUDA thread as a fiber on the CPU (~1000x slower), so 50 runs of a 1-layer model keep this to seconds.
     */
    @Test
    void deviceMemoryIsFlatOverRepeatedForwardAndBackward() {
        assumeKernels(MODEL_KERNELS);
        CudaBackend cuda = backend();
        int runs = dev.lens4j.backend.CudaRuntime.loaded() == dev.lens4j.backend.CudaRuntime.Kind.GPU ? 1000 : 50;
        dev.lens4j.model.Config cfg = TinyModels.gpt2Config();
        cfg.nLayers = 1;
        cfg.validate();
        try (HookedTransformer m = new HookedTransformer(cfg, TinyModels.randomWeights(cfg, 3).to(cuda.device()), null, cuda)) {
            Metric metric = Metrics.logitDiff(new int[] {3, 5}, new int[] {4, 6});
            RunOptions o = new RunOptions().cacheRegex("hook_post").cacheGradsRegex("hook_resid_pre");
            long live = 0, free = 0;
            for (int i = 0; i < runs; i++) {
                try (var g = m.backward(TOKENS, metric, o)) { assertTrue(Double.isFinite(g.value())); }
                if (i == 1) { live = Tensor.liveBytes(); free = cuda.memInfo()[0]; } // after warm-up (rotary tables etc.)
            }
            assertEquals(live, Tensor.liveBytes(), "live native bytes after " + runs + " runs");
            assertEquals(free, cuda.memInfo()[0], "free device bytes after " + runs + " runs");
        }
    }
}
