package dev.lens4j.cli;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.load.JsonErrors;
import dev.lens4j.load.RegularFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A --prompts file: one prompt per line, either plain text (the answers come from the command's options) or a JSON
 * object whose fields override the options (which fields a command reads is its own list; others are an error).
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

    // a JSON line is one object and nothing else: trailing text or a repeated field is a mistake, not something to guess at
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private PromptLines() {}

    /** Reads a file whose JSON lines may hold the given fields ("truth" may also be a JSON boolean). */
    static List<Line> read(Path file, String plainKey, Set<String> fields) {
        byte[] bytes;
        // a FIFO or device would block or never end: read regular files only
        if (Files.exists(file)) RegularFiles.requireInput(file, problem -> new IllegalArgumentException("prompts file " + file + ": " + problem));
        try {
            bytes = Files.readAllBytes(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IllegalArgumentException("prompts file " + file + " does not exist");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        List<String> raw = lines(file, bytes);
        List<Line> out = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            String s = raw.get(i), t = s.strip();
            if (t.isEmpty() || t.startsWith("#")) continue;
            String where = file + " line " + (i + 1);
            Map<String, String> f = new LinkedHashMap<>();
            if (t.startsWith("{")) {
                JsonNode n;
                try {
                    n = JSON.readTree(s);
                } catch (IOException e) {
                    throw new IllegalArgumentException(where + ": not a valid JSON object (" + JsonErrors.describe(e) + ")");
                }
                fields(n, where, fields, f);
            } else if (t.startsWith("[") && isJsonArray(s)) {
                throw new IllegalArgumentException(where + ": a JSON array; give one prompt per line as plain text or as an object such as {\""
                        + plainKey + "\": \"...\"}");
            } else {
                f.put(plainKey, s);
            }
            out.add(new Line(i + 1, f));
        }
        if (out.isEmpty()) throw new IllegalArgumentException("prompts file " + file + " has no prompts");
        return out;
    }

    private static void fields(JsonNode n, String where, Set<String> known, Map<String, String> out) {
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey();
            JsonNode v = e.getValue();
            if (!known.contains(key))
                throw new IllegalArgumentException(where + ": unknown field \"" + key + "\" (this command reads " + String.join(", ", new TreeSet<>(known)) + ")");
            if (v.isTextual()) out.put(key, v.asText());
            else if (key.equals("truth") && v.isBoolean()) out.put(key, v.asText());
            else throw new IllegalArgumentException(where + ": field \"" + key + "\" must be a string, got " + (v.isNull() ? "null" : v.getNodeType().name().toLowerCase() + " " + v));
        }
    }

    private static boolean isJsonArray(String s) {
        try {
            return JSON.readTree(s).isArray();
        } catch (IOException e) {
            return false; // text that merely starts with '[' (e.g. "[INST] ...") is a plain prompt
        }
    }

    /** The file's lines, decoded as strict UTF-8 (\n, \r\n or \r end a line; a leading byte-order mark is dropped). */
    private static List<String> lines(Path file, byte[] bytes) {
        List<String> out = new ArrayList<>();
        int start = bytes.length >= 3 && (bytes[0] & 0xff) == 0xEF && (bytes[1] & 0xff) == 0xBB && (bytes[2] & 0xff) == 0xBF ? 3 : 0;
        CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        for (int i = start; i <= bytes.length; i++) {
            if (i < bytes.length && bytes[i] != '\n' && bytes[i] != '\r') continue;
            ByteBuffer in = ByteBuffer.wrap(bytes, start, i - start);
            CharBuffer chars = CharBuffer.allocate(i - start);
            utf8.reset();
            CoderResult r = utf8.decode(in, chars, true);
            if (!r.isError()) r = utf8.flush(chars);
            if (r.isError())
                throw new IllegalArgumentException(file + " line " + (out.size() + 1) + ": not valid UTF-8 (byte " + (in.position() - start + 1)
                        + " of the line, 0x" + String.format("%02x", bytes[in.position()] & 0xff) + ")");
            out.add(chars.flip().toString());
            if (i < bytes.length && bytes[i] == '\r' && i + 1 < bytes.length && bytes[i + 1] == '\n') i++;
            start = i + 1;
        }
        if (!out.isEmpty() && out.get(out.size() - 1).isEmpty()) out.remove(out.size() - 1); // the final newline ends a line
        return out;
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
