package dev.lens4j.oracle;

import dev.lens4j.hooks.HookNames;
import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The independent oracle: TransformerLens's forward written with libtorch ops (float64) from the same canonical
 * weights, recording every hook point. Follows TL's components (embed, pos_embed, layer_norm.py, rms_norm.py,
 * abstract_attention.py incl. rotary and GQA repeat_interleave, mlp.py / gated_mlp.py, unembed.py).
 * Uses no lens4j kernel or backend: lens4j tensors are only read as float arrays.
 */
public final class TorchOracle {
    static {
        try {
            // cold-cache SIGSEGV fix: extract every libtorch library before loading (build-facts.md)
            Loader.cacheResources(torch.class, "/org/bytedeco/pytorch/" + Loader.getPlatform() + "/");
        } catch (java.io.IOException e) {
            throw new IllegalStateException("could not extract libtorch", e);
        }
        Loader.load(torch.class);
    }

    private TorchOracle() {}

    /** One recorded activation, row-major. */
    public record Act(long[] shape, double[] data) {
        public double maxAbsFinite() {
            double m = 0;
            for (double v : data) if (Double.isFinite(v)) m = Math.max(m, Math.abs(v));
            return m;
        }
        @Override public String toString() { return "Act" + Arrays.toString(shape); }
    }

    /** An intervention at a hook point: return replacement data (same length) or null to leave it. */
    @FunctionalInterface
    public interface Intervention {
        double[] apply(String name, long[] shape, double[] data);
    }

    public record Result(Map<String, Act> acts, Act logits) {}

    public static Result run(Config cfg, Weights w, int[][] tokens) { return run(cfg, w, tokens, null); }

    public static Result run(Config cfg, Weights w, int[][] tokens, Intervention iv) {
        try (PointerScope ignored = new PointerScope()) {
            return new Fwd(cfg, w, iv).forward(tokens);
        }
    }

    /** TL's lm_cross_entropy_loss per token: -log_softmax(logits)[b, p, tokens[b][p+1]], [batch][pos-1]. */
    public static double[][] lossPerToken(Act logits, int[][] tokens) {
        try (PointerScope ignored = new PointerScope()) {
            Tensor lp = tensor(logits.data, logits.shape).log_softmax(-1);
            double[] d = data(lp);
            int B = tokens.length, S = tokens[0].length;
            long V = logits.shape[2];
            double[][] out = new double[B][S - 1];
            for (int b = 0; b < B; b++)
                for (int p = 0; p + 1 < S; p++) out[b][p] = -d[(int) (((long) b * S + p) * V + tokens[b][p + 1])];
            return out;
        }
    }

    // ------------------------------------------------------------------ torch helpers

    static Tensor tensor(double[] d, long... shape) {
        DoublePointer p = new DoublePointer(d);
        return torch.from_blob(p, shape, new TensorOptions(torch.ScalarType.Double)).clone();
    }

    static double[] data(Tensor t) {
        Tensor c = t.contiguous().toType(torch.ScalarType.Double);
        double[] out = new double[(int) c.numel()];
        c.data_ptr_double().get(out);
        return out;
    }

    static long[] shape(Tensor t) {
        long[] s = new long[(int) t.dim()];
        for (int i = 0; i < s.length; i++) s[i] = t.size(i);
        return s;
    }

    static Scalar s(double v) { return new Scalar(v); }

    static Tensor einsum(String eq, Tensor... ts) { return torch.einsum(eq, new TensorVector(ts)); }

    static Tensor meanLast(Tensor x) { return x.mean(new long[] {-1}, true, new ScalarTypeOptional()); }

    // ------------------------------------------------------------------ the forward

    private static final class Fwd {
        final Config cfg;
        final Weights w;
        final Intervention iv;
        final Map<String, Act> acts = new LinkedHashMap<>();
        int B, S;

        Fwd(Config cfg, Weights w, Intervention iv) { this.cfg = cfg; this.w = w; this.iv = iv; }

        Tensor W(String name) {
            dev.lens4j.tensor.Tensor t = w.get(name);
            float[] f = t.toFloatArray();
            double[] d = new double[f.length];
            for (int i = 0; i < f.length; i++) d[i] = f[i];
            return tensor(d, t.shape());
        }

