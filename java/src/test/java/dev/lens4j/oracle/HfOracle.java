package dev.lens4j.oracle;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lens4j.hooks.HookNames;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.util.LinkedHashMap;
import java.util.Map;

import static dev.lens4j.oracle.TorchOracle.data;
import static dev.lens4j.oracle.TorchOracle.einsum;
import static dev.lens4j.oracle.TorchOracle.meanLast;
import static dev.lens4j.oracle.TorchOracle.s;
import static dev.lens4j.oracle.TorchOracle.shape;
import static dev.lens4j.oracle.TorchOracle.tensor;

/**
 * A second, independent oracle: Hugging Face's forward pass (modeling_gpt_neox.py, modeling_llama.py, modeling_qwen2.py, modeling_gemma.py,
 * modeling_gemma2.py, modeling_rope_utils.py), written from HF's equations with
 * libtorch ops in float64, reading the checkpoint's own tensors by their HF names and config.json fields. It never sees
 * lens4j's config mapping, weight conversion or weight processing. It records, under TransformerLens's hook names, the
 * HF intermediate that TL's hook point corresponds to (so an unprocessed lens4j model must match it everywhere).
 */
public final class HfOracle {
    private HfOracle() {}

    /** One stored tensor, row-major, with the values the file holds (already rounded when stored as bf16). */
    public record HfTensor(long[] shape, double[] data) {}

    /** A checkpoint as the test wrote it: config.json and its tensors by HF name. */
    public record HfModel(ObjectNode config, Map<String, HfTensor> tensors) {}

    public static TorchOracle.Result run(HfModel m, int[][] tokens) {
        try (PointerScope ignored = new PointerScope()) {
            String type = m.config().path("model_type").asText();
            Fwd f = new Fwd(m);
            return switch (type) {
                case "gpt_neox" -> f.neox(tokens);
                case "llama", "qwen2", "mistral", "gemma", "gemma2" -> f.llama(tokens);
                default -> throw new IllegalArgumentException("HfOracle: no model_type " + type);
            };
        }
    }

    /** Greedy decoding with the oracle (full recomputation per token). */
    public static int[] greedy(HfModel m, int[] prompt, int newTokens) {
        int[] seq = prompt.clone();
        for (int i = 0; i < newTokens; i++) {
            TorchOracle.Act lg = run(m, new int[][] {seq}).logits();
            int V = (int) lg.shape()[2], last = seq.length - 1, best = 0;
            for (int v = 1; v < V; v++) if (lg.data()[last * V + v] > lg.data()[last * V + best]) best = v;
            seq = java.util.Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = best;
        }
        return seq;
    }

    private static final class Fwd {
        final JsonNode cfg;
        final Map<String, HfTensor> t;
        final Map<String, TorchOracle.Act> acts = new LinkedHashMap<>();
        int B, S;

        Fwd(HfModel m) { this.cfg = m.config(); this.t = m.tensors(); }

        Tensor W(String name) {
            HfTensor h = t.get(name);
            if (h == null) throw new IllegalArgumentException("HfOracle: checkpoint has no tensor " + name);
            return tensor(h.data(), h.shape());
        }

        boolean has(String name) { return t.containsKey(name); }

        Tensor hook(String name, Tensor x) {
            acts.put(name, new TorchOracle.Act(shape(x), data(x)));
            return x;
        }

        /** nn.Linear: x @ W^T + b. */
        Tensor linear(Tensor x, String w, String b) {
            Tensor y = x.matmul(W(w).t());
            return b != null && has(b) ? y.add(W(b)) : y;
        }

        /** nn.LayerNorm over the last dim; TL's hook_scale is sqrt(var + eps), hook_normalized the output. */
        Tensor layerNorm(String hookPrefix, Tensor x, String w, String b, double eps) {
            Tensor c = x.sub(meanLast(x));
            Tensor scale = hook(hookPrefix + "hook_scale", meanLast(c.pow(s(2))).add(s(eps)).sqrt());
            return hook(hookPrefix + "hook_normalized", c.div(scale).mul(W(w)).add(W(b)));
        }

        Tensor act(String name, Tensor x) {
            return switch (name) {
                case "gelu" -> torch.gelu(x);
                case "gelu_new", "gelu_fast", "gelu_pytorch_tanh" -> torch.gelu(x, "tanh");
                case "relu" -> torch.relu(x);
                case "silu" -> torch.silu(x);
                default -> throw new IllegalArgumentException("HfOracle: no activation " + name);
            };
        }

        Tensor embedding(String name, int[][] tokens) {
            B = tokens.length;
            S = tokens[0].length;
            long[] ids = new long[B * S];
            for (int b = 0; b < B; b++) for (int p = 0; p < S; p++) ids[b * S + p] = tokens[b][p];
            Tensor idx = torch.from_blob(new LongPointer(ids), new long[] {(long) B * S}, new TensorOptions(torch.ScalarType.Long)).clone();
            Tensor e = W(name);
            return e.index_select(0, idx).reshape(B, S, e.size(1));
        }

