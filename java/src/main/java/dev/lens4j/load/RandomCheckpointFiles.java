package dev.lens4j.load;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Random-weight bf16 safetensors checkpoints of real models' shapes (gpt2-medium, gpt2-large, gpt2-xl, gemma2-2b) in
 * Hugging Face's names and configs, written tensor by tensor without ever holding the model: what the load benchmark
 * and the real-shape memory tests load. Norm weights are written as their identity values, biases of norms as zero.
 */
public final class RandomCheckpointFiles {
    private RandomCheckpointFiles() {}

    public record Spec(String name, long[] shape, float constant) {
        public long numel() { long n = 1; for (long d : shape) n *= d; return n; }
    }

    // ---------------------------------------------------------------- shapes (Hugging Face names and configs)

    public static String config(String shape) {
        return switch (shape) {
            case "gpt2-medium", "gpt2-large", "gpt2-xl" -> {
                boolean xl = shape.equals("gpt2-xl"), medium = shape.equals("gpt2-medium");
                yield String.format(Locale.ROOT, "{\"model_type\": \"gpt2\", \"architectures\": [\"GPT2LMHeadModel\"], \"n_embd\": %d, \"n_layer\": %d,"
                    + " \"n_head\": %d, \"n_positions\": 1024, \"n_ctx\": 1024, \"vocab_size\": 50257, \"activation_function\": \"gelu_new\","
                    + " \"layer_norm_epsilon\": 1e-05, \"tie_word_embeddings\": true, \"torch_dtype\": \"bfloat16\"}",
                    xl ? 1600 : medium ? 1024 : 1280, xl ? 48 : medium ? 24 : 36, xl ? 25 : medium ? 16 : 20);
            }
            case "gemma2-2b" -> "{\"model_type\": \"gemma2\", \"architectures\": [\"Gemma2ForCausalLM\"], \"hidden_size\": 2304,"
                + " \"num_hidden_layers\": 26, \"num_attention_heads\": 8, \"num_key_value_heads\": 4, \"head_dim\": 256,"
                + " \"intermediate_size\": 9216, \"vocab_size\": 256000, \"max_position_embeddings\": 8192, \"rms_norm_eps\": 1e-06,"
                + " \"rope_theta\": 10000.0, \"hidden_act\": \"gelu_pytorch_tanh\", \"hidden_activation\": \"gelu_pytorch_tanh\","
                + " \"query_pre_attn_scalar\": 256, \"attn_logit_softcapping\": 50.0, \"final_logit_softcapping\": 30.0,"
                + " \"sliding_window\": 4096, \"tie_word_embeddings\": true, \"attention_bias\": false, \"torch_dtype\": \"bfloat16\"}";
            default -> throw new IllegalArgumentException("unknown shape " + shape + " (gpt2-medium, gpt2-large, gpt2-xl, gemma2-2b)");
        };
    }

