package dev.lens4j.studies.sizeneuron;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The study's pure parts on hand-computable cases: spike detection, standout scores, content words, family files. */
class SizeNeuronAnalysesTest {
    @Test void spikesAreTheConsecutiveJumpsAboveTheThreshold() {
        double[] curve = {0, 0.1, 2.1, 2.0, 5.0};                        // jumps 0.1, 2.0, -0.1, 3.0
        assertArrayEquals(new double[] {0.1, 2.0, -0.1, 3.0}, SpikeDetection.jumps(curve), 1e-12);
        assertEquals(1.5, SpikeDetection.defaultThreshold(curve), 1e-12);  // half of 3.0
        List<SpikeDetection.Jump> j = SpikeDetection.detect(curve, 1.5, 3);
        assertEquals(List.of(3, 1), j.stream().map(SpikeDetection.Jump::layer).toList(), "largest jump first");
        assertEquals(3.0, j.get(0).jump(), 1e-12);
        assertEquals(List.of(3), SpikeDetection.detect(curve, 2.5, 3).stream().map(SpikeDetection.Jump::layer).toList());
        assertEquals(List.of(3), SpikeDetection.detect(curve, 0.0, 1).stream().map(SpikeDetection.Jump::layer).toList(), "at most maxLayers");
        assertEquals(List.of(3, 1, 0), SpikeDetection.detect(curve, 0.0, 5).stream().map(SpikeDetection.Jump::layer).toList(), "-0.1 is not > 0");
        // a curve that only falls still yields its largest jump (the smallest fall), so the neuron sweep has a layer
        List<SpikeDetection.Jump> fall = SpikeDetection.detect(new double[] {3, 1, 0.5}, 0, 2);
        assertEquals(1, fall.size());
        assertEquals(1, fall.get(0).layer());
        assertEquals(-0.5, fall.get(0).jump(), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> SpikeDetection.jumps(new double[] {1}));
        assertThrows(IllegalArgumentException.class, () -> SpikeDetection.detect(curve, Double.NaN, 1));
    }

    @Test void standoutsAreRankedByZScoreWithTheGapToTheNext() {
        double[] v = {0, 0, 10, 0, 0};                                     // mean 2, population std 4
        List<Standouts.Neuron> r = Standouts.rank(7, v);
        Standouts.Neuron top = r.get(0);
        assertEquals("L7N2", top.label());
        assertEquals(2.0, top.z(), 1e-12);
        assertEquals(10.0, top.gap(), 1e-12);
        assertEquals(1, top.rank());
        assertEquals(-0.5, r.get(1).z(), 1e-12);
        assertEquals(5, r.get(4).rank());
        // across layers: the larger z wins even with a smaller value
        List<Standouts.Neuron> other = Standouts.rank(3, new double[] {1, 0, 0, 0, 0, 0, 0, 0, 0}); // z = (1 - 1/9) / (sqrt(8)/9) = 2.83
        List<Standouts.Neuron> best = Standouts.top(List.of(r, other), 2);
        assertEquals(List.of("L3N0", "L7N2"), best.stream().map(Standouts.Neuron::label).toList());
        assertEquals(Math.sqrt(8), best.get(0).z(), 1e-12);
        assertArrayEquals(new double[] {0, 0}, Standouts.zScores(new double[] {4, 4}), 0, "all equal: z = 0, not NaN");
    }

    @Test void contentWordsDropFunctionWordsAndCount() {
        List<ContentWords.Count> c = ContentWords.top(List.of("The price of the largest decline, the LARGEST drop.", "a drop in demand for it"), 3);
        assertEquals(List.of(new ContentWords.Count("drop", 2), new ContentWords.Count("largest", 2), new ContentWords.Count("decline", 1)), c);
        assertEquals(List.of("neuron", "fires"), ContentWords.words("the neuron's fires on it"));
    }

    @Test void familyFilesAreReadExactlyAndBadLinesAreNamed(@TempDir Path dir) throws Exception {
        Path f = Files.writeString(dir.resolve("sizes.tsv"), "# comment\n\nJohn is tall. Mary is\tJohn is short. Mary is\t short\t tall\n");
        SizeFamily fam = SizeFamily.read(f);
        assertEquals("sizes", fam.name());
        assertEquals(new SizeFamily.Pair(3, "John is tall. Mary is", "John is short. Mary is", " short", " tall"), fam.pairs().get(0));
        assertEquals(fam, SizeFamily.resolve(f.toString()));
        assertSame(SizeFamily.BUILT_IN.get("big-small"), SizeFamily.resolve("big-small"));

        assertError("line 2: expected 4 tab-separated fields (clean, corrupt, answer, wrong), got 3", Files.writeString(dir.resolve("a.tsv"), "# x\na\tb\tc\n"));
        assertError("line 1: the wrong field is empty", Files.writeString(dir.resolve("b.tsv"), "a\tb\t c\t \n"));
        assertError("line 1: answer and wrong are the same text ' c'", Files.writeString(dir.resolve("c.tsv"), "a\tb\t c\t c\n"));
        assertError("no prompt pairs", Files.writeString(dir.resolve("d.tsv"), "# only a comment\n"));
        assertError("not valid UTF-8", Files.write(dir.resolve("e.tsv"), new byte[] {'a', '\t', (byte) 0xff, '\n'}));
        assertError("is a directory", Files.createDirectory(dir.resolve("folder")));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SizeFamily.resolve("tall-shrot"));
        assertTrue(e.getMessage().contains("neither a built-in family (tall-short, big-small, huge-tiny, pear-apple) nor an existing file"), e.getMessage());
    }

    private static void assertError(String expected, Path file) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SizeFamily.read(file));
        assertTrue(e.getMessage().contains(expected) && e.getMessage().contains(file.toString()), e.getMessage());
    }
}
