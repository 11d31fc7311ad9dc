package dev.lens4j.studies.factual;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Seed 004's data: the built-in questions and map, the CSV and JSON readers, and their one-line errors. */
class FactualDataTest {
    @TempDir Path dir;

    private Path file(String name, String text) throws Exception {
        return Files.writeString(dir.resolve(name), text, StandardCharsets.UTF_8);
    }

    @Test void builtInDataIsTheSeedsFinalTenQuestionsAndItsMap() {
        List<FactualData.Question> qs = FactualData.seedQuestions();
        assertEquals(10, qs.size());
        assertEquals(7, qs.stream().filter(FactualData.Question::answer).count(), "seven True, three False (after the seed dropped #9)");
        assertEquals("Is Paris the capital of France?\n", qs.get(0).question());
        assertEquals("Is the Mona Lisa displayed in Paris?\n", qs.get(9).question());
        assertFalse(qs.get(4).answer(), "the Louvre is not in Rome");
        FactualData.AnswerMap m = FactualData.seedAnswerMap();
        assertEquals(11, m.trueTexts().size());
        assertEquals(8, m.falseTexts().size());
        assertTrue(m.trueTexts().contains(" Yes") && m.falseTexts().contains("NO"));
    }

    @Test void csvAsPandasWritesIt() throws Exception {
        // pandas quotes fields holding a newline, comma or quote; an unnamed first column is its index
        Path f = file("q.csv", "\uFEFF,question,answer,corrupt\r\n0,\"Is Paris the capital of France?\n\",True,\"Is Paris the capital of Spain?\n\"\r\n"
                + "1,\"Say \"\"no\"\", please, ok?\",false,\n\n");
        List<FactualData.Question> qs = FactualData.readCsv(f);
        assertEquals(2, qs.size());
        assertEquals("Is Paris the capital of France?\n", qs.get(0).question());
        assertEquals("Is Paris the capital of Spain?\n", qs.get(0).corrupt());
        assertTrue(qs.get(0).answer());
        assertEquals("Say \"no\", please, ok?", qs.get(1).question());
        assertFalse(qs.get(1).answer());
        assertNull(qs.get(1).corrupt(), "an empty corrupt field means no corrupted version");
        assertEquals(5, qs.get(1).line(), "the second row starts on line 5 (the first row holds two newlines inside quotes)");
    }

    @Test void csvErrorsNameTheFileLineAndColumn() throws Exception {
        String[][] cases = {
                {"", "empty file"},
                {"question,answer\n", "no questions after the header"},
                {"question\nIs it?\n", "line 1, column 1: the header must name the columns question and answer"},
                {"question,answer,colour\nIs it?,True,red\n", "line 1, column 3: unknown column 'colour'"},
                {"question,answer\nIs it?,True\nIs it?,maybe\n", "line 3, column 2: answer must be True or False, got 'maybe'"},
                {"question,answer\nIs it?,True,extra\n", "line 2, column 3: 3 fields, the header has 2"},
                {"question,answer\n\"Is it?,True\n", "line 2, column 1: quoted field is never closed"},
                {"question,answer\nIs \"it\"?,True\n", "line 2, column 1: a quote inside an unquoted field"},
                {"question,answer\n ,True\n", "line 2, column 1: empty question"},
                {"answer,question,answer\nTrue,x,True\n", "column 3: column 'answer' appears twice"}};
        for (String[] c : cases) {
            Path f = file("bad.csv", c[0]);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FactualData.readCsv(f), c[0]);
            assertTrue(e.getMessage().startsWith("--questions " + f + ": "), e.getMessage());
            assertTrue(e.getMessage().contains(c[1]), "expected '" + c[1] + "' in: " + e.getMessage());
            assertFalse(e.getMessage().contains("\n"), "one line");
        }
        Path bin = Files.write(dir.resolve("bin.csv"), new byte[] {(byte) 0xff, (byte) 0xfe, 'q'});
        assertTrue(assertThrows(IllegalArgumentException.class, () -> FactualData.readCsv(bin)).getMessage().contains("not valid UTF-8"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> FactualData.readCsv(dir)).getMessage().contains("directory"));
    }

    @Test void answerMapReadsAndRejects() throws Exception {
        FactualData.AnswerMap m = FactualData.readAnswerMap(file("m.json", "{\"True\": [\"Yes\", \" yes\"], \"False\": [\"No\"]}"));
        assertEquals(List.of("Yes", " yes"), m.trueTexts());
        assertEquals(List.of("No"), m.texts(false));
        String[][] cases = {
                {"{\"True\": [\"Yes\"], \"False\": [\"No\"", "line 1, column"},
                {"{\"True\": [\"Yes\"]}", "needs both keys True and False"},
                {"{\"True\": [\"Yes\"], \"False\": []}", "'False' must be a non-empty list of strings"},
                {"{\"True\": [\"Yes\", 3], \"False\": [\"No\"]}", "'True'[1] must be a non-empty string, got 3"},
                {"{\"True\": [\"Yes\"], \"False\": [\"No\"], \"Maybe\": [\"?\"]}", "unknown key 'Maybe'"},
                {"{\"True\": [\"Yes\"], \"True\": [\"No\"]}", "Duplicate field 'True'"},
                {"[\"Yes\"]", "expected an object"}};
        for (String[] c : cases) {
            Path f = file("bad.json", c[0]);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FactualData.readAnswerMap(f), c[0]);
            assertTrue(e.getMessage().startsWith("--answer-map " + f + ": ") && e.getMessage().contains(c[1]), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        }
    }
}
