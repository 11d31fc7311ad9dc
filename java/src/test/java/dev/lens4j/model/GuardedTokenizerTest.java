package dev.lens4j.model;

import dev.lens4j.tokenize.Tokenizer;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;

import static org.junit.jupiter.api.Assertions.*;

class GuardedTokenizerTest {
    /** A Tokenizer method the wrapper does not override would run its default, not the real tokenizer's version. */
    @Test void overridesEveryTokenizerMethod() throws Exception {
        for (Method m : Tokenizer.class.getMethods()) {
            if (Modifier.isStatic(m.getModifiers())) continue;
            Method own = GuardedTokenizer.class.getMethod(m.getName(), m.getParameterTypes());
            assertEquals(GuardedTokenizer.class, own.getDeclaringClass(), "GuardedTokenizer must delegate " + m.getName());
        }
    }
}
