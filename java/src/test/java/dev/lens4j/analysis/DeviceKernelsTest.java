package dev.lens4j.analysis;

import dev.lens4j.analysis.DeviceKernels.TokenWeights;
import dev.lens4j.backend.CudaRuntime;
import dev.lens4j.model.Metric;
import dev.lens4j.model.Metrics;
import dev.lens4j.nativ.CudaKernels;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Device;
import dev.lens4j.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The analysis kernels behind DeviceKernels, on the CPU and on the emulated CUDA library: hand-computed cases, the
 * formulas written out as loops here, and the Java metrics they stand in for (Metrics.*: value and gradient).
 */
class DeviceKernelsTest {
    /** Allocates tensors on one device and reads them back. */
    interface Place {
        Tensor put(float[] v, long... shape);
        float[] get(Tensor t);
    }

    static final Place CPU = new Place() {
        public Tensor put(float[] v, long... shape) { return Tensor.of(v, shape); }
        public float[] get(Tensor t) { return t.toFloatArray(); }
    };

    /** Device tensors over memory from l4jc_malloc (the emulated library), copied with l4jc_memcpy. */
    static Place cuda() {
        CudaRuntime.load(CudaRuntime.Kind.EMULATED);
        return new Place() {
            public Tensor put(float[] v, long... shape) {
                try (PointerPointer<Pointer> pp = new PointerPointer<>(1); FloatPointer host = new FloatPointer(v)) {
                    CudaRuntime.check(CudaKernels.l4jc_malloc(pp, 4L * Math.max(1, v.length)), "malloc");
                    Pointer p = pp.get(0);
                    CudaRuntime.check(CudaKernels.l4jc_memcpy(p, host, 4L * v.length, 0), "upload");
                    return Tensor.foreign(p, DType.F32, Device.cuda(0), shape, () -> CudaKernels.l4jc_free(p));
                }
            }
            public float[] get(Tensor t) {
                float[] out = new float[(int) t.numel()];
                try (FloatPointer host = new FloatPointer(out.length)) {
                    CudaRuntime.check(CudaKernels.l4jc_synchronize(), "synchronize");
                    CudaRuntime.check(CudaKernels.l4jc_memcpy(host, t.pointer(), 4L * out.length, 1), "download");
                    host.get(out);
                }
                return out;
            }
        };
    }

    static float[] randn(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    static void assertClose(float[] want, float[] got, double tol, String what) {
        assertEquals(want.length, got.length, what + ": length");
        double ref = 1;
        for (float w : want) ref = Math.max(ref, Math.abs(w));
        for (int i = 0; i < want.length; i++)
            assertEquals(want[i], got[i], tol * ref, what + ": element " + i);
    }

    // ------------------------------------------------------------------------------------- neuron scores

    @Test void neuronScoresHandCaseCpu() { neuronScoresHandCase(CPU); }
    @Test void neuronScoresHandCaseEmulatedCuda() { neuronScoresHandCase(cuda()); }

    /** W_out . g = (7, -1) for W_out = [[1, 0, 2], [0, 1, -1]], g = (1, 2, 3); times h = (2, -1): c = (14, 1). */
    static void neuronScoresHandCase(Place at) {
        long live = Tensor.liveBytes();
        try (Tensor h = at.put(new float[] {5, 5, 2, -1}, 1, 2, 2);            // [rows 1, pos 2, d_mlp 2]: last position read
             Tensor w = at.put(new float[] {1, 0, 2, 0, 1, -1}, 2, 3);
             Tensor g = at.put(new float[] {9, 9, 9, 1, 2, 3}, 1, 2, 3);
             Tensor out = at.put(new float[] {99, 99}, 1, 2)) {
            DeviceKernels.neuronScores(h, w, g, out);
            assertArrayEquals(new float[] {14, 1}, at.get(out));
        }
        assertEquals(live, Tensor.liveBytes(), "native bytes leaked");
    }

    @Test void neuronScoresMatchTheFormulaCpu() { neuronScoresMatchTheFormula(CPU); }
    @Test void neuronScoresMatchTheFormulaEmulatedCuda() { neuronScoresMatchTheFormula(cuda()); }

    static void neuronScoresMatchTheFormula(Place at) {
        Random r = new Random(7);
        int rows = 11, S = 3, F = 37, D = 290;  // rows past one 8-row tile, d_model past one 256 chunk
        float[] h = randn(r, rows * F), w = randn(r, F * D), g = randn(r, rows * S * D), want = new float[rows * F];
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < F; j++) {
                double dot = 0;
                for (int d = 0; d < D; d++) dot += (double) w[j * D + d] * g[(b * S + S - 1) * D + d];
                want[b * F + j] = (float) (h[b * F + j] * dot);
            }
        try (Tensor th = at.put(h, rows, F); Tensor tw = at.put(w, F, D); Tensor tg = at.put(g, rows, S, D);
             Tensor out = at.put(new float[rows * F], rows, F)) {
            DeviceKernels.neuronScores(th, tw, tg, out);
            assertClose(want, at.get(out), 1e-5, "neuron scores");
        }
    }

