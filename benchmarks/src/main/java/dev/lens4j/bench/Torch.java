package dev.lens4j.bench;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;

/** Loading libtorch safely and moving lens4j tensors into it. */
final class Torch {
    private static boolean loaded;

    private Torch() {}

    static synchronized void load() {
        if (loaded) return;
        try {
            // extract every library before loading: on a cold cache Loader may otherwise pick up a system libtorch
            Loader.cacheResources(torch.class, "/org/bytedeco/pytorch/" + Loader.getPlatform() + "/");
        } catch (Exception e) {
            throw new IllegalStateException("could not extract libtorch: " + e.getMessage(), e);
        }
        Loader.load(torch.class);
        loaded = true;
    }

    /** A libtorch tensor owning a copy of a lens4j tensor's data. */
    static org.bytedeco.pytorch.Tensor copyOf(dev.lens4j.tensor.Tensor t) {
        FloatPointer p = t.floatPointer();
        return torch.from_blob(p, t.shape()).clone();
    }
}
