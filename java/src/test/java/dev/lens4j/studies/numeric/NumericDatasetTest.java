package dev.lens4j.studies.numeric;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The generator's categories and truth, checked by rules written independently of it; CSV round trip and errors. */
class NumericDatasetTest {
    @Test void generatorFollowsTheSeedsCategoriesWithBalancedTruth() {
        List<NumericDataset.Item> items = NumericDataset.generate(101, 7);
        assertEquals(6 * 101, items.size());
        for (String cat : NumericDataset.CATEGORIES) {
            List<NumericDataset.Item> it = items.stream().filter(i -> i.group().equals(cat)).toList();
            assertEquals(101, it.size());
            assertEquals(51, it.stream().filter(NumericDataset.Item::truthYes).count(), cat + ": truth balanced (51 Yes of 101)");
            for (NumericDataset.Item i : it) {
                String a = i.a(), b = i.b();
                boolean numeric = cat.startsWith("integers") || cat.startsWith("decimals");
                // independent truth: compare as doubles (the values have <= 3 decimals, exact enough) or code points
                boolean greater = numeric ? Double.parseDouble(a) > Double.parseDouble(b) : a.compareTo(b) > 0;
                assertEquals(i.truthYes(), greater, cat + " " + a + " > " + b);
                switch (cat) {
                    case "integers_equal_len" -> { assertTrue(a.matches("[1-9][0-9]*") && b.matches("[1-9][0-9]*")); assertEquals(a.length(), b.length()); }
                    case "integers_diff_len" -> { assertTrue(a.matches("[1-9][0-9]*") && b.matches("[1-9][0-9]*")); assertNotEquals(a.length(), b.length()); }
                    case "decimals_equal_len", "decimals_diff_len" -> {
                        assertTrue(a.matches("[1-9][0-9]?\\.[0-9]+") && b.matches("[1-9][0-9]?\\.[0-9]+"), a + " " + b);
                        assertEquals(a.substring(0, a.indexOf('.')), b.substring(0, b.indexOf('.')), "same integer part");
                        int da = a.length() - a.indexOf('.'), db = b.length() - b.indexOf('.');
                        assertEquals(cat.equals("decimals_equal_len"), da == db, a + " " + b);
                        assertNotEquals(0, new BigDecimal(a).compareTo(new BigDecimal(b)));
                    }
                    default -> {
                        assertTrue(a.matches("[a-z]+") && b.matches("[a-z]+"));
                        assertEquals(cat.equals("string_equal_len"), a.length() == b.length());
                    }
                }
            }
        }
        assertEquals(items, NumericDataset.generate(101, 7), "same seed, same data");
        assertNotEquals(items, NumericDataset.generate(101, 8));
        assertEquals("Question: Is 9.8 > 9.11? Answer:", new NumericDataset.Item("9.8", "9.11", true, "x").prompt(NumericDataset.TEMPLATE));
    }

    @Test void csvRoundTripsAndNamesTheBadLine(@TempDir Path dir) throws Exception {
        List<NumericDataset.Item> items = NumericDataset.generate(4, 1);
        Path f = Files.writeString(dir.resolve("d.csv"), NumericDataset.toCsv(items));
        assertEquals(items, NumericDataset.readCsv(f));
        Path noHeader = Files.writeString(dir.resolve("n.csv"), "9.8,9.11,yes,decimals\n\n3,2,false,ints\n");
        assertEquals(List.of(new NumericDataset.Item("9.8", "9.11", true, "decimals"), new NumericDataset.Item("3", "2", false, "ints")),
                NumericDataset.readCsv(noHeader));
        assertError(Files.writeString(dir.resolve("e.csv"), ""), "no rows");
        assertError(Files.writeString(dir.resolve("h.csv"), "a,b,truth,group\n"), "no rows");
        assertError(Files.writeString(dir.resolve("m.csv"), "1,2,yes,g\n1,2,yes\n"), "line 2: expected 4 fields");
        assertError(Files.writeString(dir.resolve("t.csv"), "1,2,maybe,g\n"), "line 1: truth must be");
        assertError(Files.writeString(dir.resolve("f.csv"), "1,,yes,g\n"), "line 1: field b is empty");
        assertError(dir, "is a directory");
        assertError(dir.resolve("missing.csv"), "no such file");
    }

    private static void assertError(Path f, String part) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NumericDataset.readCsv(f));
        assertTrue(e.getMessage().contains(part) && e.getMessage().contains(f.getFileName().toString()), e.getMessage());
    }
}
