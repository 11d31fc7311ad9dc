package dev.lens4j.report;

import static org.junit.jupiter.api.Assertions.*;

import dev.lens4j.analysis.Stats;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

class ReportTest {

    @Test
    void demoReportIsWellFormedSelfContainedAndHasEveryPlot(@TempDir Path dir) throws Exception {
        Report r = DemoReport.build();
        Path file = r.write(dir.resolve("sub/report.html"));
        String html = Files.readString(file, StandardCharsets.UTF_8);
        assertFalse(Files.exists(dir.resolve("sub/report.html.tmp")));

        HtmlChecks.assertBalanced(html);
        Document doc = HtmlChecks.parseXml(html);
        assertEquals(DemoReport.PLOTS, r.plotCount());
        assertEquals(DemoReport.PLOTS, DemoReport.countPlots(html));

        NodeList figures = doc.getElementsByTagName("figure");
        int plots = 0;
        for (int i = 0; i < figures.getLength(); i++) {
            Element f = (Element) figures.item(i);
            if (!"plot".equals(f.getAttribute("class"))) continue;
            plots++;
            assertEquals("plot", f.getAttribute("data-testid"));
            NodeList svgs = f.getElementsByTagName("svg");
            assertEquals(1, svgs.getLength(), "one svg per plot " + f.getAttribute("id"));
            Element svg = (Element) svgs.item(0);
            assertTrue(svg.getElementsByTagName("*").getLength() > 10, "svg has content: " + f.getAttribute("id"));
            assertTrue(svg.getElementsByTagName("text").getLength() >= 3, "title and ticks: " + f.getAttribute("id"));
        }
        assertEquals(DemoReport.PLOTS, plots);
        assertEquals(1, doc.getElementsByTagName("dl").getLength(), "metadata block");
        assertTrue(html.contains("data-testid=\"metadata\""));
        assertTrue(html.contains("&quot;d_mlp&quot;:512"), "config map rendered as JSON");

        assertEquals(java.util.List.of(), HtmlChecks.externalReferences(html));
        assertTrue(html.contains("data:image/png;base64,"), "the 100x512 heatmap is rastered");
        assertEquals(html, DemoReport.build().toHtml(), "same inputs, same page");
        assertTrue(html.contains("{&quot;data&quot;:598,&quot;model&quot;:999}"), "Map.of metadata sorted");
    }

    @Test
    void userTextCannotInjectMarkup() throws Exception {
        String evil = "<script>alert(1)</script><img src=x onerror=alert(2)>\"' & </svg></figure>";
        Report r = new Report(evil).description(evil).meta(evil, evil);
        r.section(evil).text(evil).code(evil).bullets(evil)
                .lineChart(LineChart.of(evil).axes(evil, evil).series(evil, new double[] {1, 2}).caption(evil))
                .scatter(ScatterChart.of(evil).points(evil, new double[] {1, 2}, new double[] {3, 4}).labels(evil, evil).showLabels().colorBy(new double[] {0, 1}, evil))
                .heatmap(Heatmap.of(evil).matrix(new double[][] {{1, 2}}).xLabels(evil, evil).yLabels(evil).colorLabel(evil))
                .table(Table.of(evil).row(evil).caption(evil));
        String html = r.toHtml();
        assertFalse(html.toLowerCase().contains("<script"));
        assertFalse(html.contains("<img"));
        assertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        HtmlChecks.assertBalanced(html);
        HtmlChecks.parseXml(html);
        assertEquals(3, DemoReport.countPlots(html));
    }

    @Test
    void escapeHandlesControlCharactersAndSurrogates() {
        assertEquals("a&amp;b&lt;c&gt;&quot;&#39;", Html.escape("a&b<c>\"'"));
        assertEquals("x\uFFFDy\tz", Html.escape("x\u0001y\tz"));
        assertEquals("\uFFFD", Html.escape("\uD800"));
        assertEquals("😀", Html.escape("😀"));
        assertEquals("", Html.escape(null));
        assertThrows(IllegalArgumentException.class, () -> LineChart.of("t").series("s", new double[] {1}).color("red\" onload=\"x"));
    }

