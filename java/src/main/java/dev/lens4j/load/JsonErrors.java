package dev.lens4j.load;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;

import java.io.IOException;

/** One-line descriptions of JSON parse errors (Jackson's own messages add a "[Source: ...]" line). */
public final class JsonErrors {
    private JsonErrors() {}

    /** e.g. "Unexpected character ('}' (code 125)): was expecting double-quote to start field name, at line 3, column 2". */
    public static String describe(IOException e) {
        if (!(e instanceof JsonProcessingException j)) return oneLine(String.valueOf(e.getMessage()));
        // some messages point at a second place ("start marker at [Source: ...; line: 1, column: 1]"): keep its position only
        String what = oneLine(String.valueOf(j.getOriginalMessage()))
            .replaceAll("\\[Source: .*; line: (\\d+), column: (\\d+)\\]", "line $1, column $2");
        JsonLocation at = j.getLocation();
        if (at == null || at.getLineNr() < 0) return what;
        return what + ", at line " + at.getLineNr() + ", column " + at.getColumnNr();
    }

    static String oneLine(String s) { return s.strip().replaceAll("\\s*\\R\\s*", " "); }
}
