package dev.lens4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A --prompts file: one prompt per line, either plain text (the answers come from the command's options) or a JSON
 * object whose fields ("prompt", "answer", "wrong", "truth", "group", "clean", "corrupt") override the options.
 * Blank lines and lines starting with # are skipped.
 */
final class PromptLines {
    /** One line's fields, with its line number for error messages. */
    record Line(int number, Map<String, String> fields) {
        String get(String key, String fallback) {
            String v = fields.get(key);
            return v != null ? v : fallback;
        }

        String require(String key, String fallback, String option) {
            String v = get(key, fallback);
            if (v == null)
                throw new IllegalArgumentException(number == 0 ? "no " + option + " given" : "line " + number + ": no \"" + key + "\" field and no " + option + " option");
            return v;
        }
    }

    private PromptLines() {}

    static List<Line> read(Path file, String plainKey) {
        List<String> raw;
        try {
            byte[] bytes = Files.readAllBytes(file);
            ByteBuffer in = ByteBuffer.wrap(bytes);
            try {
                raw = StandardCharsets.UTF_8.newDecoder().decode(in).toString().lines().toList();
            } catch (CharacterCodingException e) {
                throw new IllegalArgumentException(file + " line " + lineAt(bytes, in.position()) + ": not valid UTF-8");
            }
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IllegalArgumentException("prompts file " + file + " does not exist");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        ObjectMapper json = new ObjectMapper();
        List<Line> out = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            String s = raw.get(i);
            if (s.isBlank() || s.stripLeading().startsWith("#")) continue;
            Map<String, String> f = new LinkedHashMap<>();
            if (s.stripLeading().startsWith("{")) {
                JsonNode n;
                try {
                    n = json.readTree(s);
                } catch (IOException e) {
                    throw new IllegalArgumentException(file + " line " + (i + 1) + ": not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
                }
                n.fields().forEachRemaining(e -> f.put(e.getKey(), e.getValue().isTextual() ? e.getValue().asText() : e.getValue().toString()));
            } else {
                f.put(plainKey, s);
            }
            out.add(new Line(i + 1, f));
        }
        if (out.isEmpty()) throw new IllegalArgumentException("prompts file " + file + " has no prompts");
        return out;
    }

    /** The 1-based line holding byte offset pos (lines end at \n, \r\n or \r, as String.lines splits them). */
    private static int lineAt(byte[] bytes, int pos) {
        int line = 1;
        for (int i = 0; i < pos && i < bytes.length; i++)
            if (bytes[i] == '\n' || bytes[i] == '\r' && (i + 1 >= bytes.length || bytes[i + 1] != '\n')) line++;
        return line;
    }

    /** --truth / "truth": yes or no (also true / false). */
    static boolean truth(String v, String where) {
        return switch (v.trim().toLowerCase()) {
            case "yes", "true" -> true;
            case "no", "false" -> false;
            default -> throw new IllegalArgumentException(where + ": truth must be yes or no, got '" + v + "'");
        };
    }
}
