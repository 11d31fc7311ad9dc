package dev.lens4j.report;

import java.io.StringReader;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;
import org.xml.sax.InputSource;

/** Structural checks on generated pages, independent of the generator. */
final class HtmlChecks {
    private HtmlChecks() {}

    private static final Set<String> VOID = Set.of("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr");
    private static final Pattern TAG = Pattern.compile("<(/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*?)(/?)>");

    /** Throws unless every non-void start tag has a matching end tag in order (comments, doctype and CSS skipped). */
    static void assertBalanced(String html) {
        String body = html.replaceAll("(?s)<!--.*?-->", "").replaceAll("(?s)<!DOCTYPE[^>]*>", "")
                .replaceAll("(?s)(<style[^>]*>).*?(</style>)", "$1$2");
        Deque<String> stack = new ArrayDeque<>();
        Matcher m = TAG.matcher(body);
        while (m.find()) {
            String name = m.group(2).toLowerCase(Locale.ROOT);
            boolean end = !m.group(1).isEmpty(), selfClosing = !m.group(4).isEmpty();
            if (end) {
                if (stack.isEmpty() || !stack.peek().equals(name))
                    throw new AssertionError("unbalanced </" + name + "> at " + m.start() + ", open: " + stack);
                stack.pop();
            } else if (!selfClosing && !VOID.contains(name)) {
                stack.push(name);
            }
        }
        if (!stack.isEmpty()) throw new AssertionError("unclosed tags: " + stack);
    }

    /** Parses the page as XML with external entities and DTDs off. */
    static Document parseXml(String html) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        f.setFeature("http://xml.org/sax/features/external-general-entities", false);
        f.setFeature("http://xml.org/sax/features/external-parameter-entities", false);
        f.setExpandEntityReferences(false);
        return f.newDocumentBuilder().parse(new InputSource(new StringReader(html)));
    }

    private static final Pattern URL_ATTR = Pattern.compile("\\b(src|href|xlink:href|action|poster|data)\\s*=\\s*\"([^\"]*)\"", Pattern.CASE_INSENSITIVE);

    /** Every src/href must be an in-page anchor or a data: URI; no stylesheet links, imports or remote urls. */
    static List<String> externalReferences(String html) {
        List<String> bad = new java.util.ArrayList<>();
        Matcher m = URL_ATTR.matcher(html);
        while (m.find()) {
            String v = m.group(2);
            if (!v.startsWith("#") && !v.startsWith("data:")) bad.add(m.group());
        }
        Matcher u = Pattern.compile("url\\(([^)]*)\\)").matcher(html);
        while (u.find()) if (!u.group(1).startsWith("#")) bad.add(u.group());
        String lower = html.toLowerCase(Locale.ROOT);
        for (String s : new String[] {"http://", "https://", "<link", "@import", "<script", "<iframe", "<object"})
            if (lower.contains(s)) bad.add(s);
        return bad;
    }
}
