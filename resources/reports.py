"""Where the daily reports go and how they are cached, from the platform settings."""

import datetime as dt
from pathlib import Path

from dagster import ConfigurableResource

from analytics_platform.reports import REPORTS, BuiltReport, build_report, find_chromium, open_cache
from analytics_platform.reports.cache import DEFAULT_NAMESPACE


class ReportsResource(ConfigurableResource):
    """Reports are written under `root/<day>/`; `cache` is ANALYTICS_REPORTS_CACHE ("disk":
    `root/.cache`, "off", or a Redis URL; `cache_namespace` prefixes the Redis keys)."""

    root: str
    cache: str = "disk"
    cache_namespace: str = DEFAULT_NAMESPACE

    def build(self, kind: str, day: dt.date, warehouse_path: str) -> BuiltReport:
        return build_report(
            REPORTS[kind],
            day,
            warehouse_path=warehouse_path,
            reports_dir=self.root,
            cache=open_cache(self.cache, Path(self.root, ".cache"), self.cache_namespace),
            chromium=find_chromium(),
        )
