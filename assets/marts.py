"""The dbt marts (dbt/, dbt-duckdb) as assets of the one lineage graph, and their tests as checks.

Every dbt model is an asset `marts/<model>` partitioned by trading day: a run builds the day
(`--vars trade_date`) and replaces it in the DuckDB warehouse; the model's dbt sources are the
lake's tables (source `tca`, table `fills` is the asset tca/fills), so the marts hang under
the assets that write them. Models tagged `window` read the trailing 20 days of their sources
(a time-window mapping, as the lake's own 20-day assets). One step writes the warehouse at a
time (pool "warehouse": DuckDB has a single writer).

The manifest is parsed at build time (`make bootstrap` runs `dbt parse`); a checkout without it
parses on first load (no network: the project has no packages). dbt runs in its own environment
(`ANALYTICS_DBT_EXECUTABLE`, default the project's .venv-dbt): dbt-core is not installed in the
code location's, so dagster-dbt only ever runs it as a subprocess and never imports it.
"""

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, TimeWindowPartitionMapping
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_duckdb import DuckDBResource

from analytics_platform.config import PlatformSettings, load_settings
from analytics_platform.tca.aggregates import TCA_WINDOW_DAYS
from assets.metadata import OWNERS
from assets.partitions import ONE_DAY_PER_RUN, trading_day_partitions
from resources.lake import LakeResource

DBT_DIR = Path(__file__).resolve().parents[1] / "dbt"
GROUP = "marts"
WAREHOUSE_POOL = "warehouse"


def dbt_executable(settings: PlatformSettings | None = None) -> str:
    """The dbt environment's `dbt` (`ANALYTICS_DBT_EXECUTABLE`); an error saying how to get it."""
    executable = str((settings or load_settings()).dbt_executable)
    if shutil.which(executable) is None:
        raise FileNotFoundError(
            f"no dbt at {executable!r}: `make bootstrap` creates the dbt environment "
            "(.venv-dbt), or set ANALYTICS_DBT_EXECUTABLE"
        )
    return executable


marts_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)
if not marts_project.manifest_path.exists():
    subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_DIR)],
        cwd=DBT_DIR,
        env={**os.environ, "DBT_PROFILES_DIR": str(DBT_DIR)},
        check=True,
    )


class MartsTranslator(DagsterDbtTranslator):
    """Models: `marts/<model>` in the marts group; sources: the lake table's own asset key."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return AssetKey([GROUP, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return GROUP

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        return OWNERS

    def get_partition_mapping(
        self,
        dbt_resource_props: Mapping[str, Any],
        dbt_parent_resource_props: Mapping[str, Any],
    ):
        if (
            "window" in dbt_resource_props.get("tags", [])
            and dbt_parent_resource_props["resource_type"] == "source"
        ):
            return TimeWindowPartitionMapping(start_offset=-(TCA_WINDOW_DAYS - 1), end_offset=0)
        return None


@dbt_assets(
    manifest=marts_project.manifest_path,
    project=marts_project,
    dagster_dbt_translator=MartsTranslator(),
    partitions_def=trading_day_partitions,
    pool=WAREHOUSE_POOL,
    backfill_policy=ONE_DAY_PER_RUN,  # like every asset (dagster-dbt defaults to one run)
    name="marts",
)
def marts(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    lake: LakeResource,
    warehouse: DuckDBResource,
):
    """`dbt build` of the selected marts for the run's day: models, then their tests."""
    variables = {
        "trade_date": context.partition_key,
        "lake_uri": lake.root_uri,
        "warehouse_path": warehouse.database,
    }
    yield from dbt.cli(["build", "--vars", json.dumps(variables)], context=context).stream()


marts_assets = [marts]
