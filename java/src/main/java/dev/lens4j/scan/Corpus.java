package dev.lens4j.scan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.load.RegularFiles;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.stream.Stream;

/**
 * A corpus as a stream of documents in a fixed order: files and directories (walked in name order, regular files
 * only); a {@code .jsonl} / {@code .json} file holds one document per line ({"text": ...}), any other file is one
 * document. Documents are numbered from 0 in that order; the stream never holds more than one document in memory.
 */
public final class Corpus {
    /** One document: its number, where it came from (file, 1-based line or 0 for a whole file) and its text. */
    public record Document(long id, Path file, int line, String text) {}

    private static final ObjectMapper JSON = new ObjectMapper();
    private final List<Path> files;

    private Corpus(List<Path> files) { this.files = files; }

    public static Corpus of(List<Path> paths) {
        if (paths == null || paths.isEmpty()) throw new IllegalArgumentException("no corpus given");
        List<Path> files = new ArrayList<>();
        for (Path p : paths) {
            if (Files.isDirectory(p)) {
                try (Stream<Path> s = Files.walk(p)) {
                    s.filter(Files::isRegularFile).sorted().forEach(files::add);
                } catch (IOException e) {
                    throw new UncheckedIOException("corpus " + p + ": " + e.getMessage(), e);
                }
            } else {
                String problem = RegularFiles.inputProblem(p);
                if (problem != null) throw new IllegalArgumentException("corpus " + p + ": " + problem);
                files.add(p);
            }
        }
        if (files.isEmpty()) throw new IllegalArgumentException("corpus " + paths + " holds no files");
        return new Corpus(List.copyOf(files));
    }

    public List<Path> files() { return files; }

    private static boolean jsonLines(Path f) {
        String n = f.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        return n.endsWith(".jsonl") || n.endsWith(".json");
    }

    /** The documents in order; errors (invalid UTF-8, a bad JSON line) name the file and line. */
    public Iterator<Document> documents() {
        return new Iterator<>() {
            int file = -1;
            long nextId;
            BufferedReader reader;
            int line;
            Document next;

            @Override public boolean hasNext() {
                while (next == null) {
                    try {
                        if (reader == null) {
                            if (++file >= files.size()) return false;
                            Path f = files.get(file);
                            var dec = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                                    .onUnmappableCharacter(CodingErrorAction.REPORT);
                            if (!jsonLines(f)) {
                                String text;
                                try (var r = new BufferedReader(new java.io.InputStreamReader(Files.newInputStream(f), dec))) {
                                    StringBuilder sb = new StringBuilder();
                                    char[] buf = new char[8192];
                                    for (int n; (n = r.read(buf)) > 0; ) sb.append(buf, 0, n);
                                    text = sb.toString();
                                }
                                next = new Document(nextId++, f, 0, text);
                                continue;
                            }
                            reader = new BufferedReader(new java.io.InputStreamReader(Files.newInputStream(f), dec));
                            line = 0;
                        }
                        String s = reader.readLine();
                        line++;
                        if (s == null) { reader.close(); reader = null; continue; }
                        if (s.isBlank()) continue;
                        JsonNode n;
                        try {
                            n = JSON.readTree(s);
                        } catch (IOException e) {
                            throw new IllegalArgumentException(files.get(file) + " line " + line + ": not a JSON object with a \"text\" field");
                        }
                        if (n == null || !n.isObject() || !n.path("text").isTextual())
                            throw new IllegalArgumentException(files.get(file) + " line " + line + ": needs {\"text\": \"...\"}");
                        next = new Document(nextId++, files.get(file), line, n.get("text").asText());
                    } catch (java.nio.charset.CharacterCodingException e) {
                        throw new IllegalArgumentException(files.get(file) + (reader != null ? " line " + (line + 1) : "") + ": not valid UTF-8");
                    } catch (IOException e) {
                        throw new UncheckedIOException(files.get(file) + ": " + e.getMessage(), e);
                    }
                }
                return true;
            }

            @Override public Document next() {
                if (!hasNext()) throw new NoSuchElementException();
                Document d = next;
                next = null;
                return d;
            }
        };
    }
}
