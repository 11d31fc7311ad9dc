package dev.lens4j.cli;

import dev.lens4j.model.HookedTransformer;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** Options shared by every command that loads a model. */
final class ModelOptions {
    @Option(names = "--model", required = true, paramLabel = "MODEL",
            description = "Hugging Face checkpoint directory (config.json + *.safetensors), llama2.c .bin, "
                    + "or a TransformerLens state dict (.pth/.pt, or a directory holding one and config.json)")
    Path model;

    @Option(names = "--config", paramLabel = "CFG.json",
            description = "TransformerLens config JSON (cfg.to_dict()) for a .pth/.pt state dict (default: config.json beside it)")
    Path config;

    @Option(names = "--tokenizer", paramLabel = "FILE",
            description = "tokenizer.json or llama2.c tokenizer .bin (default: found beside the model)")
    Path tokenizer;

    @Option(names = "--no-process-weights",
            description = "load without TransformerLens's weight processing (from_pretrained_no_processing)")
    boolean noProcessWeights;

    @Option(names = "--allow-nonfinite", description = "load weights that hold NaN or Inf (rejected by default)")
    boolean allowNonFinite;

    @Option(names = "--threads", paramLabel = "N", description = "native threads (default: all cores)")
    Integer threads;

    @Option(names = "--dtype", paramLabel = "f32|bf16", defaultValue = "f32",
            description = "weight matrices in memory: f32 (default) or bf16 (half the memory; activations stay f32)")
    String dtype;

    @Option(names = "--device", paramLabel = "cpu|cuda|cuda-emulated", defaultValue = "cpu",
            description = "where the model runs: cpu (default), cuda (an NVIDIA GPU), or cuda-emulated (the CUDA kernels run on the CPU: slow, for checks)")
    String device;

    @Option(names = "--tf32", description = "TF32 tensor cores for the float32 GEMMs on a CUDA device (faster, ~1e-3 relative error; off by default)")
    boolean tf32;

    /** The backend a --device value names; a one-line error for an unknown value or a missing GPU. */
    static dev.lens4j.backend.Backend parseDevice(String s) {
        return switch (s) {
            case "cpu" -> dev.lens4j.backend.CpuBackend.get();
            case "cuda" -> dev.lens4j.backend.CudaBackend.gpu();
            case "cuda-emulated" -> dev.lens4j.backend.CudaBackend.emulated();
            default -> throw new IllegalArgumentException("--device must be cpu, cuda or cuda-emulated, got '" + s + "'");
        };
    }

    static dev.lens4j.tensor.DType parseDtype(String s) {
        return switch (s) {
            case "f32" -> dev.lens4j.tensor.DType.F32;
            case "bf16" -> dev.lens4j.tensor.DType.BF16;
            default -> throw new IllegalArgumentException("--dtype must be f32 or bf16, got '" + s + "'");
        };
    }

    HookedTransformer load() {
        if (tf32 && "cpu".equals(device)) throw new IllegalArgumentException("--tf32 needs --device cuda (or cuda-emulated)");
        HookedTransformer m = spec().load();
        if (m.backend() instanceof dev.lens4j.backend.CudaBackend cuda) {
            try {
                cuda.setTf32(tf32);
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
        }
        return m;
    }

    /** These options as strings, for loading the model elsewhere (Spark executors). */
    SparkJobs.ModelSpec spec() {
        parseDtype(dtype); // a bad value fails here, before any Spark job starts
        if (!java.util.List.of("cpu", "cuda", "cuda-emulated").contains(device))
            throw new IllegalArgumentException("--device must be cpu, cuda or cuda-emulated, got '" + device + "'");
        return new SparkJobs.ModelSpec(model.toString(), config == null ? null : config.toString(), tokenizer == null ? null : tokenizer.toString(),
                noProcessWeights, allowNonFinite, threads, dtype, device);
    }
}
