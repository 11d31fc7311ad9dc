package dev.lens4j.model;

/** A forward pass produced NaN or infinite logits; the message names the first hook point where they appear. */
public class NonFiniteException extends ArithmeticException {
    public NonFiniteException(String message) { super(message); }
}
