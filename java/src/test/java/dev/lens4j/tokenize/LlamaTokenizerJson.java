package dev.lens4j.tokenize;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A llama2.c tokenizer (tok512.bin) written as the tokenizer.json a Hugging Face Llama checkpoint ships: BPE with
 * byte fallback, merges ranked by the merged piece's score (as transformers' LlamaConverter derives them from the
 * SentencePiece model), normalizer Prepend("▁") + Replace(" ", "▁"), decoder Replace("▁", " "), ByteFallback, Fuse,
 * Strip(1 leading space) — Llama 2's own tokenizer.json chain.
 */
public final class LlamaTokenizerJson {
    private LlamaTokenizerJson() {}

    public static Path write(Path tok512, Path dir) {
        try {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(tok512)).order(ByteOrder.LITTLE_ENDIAN);
            b.getInt(); // max_token_length
            List<String> pieces = new ArrayList<>();
            List<Float> scores = new ArrayList<>();
            while (b.hasRemaining()) {
                scores.add(b.getFloat());
                byte[] s = new byte[b.getInt()];
                b.get(s);
                pieces.add(new String(s, StandardCharsets.UTF_8));
            }
            ObjectMapper json = new ObjectMapper();
            ObjectNode root = json.createObjectNode();
            root.put("version", "1.0").putNull("truncation").putNull("padding");
            ArrayNode added = root.putArray("added_tokens");
            String[] specials = {"<unk>", "<s>", "</s>"};
            for (int i = 0; i < 3; i++)
                added.addObject().put("id", i).put("content", specials[i]).put("single_word", false).put("lstrip", false)
                        .put("rstrip", false).put("normalized", false).put("special", true);
            ObjectNode norm = root.putObject("normalizer").put("type", "Sequence");
            norm.putArray("normalizers").add(json.createObjectNode().put("type", "Prepend").put("prepend", "▁"))
                    .add(replace(json, " ", "▁"));
            root.putNull("pre_tokenizer");
            root.putNull("post_processor");
            ObjectNode dec = root.putObject("decoder").put("type", "Sequence");
            dec.putArray("decoders").add(replace(json, "▁", " ")).add(json.createObjectNode().put("type", "ByteFallback"))
                    .add(json.createObjectNode().put("type", "Fuse"))
                    .add(json.createObjectNode().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0));
            ObjectNode model = root.putObject("model").put("type", "BPE").putNull("dropout").put("unk_token", "<unk>");
            model.putNull("continuing_subword_prefix").putNull("end_of_word_suffix").put("fuse_unk", true).put("byte_fallback", true);
            ObjectNode vocab = model.putObject("vocab");
            Map<String, Integer> ids = new HashMap<>();
            for (int i = 0; i < pieces.size(); i++) {
                String p = i < 3 ? specials[i] : pieces.get(i).replace(' ', '▁');
                vocab.put(p, i);
                ids.put(p, i);
            }
            // every split of a piece into two pieces is a merge, ranked by the merged piece's score
            record Merge(String left, String right, float score, int id) {}
            List<Merge> merges = new ArrayList<>();
            for (int i = 3; i < pieces.size(); i++) {
                String p = pieces.get(i).replace(' ', '▁');
                if (p.startsWith("<0x")) continue;
                for (int k = 1; k < p.length(); k++) {
                    String l = p.substring(0, k), r = p.substring(k);
                    if (ids.containsKey(l) && ids.containsKey(r)) merges.add(new Merge(l, r, scores.get(i), i));
                }
            }
            merges.sort(Comparator.comparingDouble((Merge m) -> -m.score).thenComparingInt(m -> m.id));
            ArrayNode m = model.putArray("merges");
            for (Merge x : merges) m.add(x.left + " " + x.right);
            Files.createDirectories(dir);
            Path out = dir.resolve("tokenizer.json");
            Files.writeString(out, json.writeValueAsString(root));
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ObjectNode replace(ObjectMapper json, String from, String to) {
        ObjectNode n = json.createObjectNode().put("type", "Replace").put("content", to);
        n.putObject("pattern").put("String", from);
        return n;
    }
}
