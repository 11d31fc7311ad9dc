package dev.lens4j.hooks;

/** The hook point a hook fired at: its TransformerLens name and its layer (-1 outside blocks). */
public record HookPoint(String name, int layer) {
    @Override public String toString() { return name; }
}
