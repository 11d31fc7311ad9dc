package dev.lens4j.studies;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import dev.lens4j.backend.F32Gemm;
import dev.lens4j.load.RegularFiles;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** results.json writing shared by the studies: NaN and infinities become null, arrays stay on one line. */
public final class StudyJson {
    private StudyJson() {}

    /** NaN and infinities are not JSON: they are written as null (e.g. R^2 of a constant prediction). */
    public static final ObjectMapper JSON = new ObjectMapper().disable(SerializationFeature.FAIL_ON_EMPTY_BEANS).registerModule(new SimpleModule()
            .addSerializer(Double.class, new JsonSerializer<>() {
                @Override public void serialize(Double v, JsonGenerator g, SerializerProvider s) throws IOException { num(g, v); }
            })
            .addSerializer(double[].class, new JsonSerializer<>() {
                @Override public void serialize(double[] v, JsonGenerator g, SerializerProvider s) throws IOException {
                    g.writeStartArray();
                    for (double x : v) num(g, x);
                    g.writeEndArray();
                }
            }));

    private static void num(JsonGenerator g, double v) throws IOException {
        if (Double.isFinite(v)) g.writeNumber(v); else g.writeNull();
    }

    /** Objects indented, arrays on one line (curves and matrices would otherwise take a line per number). */
    public static void write(Path file, Object value) throws IOException {
        RegularFiles.writeBytes(file, JSON.writer(new DefaultPrettyPrinter().withArrayIndenter(DefaultPrettyPrinter.FixedSpaceIndenter.instance))
                .writeValueAsBytes(value));
    }

    /** The versions block every study records. */
    public static Map<String, Object> versions(int nativeThreads) {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("lens4j", "0.1.0");
        v.put("java", System.getProperty("java.version"));
        v.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        v.put("cpu_cores", Runtime.getRuntime().availableProcessors());
        v.put("native_threads", nativeThreads);
        v.put("gemm", F32Gemm.describe());
        return v;
    }
}
