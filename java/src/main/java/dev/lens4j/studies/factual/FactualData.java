package dev.lens4j.studies.factual;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.DeserializationFeature;
import dev.lens4j.load.JsonErrors;
import dev.lens4j.load.RegularFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Seed 004's dataset: question/answer rows (optionally a corrupted question) and the True/False answer map. */
public final class FactualData {
    private FactualData() {}

    /** One row; {@code corrupt} (null when absent) is the question with its clue removed, for patching. */
    public record Question(String question, boolean answer, String corrupt, int line) {}

    /** The answer map: texts that mean True and texts that mean False (each must be one token). */
    public record AnswerMap(List<String> trueTexts, List<String> falseTexts) {
        public List<String> texts(boolean label) { return label ? trueTexts : falseTexts; }
    }

    /** The seed's final ten questions (after it dropped "Is Paris larger in area than New York City?"). */
    public static List<Question> seedQuestions() {
        Object[][] rows = {
                {"Is Paris the capital of France?\n", true},
                {"Is Paris the capital of France?\n", true},
                {"Is the Eiffel Tower located in Paris?\n", true},
                {"Is Paris known as the City of Light?\n", true},
                {"Is the Louvre Museum in Rome?\n", false},
                {"Is the official language of Paris English?\n", false},
                {"Is Montmartre a district in Paris?\n", true},
                {"Does Paris have a desert climate?\n", false},
                {"Is the Seine River in Paris?\n", true},
                {"Is the Mona Lisa displayed in Paris?\n", true}};
        List<Question> out = new ArrayList<>();
        for (int i = 0; i < rows.length; i++) out.add(new Question((String) rows[i][0], (Boolean) rows[i][1], null, i + 2));
        return out;
    }

    /** The seed's answer_map.json. */
    public static AnswerMap seedAnswerMap() {
        return new AnswerMap(List.of("Yes", "yes", "Sure", "Correct", "Certainly", "Absolutely", "Indeed", "True", "Yeah", " Yes", "Yep"),
                List.of("No", "no", "Nope", " No", " no", "Wrong", "NO", "False"));
    }

    // ------------------------------------------------------------------ CSV

    /**
     * A CSV with a header row naming {@code question} and {@code answer} (True/False, any case) and optionally
     * {@code corrupt}, as pandas writes it (RFC 4180: fields quoted with ", "" inside quotes, newlines kept inside
     * quotes). Errors name the file, line and column.
     */
    public static List<Question> readCsv(Path file) {
        String text = readText(file, "--questions");
        List<List<String>> rows = new ArrayList<>();
        List<Integer> lines = new ArrayList<>();
        parseCsv(text, file, rows, lines);
        if (rows.isEmpty()) throw new IllegalArgumentException("--questions " + file + ": empty file (expected a header 'question,answer')");
        List<String> header = rows.get(0);
        int q = -1, a = -1, c = -1;
        for (int i = 0; i < header.size(); i++) {
            String h = header.get(i).strip().toLowerCase(Locale.ROOT);
            int col = i + 1;
            switch (h) {
                case "question" -> q = unique(q, i, file, col, h);
                case "answer" -> a = unique(a, i, file, col, h);
                case "corrupt" -> c = unique(c, i, file, col, h);
                case "" -> { if (i != 0) throw at(file, lines.get(0), col, "empty column name"); } // pandas' index column
                default -> throw at(file, lines.get(0), col, "unknown column '" + header.get(i) + "' (expected question, answer, corrupt)");
            }
        }
        if (q < 0 || a < 0) throw at(file, lines.get(0), 1, "the header must name the columns question and answer, got " + header);
        List<Question> out = new ArrayList<>();
        for (int r = 1; r < rows.size(); r++) {
            List<String> row = rows.get(r);
            int line = lines.get(r);
            if (row.size() == 1 && row.get(0).isEmpty()) continue; // a blank line
            if (row.size() != header.size())
                throw at(file, line, Math.min(row.size(), header.size()) + 1, row.size() + " fields, the header has " + header.size());
            String question = row.get(q);
            if (question.isBlank()) throw at(file, line, q + 1, "empty question");
            String ans = row.get(a).strip();
            boolean label;
            if (ans.equalsIgnoreCase("true")) label = true;
            else if (ans.equalsIgnoreCase("false")) label = false;
            else throw at(file, line, a + 1, "answer must be True or False, got '" + row.get(a) + "'");
            String corrupt = c < 0 || row.get(c).isEmpty() ? null : row.get(c);
            out.add(new Question(question, label, corrupt, line));
        }
        if (out.isEmpty()) throw new IllegalArgumentException("--questions " + file + ": no questions after the header");
        return out;
    }

