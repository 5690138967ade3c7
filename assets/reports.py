"""The daily reports as assets: `reports/tca` and `reports/performance`, one HTML and one PDF
per day under `$ANALYTICS_HOME/reports/<day>/`, linked from the materialization's metadata.

Thin: the report reads its marts from the DuckDB warehouse (read-only), renders and caches in
analytics_platform/reports. Each depends on the marts it reads (the 20-day trends on the last
20 days of theirs) and runs in the pool "warehouse": DuckDB will not open a file read-only
while another process writes it.
"""

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
)
from dagster_duckdb import DuckDBResource

from analytics_platform.reports import REPORTS, BuiltReport, ReportKind
from analytics_platform.tca.aggregates import TCA_WINDOW_DAYS
from assets.marts import GROUP as MARTS_GROUP
from assets.marts import WAREHOUSE_POOL
from assets.metadata import OWNERS, code_version
from assets.partitions import partition_date, trading_day_partitions
from resources.reports import ReportsResource

GROUP = "reports"
# Marts whose rows of the previous days a report reads (its trend charts).
TREND_MARTS = {"execution_quality_trends", "attribution_strategy"}


def _deps(kind: ReportKind) -> list[AssetDep]:
    window = TimeWindowPartitionMapping(start_offset=-(TCA_WINDOW_DAYS - 1), end_offset=0)
    return [
        AssetDep(
            AssetKey([MARTS_GROUP, mart]), partition_mapping=window if mart in TREND_MARTS else None
        )
        for mart in kind.marts
    ]


def report_metadata(built: BuiltReport) -> dict[str, object]:
    """Links to the files (the UI shows paths and a file:// link), the cache outcome and the
    report's headline numbers."""
    meta: dict[str, object] = {
        "html": MetadataValue.path(str(built.html_path)),
        "html_url": MetadataValue.url(built.html_path.as_uri()),
        "cache": built.cache,
        "cache_backend": built.cache_backend or "off",
        "cache_key": built.cache_key,
        "inputs_fingerprint": built.fingerprint,
    }
    if built.pdf_path is not None:
        meta["pdf"] = MetadataValue.path(str(built.pdf_path))
        meta["pdf_url"] = MetadataValue.url(built.pdf_path.as_uri())
    else:
        meta["pdf_note"] = built.pdf_note or "no PDF"
    for name, value in built.headline.items():
        meta[name] = float(value) if isinstance(value, float) else value
    return meta


def report_asset(kind: ReportKind):
    @asset(
        key=AssetKey([GROUP, kind.name]),
        deps=_deps(kind),
        group_name=GROUP,
        partitions_def=trading_day_partitions,
        pool=WAREHOUSE_POOL,
        owners=OWNERS,
        kinds={"duckdb", "html", "pdf"},
        code_version=code_version("analytics_platform.reports"),
        description=(
            f"{kind.title} report of the day (HTML and PDF under $ANALYTICS_HOME/reports/<day>/),"
            f" from the marts {', '.join(kind.marts)}; cached by its inputs (docs/reports.md)."
        ),
    )
    def _report(
        context: AssetExecutionContext, reports: ReportsResource, warehouse: DuckDBResource
    ) -> MaterializeResult:
        built = reports.build(kind.name, partition_date(context.partition_key), warehouse.database)
        if built.pdf_note:
            context.log.warning(f"{kind.name} report: {built.pdf_note}")
        context.log.info(f"{kind.name} report ({built.cache}): {built.html_path}")
        return MaterializeResult(metadata=report_metadata(built))

    return _report


report_assets = [report_asset(kind) for kind in REPORTS.values()]
