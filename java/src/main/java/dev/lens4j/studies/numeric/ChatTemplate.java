package dev.lens4j.studies.numeric;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * `--chat`: the user turn of the model's chat template around each prompt. lens4j renders one template, Gemma's
 * (`<start_of_turn>user\n ... <end_of_turn>\n<start_of_turn>model\n`, BOS from the tokenizer), recognised from the
 * `chat_template` of a tokenizer_config.json beside the model or its tokenizer; anything else is refused by name.
 */
public final class ChatTemplate {
    private ChatTemplate() {}

    /** Gemma's user turn, ready for the model's answer. */
    public static String gemma(String prompt) {
        return "<start_of_turn>user\n" + prompt + "<end_of_turn>\n<start_of_turn>model\n";
    }

    /** Where a tokenizer_config.json may sit for this model (and tokenizer, may be null). */
    static List<Path> candidates(Path model, Path tokenizer) {
        List<Path> c = new ArrayList<>();
        for (Path p : new Path[] {model, tokenizer}) {
            if (p == null) continue;
            Path dir = Files.isDirectory(p) ? p : p.toAbsolutePath().getParent();
            if (dir != null) c.add(dir.resolve("tokenizer_config.json"));
        }
        return c;
    }

    /** Checks that the model has Gemma's chat template; the error says what was found instead. */
    public static void requireGemma(Path model, Path tokenizer) {
        for (Path f : candidates(model, tokenizer)) {
            if (!Files.isRegularFile(f)) continue;
            JsonNode t;
            try {
                t = new ObjectMapper().readTree(f.toFile()).path("chat_template");
            } catch (IOException e) {
                throw new IllegalArgumentException(f + " is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
            }
            if (t.isMissingNode() || t.isNull()) continue;
            if (t.toString().contains("<start_of_turn>")) return;
            throw new IllegalArgumentException("--chat: the chat template in " + f + " is not Gemma's (<start_of_turn>), "
                    + "the only one lens4j renders; run without --chat or give --template with the turns written out");
        }
        throw new IllegalArgumentException("--chat: model " + model + " has no chat template (no tokenizer_config.json with a "
                + "chat_template beside it or its tokenizer); run without --chat");
    }
}
