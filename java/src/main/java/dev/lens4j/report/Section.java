package dev.lens4j.report;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/** A titled part of a report: paragraphs, plots and tables in the order added. */
public final class Section {
    final String heading;
    /** Blocks render lazily, taking the page's plot-id counter, so ids are unique across the report. */
    final List<Function<int[], String>> blocks = new ArrayList<>();
    int plots;

    Section(String heading) { this.heading = heading == null ? "" : heading; }

    /** A paragraph of plain text (escaped; blank lines split paragraphs). */
    public Section text(String text) {
        for (String p : (text == null ? "" : text).split("\\n\\s*\\n")) {
            String para = p.strip();
            if (!para.isEmpty()) blocks.add(ids -> "<p>" + Html.escape(para) + "</p>\n");
        }
        return this;
    }

    /** A sub-heading inside the section. */
    public Section heading(String text) {
        blocks.add(ids -> "<h3>" + Html.escape(text) + "</h3>\n");
        return this;
    }

    /** Preformatted text: a prompt, a config, printed numbers. */
    public Section code(String text) {
        blocks.add(ids -> "<pre>" + Html.escape(text) + "</pre>\n");
        return this;
    }

    /** A bulleted list of plain-text items. */
    public Section bullets(String... items) {
        blocks.add(ids -> {
            StringBuilder b = new StringBuilder("<ul>");
            for (String s : items) b.append("<li>").append(Html.escape(s)).append("</li>");
            return b.append("</ul>\n").toString();
        });
        return this;
    }

    public Section plot(Chart<?> chart) {
        plots++;
        blocks.add(ids -> chart.toHtml("p" + (++ids[0])));
        return this;
    }

    public Section lineChart(LineChart c) { return plot(c); }

    public Section scatter(ScatterChart c) { return plot(c); }

    public Section bar(BarChart c) { return plot(c); }

    public Section histogram(HistogramChart c) { return plot(c); }

    public Section heatmap(Heatmap c) { return plot(c); }

    /** Plots side by side (they wrap on narrow screens), e.g. one heatmap per top neuron. */
    public Section row(Chart<?>... charts) {
        plots += charts.length;
        blocks.add(ids -> {
            StringBuilder b = new StringBuilder("<div class=\"row\">");
            for (Chart<?> c : charts) b.append(c.toHtml("p" + (++ids[0])));
            return b.append("</div>\n").toString();
        });
        return this;
    }

    public Section table(Table t) {
        blocks.add(ids -> t.toHtml());
        return this;
    }
}
