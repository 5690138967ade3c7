"""Daily reports (TCA; performance per strategy and portfolio) from the DuckDB marts: pure
rendering functions (frames in, one self-contained HTML page out, inline SVG charts), PDF by
headless Chromium, and a cache keyed by the inputs (disk or Redis). See docs/reports.md."""

from analytics_platform.reports.build import REPORTS, BuiltReport, ReportKind, build_report
from analytics_platform.reports.cache import open_cache
from analytics_platform.reports.pdf import find_chromium

__all__ = ["REPORTS", "BuiltReport", "ReportKind", "build_report", "find_chromium", "open_cache"]
