package dev.lens4j.load;

/** A checkpoint file or directory that cannot be loaded. The message names the file and, where there is one, the tensor. */
public class CheckpointException extends RuntimeException {
    public CheckpointException(String message) { super(message); }
    public CheckpointException(String message, Throwable cause) { super(message, cause); }
}