        Tensor hook(String name, Tensor x) {
            long[] sh = shape(x);
            double[] d = data(x);
            if (iv != null) {
                double[] rep = iv.apply(name, sh.clone(), d.clone());
                if (rep != null) {
                    if (rep.length != d.length) throw new IllegalArgumentException("oracle intervention at " + name + " changed the size");
                    acts.put(name, new Act(sh, rep.clone()));
                    return tensor(rep, sh);
                }
            }
            acts.put(name, new Act(sh, d));
            return x;
        }

        Result forward(int[][] tokens) {
            B = tokens.length;
            S = tokens[0].length;
            long D = cfg.dModel;
            long[] ids = new long[B * S];
            for (int b = 0; b < B; b++) for (int p = 0; p < S; p++) ids[b * S + p] = tokens[b][p];
            Tensor idx = torch.from_blob(new LongPointer(ids), new long[] {(long) B * S}, new TensorOptions(torch.ScalarType.Long)).clone();
            Tensor resid = hook(HookNames.EMBED, W("embed.W_E").index_select(0, idx).reshape(B, S, D));
            if (!cfg.isRotary()) {
                Tensor pos = hook(HookNames.POS_EMBED, W("pos_embed.W_pos").narrow(0, 0, S).unsqueeze(0).expand(B, S, D).contiguous());
                resid = resid.add(pos);
            }
            for (int l = 0; l < cfg.nLayers; l++) resid = block(l, resid);
            Tensor x = norm("ln_final.", resid, "ln_final.w", "ln_final.b");
            Tensor logits = x.matmul(W("unembed.W_U")).add(W("unembed.b_U"));
            return new Result(acts, new Act(shape(logits), data(logits)));
        }

        /** TL: LayerNorm / LayerNormPre (hook_normalized after w, b) and RMSNorm / RMSNormPre (before w). */
        Tensor norm(String prefix, Tensor x, String wName, String bName) {
            String type = cfg.normalizationType;
            if (type == null) return x;
            double eps = cfg.eps;
            if (type.startsWith("LN")) {
                x = x.sub(meanLast(x));
                Tensor scale = hook(prefix + "hook_scale", meanLast(x.pow(s(2))).add(s(eps)).sqrt());
                x = x.div(scale);
                if (type.equals("LN")) x = x.mul(W(wName)).add(W(bName));
                return hook(prefix + "hook_normalized", x);
            }
            Tensor scale = hook(prefix + "hook_scale", meanLast(x.pow(s(2))).add(s(eps)).sqrt());
            x = hook(prefix + "hook_normalized", x.div(scale));
            if (type.equals("RMS")) x = x.mul(W(wName));
            return x;
        }

        Tensor act(Tensor x) {
            switch (cfg.actFn) {
                case "relu": return torch.relu(x);
                case "gelu": return torch.gelu(x);
                case "gelu_new": case "gelu_fast": case "gelu_pytorch_tanh": return torch.gelu(x, "tanh");
                case "silu": return torch.silu(x);
                default: throw new IllegalArgumentException("oracle: no activation " + cfg.actFn);
            }
        }

        /** TL's apply_rotary: x_rot * cos + rotate_every_two(x_rot) * sin on the first rotary_dim dims. */
        Tensor rotary(Tensor x) {
            long heads = x.size(2), dh = x.size(3);
            int rd = cfg.rotaryDim(), half = rd / 2;
            boolean adj = cfg.rotaryAdjacentPairs;
            double[] c = new double[S * rd], sn = new double[S * rd];
            for (int p = 0; p < S; p++)
                for (int j = 0; j < rd; j++) {
                    int i = adj ? j / 2 : j % half; // TL: repeat freq "d -> (d 2)" or "d -> (2 d)"
                    double freq = Math.pow(cfg.rotaryBase, i / (double) half);
                    double angle = p / freq;
                    c[p * rd + j] = Math.cos(angle);
                    sn[p * rd + j] = Math.sin(angle);
                }
            Tensor cos = tensor(c, 1, S, 1, rd), sin = tensor(sn, 1, S, 1, rd);
            Tensor xr = x.narrow(-1, 0, rd);
            Tensor flip;
            if (adj) {
                Tensor pairs = xr.reshape(B, S, heads, half, 2);
                Tensor even = pairs.select(-1, 0), odd = pairs.select(-1, 1);
                flip = torch.stack(new TensorVector(odd.neg(), even), -1).reshape(B, S, heads, rd);
            } else {
                flip = torch.cat(new TensorVector(xr.narrow(-1, half, half).neg(), xr.narrow(-1, 0, half)), -1);
            }
            Tensor rot = xr.mul(cos).add(flip.mul(sin));
            if (rd == dh) return rot;
            return torch.cat(new TensorVector(rot, x.narrow(-1, rd, dh - rd)), -1);
        }

