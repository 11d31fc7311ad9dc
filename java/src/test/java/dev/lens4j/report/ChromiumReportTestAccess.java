package dev.lens4j.report;

import java.nio.file.Path;

/** ChromiumReportTest's helpers for report checks in other packages. */
public final class ChromiumReportTestAccess {
    private ChromiumReportTestAccess() {}
    public static String findChromium() { return ChromiumReportTest.findChromium(); }
    public static Path findScript() { return ChromiumReportTest.findScript(); }
}
