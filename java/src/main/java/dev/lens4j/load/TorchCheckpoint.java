package dev.lens4j.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * TransformerLens / PyTorch state dicts saved with {@code torch.save(model.state_dict(), "model.pth")} (the zip
 * format of PyTorch 1.6 and later), with TL's HookedTransformerConfig as JSON beside them
 * ({@code json.dump(model.cfg.to_dict(), f, default=str)}). Parameter names are TL's, so they map directly; the
 * pickle is read by {@link TorchPickle}, which executes nothing. Buffers (attn.IGNORE, attn.mask, rotary tables)
 * are skipped; the weights are used as saved (TL's processing, if any, was applied before saving).
 */
public final class TorchCheckpoint {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_PICKLE_BYTES = 256L << 20;

    private TorchCheckpoint() {}

    public static boolean isTorchFile(Path p) {
        String n = p.getFileName() == null ? "" : p.getFileName().toString();
        return n.endsWith(".pth") || n.endsWith(".pt");
    }

    /** A directory holding one .pth / .pt file and a config.json with TL's fields (and no safetensors). */
    public static Path findInDirectory(Path dir) {
        try (var s = Files.list(dir)) {
            List<Path> files = s.filter(f -> isTorchFile(f) && Files.isRegularFile(f)).sorted().toList();
            if (files.isEmpty()) return null;
            if (files.size() > 1)
                throw new CheckpointException(dir + ": " + files.size() + " .pth/.pt files; give one with --model FILE --config CFG.json");
            return files.get(0);
        } catch (IOException e) {
            throw new CheckpointException(dir + ": cannot list: " + e.getMessage(), e);
        }
    }

    public static Checkpoint load(Path file, Path configJson) {
        if (configJson == null) {
            Path beside = file.toAbsolutePath().getParent().resolve("config.json");
            if (!Files.isRegularFile(beside))
                throw new CheckpointException(file + ": a torch state dict needs TransformerLens's config: pass --config CFG.json "
                        + "(json.dump(model.cfg.to_dict(), f, default=str)) or put it beside the file as config.json");
            configJson = beside;
        }
        Config cfg = readConfig(configJson);
        Weights w = new Weights();
        try {
            for (Map.Entry<String, Tensor> e : readStateDict(file).entrySet()) w.put(e.getKey(), e.getValue());
            return new Checkpoint(cfg, w);
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    // ---------------------------------------------------------------- config

    /** TL fields whose non-default values change the computation in ways lens4j does not model. */
    private static final Map<String, String> UNSUPPORTED = Map.of(
            "parallel_attn_mlp", "parallel attention and MLP", "use_local_attn", "local attention",
            "scale_attn_by_inverse_layer_idx", "scale_attn_by_inverse_layer_idx", "post_embedding_ln", "post-embedding LayerNorm",
            "use_normalization_before_and_after", "post-attention / post-MLP norms", "use_qk_norm", "q/k norms",
            "num_experts", "mixture of experts", "output_logits_soft_cap", "logit soft-capping",
            "attn_scores_soft_cap", "attention soft-capping");

    static Config readConfig(Path f) {
        if (!Files.isRegularFile(f)) throw new CheckpointException(f + ": missing or not a regular file");
        JsonNode n;
        try {
            n = JSON.readTree(Files.readAllBytes(f));
        } catch (IOException e) {
            throw new CheckpointException(f + ": not valid JSON: " + JsonErrors.describe(e));
        }
        if (n == null || !n.isObject()) throw new CheckpointException(f + ": not a JSON object");
        for (Map.Entry<String, String> u : UNSUPPORTED.entrySet()) {
            JsonNode v = n.get(u.getKey());
            boolean set = v != null && !v.isNull() && !(v.isBoolean() && !v.asBoolean()) && !(v.isNumber() && v.asDouble() <= 0);
            if (set) throw new CheckpointException(f + ": " + u.getKey() + " = " + v + ": " + u.getValue() + " is not supported");
        }
        String pos = n.path("positional_embedding_type").asText("standard");
        if (!pos.equals("standard") && !pos.equals("rotary"))
            throw new CheckpointException(f + ": positional_embedding_type '" + pos + "' is not supported (standard, rotary)");
        if (!n.path("attention_dir").asText("causal").equals("causal"))
            throw new CheckpointException(f + ": attention_dir '" + n.path("attention_dir").asText() + "' is not supported (causal)");
        try {
            Config c = Config.fromJson(n.toString());
            if (c.originalArchitecture == null) c.originalArchitecture = "TransformerLens";
            return c;
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(f + ": " + e.getMessage());
        }
    }

    // ---------------------------------------------------------------- the zip and its pickle

    /** Every floating-point tensor of the state dict as F32, under its name (buffers and integer tensors skipped). */
    public static Map<String, Tensor> readStateDict(Path file) {
        if (!Files.isRegularFile(file)) throw new CheckpointException(file + ": missing or not a regular file");
        try (ZipFile zip = new ZipFile(file.toFile())) {
            String prefix = archivePrefix(file, zip);
            ZipEntry bo = zip.getEntry(prefix + "byteorder");
            if (bo != null && !new String(read(zip, bo, 16, file), java.nio.charset.StandardCharsets.US_ASCII).trim().equals("little"))
                throw new CheckpointException(file + ": big-endian storages are not supported");
            ZipEntry pkl = zip.getEntry(prefix + "data.pkl");
            Object root = TorchPickle.load(file + " (data.pkl)", read(zip, pkl, MAX_PICKLE_BYTES, file));
            if (!(root instanceof Map<?, ?> dict))
                throw new CheckpointException(file + ": holds a " + (root == null ? "None" : root.getClass().getSimpleName())
                        + ", not a state dict (save model.state_dict())");
            Map<String, Tensor> out = new LinkedHashMap<>();
            try {
                for (Map.Entry<?, ?> e : dict.entrySet()) {
                    if (!(e.getKey() instanceof String name)) throw new CheckpointException(file + ": state dict key " + e.getKey() + " is not a string");
                    if (!(e.getValue() instanceof TorchPickle.TensorRef t))
                        throw new CheckpointException(file + ": '" + name + "' is not a tensor");
                    if (isBuffer(name) || !isFloat(t.storage().dtype())) continue;
                    out.put(name, materialize(zip, prefix, t, file, name));
                }
            } catch (RuntimeException e) {
                out.values().forEach(Tensor::close);
                throw e;
            }
            return out;
        } catch (ZipException e) {
            throw new CheckpointException(file + ": not a torch.save zip archive (" + e.getMessage()
                    + "); files from PyTorch before 1.6 need re-saving with a current torch.save");
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static boolean isBuffer(String name) {
        return name.endsWith(".IGNORE") || name.endsWith(".mask") || name.endsWith(".rotary_sin") || name.endsWith(".rotary_cos");
    }

    private static boolean isFloat(String dtype) {
        return dtype.equals("F32") || dtype.equals("F16") || dtype.equals("BF16") || dtype.equals("F64");
    }

    private static int elementBytes(String dtype) {
        return switch (dtype) { case "F64", "I64" -> 8; case "F32", "I32" -> 4; case "F16", "BF16", "I16" -> 2; default -> 1; };
    }

    /** torch.save puts every entry under one folder (the archive name): "&lt;name&gt;/data.pkl". */
    private static String archivePrefix(Path file, ZipFile zip) {
        List<String> pkls = new ArrayList<>();
        for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
            String n = en.nextElement().getName();
            if (n.equals("data.pkl") || (n.endsWith("/data.pkl") && n.indexOf('/') == n.length() - "/data.pkl".length()))
                pkls.add(n);
        }
        if (pkls.size() != 1)
            throw new CheckpointException(file + ": " + (pkls.isEmpty() ? "no data.pkl" : pkls.size() + " data.pkl entries")
                    + " in the archive: not a torch.save file");
        return pkls.get(0).substring(0, pkls.get(0).length() - "data.pkl".length());
    }

    private static byte[] read(ZipFile zip, ZipEntry e, long max, Path file) throws IOException {
        if (e == null) throw new CheckpointException(file + ": archive entry missing");
        long size = e.getSize();
        if (size > max || size > Integer.MAX_VALUE - 16)
            throw new CheckpointException(file + ": entry " + e.getName() + " has " + size + " bytes (more than " + max + " are not read)");
        try (InputStream in = zip.getInputStream(e)) {
            byte[] b = in.readNBytes((int) Math.min(max, Integer.MAX_VALUE - 16));
            if (size >= 0 && b.length != size)
                throw new CheckpointException(file + ": entry " + e.getName() + " is truncated (" + b.length + " of " + size + " bytes)");
            return b;
        }
    }

    private static Tensor materialize(ZipFile zip, String prefix, TorchPickle.TensorRef t, Path file, String name) throws IOException {
        TorchPickle.StorageRef s = t.storage();
        int eb = elementBytes(s.dtype());
        long expected = Math.multiplyExact(s.numel(), (long) eb);
        ZipEntry e = zip.getEntry(prefix + "data/" + s.key());
        if (e == null) throw new CheckpointException(file + ": storage " + s.key() + " of '" + name + "' is missing from the archive");
        byte[] data = read(zip, e, expected, file);
        if (data.length != expected)
            throw new CheckpointException(file + ": storage " + s.key() + " of '" + name + "' holds " + data.length
                    + " bytes, but its header says " + s.numel() + " elements of " + eb + " bytes");
        long n = t.numel();
        if (n > Integer.MAX_VALUE - 16) throw new CheckpointException(file + ": '" + name + "' has " + n + " elements (too many)");
        float[] out = new float[(int) n];
        ByteBuffer buf = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        long[] size = t.size(), stride = t.stride();
        long[] idx = new long[size.length];
        for (int i = 0; i < out.length; i++) {
            long off = t.offset();
            for (int d = 0; d < size.length; d++) off += idx[d] * stride[d];
            int at = (int) (off * eb);
            out[i] = switch (s.dtype()) {
                case "F32" -> buf.getFloat(at);
                case "F64" -> (float) buf.getDouble(at);
                case "F16" -> HalfFloats.f16ToF32(buf.getShort(at));
                default -> HalfFloats.bf16ToF32(buf.getShort(at));
            };
            for (int d = size.length - 1; d >= 0; d--) { // row-major odometer
                if (++idx[d] < size[d]) break;
                idx[d] = 0;
            }
        }
        long[] shape = size.length == 0 ? new long[] {1} : size.clone();
        return Tensor.of(out, shape);
    }
}
