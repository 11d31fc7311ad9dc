package dev.lens4j.train;

import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;
import dev.lens4j.tensor.TensorScope;

import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * torch.optim.AdamW, step for step: decoupled weight decay p *= 1 - lr*wd, then Adam with bias correction
 * p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). Updates exactly the parameters it is given gradients for
 * (the others are frozen). Holds its moment tensors off-heap; close() frees them.
 */
public final class AdamW implements AutoCloseable {
    private final double lr, beta1, beta2, eps, weightDecay;
    private final Map<String, Tensor[]> state = new LinkedHashMap<>();
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
        float decay = (float) (1 - lr * weightDecay);
        for (String name : grads.names()) {
            Tensor p = params.get(name), g = grads.get(name);
            if (p.numel() != g.numel()) throw new IllegalArgumentException("gradient of '" + name + "' has " + g.numel() + " values, parameter " + p.numel());
            Tensor[] mv = state.computeIfAbsent(name, n -> new Tensor[] {
                    TensorScope.detach(Tensor.zeros(p.shape())), TensorScope.detach(Tensor.zeros(p.shape()))});
            FloatBuffer pb = p.floatPointer().asBuffer(), gb = g.floatPointer().asBuffer();
            FloatBuffer mb = mv[0].floatPointer().asBuffer(), vb = mv[1].floatPointer().asBuffer();
            int n = (int) p.numel();
            for (int i = 0; i < n; i++) {
                float gi = gb.get(i);
                float pi = pb.get(i) * decay;
                float mi = (float) (beta1 * mb.get(i) + (1 - beta1) * gi);
                float vi = (float) (beta2 * vb.get(i) + (1 - beta2) * gi * gi);
                mb.put(i, mi);
                vb.put(i, vi);
                pb.put(i, (float) (pi - stepSize * mi / (Math.sqrt(vi) / bc2Sqrt + eps)));
            }
        }
    }

    @Override public void close() {
        for (Tensor[] mv : state.values()) { mv[0].close(); mv[1].close(); }
        state.clear();
    }
}
