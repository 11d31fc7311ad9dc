package dev.lens4j.studies;

import java.util.LinkedHashMap;
import java.util.Map;

/** The "versions" entry every study's results.json records: lens4j, Java, the OS and the cores it ran on. */
public final class StudyVersions {
    private StudyVersions() {}

    public static Map<String, Object> versions() {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("lens4j", "0.1.0");
        v.put("java", System.getProperty("java.version"));
        v.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        v.put("cpu_cores", Runtime.getRuntime().availableProcessors());
        return v;
    }
}
