package dev.lens4j.model;

import dev.lens4j.hooks.Hooks;
import dev.lens4j.load.NonFinite;
import dev.lens4j.tensor.Tensor;

/**
 * Non-finite logits are found cheaply (one scan of the logits); only then is the forward run again with a check at
 * every hook point, to say where the NaN or Inf first appears (a weight, a config value such as a negative epsilon, a hook).
 */
final class FiniteCheck {
    private FiniteCheck() {}

    /** The problem with these logits, or null when they are all finite. */
    static String problem(Tensor logits) { return logits == null ? null : NonFinite.describeFirst(logits); }

    /** Reruns the forward pass of o (its hooks included) and names the first hook point holding a non-finite value. */
    static NonFiniteException locate(HookedTransformer model, Tensor tokens, HookedTransformer.RunOptions o, String logitsProblem,
                                     PaddedBatch pad, boolean cachedStep) {
        // a KV-cached step's rerun would need the cache as it was before the step: report without locating
        if (cachedStep) return new NonFiniteException("the logits hold " + logitsProblem + " (a KV-cached generation step; rerun the "
                + "prompt and the tokens generated so far without the cache to find where they first appear)");
        String[] first = new String[2]; // hook point, what is wrong there
        Hooks probe = Hooks.none();
        for (Hooks.Entry e : o.hooks.entries()) probe.add(e.filter(), e.fn()); // the failing run's hooks, in its order
        // hook_scale cannot be hooked (only cached): it is checked from the cache after the run
        probe.add(n -> !n.endsWith("hook_scale"), (t, hp) -> {
            if (first[0] == null) {
                // masked (future) attention scores are -Inf by design; NaN or +Inf there is not
                String bad = NonFinite.describeFirst(t, hp.name().endsWith("hook_attn_scores"));
                if (bad != null) { first[0] = hp.name(); first[1] = bad; }
            }
            return null;
        });
        HookedTransformer.RunOptions rerun = new HookedTransformer.RunOptions().hooks(probe).cache(n -> n.endsWith("hook_scale"))
            .stopAtLayer(o.stopAtLayer).logitsLastOnly(o.logitsLastOnly).checkFinite(false);
        if (o.startResidual != null) rerun.startAtLayer(o.startAtLayer, o.startResidual); // the same run, from the same residual
        // the same run as the failing one: its padding mask and positions too (a run without them computes other values)
        try (HookedTransformer.Output out = model.forwardUnguarded(tokens, rerun, pad, null)) {
            // a norm's scale fires just before its normalized output: a bad scale is the earlier point
            if (first[0] != null && first[0].endsWith("hook_normalized")) {
                String scale = first[0].substring(0, first[0].length() - "hook_normalized".length()) + "hook_scale";
                String bad = out.cache().has(scale) ? NonFinite.describeFirst(out.cache().get(scale)) : null;
                if (bad != null) { first[0] = scale; first[1] = bad; }
            }
        }
        if (first[0] == null)
            return new NonFiniteException("the logits hold " + logitsProblem + ", but every hook point is finite: the unembedding"
                + " (unembed.W_U, unembed.b_U) produces them");
        return new NonFiniteException("the logits hold " + logitsProblem + "; non-finite values first appear at " + first[0] + " ("
            + first[1] + ")");
    }
}
