package dev.lens4j.report;

/** Escaping for text and attribute values: everything user-supplied goes through here. */
public final class Html {
    private Html() {}

    /**
     * Escapes {@code & < > " '} and replaces characters XML forbids (control characters, lone surrogates,
     * U+FFFE/U+FFFF) with U+FFFD, so prompt text can neither inject markup nor break well-formedness.
     */
    public static String escape(String s) {
        if (s == null) return "";
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> b.append("&amp;");
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> {
                    if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                        b.append(c).append(s.charAt(++i));
                    } else if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || Character.isSurrogate(c) || c == 0xFFFE || c == 0xFFFF) {
                        b.append('\uFFFD');
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.toString();
    }

    /** A colour for an SVG attribute: only {@code #rgb} / {@code #rrggbb}, so a colour can't smuggle markup. */
    static String color(String hex) {
        if (hex == null || !hex.matches("#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}"))
            throw new IllegalArgumentException("colour must be #rgb or #rrggbb, got " + hex);
        return hex;
    }
}