        /**
         * HF's apply_rotary_pos_emb on the first rd dims of x [B, S, heads, dh]: x*cos + rotate_half(x)*sin with
         * inv_freq[i] = 1 / base^(2i / rd) and cos = cat(freqs, freqs) (the rotate-half layout).
         */
        Tensor rotary(Tensor x, int rd, double[] invFreq) {
            long dh = x.size(3);
            int half = rd / 2;
            double[] c = new double[S * rd], sn = new double[S * rd];
            for (int p = 0; p < S; p++)
                for (int j = 0; j < rd; j++) {
                    double angle = p * invFreq[j % half];
                    c[p * rd + j] = Math.cos(angle);
                    sn[p * rd + j] = Math.sin(angle);
                }
            Tensor cos = tensor(c, 1, S, 1, rd), sin = tensor(sn, 1, S, 1, rd);
            Tensor xr = x.narrow(-1, 0, rd);
            Tensor rotHalf = torch.cat(new TensorVector(xr.narrow(-1, half, half).neg(), xr.narrow(-1, 0, half)), -1);
            Tensor rot = xr.mul(cos).add(rotHalf.mul(sin));
            return rd == dh ? rot : torch.cat(new TensorVector(rot, x.narrow(-1, rd, dh - rd)), -1);
        }

        static double[] defaultInvFreq(int rd, double base) {
            double[] f = new double[rd / 2];
            for (int i = 0; i < f.length; i++) f[i] = 1.0 / Math.pow(base, (2.0 * i) / rd);
            return f;
        }

        /** Causal softmax attention; q [B,S,H,dh], k/v [B,S,H,dh]; records scores (masked -inf), pattern and z. */
        Tensor attention(int l, Tensor q, Tensor k, Tensor v, double scaling) { return attention(l, q, k, v, scaling, 0, 0); }

        /** With Gemma 2's attn_logit_softcapping (cap > 0) before the mask and a sliding window (keys j > i - window). */
        Tensor attention(int l, Tensor q, Tensor k, Tensor v, double scaling, double cap, int window) {
            Tensor scores = einsum("bqhe,bkhe->bhqk", q, k).mul(s(scaling));
            if (cap > 0) scores = scores.div(s(cap)).tanh().mul(s(cap));
            double[] mask = new double[S * S];
            for (int i = 0; i < S; i++)
                for (int j = 0; j < S; j++)
                    if (j > i || (window > 0 && j <= i - window)) mask[i * S + j] = Double.NEGATIVE_INFINITY;
            scores = hook(HookNames.attnScores(l), scores.add(tensor(mask, S, S)));
            Tensor pattern = hook(HookNames.pattern(l), scores.softmax(-1));
            return hook(HookNames.z(l), einsum("bhqk,bkhe->bqhe", pattern, v));
        }

        Tensor logits(Tensor h, String name) { return h.matmul(W(name).t()); }

        /** LlamaRMSNorm: x * rsqrt(mean(x^2) + eps) * w; TL's hook_normalized is before the weight. */
        Tensor rmsNorm(String hookPrefix, Tensor x, String w, double eps) {
            Tensor scale = hook(hookPrefix + "hook_scale", meanLast(x.pow(s(2))).add(s(eps)).sqrt());
            Tensor weight = gemma ? W(w).add(s(1)) : W(w); // GemmaRMSNorm: x / rms * (1 + w)
            return hook(hookPrefix + "hook_normalized", x.div(scale)).mul(weight);
        }

        boolean gemma;

        /**
         * inv_freq of modeling_rope_utils: default, or _compute_llama3_parameters (wavelengths above
         * original_max_position_embeddings / low_freq_factor divided by factor, below / high_freq_factor kept, smoothed between).
         */
        static double[] ropeInvFreq(JsonNode cfg, int dim) {
            double[] f = defaultInvFreq(dim, cfg.path("rope_theta").asDouble(10000));
            JsonNode rs = cfg.get("rope_scaling");
            if (rs == null || rs.isNull()) return f;
            String type = rs.has("rope_type") ? rs.get("rope_type").asText() : rs.path("type").asText();
            if (!type.equals("llama3")) throw new IllegalArgumentException("HfOracle: rope type " + type);
            double factor = rs.get("factor").asDouble(), low = rs.get("low_freq_factor").asDouble(), high = rs.get("high_freq_factor").asDouble();
            double old = rs.get("original_max_position_embeddings").asDouble();
            double lowWavelen = old / low, highWavelen = old / high;
            double[] out = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                double wavelen = 2 * Math.PI / f[i];
                double scaled = wavelen > lowWavelen ? f[i] / factor : f[i];
                double smooth = (old / wavelen - low) / (high - low);
                boolean medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
                out[i] = medium ? (1 - smooth) * scaled / factor + smooth * scaled : scaled;
            }
            return out;
        }

