package dev.lens4j.tensor;

import java.util.Objects;

/** Where a tensor's memory lives. CPU memory is host memory; CUDA memory is device memory that Java never
 *  dereferences directly (copies go through the backend). */
public final class Device {
    public enum Kind { CPU, CUDA }

    public static final Device CPU = new Device(Kind.CPU, 0);

    public final Kind kind;
    public final int index;

    private Device(Kind kind, int index) { this.kind = kind; this.index = index; }

    public static Device cuda(int index) { return new Device(Kind.CUDA, index); }

    public boolean isCpu() { return kind == Kind.CPU; }

    @Override public boolean equals(Object o) {
        return o instanceof Device d && d.kind == kind && d.index == index;
    }
    @Override public int hashCode() { return Objects.hash(kind, index); }
    @Override public String toString() { return kind == Kind.CPU ? "cpu" : "cuda:" + index; }
}
