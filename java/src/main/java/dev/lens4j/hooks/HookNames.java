package dev.lens4j.hooks;

import dev.lens4j.model.Config;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/** TransformerLens hook point names (TL's utils.get_act_name covers the same set). */
public final class HookNames {
    private HookNames() {}

    public static final String EMBED = "hook_embed";
    public static final String POS_EMBED = "hook_pos_embed";
    public static final String LN_FINAL_SCALE = "ln_final.hook_scale";
    public static final String LN_FINAL_NORMALIZED = "ln_final.hook_normalized";

    public static String block(int l, String rest) { return "blocks." + l + "." + rest; }
    public static String residPre(int l) { return block(l, "hook_resid_pre"); }
    public static String residMid(int l) { return block(l, "hook_resid_mid"); }
    public static String residPost(int l) { return block(l, "hook_resid_post"); }
    public static String attnOut(int l) { return block(l, "hook_attn_out"); }
    public static String mlpOut(int l) { return block(l, "hook_mlp_out"); }
    public static String lnScale(int l, int which) { return block(l, "ln" + which + ".hook_scale"); }
    public static String lnNormalized(int l, int which) { return block(l, "ln" + which + ".hook_normalized"); }
    public static String q(int l) { return block(l, "attn.hook_q"); }
    public static String k(int l) { return block(l, "attn.hook_k"); }
    public static String v(int l) { return block(l, "attn.hook_v"); }
    public static String rotQ(int l) { return block(l, "attn.hook_rot_q"); }
    public static String rotK(int l) { return block(l, "attn.hook_rot_k"); }
    public static String attnScores(int l) { return block(l, "attn.hook_attn_scores"); }
    public static String pattern(int l) { return block(l, "attn.hook_pattern"); }
    public static String z(int l) { return block(l, "attn.hook_z"); }
    public static String mlpPre(int l) { return block(l, "mlp.hook_pre"); }
    public static String mlpPreLinear(int l) { return block(l, "mlp.hook_pre_linear"); }
    public static String mlpPost(int l) { return block(l, "mlp.hook_post"); }

    /**
     * TL's utils.get_act_name shorthand: ("resid_pre", 3) -> "blocks.3.hook_resid_pre",
     * ("pattern", 0) -> "blocks.0.attn.hook_pattern", ("post", 1) -> "blocks.1.mlp.hook_post".
     */
    public static String actName(String shortName, int layer) {
        switch (shortName) {
            case "embed": return EMBED;
            case "pos_embed": return POS_EMBED;
            case "resid_pre": case "resid_mid": case "resid_post": case "attn_out": case "mlp_out":
                return block(layer, "hook_" + shortName);
            case "q": case "k": case "v": case "z": case "rot_q": case "rot_k": case "pattern": case "attn_scores":
                return block(layer, "attn.hook_" + shortName);
            case "attn": return pattern(layer);
            case "pre": case "post": case "pre_linear": return block(layer, "mlp.hook_" + shortName);
            case "scale": return layer < 0 ? LN_FINAL_SCALE : lnScale(layer, 1);
            case "normalized": return layer < 0 ? LN_FINAL_NORMALIZED : lnNormalized(layer, 1);
            default: throw new IllegalArgumentException("unknown activation short name '" + shortName + "'");
        }
    }

    /**
     * A name given by name (not by regex or filter) must be a hook point of the model: TL raises too, where matching
     * nothing would silently hook or cache nothing. The message suggests the closest real names.
     */
    public static void requireKnown(String name, Collection<String> hookPoints, String what) {
        if (hookPoints.contains(name)) return;
        List<String> near = closest(name, hookPoints, 3);
        throw new IllegalArgumentException(what + " '" + name + "' is not a hook point of this model"
            + (near.isEmpty() ? "" : "; did you mean " + String.join(", ", near) + "?"));
    }

    /** A regex (found anywhere in a name, as --hooks and cacheRegex match) must select at least one hook point. */
    public static void requireAnyMatch(String regex, Collection<String> hookPoints, String what) {
        java.util.regex.Pattern p = java.util.regex.Pattern.compile(regex);
        for (String n : hookPoints) if (p.matcher(n).find()) return;
        throw new IllegalArgumentException(what + " '" + regex + "' matches no hook point of this model (they are named like "
            + String.join(", ", closest(regex, hookPoints, 3)) + ")");
    }

    /** The k names nearest to name by edit distance (ties in firing order). */
    public static List<String> closest(String name, Collection<String> names, int k) {
        List<String> all = new ArrayList<>(names);
        int[] d = new int[all.size()];
        for (int i = 0; i < d.length; i++) d[i] = editDistance(name, all.get(i));
        Integer[] order = new Integer[d.length];
        for (int i = 0; i < d.length; i++) order[i] = i;
        java.util.Arrays.sort(order, Comparator.comparingInt(i -> d[i]));
        List<String> out = new ArrayList<>();
        for (int i = 0; i < Math.min(k, order.length); i++) out.add(all.get(order[i]));
        return out;
    }

    /** Levenshtein distance: insertions, deletions and substitutions each cost 1. */
    public static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++)
                cur[j] = Math.min(Math.min(cur[j - 1], prev[j]) + 1, prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            int[] t = prev; prev = cur; cur = t;
        }
        return prev[b.length()];
    }

    /** Every hook point the model with this config fires, in firing order. */
    public static List<String> all(Config cfg) {
        List<String> out = new ArrayList<>();
        out.add(EMBED);
        if (!cfg.isRotary()) out.add(POS_EMBED);
        boolean norm = cfg.normalizationType != null;
        for (int l = 0; l < cfg.nLayers; l++) {
            out.add(residPre(l));
            if (norm) { out.add(lnScale(l, 1)); out.add(lnNormalized(l, 1)); }
            out.add(q(l)); out.add(k(l)); out.add(v(l));
            if (cfg.isRotary()) { out.add(rotQ(l)); out.add(rotK(l)); }
            out.add(attnScores(l)); out.add(pattern(l)); out.add(z(l));
            if (norm && cfg.useNormalizationBeforeAndAfter) { out.add(block(l, "ln1_post.hook_scale")); out.add(block(l, "ln1_post.hook_normalized")); }
            out.add(attnOut(l));
            if (!cfg.attnOnly) {
                if (!cfg.parallelAttnMlp) out.add(residMid(l));
                if (norm) { out.add(lnScale(l, 2)); out.add(lnNormalized(l, 2)); }
                out.add(mlpPre(l));
                if (cfg.gatedMlp) out.add(mlpPreLinear(l));
                out.add(mlpPost(l));
                if (norm && cfg.useNormalizationBeforeAndAfter) { out.add(block(l, "ln2_post.hook_scale")); out.add(block(l, "ln2_post.hook_normalized")); }
                out.add(mlpOut(l));
            }
            out.add(residPost(l));
        }
        if (norm) { out.add(LN_FINAL_SCALE); out.add(LN_FINAL_NORMALIZED); }
        return out;
    }
}