    public static List<Spec> tensors(String shape) {
        List<Spec> s = new ArrayList<>();
        float rand = Float.NaN; // NaN: random values; otherwise the constant
        if (shape.startsWith("gpt2")) {
            boolean xl = shape.equals("gpt2-xl"), medium = shape.equals("gpt2-medium");
            long d = xl ? 1600 : medium ? 1024 : 1280, layers = xl ? 48 : medium ? 24 : 36, v = 50257, f = 4 * d;
            s.add(new Spec("wte.weight", new long[] {v, d}, rand));
            s.add(new Spec("wpe.weight", new long[] {1024, d}, rand));
            for (int l = 0; l < layers; l++) {
                String h = "h." + l + ".";
                s.add(new Spec(h + "ln_1.weight", new long[] {d}, 1));
                s.add(new Spec(h + "ln_1.bias", new long[] {d}, 0));
                s.add(new Spec(h + "attn.c_attn.weight", new long[] {d, 3 * d}, rand));
                s.add(new Spec(h + "attn.c_attn.bias", new long[] {3 * d}, rand));
                s.add(new Spec(h + "attn.c_proj.weight", new long[] {d, d}, rand));
                s.add(new Spec(h + "attn.c_proj.bias", new long[] {d}, rand));
                s.add(new Spec(h + "ln_2.weight", new long[] {d}, 1));
                s.add(new Spec(h + "ln_2.bias", new long[] {d}, 0));
                s.add(new Spec(h + "mlp.c_fc.weight", new long[] {d, f}, rand));
                s.add(new Spec(h + "mlp.c_fc.bias", new long[] {f}, rand));
                s.add(new Spec(h + "mlp.c_proj.weight", new long[] {f, d}, rand));
                s.add(new Spec(h + "mlp.c_proj.bias", new long[] {d}, rand));
            }
            s.add(new Spec("ln_f.weight", new long[] {d}, 1));
            s.add(new Spec("ln_f.bias", new long[] {d}, 0));
            return s;
        }
        long d = 2304, layers = 26, q = 8 * 256, kv = 4 * 256, f = 9216, v = 256000;
        String p = "model.";
        s.add(new Spec(p + "embed_tokens.weight", new long[] {v, d}, rand));
        for (int l = 0; l < layers; l++) {
            String h = p + "layers." + l + ".";
            s.add(new Spec(h + "input_layernorm.weight", new long[] {d}, 0)); // Gemma scales by 1 + w
            s.add(new Spec(h + "self_attn.q_proj.weight", new long[] {q, d}, rand));
            s.add(new Spec(h + "self_attn.k_proj.weight", new long[] {kv, d}, rand));
            s.add(new Spec(h + "self_attn.v_proj.weight", new long[] {kv, d}, rand));
            s.add(new Spec(h + "self_attn.o_proj.weight", new long[] {d, q}, rand));
            s.add(new Spec(h + "post_attention_layernorm.weight", new long[] {d}, 0));
            s.add(new Spec(h + "pre_feedforward_layernorm.weight", new long[] {d}, 0));
            s.add(new Spec(h + "mlp.gate_proj.weight", new long[] {f, d}, rand));
            s.add(new Spec(h + "mlp.up_proj.weight", new long[] {f, d}, rand));
            s.add(new Spec(h + "mlp.down_proj.weight", new long[] {d, f}, rand));
            s.add(new Spec(h + "post_feedforward_layernorm.weight", new long[] {d}, 0));
        }
        s.add(new Spec(p + "norm.weight", new long[] {d}, 0));
        return s;
    }

    // ---------------------------------------------------------------- write

    /** Header, then each tensor's bf16 data in 8 MB chunks: memory stays flat whatever the model's size. */
    public static void write(String shape, Path dir) throws IOException { write(shape, dir, true); }

    public static void write(String shape, Path dir, boolean log) throws IOException {
        List<Spec> specs = tensors(shape);
        StringBuilder h = new StringBuilder("{\"__metadata__\": {\"format\": \"pt\"}");
        long off = 0, params = 0;
        for (Spec s : specs) {
            StringBuilder shp = new StringBuilder();
            for (long x : s.shape()) shp.append(shp.length() == 0 ? "" : ", ").append(x);
            h.append(", \"").append(s.name()).append("\": {\"dtype\": \"BF16\", \"shape\": [").append(shp)
                .append("], \"data_offsets\": [").append(off).append(", ").append(off + 2 * s.numel()).append("]}");
            off += 2 * s.numel();
            params += s.numel();
        }
        h.append('}');
        while ((h.length() + 8) % 8 != 0) h.append(' ');
        byte[] json = h.toString().getBytes(StandardCharsets.UTF_8);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), config(shape));
        Path tmp = dir.resolve("model.safetensors.tmp");
        long t0 = System.nanoTime();
        SplittableRandom rng = new SplittableRandom(20261130L);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer head = ByteBuffer.allocate(8 + json.length).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(json.length).put(json).flip();
            while (head.hasRemaining()) ch.write(head);
            ByteBuffer buf = ByteBuffer.allocate(1 << 23).order(ByteOrder.LITTLE_ENDIAN);
            for (Spec s : specs) {
                for (long left = s.numel(); left > 0; ) {
                    int n = (int) Math.min(left, buf.capacity() / 2);
                    buf.clear();
                    for (int k = 0; k < n; k++) {
                        float x = Float.isNaN(s.constant()) ? (float) (rng.nextDouble() * 0.04 - 0.02) : s.constant();
                        buf.putShort(HalfFloats.f32ToBf16(x));
                    }
                    buf.flip();
                    while (buf.hasRemaining()) ch.write(buf);
                    left -= n;
                }
            }
        }
        Files.move(tmp, dir.resolve("model.safetensors"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        if (log) System.out.printf(Locale.ROOT, "wrote %s: %s parameters, %.2f GB bf16, in %.1f s%n", dir, params, (8 + json.length + off) / 1e9,
            (System.nanoTime() - t0) / 1e9);
    }
}
