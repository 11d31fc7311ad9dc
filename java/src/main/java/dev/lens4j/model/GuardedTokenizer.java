package dev.lens4j.model;

import dev.lens4j.tokenize.Tokenizer;

import java.util.OptionalInt;
import java.util.function.Supplier;

/**
 * A model's tokenizer as {@link HookedTransformer#tokenizer()} hands it out: every call holds the model's shared
 * guard, so close() on another thread cannot free a Hugging Face tokenizer's native handle under an encode, and
 * calls after close() throw "model ... is closed". The model owns the tokenizer: close() here does nothing,
 * {@link HookedTransformer#close()} frees it.
 */
final class GuardedTokenizer implements Tokenizer {
    private final Tokenizer inner;
    private final Lifecycle lifecycle;

    GuardedTokenizer(Tokenizer inner, Lifecycle lifecycle) {
        this.inner = inner;
        this.lifecycle = lifecycle;
    }

    private <T> T guarded(Supplier<T> call) {
        try (Lifecycle.Held held = lifecycle.shared()) {
            return call.get();
        }
    }

    @Override public int[] encode(String text) { return guarded(() -> inner.encode(text)); }
    @Override public String decode(int[] ids) { return guarded(() -> inner.decode(ids)); }
    @Override public String decodeAfterBos(int[] ids) { return guarded(() -> inner.decodeAfterBos(ids)); }
    @Override public String tokenString(int id) { return guarded(() -> inner.tokenString(id)); }
    @Override public int vocabSize() { return guarded(inner::vocabSize); }
    @Override public OptionalInt bosTokenId() { return guarded(inner::bosTokenId); }
    @Override public OptionalInt eosTokenId() { return guarded(inner::eosTokenId); }
    @Override public OptionalInt padTokenId() { return guarded(inner::padTokenId); }

    @Override public void close() {}

    /** Frees the tokenizer; called by the model's close() with the exclusive side held. */
    void closeInner() { inner.close(); }

    @Override public String toString() { return inner.toString(); }
}
