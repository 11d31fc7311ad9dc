package dev.lens4j.studies.numeric;

import dev.lens4j.tokenize.Tokenizer;
import dev.lens4j.tokenize.TokenizerException;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The embedded model's tokenizer: one token per character of the study's prompts (digits, '.', '-', lowercase
 * letters, the template's own characters and Gemma's chat markup characters), plus BOS, a pad token and the answers
 * " Yes" and " No" as single tokens (matched before single characters), so the forced choice is one token each.
 */
public final class CharTokenizer implements Tokenizer {
    public static final int BOS = 0, PAD = 1, YES = 2, NO = 3;
    static final String CHARS = " .-0123456789abcdefghijklmnopqrstuvwxyzQIA:?><_\n";
    private final List<String> vocab = new ArrayList<>();
    private final Map<Character, Integer> ids = new HashMap<>();

    public CharTokenizer() {
        vocab.add("<bos>");
        vocab.add("<pad>");
        vocab.add(" Yes");
        vocab.add(" No");
        for (char c : CHARS.toCharArray()) { ids.put(c, vocab.size()); vocab.add(String.valueOf(c)); }
    }

    @Override public int[] encode(String text) {
        int[] out = new int[text.length()];
        int n = 0;
        for (int i = 0; i < text.length(); ) {
            if (text.startsWith(" Yes", i)) { out[n++] = YES; i += 4; continue; }
            if (text.startsWith(" No", i)) { out[n++] = NO; i += 3; continue; }
            Integer id = ids.get(text.charAt(i));
            if (id == null)
                throw new TokenizerException("the embedded model's character tokenizer has no token for '" + text.charAt(i) + "' (U+"
                        + String.format("%04X", (int) text.charAt(i)) + ") at offset " + i + " of '" + text + "'");
            out[n++] = id;
            i++;
        }
        return java.util.Arrays.copyOf(out, n);
    }

    @Override public String decode(int[] ids) {
        StringBuilder b = new StringBuilder();
        for (int id : ids) b.append(tokenString(id));
        return b.toString();
    }

    @Override public String tokenString(int id) {
        if (id < 0 || id >= vocab.size()) throw new TokenizerException("token id " + id + " is outside [0, " + vocab.size() + ")");
        return vocab.get(id);
    }

    @Override public int vocabSize() { return vocab.size(); }
    @Override public OptionalInt bosTokenId() { return OptionalInt.of(BOS); }
    @Override public OptionalInt eosTokenId() { return OptionalInt.empty(); }
    @Override public OptionalInt padTokenId() { return OptionalInt.of(PAD); }
    @Override public void close() {}
}
