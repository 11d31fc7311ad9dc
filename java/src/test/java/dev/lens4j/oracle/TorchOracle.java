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
 * <p>{@link #runWithGrad} runs the same forward under autograd: weights are leaf tensors, and each hook point adds a
 * zero leaf (h = act + 0) whose gradient is d metric / d activation, summed over every use (one ln1 output feeds
 * q, k and v; hook_scale feeds only the division).
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

    /** A scalar metric of the logits [batch, pos, vocab], in torch ops so autograd flows through it. */
    @FunctionalInterface
    public interface TorchMetric {
        Tensor apply(Tensor logits);
    }

    /** Forward plus reverse pass: gradients by hook name and by TL weight name (zeros where nothing flowed). */
    public record GradResult(Map<String, Act> acts, Act logits, double value, Map<String, Act> grads, Map<String, Act> weightGrads) {}

    public static Result run(Config cfg, Weights w, int[][] tokens) { return run(cfg, w, tokens, null); }

    public static Result run(Config cfg, Weights w, int[][] tokens, Intervention iv) {
        try (PointerScope ignored = new PointerScope()) {
            return new Fwd(cfg, w, iv).forward(tokens);
        }
    }

    /** The forward under autograd, metric(logits).backward(), and every hook-point and weight gradient. */
    public static GradResult runWithGrad(Config cfg, Weights w, int[][] tokens, TorchMetric metric) {
        return runWithGrad(cfg, w, tokens, metric, null);
    }

    /** As above with an intervention; a replaced activation passes gradients as the identity (x + constant). */
    public static GradResult runWithGrad(Config cfg, Weights w, int[][] tokens, TorchMetric metric, Intervention iv) {
        try (PointerScope ignored = new PointerScope()) {
            Fwd f = new Fwd(cfg, w, iv);
            f.grad = true;
            Tensor logits = f.logitsOf(tokens);
            Tensor value = metric.apply(logits);
            if (value.numel() != 1) throw new IllegalArgumentException("metric is not a scalar: " + Arrays.toString(shape(value)));
            double v = data(value)[0];
            value.backward();
            Map<String, Act> grads = new LinkedHashMap<>(), wg = new LinkedHashMap<>();
            f.leaves.forEach((n, t) -> grads.put(n, gradOf(t)));
            f.params.forEach((n, t) -> wg.put(n, gradOf(t)));
            return new GradResult(f.acts, new Act(shape(logits), data(logits)), v, grads, wg);
        }
    }

    private static Act gradOf(Tensor leaf) {
        Tensor g = leaf.grad();
        long[] sh = shape(leaf);
        return new Act(sh, g.defined() ? data(g) : new double[(int) leaf.numel()]);
    }

    // ------------------------------------------------------------------ metrics (as dev.lens4j.model.Metrics)

    static Tensor lastPos(Tensor logits) { return logits.select(1, logits.size(1) - 1); }

    /** c . logits[:, -1] with c [batch, vocab] filled per prompt. */
    private static Tensor lastCoef(Tensor logits, java.util.function.ObjIntConsumer<double[]> fill) {
        int B = (int) logits.size(0), V = (int) logits.size(2);
        double[] c = new double[B * V];
        for (int b = 0; b < B; b++) {
            double[] row = new double[V];
            fill.accept(row, b);
            System.arraycopy(row, 0, c, b * V, V);
        }
        return tensor(c, B, V);
    }

    private static int pick(int[] ids, int b) { return ids[ids.length == 1 ? 0 : b]; }

    /** Sum over the batch of logit(answer) - logit(wrong) at the last position. */
    public static TorchMetric logitDiff(int[] answers, int[] wrongs) {
        return lg -> lastPos(lg).mul(lastCoef(lg, (r, b) -> { r[pick(answers, b)] += 1; r[pick(wrongs, b)] -= 1; })).sum();
    }

    /** Mean logit of set A minus mean of set B at the last position, summed over the batch. */
    public static TorchMetric logitSetDiff(int[] a, int[] bs) {
        return lg -> lastPos(lg).mul(lastCoef(lg, (r, b) -> {
            for (int t : a) r[t] += 1.0 / a.length;
            for (int t : bs) r[t] -= 1.0 / bs.length;
        })).sum();
    }

    /** Sum of softmax probabilities over set A minus over set B at the last position, summed over the batch. */
    public static TorchMetric probSetDiff(int[] a, int[] bs) {
        return lg -> lastPos(lg).softmax(-1).mul(lastCoef(lg, (r, b) -> { for (int t : a) r[t] += 1; for (int t : bs) r[t] -= 1; })).sum();
    }

    /** sign_b * (logit(yes) - logit(no)) at the last position, sign +1 when the truth is yes; summed over the batch. */
    public static TorchMetric forcedChoiceMargin(int yes, int no, boolean[] truthIsYes) {
        return lg -> lastPos(lg).mul(lastCoef(lg, (r, b) -> { double sg = truthIsYes[b] ? 1 : -1; r[yes] += sg; r[no] -= sg; })).sum();
    }

    /** Mean cross-entropy of targets[b] at the last position. */
    public static TorchMetric crossEntropyLast(int[] targets) {
        return lg -> lastPos(lg).log_softmax(-1).mul(lastCoef(lg, (r, b) -> r[targets[b]] = 1)).sum().neg().div(s(lg.size(0)));
    }

    /** Mean next-token cross-entropy over all positions (TL's loss). */
    public static TorchMetric nextTokenLoss(int[][] tokens) {
        return lg -> {
            int B = (int) lg.size(0), S = (int) lg.size(1), V = (int) lg.size(2);
            double[] c = new double[B * (S - 1) * V];
            for (int b = 0; b < B; b++) for (int p = 0; p + 1 < S; p++) c[(b * (S - 1) + p) * V + tokens[b][p + 1]] = 1;
            return lg.log_softmax(-1).narrow(1, 0, S - 1).mul(tensor(c, B, S - 1, V)).sum().neg().div(s((double) B * (S - 1)));
        };
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
        final Map<String, Tensor> params = new LinkedHashMap<>(), leaves = new LinkedHashMap<>();
        boolean grad; // autograd mode: weights are leaves, each hook point adds a zero leaf
        int B, S;

        Fwd(Config cfg, Weights w, Intervention iv) { this.cfg = cfg; this.w = w; this.iv = iv; }

        Tensor W(String name) {
            Tensor p = params.get(name);
            if (p != null) return p;
            dev.lens4j.tensor.Tensor t = w.get(name);
            float[] f = t.toFloatArray();
            double[] d = new double[f.length];
            for (int i = 0; i < f.length; i++) d[i] = f[i];
            p = tensor(d, t.shape());
            if (grad) p.set_requires_grad(true);
            params.put(name, p); // one leaf per weight, so uses accumulate
            return p;
        }

        Tensor hook(String name, Tensor x) {
            long[] sh = shape(x);
            double[] d = data(x);
            if (iv != null) {
                double[] rep = iv.apply(name, sh.clone(), d.clone());
                if (rep != null) {
                    if (rep.length != d.length) throw new IllegalArgumentException("oracle intervention at " + name + " changed the size");
                    acts.put(name, new Act(sh, rep.clone()));
                    // autograd: the replacement counts as the identity (as lens4j's reverse pass)
                    if (!grad) return tensor(rep, sh);
                    double[] delta = new double[rep.length]; // rep - x, 0 where equal (masked -inf scores)
                    for (int i = 0; i < rep.length; i++) delta[i] = rep[i] == d[i] ? 0 : rep[i] - d[i];
                    return leaf(name, x.add(tensor(delta, sh)));
                }
            }
            acts.put(name, new Act(sh, d));
            return leaf(name, x);
        }

        /** h = x + zero leaf: the leaf's gradient is the total gradient at this hook point. */
        Tensor leaf(String name, Tensor x) {
            if (!grad) return x;
            Tensor z = tensor(new double[(int) x.numel()], shape(x));
            z.set_requires_grad(true);
            if (leaves.put(name, z) != null) throw new IllegalStateException("hook point " + name + " fired twice");
            return x.add(z);
        }

        Result forward(int[][] tokens) {
            Tensor logits = logitsOf(tokens);
            return new Result(acts, new Act(shape(logits), data(logits)));
        }

        Tensor logitsOf(int[][] tokens) {
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
            double cap = cfg.outputLogitsSoftCap; // TL: output_logits_soft_cap * tanh(logits / cap)
            return cap > 0 ? logits.div(s(cap)).tanh().mul(s(cap)) : logits;
        }

        /** TL: LayerNorm / LayerNormPre (hook_normalized after w, b) and RMSNorm / RMSNormPre (before w). */
        Tensor norm(String prefix, Tensor x, String wName, String bName) { return norm(cfg.normalizationType, prefix, x, wName, bName); }

        /** TL's ln1_post / ln2_post (use_normalization_before_and_after): RMSNorm or LayerNorm, never folded. */
        Tensor postNorm(String prefix, Tensor x) {
            String type = cfg.normalizationType == null ? null : cfg.normalizationType.startsWith("RMS") ? "RMS" : "LN";
            return norm(type, prefix, x, prefix + "w", prefix + "b");
        }

        Tensor norm(String type, String prefix, Tensor x, String wName, String bName) {
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
            double[] freqs = new double[half]; // TL's calculate_sin_cos_rotary: 1 / inv_freq
            for (int i = 0; i < half; i++) {
                double inv = 1 / Math.pow(cfg.rotaryBase, i / (double) half);
                if (cfg.useNTKByPartsRope) { // TL's NTK-by-parts (Llama 3.1)
                    double f = cfg.ntkByPartsFactor, lo = cfg.ntkByPartsLowFreqFactor, hi = cfg.ntkByPartsHighFreqFactor;
                    double ctx = cfg.ntkOriginalCtxLen, wavelen = 2 * Math.PI / inv;
                    double llama = wavelen > ctx / lo ? inv / f : inv;
                    double smooth = (ctx / wavelen - lo) / (hi - lo);
                    boolean medium = !(wavelen < ctx / hi) && !(wavelen > ctx / lo);
                    inv = medium ? (1 - smooth) * llama / f + smooth * llama : llama;
                }
                freqs[i] = 1 / inv;
            }
            double[] c = new double[S * rd], sn = new double[S * rd];
            for (int p = 0; p < S; p++)
                for (int j = 0; j < rd; j++) {
                    int i = adj ? j / 2 : j % half; // TL: repeat freq "d -> (d 2)" or "d -> (2 d)"
                    double angle = p / freqs[i];
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
            if (cfg.attnScoresSoftCap > 0) scores = scores.div(s(cfg.attnScoresSoftCap)).tanh().mul(s(cfg.attnScoresSoftCap));
            double[] mask = new double[S * S];
            boolean local = cfg.useLocalAttn && "local".equals(cfg.attnTypes.get(l)); // TL: local layers see window_size keys
            for (int i = 0; i < S; i++)
                for (int j = 0; j < S; j++)
                    if (j > i || (local && i - j >= cfg.windowSize)) mask[i * S + j] = Double.NEGATIVE_INFINITY;
            scores = hook(HookNames.attnScores(l), scores.add(tensor(mask, S, S)));
            Tensor pattern = hook(HookNames.pattern(l), scores.softmax(-1));
            Tensor z = hook(HookNames.z(l), einsum("bhqk,bkhe->bqhe", pattern, v));
            Tensor attnOut = einsum("bqhe,hed->bqd", z, W(Weights.attn(l, "W_O"))).add(W(Weights.attn(l, "b_O")));
            if (cfg.useNormalizationBeforeAndAfter) attnOut = postNorm("blocks." + l + ".ln1_post.", attnOut);
            attnOut = hook(HookNames.attnOut(l), attnOut);
            if (cfg.attnOnly) return hook(HookNames.residPost(l), resid.add(attnOut));
            // TL's parallel_attn_mlp: ln2 reads resid_pre, resid_post = resid_pre + attn_out + mlp_out, no resid_mid
            Tensor mid = cfg.parallelAttnMlp ? resid : hook(HookNames.residMid(l), resid.add(attnOut));
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
            Tensor out = post.matmul(W(Weights.mlp(l, "W_out"))).add(W(Weights.mlp(l, "b_out")));
            if (cfg.useNormalizationBeforeAndAfter) out = postNorm("blocks." + l + ".ln2_post.", out);
            out = hook(HookNames.mlpOut(l), out);
            return hook(HookNames.residPost(l), cfg.parallelAttnMlp ? resid.add(attnOut).add(out) : mid.add(out));
        }
    }
}