    @Test
    void logScaleSkipsNonPositiveAndNaNNeverReachesCoordinates() throws Exception {
        double[] y = {1, 0.1, 0, -1, Double.NaN, 1e-4, 1e-5};
        Report r = new Report("log");
        r.section("s").lineChart(LineChart.of("loss").logY().series("train", y).markers())
                .bar(BarChart.of("nan bars").bars("v", new double[] {1, Double.NaN, -2}))
                .histogram(HistogramChart.of("empty").values("v", new double[] {Double.NaN}, 5))
                .scatter(ScatterChart.of("one point").points(new double[] {2}, new double[] {3}));
        String page = r.toHtml();
        HtmlChecks.parseXml(page);
        assertFalse(page.matches("(?s).*=\"[^\"]*(NaN|Infinity)[^\"]*\".*"), "no NaN/Infinity in attributes");
        // two polylines: the line breaks at 0, -1 and NaN
        int svgStart = page.indexOf("data-kind=\"line\"");
        String line = page.substring(svgStart, page.indexOf("</figure>", svgStart));
        assertEquals(2, line.split("<polyline", -1).length - 1);
        assertTrue(line.contains(">1e-4<") || line.contains(">0.0001<") || line.contains(">1e-5<"), "log ticks labelled");
    }

    @Test
    void chartsRejectMismatchedData() {
        assertThrows(IllegalArgumentException.class, () -> LineChart.of("t").series("s", new double[] {1, 2}, new double[] {1}));
        assertThrows(IllegalArgumentException.class, () -> ScatterChart.of("t").points(new double[] {1}, new double[] {1}).colorBy(new double[] {1, 2}, "c"));
        assertThrows(IllegalArgumentException.class, () -> Heatmap.of("t").matrix(new double[][] {{1, 2}, {3}}));
        Report bad = new Report("r");
        bad.section("s").heatmap(Heatmap.of("t").matrix(new double[][] {{1}}).xLabels("a", "b"));
        assertThrows(IllegalArgumentException.class, bad::toHtml);
        assertThrows(IllegalStateException.class, () -> BarChart.of("t").signColors());
        assertThrows(IllegalArgumentException.class, () -> LineChart.of("t").size(10, 10));
        assertThrows(IllegalArgumentException.class, () -> Table.of("a", "b").row(1));
    }

    @Test
    void ticksAndNumbersReadWell() {
        assertEquals("0.1", Fmt.tick(0.1, 0.1));
        assertEquals("0", Fmt.tick(1e-17, 0.2));
        assertEquals("2.5", Fmt.tick(2.5, 0.5));
        assertEquals("0.75", Fmt.tick(0.75, 0.25));
        assertEquals("-7.5", Fmt.tick(-7.5, 2.5));
        assertEquals("0.003", Fmt.tick(0.003, 0.001));
        assertEquals("-0.7", Fmt.fitting(-0.6873, 24, 10));
        assertEquals("-0.687", Fmt.fitting(-0.6873, 60, 10));
        assertEquals("-.009", Fmt.fitting(-0.0086, 30, 10));
        assertEquals("1000", Fmt.tick(1000, 200));
        assertEquals("1e-5", Fmt.num(1e-5));
        assertEquals("0.1235", Fmt.num(0.123456));
        assertEquals("1.235e6", Fmt.num(1234567));
        assertEquals("-3", Fmt.num(-3.0));
        assertEquals("NaN", Fmt.num(Double.NaN));
        assertEquals("12.5", Fmt.px(12.49));
        assertEquals("-0.5", Fmt.px(-0.5));
        Scale s = Scale.linear(-1.05, 1.05, 0, 100);
        var t = s.ticks(5, false);
        assertEquals("-1", t.get(0).label());
        assertEquals("1", t.get(t.size() - 1).label());
        var lt = Scale.log(1e-6, 3, 0, 100).ticks(6, false);
        assertTrue(lt.stream().allMatch(k -> Math.abs(Math.log10(k.value()) - Math.rint(Math.log10(k.value()))) < 1e-9));
        assertTrue(lt.size() >= 4 && lt.size() <= 8);
        assertEquals("#440154", ColorScale.VIRIDIS.at(0));
        assertEquals("#fde725", ColorScale.VIRIDIS.at(1));
        assertEquals("#f7f7f7", ColorScale.RDBU.at(0.5));
        assertEquals(Stats.histogram(new double[] {0, 1}, 2).total(), 2);
    }

    @Test
    void smallHeatmapsAreVectorWithTooltipsBigOnesRaster() {
        double[][] small = new double[10][10], big = new double[200][200];
        Report r = new Report("h");
        r.section("s").heatmap(Heatmap.of("small").matrix(small)).heatmap(Heatmap.of("big").matrix(big));
        String html = r.toHtml();
        int bigAt = html.indexOf("aria-label=\"big\"");
        assertTrue(html.substring(0, bigAt).split("<rect", -1).length > 100);
        assertFalse(html.substring(0, bigAt).contains("<image"));
        assertTrue(html.substring(bigAt).contains("<image"));
        assertTrue(html.contains("<title>0, 0: 0</title>"));
    }
}