    @Test
    void neuronScoresRefuseMismatchedShapes() {
        try (Tensor h = Tensor.zeros(2, 4); Tensor w = Tensor.zeros(4, 3); Tensor g = Tensor.zeros(2, 5); Tensor out = Tensor.zeros(2, 4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DeviceKernels.neuronScores(h, w, g, out));
            assertEquals("g must be [rows, 3] or [rows, pos, 3], got [2, 5]", e.getMessage());
            try (Tensor g3 = Tensor.zeros(3, 3)) {
                e = assertThrows(IllegalArgumentException.class, () -> DeviceKernels.neuronScores(h, w, g3, out));
                assertEquals("h has 2 rows, g 3", e.getMessage());
            }
        }
    }

    // ------------------------------------------------------------------------------------- attribution

    @Test void attributionReduceCpu() { attributionReduce(CPU); }
    @Test void attributionReduceEmulatedCuda() { attributionReduce(cuda()); }

    /** Every dimension but keepDim summed, for the three shapes attribution patching reduces (and a hand case). */
    static void attributionReduce(Place at) {
        // [1, 2, 2] keep dim 1: ((3 - 1) * 2 + (0 - 1) * 4, (1 - 1) * 5 + (2 - 0) * -1) = (0, -2)
        try (Tensor clean = at.put(new float[] {1, 1, 1, 0}, 1, 2, 2); Tensor corrupt = at.put(new float[] {3, 0, 1, 2}, 1, 2, 2);
             Tensor grad = at.put(new float[] {2, 4, 5, -1}, 1, 2, 2); Tensor out = at.put(new float[] {7, 7}, 2)) {
            DeviceKernels.attributionReduce(clean, corrupt, grad, 1, out);
            assertArrayEquals(new float[] {0, -2}, at.get(out));
        }
        Random r = new Random(3);
        long[][] shapes = {{2, 5, 37}, {2, 5, 3, 33}, {3, 7, 40}};  // neurons, heads, resid positions
        int[] keep = {2, 2, 1};
        for (int s = 0; s < shapes.length; s++) {
            long[] shape = shapes[s];
            int n = (int) Tensor.numel(shape), k = keep[s], len = (int) shape[k];
            long inner = 1;
            for (int d = k + 1; d < shape.length; d++) inner *= shape[d];
            float[] a = randn(r, n), b = randn(r, n), g = randn(r, n), diff = new float[n], want = new float[len];
            double[] acc = new double[len];
            for (int e = 0; e < n; e++) {
                diff[e] = b[e] - a[e];
                acc[(int) (e / inner % len)] += (double) diff[e] * g[e];
            }
            for (int j = 0; j < len; j++) want[j] = (float) acc[j];
            try (Tensor ta = at.put(a, shape); Tensor tb = at.put(b, shape); Tensor tg = at.put(g, shape); Tensor td = at.put(diff, shape);
                 Tensor out = at.put(new float[len], len)) {
                DeviceKernels.attributionReduce(ta, tb, tg, k, out);
                assertClose(want, at.get(out), 1e-5, "attribution " + s);
                DeviceKernels.attributionReduce(null, td, tg, k, out);
                assertClose(want, at.get(out), 1e-5, "attribution from the difference " + s);
            }
        }
    }

