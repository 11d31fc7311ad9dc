package dev.lens4j.cli;

import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** `scan` on the real stories260K over a small corpus: against a brute-force scan, and killed + resumed. */
class ScanCommandTest {
    static Path corpus(Path dir) throws Exception {
        Path c = Files.createDirectories(dir.resolve("corpus"));
        Files.writeString(c.resolve("a.txt"), "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
                + "One day she saw a big red ball and ran to get it.");
        StringBuilder jl = new StringBuilder();
        for (int i = 0; i < 6; i++)
            jl.append("{\"text\": \"Tom had a dog named Max. They played with a ball every day, number ").append(i).append(", in the sun.\"}\n");
        Files.writeString(c.resolve("b.jsonl"), jl.toString());
        return c;
    }

    @Test void equalsABruteForceScan(@TempDir Path dir) throws Exception {
        Path c = corpus(dir), out = dir.resolve("scan");
        CliTest.Result r = CliTest.cli("scan", "--model", CliTest.stories(), "--corpus", c.toString(), "--hooks", "blocks\\.1\\.mlp\\.hook_post$",
                "--top-k", "4", "--seq-len", "12", "--batch", "3", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        // brute force: every chunk alone, the hook cached, every (doc, position, value) kept in Java
        record Hit(float v, long doc, int pos) {}
        List<List<Hit>> perNeuron = new ArrayList<>();
        long count = 0;
        try (HookedTransformer model = HookedTransformer.fromPretrained(Path.of(CliTest.stories()))) {
            List<String> docs = new ArrayList<>();
            docs.add(Files.readString(c.resolve("a.txt")));
            for (String line : Files.readAllLines(c.resolve("b.jsonl"))) docs.add(new com.fasterxml.jackson.databind.ObjectMapper().readTree(line).get("text").asText());
            int bos = model.tokenizer().bosTokenId().getAsInt(), per = 11;
            for (int d = 0; d < docs.size(); d++) {
                int[] ids = model.toTokens(docs.get(d), false);
                for (int start = 0; start < ids.length; start += per) {
                    int len = Math.min(per, ids.length - start);
                    int[] t = new int[len + 1];
                    t[0] = bos;
                    System.arraycopy(ids, start, t, 1, len);
                    try (var run = model.run(new int[][] {t}, new HookedTransformer.RunOptions().cacheNames("blocks.1.mlp.hook_post"))) {
                        Tensor a = run.cache().get("blocks.1.mlp.hook_post");
                        int n = (int) a.size(2);
                        float[] v = a.toFloatArray();
                        while (perNeuron.size() < n) perNeuron.add(new ArrayList<>());
                        for (int s = 1; s <= len; s++) {
                            count++;
                            for (int j = 0; j < n; j++) perNeuron.get(j).add(new Hit(v[s * n + j], d, start + s - 1));
                        }
                    }
                }
            }
        }
        try (SafeTensors st = SafeTensors.open(out.resolve("neurons.safetensors"));
             Tensor cnt = st.read("blocks.1.mlp.hook_post.count"); Tensor mean = st.read("blocks.1.mlp.hook_post.mean");
             Tensor tv = st.read("blocks.1.mlp.hook_post.top_values"); Tensor td = st.read("blocks.1.mlp.hook_post.top_docs");
             Tensor tp = st.read("blocks.1.mlp.hook_post.top_positions")) {
            int n = perNeuron.size();
            assertEquals(n, cnt.numel());
            float[] mv = mean.toFloatArray(), v = tv.toFloatArray();
            int[] docs = td.toIntArray(), pos = tp.toIntArray();
            for (int j = 0; j < n; j++) {
                List<Hit> hits = perNeuron.get(j);
                assertEquals(count, (long) cnt.toFloatArray()[j]);
                assertEquals(hits.stream().mapToDouble(Hit::v).average().orElseThrow(), mv[j], 1e-5);
                hits.sort(Comparator.comparingDouble((Hit h) -> -h.v()).thenComparingLong(Hit::doc).thenComparingInt(Hit::pos));
                for (int i = 0; i < 4; i++) {
                    // batched vs single-row forwards may differ in the last bits: compare values loosely, ranks where clear
                    assertEquals(hits.get(i).v(), v[j * 4 + i], 1e-4, "neuron " + j + " rank " + i);
                    if (i + 1 < hits.size() && hits.get(i).v() - hits.get(i + 1).v() > 1e-3 && (i == 0 || hits.get(i - 1).v() - hits.get(i).v() > 1e-3)) {
                        assertEquals(hits.get(i).doc(), docs[j * 4 + i], "neuron " + j + " rank " + i + " document");
                        assertEquals(hits.get(i).pos(), pos[j * 4 + i], "neuron " + j + " rank " + i + " position");
                    }
                }
            }
        }
        assertTrue(Files.readString(out.resolve("index.json")).contains("\"tokens\" : " + count));
        assertEquals(7, Files.readAllLines(out.resolve("docs.jsonl")).size());
        String page = Files.readString(out.resolve("browser/h0/n0.html"));
        assertTrue(page.contains("outline:2px solid") && page.contains("rgba(255,140,0,") && page.contains("</table>"), "neuron pages shade every context token by its activation");
    }

    @Test void aKilledScanResumesToTheSameBits(@TempDir Path dir) throws Exception {
        Path c = corpus(dir), whole = dir.resolve("whole"), resumed = dir.resolve("resumed");
        String[] common = {"scan", "--model", CliTest.stories(), "--corpus", c.toString(), "--top-k", "5", "--seq-len", "10", "--batch", "2",
                "--checkpoint-every", "2"};
        assertEquals(0, CliTest.cli(concat(common, "--out", whole.toString())).code());
        CliTest.Result killed = CliTest.cli(concat(common, "--out", resumed.toString(), "--stop-after-batches", "5"));
        assertEquals(0, killed.code(), killed.err());
        assertFalse(Files.exists(resumed.resolve("neurons.safetensors")), "a killed scan wrote no results");
        assertTrue(Files.exists(resumed.resolve("checkpoint.safetensors")));
        CliTest.Result r = CliTest.cli(concat(common, "--out", resumed.toString(), "--resume"));
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(Files.readAllBytes(whole.resolve("neurons.safetensors")), Files.readAllBytes(resumed.resolve("neurons.safetensors")),
                "resumed = uninterrupted, bit for bit");
        assertEquals(Files.readString(whole.resolve("index.json")), Files.readString(resumed.resolve("index.json")));
        // resuming with other options is refused
        CliTest.Result other = CliTest.cli("scan", "--model", CliTest.stories(), "--corpus", c.toString(), "--top-k", "6", "--seq-len", "10",
                "--batch", "2", "--out", resumed.toString(), "--resume");
        assertEquals(2, other.code());
        assertTrue(other.err().contains("other options"), other.err());
    }

    @Test void badInputIsOneLine(@TempDir Path dir) throws Exception {
        Path c = corpus(dir);
        Files.writeString(c.resolve("c.jsonl"), "{\"text\": \"fine\"}\n[1, 2]\n");
        String out = dir.resolve("o").toString();
        for (String[] args : new String[][] {
                {"scan", "--model", CliTest.stories(), "--corpus", c.toString(), "--out", out},                          // line 2 of c.jsonl
                {"scan", "--model", CliTest.stories(), "--corpus", dir.resolve("nope").toString(), "--out", out},
                {"scan", "--model", CliTest.stories(), "--corpus", c.resolve("a.txt").toString(), "--hooks", "hook_nothing", "--out", out},
                {"scan", "--model", CliTest.stories(), "--corpus", c.resolve("a.txt").toString(), "--seq-len", "1", "--out", out}}) {
            CliTest.Result r = CliTest.cli(args);
            assertEquals(2, r.code(), Arrays.toString(args) + " " + r.out());
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
        assertTrue(CliTest.cli("scan", "--model", CliTest.stories(), "--corpus", c.toString(), "--out", out).err().contains("c.jsonl line 2"));
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
