package dev.lens4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lens4j.analysis.HeadDetector;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.report.Heatmap;
import dev.lens4j.report.Report;
import dev.lens4j.report.Table;
import dev.lens4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "heads", description = {
        "Previous-token, duplicate-token and induction head scores for every head, as TransformerLens's "
                + "head_detector.detect_head, on repeated random tokens (BOS, then --seq random tokens twice; seeded) or on "
                + "--prompt. Error measure 'mul' (default): the share of each head's attention on the detected query-key pairs; "
                + "'abs': 1 - sum |pattern - detection| / length, rounded to 3 decimals as TL does.",
        "Writes DIR/heads.safetensors ([n_layers, n_heads] per detector, and the tokens), DIR/summary.json and "
                + "DIR/report.html; --json also prints the summary."})
final class HeadsCommand implements Callable<Integer> {
    @Mixin ModelOptions m;

    @Option(names = "--seq", paramLabel = "N", description = "random tokens before the repeat (default: 50, or less to fit n_ctx)") Integer seq;
    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "seed of the random tokens (default 0)") long seed;
    @Option(names = "--prompt", paramLabel = "TEXT", description = "score on this text instead of random tokens") String prompt;
    @Option(names = "--error-measure", defaultValue = "mul", paramLabel = "mul|abs") String errorMeasure;
    @Option(names = "--exclude-bos", description = "ignore attention to position 0") boolean excludeBos;
    @Option(names = "--exclude-current-token", description = "ignore attention to the query's own position") boolean excludeCurrentToken;
    @Option(names = "--top", defaultValue = "10", paramLabel = "K", description = "heads listed per detector (default 10)") int top;
    @Option(names = "--json", description = "print the summary as JSON") boolean json;
    @Option(names = "--out", required = true, paramLabel = "DIR") Path out;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String[] FILES = {"heads.safetensors", "summary.json", "report.html"};
    private static final HeadDetector.HeadName[] DETECTORS = HeadDetector.HeadName.values();

    @Override public Integer call() throws IOException {
        HeadDetector.ErrorMeasure measure = switch (errorMeasure) {
            case "mul" -> HeadDetector.ErrorMeasure.MUL;
            case "abs" -> HeadDetector.ErrorMeasure.ABS;
            default -> throw new IllegalArgumentException("--error-measure must be mul or abs, got '" + errorMeasure + "'");
        };
        if (top <= 0) throw new IllegalArgumentException("--top must be > 0, got " + top);
        if (prompt != null && seq != null) throw new IllegalArgumentException("give --seq (random tokens) or --prompt, not both");
        if (seq != null && seq < 1) throw new IllegalArgumentException("--seq must be >= 1, got " + seq);
        OutDir.check(out, FILES);
        try (HookedTransformer model = m.load()) {
            int nCtx = model.cfg().nCtx;
            int[] tokens;
            if (prompt != null) {
                tokens = model.toTokens(prompt);
            } else {
                int half = seq != null ? seq : Math.max(1, Math.min(50, (nCtx - 2) / 2));
                if (2L * half >= nCtx)
                    throw new IllegalArgumentException("--seq " + half + ": BOS + 2 x " + half + " tokens do not fit; the detectors need 1 < length < n_ctx = " + nCtx);
                tokens = HeadDetector.repeatedRandomTokens(model, half, seed);
            }
            if (!(1 < tokens.length && tokens.length < nCtx))
                throw new IllegalArgumentException((prompt != null ? "--prompt is " : "BOS + 2 x --seq is ") + tokens.length
                        + " tokens; the detectors need 1 < length < n_ctx = " + nCtx);
            double[][][] detections = new double[DETECTORS.length][][];
            for (int d = 0; d < DETECTORS.length; d++) detections[d] = HeadDetector.pattern(DETECTORS[d], tokens);
            HeadDetector.Options o = HeadDetector.Options.defaults().errorMeasure(measure).excludeBos(excludeBos)
                    .excludeCurrentToken(excludeCurrentToken);
            double[][][] scores = HeadDetector.detectHeads(model, tokens, detections, o);
            write(model, tokens, scores);
        }
        return 0;
    }

    private static String key(HeadDetector.HeadName h) {
        return switch (h) {
            case PREVIOUS_TOKEN_HEAD -> "previous_token";
            case DUPLICATE_TOKEN_HEAD -> "duplicate_token";
            case INDUCTION_HEAD -> "induction";
        };
    }

    private void write(HookedTransformer model, int[] tokens, double[][][] scores) throws IOException {
        int L = model.cfg().nLayers, H = model.cfg().nHeads;
        OutDir.create(out);
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("model", m.model.toString());
        s.put("process_weights", !m.noProcessWeights);
        s.put("dtype", m.dtype);
        s.put("sequence", prompt != null ? "prompt" : "BOS + " + (tokens.length - 1) / 2 + " random tokens, repeated");
        if (prompt != null) s.put("prompt", prompt);
        else s.put("seed", seed);
        s.put("tokens", tokens);
        if (model.hasTokenizer()) s.put("str_tokens", model.toStrTokens(tokens));
        s.put("error_measure", errorMeasure);
        s.put("exclude_bos", excludeBos);
        s.put("exclude_current_token", excludeCurrentToken);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try {
            for (int d = 0; d < DETECTORS.length; d++) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("top_heads", topHeads(scores[d]));
                e.put("scores", scores[d]);
                s.put(key(DETECTORS[d]), e);
                float[] f = new float[L * H];
                for (int l = 0; l < L; l++) for (int h = 0; h < H; h++) f[l * H + h] = (float) scores[d][l][h];
                tensors.put(key(DETECTORS[d]), Tensor.of(f, L, H));
            }
            tensors.put("tokens", Tensor.ofInts(tokens, tokens.length));
            Map<String, String> meta = Inputs.meta(m);
            meta.put("error_measure", errorMeasure);
            meta.put("exclude_bos", Boolean.toString(excludeBos));
            meta.put("exclude_current_token", Boolean.toString(excludeCurrentToken));
            SafeTensors.write(out.resolve(FILES[0]), tensors, meta);
        } finally {
            tensors.values().forEach(Tensor::close);
        }
        s.put("versions", Map.of("lens4j", "0.1.0", "java", System.getProperty("java.version")));
        String summaryJson = JSON.writeValueAsString(s);
        Files.writeString(out.resolve(FILES[1]), summaryJson);
        report(model, tokens, scores).write(out.resolve(FILES[2]));
        if (json) System.out.println(summaryJson);
        else {
            StringBuilder b = new StringBuilder();
            for (int d = 0; d < DETECTORS.length; d++) {
                Map<String, Object> best = topHeads(scores[d]).get(0);
                b.append(String.format(Locale.ROOT, "%s: %s %.3f; ", key(DETECTORS[d]), best.get("label"), (double) best.get("score")));
            }
            System.out.println("best " + b + "wrote " + String.join(", ", FILES) + " to " + out);
        }
    }

    private List<Map<String, Object>> topHeads(double[][] grid) {
        List<int[]> heads = new ArrayList<>();
        for (int l = 0; l < grid.length; l++) for (int h = 0; h < grid[l].length; h++) heads.add(new int[] {l, h});
        // NaN (a head left with no attention after the exclusions) sorts last
        heads.sort(Comparator.comparingDouble(lh -> Double.isNaN(grid[lh[0]][lh[1]]) ? Double.POSITIVE_INFINITY : -grid[lh[0]][lh[1]]));
        List<Map<String, Object>> out = new ArrayList<>();
        for (int[] lh : heads.subList(0, Math.min(top, heads.size()))) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("label", "L" + lh[0] + "H" + lh[1]);
            e.put("score", grid[lh[0]][lh[1]]);
            out.add(e);
        }
        return out;
    }

    private Report report(HookedTransformer model, int[] tokens, double[][][] scores) {
        int L = model.cfg().nLayers, H = model.cfg().nHeads;
        String on = prompt != null ? "the prompt (" + tokens.length + " tokens)"
                : "BOS + " + (tokens.length - 1) / 2 + " random tokens repeated once (seed " + seed + ")";
        Report rep = new Report("Head detectors").description("TransformerLens's detect_head scores of every head on " + on + "; error measure '"
                        + errorMeasure + "'" + (excludeBos ? ", BOS excluded" : "") + (excludeCurrentToken ? ", current token excluded" : "") + ".")
                .meta("model", m.model.toString()).meta("config", model.cfg().toJson()).meta("command", "heads");
        String[] ys = new String[L], xs = new String[H];
        for (int l = 0; l < L; l++) ys[l] = "L" + l;
        for (int h = 0; h < H; h++) xs[h] = "H" + h;
        String[] what = {"attention from each position to the one before it",
                "attention to earlier positions holding the same token",
                "attention to the position after an earlier copy of the current token"};
        for (int d = 0; d < DETECTORS.length; d++) {
            Heatmap hm = Heatmap.of(key(DETECTORS[d]).replace('_', '-') + " score").matrix(scores[d]).xLabels(xs).yLabels(ys)
                    .axes("head", "layer").colorLabel("score").sequential();
            if (errorMeasure.equals("mul")) hm.range(0, 1);
            Table t = Table.of("head", "score").caption("Top heads");
            for (Map<String, Object> e : topHeads(scores[d])) t.row(e.get("label"), String.format(Locale.ROOT, "%.4f", (double) e.get("score")));
            rep.section(key(DETECTORS[d]).replace('_', '-') + " heads").text("Score: " + what[d] + ".").heatmap(hm).table(t);
        }
        return rep;
    }
}