        Tensor block(int l, Tensor residPre) {
            Tensor resid = hook(HookNames.residPre(l), residPre);
            Tensor a = norm("blocks." + l + ".ln1.", resid, Weights.ln(l, 1, "w"), Weights.ln(l, 1, "b"));
            Tensor q = hook(HookNames.q(l), einsum("bpd,hde->bphe", a, W(Weights.attn(l, "W_Q"))).add(W(Weights.attn(l, "b_Q"))));
            Tensor k = hook(HookNames.k(l), einsum("bpd,hde->bphe", a, W(Weights.kvName(cfg, l, "W_K"))).add(W(Weights.kvName(cfg, l, "b_K"))));
            Tensor v = hook(HookNames.v(l), einsum("bpd,hde->bphe", a, W(Weights.kvName(cfg, l, "W_V"))).add(W(Weights.kvName(cfg, l, "b_V"))));
            if (cfg.isRotary()) {
                q = hook(HookNames.rotQ(l), rotary(q));
                k = hook(HookNames.rotK(l), rotary(k));
            }
            int rep = cfg.nHeads / cfg.nKvHeads();
            if (rep > 1) { // TL: torch.repeat_interleave(k, dim=2, repeats=n_heads // n_kv_heads)
                k = k.repeat_interleave(rep, new LongOptional(2), new LongOptional());
                v = v.repeat_interleave(rep, new LongOptional(2), new LongOptional());
            }
            Tensor scores = einsum("bqhe,bkhe->bhqk", q, k).div(s(cfg.attnScale()));
            double[] mask = new double[S * S];
            for (int i = 0; i < S; i++) for (int j = i + 1; j < S; j++) mask[i * S + j] = Double.NEGATIVE_INFINITY;
            scores = hook(HookNames.attnScores(l), scores.add(tensor(mask, S, S)));
            Tensor pattern = hook(HookNames.pattern(l), scores.softmax(-1));
            Tensor z = hook(HookNames.z(l), einsum("bhqk,bkhe->bqhe", pattern, v));
            Tensor attnOut = hook(HookNames.attnOut(l), einsum("bqhe,hed->bqd", z, W(Weights.attn(l, "W_O"))).add(W(Weights.attn(l, "b_O"))));
            if (cfg.attnOnly) return hook(HookNames.residPost(l), resid.add(attnOut));
            Tensor mid = hook(HookNames.residMid(l), resid.add(attnOut));
            Tensor m = norm("blocks." + l + ".ln2.", mid, Weights.ln(l, 2, "w"), Weights.ln(l, 2, "b"));
            Tensor post;
            if (cfg.gatedMlp) { // TL GatedMLP
                Tensor pre = hook(HookNames.mlpPre(l), m.matmul(W(Weights.mlp(l, "W_gate"))));
                Tensor lin = hook(HookNames.mlpPreLinear(l), m.matmul(W(Weights.mlp(l, "W_in"))));
                post = hook(HookNames.mlpPost(l), act(pre).mul(lin).add(W(Weights.mlp(l, "b_in"))));
            } else {
                Tensor pre = hook(HookNames.mlpPre(l), m.matmul(W(Weights.mlp(l, "W_in"))).add(W(Weights.mlp(l, "b_in"))));
                post = hook(HookNames.mlpPost(l), act(pre));
            }
            Tensor out = hook(HookNames.mlpOut(l), post.matmul(W(Weights.mlp(l, "W_out"))).add(W(Weights.mlp(l, "b_out"))));
            return hook(HookNames.residPost(l), mid.add(out));
        }
    }
}