        // ------------------------------------------------------------------ Llama / Qwen2 / Gemma (modeling_llama.py, modeling_qwen2.py, modeling_gemma.py)

        TorchOracle.Result llama(int[][] tokens) {
            int d = cfg.get("hidden_size").asInt(), nH = cfg.get("num_attention_heads").asInt();
            int nKv = cfg.path("num_key_value_heads").asInt(nH), L = cfg.get("num_hidden_layers").asInt();
            int dh = cfg.has("head_dim") ? cfg.get("head_dim").asInt() : d / nH;
            double eps = cfg.path("rms_norm_eps").asDouble(1e-6);
            double[] invFreq = ropeInvFreq(cfg, dh);
            gemma = cfg.get("model_type").asText().startsWith("gemma");
            boolean gemma2 = cfg.get("model_type").asText().equals("gemma2");
            Tensor x = embedding("model.embed_tokens.weight", tokens);
            if (gemma) x = x.mul(s(Math.sqrt(d))); // GemmaModel: hidden_states * hidden_size ** 0.5
            x = hook(HookNames.EMBED, x);
            String act = gemma ? cfg.path("hidden_activation").asText("gelu_pytorch_tanh") : cfg.path("hidden_act").asText("silu");
            boolean tied = cfg.path("tie_word_embeddings").asBoolean(gemma);
            for (int l = 0; l < L; l++) {
                String p = "model.layers." + l + ".";
                x = hook(HookNames.residPre(l), x);
                Tensor h1 = rmsNorm("blocks." + l + ".ln1.", x, p + "input_layernorm.weight", eps);
                Tensor q = hook(HookNames.q(l), linear(h1, p + "self_attn.q_proj.weight", p + "self_attn.q_proj.bias").reshape(B, S, nH, dh));
                Tensor k = hook(HookNames.k(l), linear(h1, p + "self_attn.k_proj.weight", p + "self_attn.k_proj.bias").reshape(B, S, nKv, dh));
                Tensor v = hook(HookNames.v(l), linear(h1, p + "self_attn.v_proj.weight", p + "self_attn.v_proj.bias").reshape(B, S, nKv, dh));
                q = hook(HookNames.rotQ(l), rotary(q, dh, invFreq));
                k = hook(HookNames.rotK(l), rotary(k, dh, invFreq));
                // repeat_kv: query head h reads kv head h / (nH / nKv)
                long[] idx = new long[nH];
                for (int h = 0; h < nH; h++) idx[h] = h / (nH / nKv);
                Tensor sel = torch.from_blob(new LongPointer(idx), new long[] {nH}, new TensorOptions(torch.ScalarType.Long)).clone();
                // Gemma 2: scale query_pre_attn_scalar^-0.5, soft-capped logits, sliding window on sliding layers
                double scaling = gemma2 ? 1 / Math.sqrt(cfg.get("query_pre_attn_scalar").asDouble()) : 1.0 / Math.sqrt(dh);
                double cap = gemma2 ? cfg.path("attn_logit_softcapping").asDouble(0) : 0;
                boolean sliding = gemma2 && (cfg.has("layer_types") ? cfg.get("layer_types").get(l).asText().equals("sliding_attention") : l % 2 == 0);
                boolean mistralWindow = cfg.get("model_type").asText().equals("mistral") && cfg.path("sliding_window").isInt();
                // Qwen2Config: sliding_window only with use_sliding_window; unlisted layer_types make layers >= max_window_layers sliding
                boolean qwenWindow = cfg.get("model_type").asText().equals("qwen2") && cfg.path("use_sliding_window").asBoolean(false)
                        && cfg.path("sliding_window").isInt() && (cfg.has("layer_types")
                                ? cfg.get("layer_types").get(l).asText().equals("sliding_attention") : l >= cfg.path("max_window_layers").asInt(28));
                int window = sliding || mistralWindow || qwenWindow ? cfg.get("sliding_window").asInt() : 0;
                Tensor z = attention(l, q, k.index_select(2, sel), v.index_select(2, sel), scaling, cap, window);
                Tensor attnOut = linear(z.reshape(B, S, (long) nH * dh), p + "self_attn.o_proj.weight", p + "self_attn.o_proj.bias");
                if (gemma2) attnOut = rmsNorm("blocks." + l + ".ln1_post.", attnOut, p + "post_attention_layernorm.weight", eps);
                attnOut = hook(HookNames.attnOut(l), attnOut);
                Tensor mid = hook(HookNames.residMid(l), x.add(attnOut));
                Tensor h2 = rmsNorm("blocks." + l + ".ln2.", mid, p + (gemma2 ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"), eps);
                Tensor gate = hook(HookNames.mlpPre(l), linear(h2, p + "mlp.gate_proj.weight", null));
                Tensor up = hook(HookNames.mlpPreLinear(l), linear(h2, p + "mlp.up_proj.weight", null));
                Tensor post = hook(HookNames.mlpPost(l), act(act, gate).mul(up));
                Tensor mlpOut = linear(post, p + "mlp.down_proj.weight", null);
                if (gemma2) mlpOut = rmsNorm("blocks." + l + ".ln2_post.", mlpOut, p + "post_feedforward_layernorm.weight", eps);
                mlpOut = hook(HookNames.mlpOut(l), mlpOut);
                x = hook(HookNames.residPost(l), mid.add(mlpOut));
            }
            Tensor h = rmsNorm("ln_final.", x, "model.norm.weight", eps);
            Tensor lg = logits(h, tied ? "model.embed_tokens.weight" : "lm_head.weight");
            double finalCap = gemma2 ? cfg.path("final_logit_softcapping").asDouble(0) : 0;
            if (finalCap > 0) lg = lg.div(s(finalCap)).tanh().mul(s(finalCap));
            return new TorchOracle.Result(acts, new TorchOracle.Act(shape(lg), data(lg)));
        }

        // ------------------------------------------------------------------ GPT-NeoX (modeling_gpt_neox.py)

        TorchOracle.Result neox(int[][] tokens) {
            int d = cfg.get("hidden_size").asInt(), nH = cfg.get("num_attention_heads").asInt(), dh = d / nH;
            int L = cfg.get("num_hidden_layers").asInt();
            double eps = cfg.path("layer_norm_eps").asDouble(1e-5);
            int rd = (int) (dh * cfg.path("rotary_pct").asDouble(0.25));
            double[] invFreq = defaultInvFreq(rd, cfg.path("rotary_emb_base").asDouble(10000));
            boolean parallel = cfg.path("use_parallel_residual").asBoolean(true);
            String act = cfg.path("hidden_act").asText("gelu");
            Tensor x = hook(HookNames.EMBED, embedding("gpt_neox.embed_in.weight", tokens));
            for (int l = 0; l < L; l++) {
                String p = "gpt_neox.layers." + l + ".";
                x = hook(HookNames.residPre(l), x);
                Tensor h1 = layerNorm("blocks." + l + ".ln1.", x, p + "input_layernorm.weight", p + "input_layernorm.bias", eps);
                // qkv.view(B, S, heads, 3 * head_size), then q | k | v along the last dim
                Tensor qkv = linear(h1, p + "attention.query_key_value.weight", p + "attention.query_key_value.bias").reshape(B, S, nH, 3L * dh);
                Tensor q = hook(HookNames.q(l), qkv.narrow(-1, 0, dh));
                Tensor k = hook(HookNames.k(l), qkv.narrow(-1, dh, dh));
                Tensor v = hook(HookNames.v(l), qkv.narrow(-1, 2L * dh, dh));
                q = hook(HookNames.rotQ(l), rotary(q, rd, invFreq));
                k = hook(HookNames.rotK(l), rotary(k, rd, invFreq));
                Tensor z = attention(l, q, k, v, 1.0 / Math.sqrt(dh));
                Tensor attnOut = hook(HookNames.attnOut(l), linear(z.reshape(B, S, d), p + "attention.dense.weight", p + "attention.dense.bias"));
                Tensor mlpIn = parallel ? x : hook(HookNames.residMid(l), x.add(attnOut));
                Tensor h2 = layerNorm("blocks." + l + ".ln2.", mlpIn, p + "post_attention_layernorm.weight", p + "post_attention_layernorm.bias", eps);
                Tensor pre = hook(HookNames.mlpPre(l), linear(h2, p + "mlp.dense_h_to_4h.weight", p + "mlp.dense_h_to_4h.bias"));
                Tensor post = hook(HookNames.mlpPost(l), act(act, pre));
                Tensor mlpOut = hook(HookNames.mlpOut(l), linear(post, p + "mlp.dense_4h_to_h.weight", p + "mlp.dense_4h_to_h.bias"));
                x = hook(HookNames.residPost(l), parallel ? mlpOut.add(attnOut).add(x) : mlpOut.add(mlpIn));
            }
            Tensor h = layerNorm("ln_final.", x, "gpt_neox.final_layer_norm.weight", "gpt_neox.final_layer_norm.bias", eps);
            Tensor lg = logits(h, cfg.path("tie_word_embeddings").asBoolean(false) ? "gpt_neox.embed_in.weight" : "embed_out.weight");
            return new TorchOracle.Result(acts, new TorchOracle.Act(shape(lg), data(lg)));
        }
    }
}