    private static int unique(int seen, int i, Path file, int col, String name) {
        if (seen >= 0) throw at(file, 1, col, "column '" + name + "' appears twice");
        return i;
    }

    private static IllegalArgumentException at(Path file, int line, int col, String what) {
        return new IllegalArgumentException("--questions " + file + ": line " + line + ", column " + col + ": " + what);
    }

    /** RFC 4180 fields; lines[r] is the line a row starts on. */
    private static void parseCsv(String s, Path file, List<List<String>> rows, List<Integer> lines) {
        int line = 1, i = 0, n = s.length();
        if (n > 0 && s.charAt(0) == '\uFEFF') i = 1; // a UTF-8 byte order mark
        while (i < n) {
            List<String> row = new ArrayList<>();
            int rowLine = line;
            while (true) {
                StringBuilder f = new StringBuilder();
                if (i < n && s.charAt(i) == '"') {
                    int openLine = line, col = row.size() + 1;
                    i++;
                    while (true) {
                        if (i >= n) throw at(file, openLine, col, "quoted field is never closed");
                        char ch = s.charAt(i++);
                        if (ch == '"') {
                            if (i < n && s.charAt(i) == '"') { f.append('"'); i++; }
                            else break;
                        } else {
                            if (ch == '\n') line++;
                            f.append(ch);
                        }
                    }
                    if (i < n && s.charAt(i) != ',' && s.charAt(i) != '\n' && s.charAt(i) != '\r')
                        throw at(file, line, col, "text after a closing quote");
                } else {
                    while (i < n && s.charAt(i) != ',' && s.charAt(i) != '\n' && s.charAt(i) != '\r') {
                        if (s.charAt(i) == '"') throw at(file, line, row.size() + 1, "a quote inside an unquoted field");
                        f.append(s.charAt(i++));
                    }
                }
                row.add(f.toString());
                if (i < n && s.charAt(i) == ',') { i++; continue; }
                if (i < n && s.charAt(i) == '\r') i++;
                if (i < n && s.charAt(i) == '\n') { i++; line++; }
                break;
            }
            rows.add(row);
            lines.add(rowLine);
        }
    }

    // ------------------------------------------------------------------ answer map

    /** {"True": [...], "False": [...]} with non-empty lists of non-empty strings; errors name the file, key and entry. */
    public static AnswerMap readAnswerMap(Path file) {
        String text = readText(file, "--answer-map");
        JsonNode root;
        try {
            ObjectMapper json = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                    .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
            root = json.readTree(text);
        } catch (IOException e) {
            throw new IllegalArgumentException("--answer-map " + file + ": " + JsonErrors.describe(e));
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException("--answer-map " + file + ": expected an object {\"True\": [...], \"False\": [...]}");
        List<String> t = null, f = null;
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            var e = it.next();
            switch (e.getKey()) {
                case "True" -> t = texts(file, e.getKey(), e.getValue());
                case "False" -> f = texts(file, e.getKey(), e.getValue());
                default -> throw new IllegalArgumentException("--answer-map " + file + ": unknown key '" + e.getKey() + "' (expected True and False)");
            }
        }
        if (t == null || f == null) throw new IllegalArgumentException("--answer-map " + file + ": needs both keys True and False");
        return new AnswerMap(t, f);
    }

    private static List<String> texts(Path file, String key, JsonNode v) {
        if (!v.isArray() || v.isEmpty()) throw new IllegalArgumentException("--answer-map " + file + ": '" + key + "' must be a non-empty list of strings");
        List<String> out = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            JsonNode x = v.get(i);
            if (!x.isTextual() || x.asText().isEmpty())
                throw new IllegalArgumentException("--answer-map " + file + ": '" + key + "'[" + i + "] must be a non-empty string, got " + x);
            out.add(x.asText());
        }
        return List.copyOf(out);
    }

    private static String readText(Path file, String option) {
        RegularFiles.requireInput(file, why -> new IllegalArgumentException(option + " " + file + ": " + why));
        try {
            byte[] b = Files.readAllBytes(file);
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(option + " " + file + ": not valid UTF-8");
        } catch (IOException e) {
            throw new UncheckedIOException(option + " " + file + ": " + e.getMessage(), e);
        }
    }
}
