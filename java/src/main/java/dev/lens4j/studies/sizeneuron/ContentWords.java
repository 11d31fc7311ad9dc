package dev.lens4j.studies.sizeneuron;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The seed's "most frequent words in the text examples the neuron is highly activated on, ignoring grammatical words
 * like 'or', 'the', 'for'": words are runs of letters (apostrophes inside allowed), lower-cased; a fixed English
 * function-word list and words under 3 letters are dropped.
 */
public final class ContentWords {
    private ContentWords() {}

    public record Count(String word, int count) {}

    static final Set<String> STOP = Set.of(
            "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was", "one", "our", "out", "has", "him",
            "his", "how", "its", "may", "she", "who", "did", "get", "got", "let", "too", "use", "yes", "nor", "off", "own", "per", "via",
            "this", "that", "with", "from", "they", "them", "then", "than", "there", "their", "these", "those", "what", "when", "where",
            "which", "while", "will", "would", "could", "should", "shall", "might", "must", "have", "been", "being", "were", "into",
            "onto", "upon", "over", "under", "about", "after", "before", "again", "also", "just", "only", "very", "some", "such",
            "each", "both", "more", "most", "other", "same", "here", "because", "until", "through", "during", "above", "below",
            "between", "does", "doing", "done", "your", "yours", "ours", "hers", "himself", "herself", "itself", "themselves",
            "myself", "yourself", "whom", "whose", "why", "so", "if", "or", "an", "as", "at", "be", "by", "do", "he", "in", "is", "it",
            "me", "my", "no", "of", "on", "to", "up", "us", "we", "said", "says", "like", "well", "even", "still", "much", "many",
            "every", "ever", "never", "now", "down", "don", "didn", "doesn", "isn", "wasn", "way", "went", "came", "come", "make", "made");

    /** Content words of the texts by count, most frequent first (ties alphabetical), at most {@code k}. */
    public static List<Count> top(List<String> texts, int k) {
        Map<String, Integer> counts = new HashMap<>();
        for (String t : texts) for (String w : words(t)) counts.merge(w, 1, Integer::sum);
        List<Count> out = new ArrayList<>();
        counts.forEach((w, c) -> out.add(new Count(w, c)));
        out.sort((a, b) -> a.count() != b.count() ? Integer.compare(b.count(), a.count()) : a.word().compareTo(b.word()));
        return out.subList(0, Math.min(k, out.size()));
    }

    /** The content words of one text, in order. */
    static List<String> words(String text) {
        List<String> out = new ArrayList<>();
        StringBuilder w = new StringBuilder();
        for (int i = 0; i <= text.length(); i++) {
            char c = i < text.length() ? text.charAt(i) : ' ';
            if (Character.isLetter(c) || (c == '\'' && w.length() > 0 && i + 1 < text.length() && Character.isLetter(text.charAt(i + 1)))) {
                w.append(c);
            } else if (w.length() > 0) {
                String s = w.toString().toLowerCase(Locale.ROOT);
                int q = s.indexOf('\'');
                if (q > 0) s = s.substring(0, q);            // "neuron's" -> "neuron", "don't" -> "don"
                if (s.length() >= 3 && !STOP.contains(s)) out.add(s);
                w.setLength(0);
            }
        }
        return out;
    }
}
