package dev.lens4j.hooks;

import dev.lens4j.tensor.Tensor;

/**
 * A forward hook, as TransformerLens's hook(activation, hook): read the activation, modify it in place,
 * or return a replacement of the same shape (return null to keep the activation as it is).
 * The activation is only valid during the call: copy it to keep it (or use runWithCache).
 * <p>On a CUDA backend the activation lives in device memory: TensorOps (t.mul, t.slice, ...) run on the device, while
 * reading or writing it from Java ({@code toFloatArray}, {@code set}) copies the whole tensor across the bus each call
 * (slow: prefer tensor ops), and element access ({@code get}, {@code put}) throws. A replacement must be on the
 * model's device ({@code t.to(model.backend().device())}).
 */
@FunctionalInterface
public interface HookFn {
    Tensor apply(Tensor activation, HookPoint hook);
}
