package dev.lens4j.hooks;

import dev.lens4j.tensor.Tensor;

/**
 * A forward hook, as TransformerLens's hook(activation, hook): read the activation, modify it in place,
 * or return a replacement of the same shape (return null to keep the activation as it is).
 * The activation is only valid during the call: copy it to keep it (or use runWithCache).
 */
@FunctionalInterface
public interface HookFn {
    Tensor apply(Tensor activation, HookPoint hook);
}
