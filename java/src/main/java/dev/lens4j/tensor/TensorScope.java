package dev.lens4j.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Lifetime scope for off-heap tensors: every tensor allocated on this thread while a scope is open is owned
 * by the innermost scope and freed when it closes, unless {@link #keep kept} (moved to the enclosing scope,
 * or to the caller when there is none). Native memory is never left to the garbage collector.
 * <pre>try (TensorScope s = TensorScope.open()) { ... }</pre>
 */
public final class TensorScope implements AutoCloseable {
    private static final ThreadLocal<Deque<TensorScope>> STACK = ThreadLocal.withInitial(ArrayDeque::new);

    private final List<Tensor> owned = new ArrayList<>();
    private boolean closed;

    private TensorScope() {}

    public static TensorScope open() {
        TensorScope s = new TensorScope();
        STACK.get().push(s);
        return s;
    }

    static void register(Tensor t) {
        TensorScope s = STACK.get().peek();
        if (s != null) s.owned.add(t);
    }

    /** Detach t from this scope: it survives close() and belongs to the enclosing scope (or the caller). */
    public <T extends Tensor> T keep(T t) {
        if (owned.remove(t)) {
            Deque<TensorScope> stack = STACK.get();
            boolean seen = false;
            for (TensorScope s : stack) { // innermost first
                if (seen) { s.owned.add(t); break; }
                if (s == this) seen = true;
            }
        }
        return t;
    }

    /** Detach t from this scope entirely: the caller now owns it. Returns false if this scope did not own t. */
    public boolean release(Tensor t) {
        for (int i = owned.size() - 1; i >= 0; i--)
            if (owned.get(i) == t) { owned.remove(i); return true; }
        return false;
    }

    public int size() { return owned.size(); }

    /** Remove t from whichever scope of this thread owns it: for long-lived owners (weights, caches). */
    public static <T extends Tensor> T detach(T t) {
        for (TensorScope s : STACK.get()) if (s.release(t)) break;
        return t;
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        Deque<TensorScope> stack = STACK.get();
        stack.remove(this);
        for (int i = owned.size() - 1; i >= 0; i--) owned.get(i).close();
        owned.clear();
    }
}
