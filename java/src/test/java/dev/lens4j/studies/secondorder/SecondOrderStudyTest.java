package dev.lens4j.studies.secondorder;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.studies.StudyJson;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The study end to end on the real stories260K, checked for consistency with independent recomputation. */
class SecondOrderStudyTest {

    static SecondOrderOptions small(Path out) {
        SecondOrderOptions o = new SecondOrderOptions();
        o.problems = 60;
        o.out = out;
        return o;
    }

    @Test
    void runsEndToEndOnStories260K(@TempDir Path dir) throws Exception {
        Path bin = TestCheckpoints.stories260K();
        long live = Tensor.liveBytes();
        try (HookedTransformer model = HookedTransformer.fromPretrained(bin)) {
            SecondOrderOptions o = small(dir.resolve("out"));
            SecondOrderStudy.Summary s = SecondOrderStudy.run(model, "stories260K", o, null, null);
            SecondOrderStudy.Result r = s.result();
            int n = r.problems().size(), dMlp = model.cfg().dMlp;
            // files
            for (Path f : List.of(s.resultsJson(), s.report(), s.problemsFile(), s.tensors())) assertTrue(Files.size(f) > 100, f.toString());
            JsonNode json = StudyJson.JSON.readTree(s.resultsJson().toFile());
            for (String k : SecondOrderResults.SECTIONS) assertTrue(json.has(k), "results.json has " + k);
            assertEquals(5, json.get("seed_expectations").size());
            assertEquals(n, Files.readAllLines(s.problemsFile()).size());
            assertEquals(SecondOrderReport.PLOTS, s.plots());
            // auto layers are the critical ones: ceil(4 / 2) = 2 of the 4 layers with later heads
            assertArrayEquals(r.critical(), r.layers());
            assertEquals(2, r.layers().length);
            // the final-residual path reproduces the model's own first-token correctness on validation problems
            int hit = 0, val = 0;
            for (var p : r.problems()) if (!p.train()) { val++; if (r.clean().firstCorrect[p.index()]) hit++; }
            assertEquals((double) hit / val, r.ch().accClean, 1e-12);
            // phi in the safetensors equals phi in memory; the last layer has no later heads so is not written
            SafeTensors st = SafeTensors.open(s.tensors());
            assertArrayEquals(r.pass().phi[0], st.readFloats("phi.0"));
            assertArrayEquals(new long[] {n, dMlp}, st.info("phi.0").shape());
            assertFalse(st.has("phi." + (model.cfg().nLayers - 1)));
            assertArrayEquals(r.neurons()[0], st.readInts("rank1_neurons." + r.layers()[0]));
            // layer shares sum to 1 and the last layer's is 0
            double sum = 0;
            for (double v : r.ch().layerShare) sum += v;
            assertEquals(1, sum, 1e-9);
            assertEquals(0, r.ch().layerShare[model.cfg().nLayers - 1]);
            for (double[] row : r.ch().pc1) for (double v : row) assertTrue(Double.isNaN(v) || (v > 0 && v <= 1 + 1e-12), "PC1 ratio " + v);
            // the same seed gives the same problems and effects; a budget too small for every neuron falls back to the
            // seed's sampling (top 100 per layer), which changes the rank-1 set but not phi
            SecondOrderOptions again = small(dir.resolve("again"));
            again.rank1BudgetBytes = 1;
            SecondOrderStudy.Result r2 = SecondOrderStudy.run(model, "stories260K", again, null, null).result();
            assertArrayEquals(r.pass().phi[1], r2.pass().phi[1]);
            assertEquals(172, r.neurons()[0].length);
            assertEquals(100, r2.neurons()[0].length);
            assertTrue(r2.neuronSelection().startsWith("sampled: all neurons would need"), r2.neuronSelection());
        }
        assertEquals(live, Tensor.liveBytes(), "no native memory left behind");
    }

    @Test
    void problemsAreSeededAndSplit() {
        var a = MathProblems.generate(100, 7, 0.8);
        var b = MathProblems.generate(100, 7, 0.8);
        assertEquals(a, b);
        assertEquals(80, a.stream().filter(MathProblems.Problem::train).count());
        for (var p : a) {
            if (p.kind() == MathProblems.Kind.SUM) {
                String[] parts = p.prompt().replace(" =", "").split(" \\+ ");
                assertEquals(Integer.parseInt(parts[0]) + Integer.parseInt(parts[1]), Integer.parseInt(p.answer().strip()));
            }
            if (p.kind() == MathProblems.Kind.PARITY) {
                int x = Integer.parseInt(p.prompt().split(" ")[1]);
                assertEquals(x % 2 == 0 ? " Yes" : " No", p.answer());
            }
        }
        assertNotEquals(a, MathProblems.generate(100, 8, 0.8));
    }

    @Test
    void conceptsFileErrorsNameTheLine(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("c.txt");
        Files.writeString(f, "# math\naddition\n\nprime numbers\naddition\n");
        var e = assertThrows(IllegalArgumentException.class, () -> Concepts.read(f));
        assertEquals("--concepts " + f + ":5: concept 'addition' repeats line 2", e.getMessage());
        Files.write(f, new byte[] {'o', 'k', '\n', (byte) 0xff, '\n'});
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Concepts.read(f)).getMessage().endsWith(":2: not valid UTF-8"));
        Files.writeString(f, "ok\nbad\u0007bell\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Concepts.read(f)).getMessage().contains(":2: control character U+0007"));
        Files.writeString(f, "a\n b \n");
        assertEquals(List.of("a", "b"), Concepts.read(f));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Concepts.read(dir)).getMessage().contains("directory"));
    }
}
