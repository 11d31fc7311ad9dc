package dev.lens4j.studies.numeric;

import dev.lens4j.load.RegularFiles;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Seed 000's comparison pairs: six categories of (a, b) with the truth of "a > b" (numeric for numbers, Python's
 * string order for strings), truth balanced within each category; or a user CSV of a, b, truth, group.
 */
public final class NumericDataset {
    private NumericDataset() {}

    /** The seed's categories, in its order. */
    public static final List<String> CATEGORIES = List.of("integers_equal_len", "integers_diff_len", "decimals_equal_len",
            "decimals_diff_len", "string_equal_len", "string_diff_len");

    /** The seed's template. */
    public static final String TEMPLATE = "Question: Is {a} > {b}? Answer:";

    /** One pair: the question is whether a > b. */
    public record Item(String a, String b, boolean truthYes, String group) {
        public String prompt(String template) { return template.replace("{a}", a).replace("{b}", b); }
    }

    /** n pairs per category (n/2 rounded up with truth Yes), from SplittableRandom(seed). */
    public static List<Item> generate(int n, long seed) {
        if (n < 2) throw new IllegalArgumentException("--n must be >= 2 (each category needs a Yes and a No), got " + n);
        SplittableRandom r = new SplittableRandom(seed);
        List<Item> out = new ArrayList<>(n * CATEGORIES.size());
        for (String cat : CATEGORIES)
            for (int i = 0; i < n; i++) {
                String[] pair = pair(cat, r);
                boolean yes = i % 2 == 0;
                boolean firstGreater = greater(cat, pair[0], pair[1]);
                if (firstGreater != yes) pair = new String[] {pair[1], pair[0]};
                out.add(new Item(pair[0], pair[1], yes, cat));
            }
        return out;
    }

    /** Two different values of a category (in either order). */
    static String[] pair(String cat, SplittableRandom r) {
        while (true) {
            String a, b;
            switch (cat) {
                case "integers_equal_len" -> { int len = 2 + r.nextInt(3); a = digits(len, r); b = digits(len, r); }
                case "integers_diff_len" -> {
                    int la = 1 + r.nextInt(4), lb = 1 + r.nextInt(4);
                    if (la == lb) continue;
                    a = digits(la, r); b = digits(lb, r);
                }
                case "decimals_equal_len", "decimals_diff_len" -> {
                    String whole = Integer.toString(1 + r.nextInt(99));
                    int la = 1 + r.nextInt(3), lb = 1 + r.nextInt(3);
                    if (cat.equals("decimals_equal_len")) lb = la;
                    else if (la == lb) continue;
                    a = whole + "." + fraction(la, r); b = whole + "." + fraction(lb, r);
                    if (new BigDecimal(a).compareTo(new BigDecimal(b)) == 0) continue; // 37.4 vs 37.40
                }
                case "string_equal_len" -> { int len = 3 + r.nextInt(6); a = letters(len, r); b = letters(len, r); }
                case "string_diff_len" -> {
                    int la = 3 + r.nextInt(8), lb = 3 + r.nextInt(8);
                    if (la == lb) continue;
                    a = letters(la, r); b = letters(lb, r);
                }
                default -> throw new IllegalArgumentException("unknown category " + cat);
            }
            if (!a.equals(b)) return new String[] {a, b};
        }
    }

    /** a > b: numerically for integer and decimal categories, by Python's (code point) string order for the rest. */
    static boolean greater(String cat, String a, String b) {
        if (cat.startsWith("integers") || cat.startsWith("decimals")) return new BigDecimal(a).compareTo(new BigDecimal(b)) > 0;
        return a.compareTo(b) > 0;
    }

    private static String digits(int len, SplittableRandom r) {
        StringBuilder s = new StringBuilder().append((char) ('1' + r.nextInt(9)));
        for (int i = 1; i < len; i++) s.append((char) ('0' + r.nextInt(10)));
        return s.toString();
    }

    private static String fraction(int len, SplittableRandom r) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < len; i++) s.append((char) ('0' + r.nextInt(10)));
        return s.toString();
    }

    private static String letters(int len, SplittableRandom r) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < len; i++) s.append((char) ('a' + r.nextInt(26)));
        return s.toString();
    }

    // ------------------------------------------------------------------------------------------ CSV

    /**
     * A user CSV: lines `a,b,truth,group` (an optional header line `a,b,truth,group`; truth yes/no/true/false/1/0;
     * no quoting, so fields hold no commas). Errors name the file and line.
     */
    public static List<Item> readCsv(Path file) throws IOException {
        RegularFiles.requireInput(file, problem -> new IllegalArgumentException("--csv " + file + ": " + problem));
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (java.nio.charset.MalformedInputException e) {
            throw new IllegalArgumentException(file + ": not UTF-8 text");
        }
        List<Item> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) continue;
            if (out.isEmpty() && line.replace(" ", "").equalsIgnoreCase("a,b,truth,group")) continue;
            String where = file + " line " + (i + 1);
            String[] f = line.split(",", -1);
            if (f.length != 4)
                throw new IllegalArgumentException(where + ": expected 4 fields a,b,truth,group, got " + f.length + " ('" + line + "')");
            for (int k = 0; k < 4; k++) {
                f[k] = f[k].strip();
                if (f[k].isEmpty()) throw new IllegalArgumentException(where + ": field " + List.of("a", "b", "truth", "group").get(k) + " is empty");
            }
            boolean truth = switch (f[2].toLowerCase(Locale.ROOT)) {
                case "yes", "true", "1" -> true;
                case "no", "false", "0" -> false;
                default -> throw new IllegalArgumentException(where + ": truth must be yes/no/true/false/1/0, got '" + f[2] + "'");
            };
            out.add(new Item(f[0], f[1], truth, f[3]));
        }
        if (out.isEmpty()) throw new IllegalArgumentException(file + ": no rows (expected lines a,b,truth,group)");
        return out;
    }

    /** The dataset as CSV (what readCsv reads back). */
    public static String toCsv(List<Item> items) {
        StringBuilder s = new StringBuilder("a,b,truth,group\n");
        for (Item it : items) s.append(it.a()).append(',').append(it.b()).append(',').append(it.truthYes() ? "yes" : "no").append(',').append(it.group()).append('\n');
        return s.toString();
    }

    /** Group names in first-appearance order. */
    public static List<String> groups(List<Item> items) {
        return items.stream().map(Item::group).distinct().toList();
    }
}
