package dev.lens4j.train;

import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** lens4j's AdamW against torch.optim.AdamW (libtorch) on the same parameters and gradients. */
class AdamWTest {
    static {
        try {
            Loader.cacheResources(torch.class, "/org/bytedeco/pytorch/" + Loader.getPlatform() + "/");
        } catch (Exception e) { throw new IllegalStateException(e); }
        Loader.load(torch.class);
    }

    @Test
    void matchesTorchAdamWOverSeveralSteps() {
        double lr = 1e-2, b1 = 0.9, b2 = 0.98, eps = 1e-8, wd = 1.0;
        SplittableRandom r = new SplittableRandom(3);
        int n = 257;
        float[] p0 = new float[n];
        for (int i = 0; i < n; i++) p0[i] = (float) (r.nextDouble() * 2 - 1);
        try (Weights params = new Weights(); Weights grads = new Weights(); AdamW ours = new AdamW(lr, b1, b2, eps, wd);
             PointerScope scope = new PointerScope()) {
            params.put("w", Tensor.of(p0.clone(), n));
            grads.put("w", Tensor.zeros(n));
            org.bytedeco.pytorch.Tensor tp = torch.from_blob(new FloatPointer(p0), n).clone();
            tp.set_requires_grad(true);
            AdamWOptions o = new AdamWOptions(lr);
            // std::tuple<double, double> is laid out last-element-first by libstdc++
            o.betas().put(0, b2).put(1, b1);
            o.eps().put(eps);
            o.weight_decay().put(wd);
            org.bytedeco.pytorch.AdamW theirs = new org.bytedeco.pytorch.AdamW(new TensorVector(tp), o);
            for (int step = 0; step < 5; step++) {
                float[] g = new float[n];
                for (int i = 0; i < n; i++) g[i] = (float) (r.nextDouble() * 2 - 1) * (step + 1);
                grads.get("w").set(g);
                ours.step(params, grads);
                // grad is undefined until a backward pass: d/dp sum(p * g) = g
                theirs.zero_grad();
                tp.mul(torch.from_blob(new FloatPointer(g), n).clone()).sum().backward();
                theirs.step();
                float[] want = new float[n];
                tp.detach().contiguous().data_ptr_float().get(want);
                float[] got = params.get("w").toFloatArray();
                for (int i = 0; i < n; i++)
                    assertEquals(want[i], got[i], 1e-7 * Math.max(1, Math.abs(want[i])), "step " + step + " element " + i);
            }
            assertEquals(5, ours.steps());
        }
    }

    @Test
    void rejectsBadHyperparameters() {
        assertThrows(IllegalArgumentException.class, () -> new AdamW(-1, 0.9, 0.98, 1e-8, 1));
        assertThrows(IllegalArgumentException.class, () -> new AdamW(1e-3, 1.0, 0.98, 1e-8, 1));
        assertThrows(IllegalArgumentException.class, () -> new AdamW(1e-3, 0.9, 0.98, 1e-8, -1));
    }
}
