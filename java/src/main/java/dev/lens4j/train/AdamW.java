package dev.lens4j.train;

import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * torch.optim.AdamW, step for step: decoupled weight decay p *= 1 - lr*wd, then Adam with bias correction
 * p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). Updates exactly the parameters it is given gradients for
 * (the others are frozen). Moments live on the Java heap (the optimizer runs on the host).
 */
public final class AdamW implements AutoCloseable {
    private final double lr, beta1, beta2, eps, weightDecay;
    private final Map<String, float[][]> state = new LinkedHashMap<>();
    private long step;

    public AdamW(double lr, double beta1, double beta2, double eps, double weightDecay) {
        if (!(lr >= 0)) throw new IllegalArgumentException("lr must be >= 0, got " + lr);
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
            throw new IllegalArgumentException("betas must be in [0, 1), got (" + beta1 + ", " + beta2 + ")");
        if (!(eps >= 0)) throw new IllegalArgumentException("eps must be >= 0, got " + eps);
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("weight_decay must be >= 0, got " + weightDecay);
        this.lr = lr; this.beta1 = beta1; this.beta2 = beta2; this.eps = eps; this.weightDecay = weightDecay;
    }

    /** torch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.01. */
    public static AdamW defaults() { return new AdamW(1e-3, 0.9, 0.999, 1e-8, 0.01); }

    public long steps() { return step; }

    /** One step over every parameter that has a gradient in grads. */
    public void step(Weights params, Weights grads) {
        step++;
        double bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
        double stepSize = lr / bc1, bc2Sqrt = Math.sqrt(bc2);
        float decay = (float) (1 - lr * weightDecay), b1 = (float) beta1, b2 = (float) beta2, c1 = (float) (1 - beta1),
                c2 = (float) (1 - beta2), negStep = (float) -stepSize, bc2s = (float) bc2Sqrt, epsF = (float) eps;
        for (String name : grads.names()) {
            Tensor p = params.get(name), g = grads.get(name);
            if (p.numel() != g.numel()) throw new IllegalArgumentException("gradient of '" + name + "' has " + g.numel() + " values, parameter " + p.numel());
            float[][] mv = state.computeIfAbsent(name, k -> new float[][] {new float[(int) p.numel()], new float[(int) p.numel()]});
            // bulk copies to and from heap arrays: per-element FloatBuffer access was ~20x slower
            int n = (int) p.numel();
            float[] pv = scratch(0, n), gv = scratch(1, n), m = mv[0], v = mv[1];
            p.floatPointer().get(pv, 0, n);
            g.floatPointer().get(gv, 0, n);
            // float32 arithmetic in libtorch's order: p *= 1-lr*wd; m = m*b1 + g*(1-b1); v = v*b2 + (1-b2)*g*g;
            // p += (-lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps)
            for (int i = 0; i < n; i++) {
                float gi = gv[i];
                float mi = m[i] * b1 + gi * c1;
                float vi = v[i] * b2 + c2 * gi * gi;
                m[i] = mi;
                v[i] = vi;
                pv[i] = pv[i] * decay + negStep * mi / ((float) Math.sqrt(vi) / bc2s + epsF);
            }
            p.floatPointer().put(pv, 0, n);
        }
    }

    private float[][] scratch = {new float[0], new float[0]};

    private float[] scratch(int i, int n) {
        if (scratch[i].length < n) scratch[i] = new float[n];
        return scratch[i];
    }

    @Override public void close() {
        state.clear();
    }
}
