package dev.lens4j.tokenize;

/** Shared range check so both implementations word the error the same way. */
final class TokenIds {
    private TokenIds() {}

    static void check(int id, int vocabSize) {
        if (id < 0 || id >= vocabSize) {
            throw new TokenizerException("token id " + id + " is outside the vocabulary [0, " + vocabSize + ")");
        }
    }

    static void check(int[] ids, int vocabSize) {
        if (ids == null) throw new TokenizerException("token ids are null");
        for (int id : ids) check(id, vocabSize);
    }
}
