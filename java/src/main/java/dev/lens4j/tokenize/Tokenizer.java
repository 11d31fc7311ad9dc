package dev.lens4j.tokenize;

import java.util.OptionalInt;

/** Placeholder until the tokenizer work lands (same signatures). */
public interface Tokenizer extends AutoCloseable {
    int[] encode(String text);
    String decode(int[] ids);
    String tokenString(int id);
    int vocabSize();
    OptionalInt bosTokenId();
    OptionalInt eosTokenId();
    OptionalInt padTokenId();
    @Override default void close() {}
}
