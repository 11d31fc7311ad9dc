package dev.lens4j.tokenize;

/**
 * A tokenizer file that is missing or malformed, or a token id outside the vocabulary.
 * Extends IllegalArgumentException because every case is bad input from the caller.
 */
public class TokenizerException extends IllegalArgumentException {
    public TokenizerException(String message) { super(message); }

    public TokenizerException(String message, Throwable cause) { super(message, cause); }
}
