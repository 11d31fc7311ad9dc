package dev.lens4j.model;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The guard of one model's native memory (weights, rotary tables, tokenizer). Operations
 * that read it hold the shared side for their whole duration, so any number run in parallel; close() and weight
 * edits hold the exclusive side, so they wait for the runs in flight, and runs started meanwhile wait for them.
 * Without it, close() freed W_U under a running GEMM (SIGSEGV), and concurrent forwards read weights (then
 * packed copies of them) while another thread rebuilt them.
 */
final class Lifecycle {
    /** What {@link #shared} or {@link #exclusive} took; closing it releases that side. */
    interface Held extends AutoCloseable {
        @Override void close();
    }

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Held sharedHeld = () -> lock.readLock().unlock();
    private final Held exclusiveHeld = () -> lock.writeLock().unlock();
    private final String modelName;
    private volatile boolean closed;

    Lifecycle(String modelName) { this.modelName = modelName; }

    /** Enter an operation that reads the model's memory; throws if the model is closed. Reentrant (hooks may run the model). */
    Held shared() {
        lock.readLock().lock();
        if (closed) {
            lock.readLock().unlock();
            throw closedError();
        }
        return sharedHeld;
    }

    /**
     * Enter an operation that frees or replaces the model's memory, once no run is in flight. Throws instead of
     * waiting forever when this thread is itself inside a run of the model (a hook calling close()).
     */
    Held exclusive(String operation) {
        if (lock.getReadHoldCount() > 0 && !lock.isWriteLockedByCurrentThread())
            throw new IllegalStateException(operation + " called inside a run of model '" + modelName + "' (from a hook, or a"
                    + " readWeights reader) on the same thread: it waits for runs in flight, so it would wait for itself;"
                    + " call it after the run returns");
        lock.writeLock().lock();
        return exclusiveHeld;
    }

    boolean isClosed() { return closed; }

    /** Called with the exclusive side held. */
    void markClosed() { closed = true; }

    IllegalStateException closedError() {
        return new IllegalStateException("model '" + modelName + "' is closed (its weights are freed)");
    }
}
