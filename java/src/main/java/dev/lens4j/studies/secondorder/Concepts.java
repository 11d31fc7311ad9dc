package dev.lens4j.studies.secondorder;

import dev.lens4j.load.RegularFiles;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The concept dictionary for the sparse decomposition: seed 002's math concepts plus number and operator words
 * by default, or a file with one concept per line (UTF-8; blank lines and lines starting with '#' are skipped).
 */
public final class Concepts {
    private Concepts() {}

    /** Seed 002's list, verbatim. */
    public static final List<String> SEED = List.of("addition", "multiplication", "division", "subtraction", "prime numbers",
            "even numbers", "odd numbers", "if-then logic", "negation", "quantification", "error checking", "intermediate steps");

    /** Words the problems themselves use (digits, operators, answers), so the dictionary can name what the task reads. */
    public static final List<String> WORDS = List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "plus", "minus", "times",
            "equals", "+", "-", "*", "=", "greater", "less", "even", "odd", "Yes", "No", "true", "false", "not", "and", "or");

    public static List<String> defaults() {
        List<String> all = new ArrayList<>(SEED);
        all.addAll(WORDS);
        return all;
    }

    static final int MAX_LENGTH = 200, MAX_CONCEPTS = 100_000;

    /** Reads a concepts file; a bad line is named (file:line) with what is wrong. */
    public static List<String> read(Path file) {
        RegularFiles.requireInput(file, p -> new IllegalArgumentException("--concepts " + file + ": " + p));
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("--concepts " + file + ": cannot read (" + e.getMessage() + ")");
        }
        var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        List<String> out = new ArrayList<>();
        Map<String, Integer> seen = new HashMap<>();
        int start = 0, line = 0;
        while (start <= bytes.length) {
            int end = start;
            while (end < bytes.length && bytes[end] != '\n') end++;
            line++;
            String text;
            try {
                text = decoder.decode(ByteBuffer.wrap(bytes, start, end - start)).toString();
            } catch (CharacterCodingException e) {
                throw bad(file, line, "not valid UTF-8");
            }
            if (text.endsWith("\r")) text = text.substring(0, text.length() - 1);
            String t = text.strip();
            if (!t.isEmpty() && !t.startsWith("#")) {
                if (t.length() > MAX_LENGTH) throw bad(file, line, "concept is " + t.length() + " characters long (at most " + MAX_LENGTH + ")");
                for (int i = 0; i < t.length(); i++)
                    if (Character.isISOControl(t.charAt(i)))
                        throw bad(file, line, "control character U+" + String.format("%04X", (int) t.charAt(i)) + " in the concept");
                Integer prev = seen.putIfAbsent(t, line);
                if (prev != null) throw bad(file, line, "concept '" + t + "' repeats line " + prev);
                if (out.size() >= MAX_CONCEPTS) throw bad(file, line, "more than " + MAX_CONCEPTS + " concepts");
                out.add(t);
            }
            start = end + 1;
        }
        if (out.isEmpty()) throw new IllegalArgumentException("--concepts " + file + ": no concepts (every line is blank or a # comment)");
        return out;
    }

    private static IllegalArgumentException bad(Path file, int line, String what) {
        return new IllegalArgumentException("--concepts " + file + ":" + line + ": " + what);
    }
}
