package dev.lens4j.report;

import java.util.ArrayList;
import java.util.List;

/** A plain table; numbers are right-aligned and shown with 4 significant digits. */
public final class Table {
    private final String[] headers;
    private final List<Object[]> rows = new ArrayList<>();
    private String caption;

    private Table(String[] headers) { this.headers = headers.clone(); }

    public static Table of(String... headers) {
        if (headers.length == 0) throw new IllegalArgumentException("a table needs at least one column");
        return new Table(headers);
    }

    public Table row(Object... cells) {
        if (cells.length != headers.length)
            throw new IllegalArgumentException("row has " + cells.length + " cells, table has " + headers.length + " columns");
        rows.add(cells.clone());
        return this;
    }

    public Table caption(String text) { caption = text; return this; }

    public int rowCount() { return rows.size(); }

    String toHtml() {
        StringBuilder b = new StringBuilder("<div class=\"table-wrap\"><table>");
        if (caption != null) b.append("<caption>").append(Html.escape(caption)).append("</caption>");
        b.append("<thead><tr>");
        for (String h : headers) b.append("<th>").append(Html.escape(h)).append("</th>");
        b.append("</tr></thead><tbody>");
        for (Object[] r : rows) {
            b.append("<tr>");
            for (Object c : r) {
                boolean num = c instanceof Number;
                b.append(num ? "<td class=\"num\">" : "<td>").append(Html.escape(format(c))).append("</td>");
            }
            b.append("</tr>");
        }
        return b.append("</tbody></table></div>\n").toString();
    }

    static String format(Object c) {
        if (c == null) return "";
        if (c instanceof Double || c instanceof Float) return Fmt.num(((Number) c).doubleValue());
        return String.valueOf(c);
    }
}
