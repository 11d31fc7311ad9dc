package dev.lens4j.model;

import dev.lens4j.tensor.Tensor;
import dev.lens4j.tensor.TensorScope;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * The intermediates of one step of a pass (the embedding or one block of a plain forward, one block of the reverse
 * pass), freed when the step ends so that a pass holds one block's buffers at a time rather than every block's. Only
 * what the run's scope still owns is freed: a cached activation or gradient (the cache took it), a KV cache's keys or a
 * caller's tensor are never touched, and neither is anything a hook saw (a hook may keep it and read it later).
 */
final class StepScratch {
    private final TensorScope scope;
    private final Set<Tensor> pinned = Collections.newSetFromMap(new IdentityHashMap<>());
    private List<Tensor> step; // null outside a step: nothing is tracked

    StepScratch(TensorScope scope) { this.scope = scope; }

    void start() { step = new ArrayList<>(); }

    Tensor track(Tensor t) {
        if (step != null) step.add(t);
        return t;
    }

    void pin(Tensor t) { pinned.add(t); }

    /** Ends the step: frees its tensors and its input, all but its output; returns the output. */
    Tensor end(Tensor out, Tensor in) {
        List<Tensor> done = step;
        step = null;
        // a view returned by a hook may share memory with any of them: keep the step's tensors then
        if (out.isView()) return out;
        if (in != null) done.add(in);
        for (Tensor t : done)
            if (t != out && !t.isView() && !pinned.contains(t) && scope.release(t)) t.close();
        return out;
    }
}