    // ------------------------------------------------------------------------------------- metrics

    @Test void metricsEqualTheJavaMetricsCpu() { metricsEqualTheJavaMetrics(CPU); }
    @Test void metricsEqualTheJavaMetricsEmulatedCuda() { metricsEqualTheJavaMetrics(cuda()); }

    /** Each metric's per-row values sum to the Java Metric's value, and the gradients are the same arrays. */
    static void metricsEqualTheJavaMetrics(Place at) {
        Random r = new Random(11);
        int B = 3, P = 4, V = 50;
        float[] logits = randn(r, B * P * V);
        int[] answers = {3, 7, 9}, wrongs = {4, 4, 8}, setA = {1, 2, 2, 30}, setB = {5, 49};
        boolean[] truth = {true, false, true};
        compare(at, logits, B, P, V, TokenWeights.logitDiff(answers, wrongs, B), Metrics.logitDiff(answers, wrongs), false);
        compare(at, logits, B, P, V, TokenWeights.logitDiff(new int[] {3}, new int[] {4}, B), Metrics.logitDiff(3, 4), false);
        compare(at, logits, B, P, V, TokenWeights.forcedChoice(answers, wrongs, truth), Metrics.forcedChoiceMargin(answers, wrongs, truth), false);
        compare(at, logits, B, P, V, TokenWeights.setDiff(setA, setB), Metrics.logitSetDiff(setA, setB), false);
        compare(at, logits, B, P, V, TokenWeights.setSumDiff(setA, setB), Metrics.probSetDiff(setA, setB), true);
    }

    @Test
    void metricsRefuseBadArgumentsBeforeNativeCode() {
        try (Tensor lg = Tensor.zeros(2, 3, 10); Tensor value = Tensor.zeros(2); Tensor wrongValue = Tensor.zeros(3)) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> DeviceKernels.logitMetric(lg, TokenWeights.logitDiff(new int[] {1}, new int[] {10}, 2), value, null));
            assertEquals("token 10 is outside the vocabulary [0, 10)", e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> DeviceKernels.probMetric(lg, TokenWeights.logitDiff(new int[] {1, 2, 3}, new int[] {4}, 3), value, null));
            assertEquals("3 token lists for 2 rows (give 1 or 2)", e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> DeviceKernels.logitMetric(lg, TokenWeights.setDiff(new int[] {1}, new int[] {2}), wrongValue, null));
            assertEquals("metric value: expected shape [2], got [3]", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> TokenWeights.logitDiff(new int[] {1, 2}, new int[] {3}, 3));
            assertEquals("2 and 1 tokens for a batch of 3 (give 1 or 3)", e.getMessage());
        }
    }

    static void compare(Place at, float[] logits, int B, int P, int V, TokenWeights tw, Metric javaMetric, boolean prob) {
        float[] wantGrad = new float[logits.length];
        double want = javaMetric.evaluate(logits, B, P, V, wantGrad);
        try (Tensor lg = at.put(logits, B, P, V); Tensor value = at.put(new float[B], B); Tensor dl = at.put(new float[logits.length], B, P, V)) {
            if (prob) DeviceKernels.probMetric(lg, tw, value, dl);
            else DeviceKernels.logitMetric(lg, tw, value, dl);
            double got = 0;
            for (float v : at.get(value)) got += v;
            assertEquals(want, got, 1e-5 * Math.max(1, Math.abs(want)), javaMetric + " value");
            assertClose(wantGrad, at.get(dl), 1e-6, "gradient");
        }
    }
}
