package dev.lens4j.studies.factual;

import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The study owns its native memory: after a run, and after a run that fails half way (in patching), nothing is left live. */
class FactualStudyMemoryTest {
    private static final String GIRL = "Once upon a time, there was a little girl named";

    @Test void runsAndFailedRunsFreeEverything(@TempDir Path dir) throws Exception {
        try (HookedTransformer model = HookedTransformer.fromPretrained(TestCheckpoints.stories260K())) {
            FactualData.AnswerMap map = new FactualData.AnswerMap(List.of("Lily"), List.of("Tim"));
            FactualStudy.Options o = new FactualStudy.Options();
            o.out = dir.resolve("ok");
            o.minProbDiff = -1;
            List<FactualData.Question> qs = List.of(new FactualData.Question(GIRL, true, "Once upon a time, there was a big girl named", 2),
                    new FactualData.Question("Once upon a time, there was a little boy named", false, null, 3));
            long before = Tensor.liveBytes();
            FactualStudy.Summary s = FactualStudy.run(model, qs, map, false, o, null);
            assertEquals(2, s.analysis().kept().size());
            assertEquals(before, Tensor.liveBytes(), "live native bytes after a run");
            // the second prompt's corrupt version is the prompt itself: the run fails after the first prompt's patching
            List<FactualData.Question> bad = List.of(qs.get(0), new FactualData.Question(GIRL, true, GIRL, 3));
            o.out = dir.resolve("bad");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FactualStudy.run(model, bad, map, false, o, null));
            assertTrue(e.getMessage().startsWith("line 3: "), e.getMessage());
            assertEquals(before, Tensor.liveBytes(), "live native bytes after a failed run");
        }
    }
}
