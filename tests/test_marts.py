"""The marts for real: a small simulated day through raw, TCA, attribution and compliance into
the lake, then dbt (dagster-dbt) builds the marts in a DuckDB warehouse reading the Delta
tables with the offline delta extension, and runs the dbt tests as asset checks."""

import duckdb
import polars as pl
import pytest
from dagster import AssetKey, AssetSelection, materialize
from dagster_duckdb import DuckDBResource

from analytics_platform.compliance import EXCEPTIONS, RULES
from analytics_platform.config import load_settings
from analytics_platform.lake import Lake
from analytics_platform.tca.schemas import ORDER_TCA
from assets.attribution import attribution_assets
from assets.compliance import compliance_assets
from assets.marts import dbt_executable, marts_assets
from assets.raw_events import raw_event_assets
from assets.raw_market_data import raw_market_data_assets
from assets.tca import tca_assets
from resources import (
    ComplianceConfig,
    marts_dbt_resource,
)
from tests.conftest import TRADE_DATE, one_day_sources

# The ML marts read tables of the ML assets (MLflow, the cost model), not built here.
ML_MARTS = AssetSelection.assets(["marts", "dataset_inventory"], ["marts", "model_inventory"])


def test_marts_for_one_day(tmp_path, small_day):
    warehouse = tmp_path / "warehouse.duckdb"
    with one_day_sources(tmp_path, small_day) as (_, sources):
        resources = {
            **sources,
            "compliance": ComplianceConfig(cost_k_sigma=2.0),
            "warehouse": DuckDBResource(database=str(warehouse)),
            "dbt": marts_dbt_resource(),
        }
        assets = [
            *raw_market_data_assets,
            *raw_event_assets,
            *tca_assets,
            *attribution_assets,
            *compliance_assets,
            *marts_assets,
        ]
        result = materialize(
            assets,
            selection=AssetSelection.all() - ML_MARTS,
            partition_key=TRADE_DATE.isoformat(),
            resources=resources,
        )
        assert result.success
        # The marts again, alone: the day is replaced, not appended.
        again = materialize(
            assets,
            selection=AssetSelection.groups("marts") - ML_MARTS,
            partition_key=TRADE_DATE.isoformat(),
            resources=resources,
        )
        assert again.success

    checks = result.get_asset_check_evaluations()
    dbt_checks = [c for c in checks if c.asset_key.path[0] == "marts"]
    assert len(dbt_checks) > 50  # every dbt test of the built marts ran, as a check
    failed = [
        f"{c.asset_key.to_user_string()}:{c.check_name}"
        for c in checks
        if not c.passed and c.asset_key.path[0] != "compliance"  # compliance checks report
    ]
    assert failed == []
    assert all(c.passed for c in again.get_asset_check_evaluations())
    rules = {c.check_name for c in checks if c.asset_key == AssetKey(["compliance", "exceptions"])}
    assert rules == set(RULES)

    lake = Lake(str(tmp_path / "lake"))
    exceptions = lake.scan(EXCEPTIONS, [TRADE_DATE]).collect()
    orders = lake.scan(ORDER_TCA, [TRADE_DATE]).collect()
    with duckdb.connect(str(warehouse), read_only=True) as db:
        rows = dict(
            db.sql(
                "select table_name, estimated_size from duckdb_tables() where schema_name = 'marts'"
            ).fetchall()
        )

        def count(sql: str) -> int:
            return db.sql(sql).fetchone()[0]

        assert count("select count(*) from marts.tca_order_costs") == orders.height
        assert count("select count(distinct dimension) from marts.tca_daily") == 4
        assert count("select count(*) from marts.compliance_exceptions") == exceptions.height
        assert count("select count(*) from marts.execution_quality_trends") == 1
        assert count("select min(n_days) from marts.tca_window_20d") == 1
        # Every mart has the day, and only the day (the second run replaced it).
        dates = db.sql("select distinct trade_date from marts.tca_daily").fetchall()
        assert dates == [(TRADE_DATE,)]
        strategies = count("select count(*) from marts.attribution_strategy")
        assert strategies == small_day.orders["strategy_id"].n_unique()
    assert {"tca_daily", "tca_window_20d", "tca_effects", "compliance_exceptions"} <= set(rows)
    # With k = 2, the small day has costs beyond their estimate; each names its order.
    beyond = exceptions.filter(pl.col("rule") == "cost_beyond_estimate")
    assert beyond.height > 0
    assert set(beyond["order_id"]) <= set(orders["order_id"])


def test_a_missing_dbt_environment_says_how_to_get_one(tmp_path):
    settings = load_settings({"ANALYTICS_DBT_EXECUTABLE": str(tmp_path / "bin" / "dbt")})
    with pytest.raises(FileNotFoundError, match=r"make bootstrap.*ANALYTICS_DBT_EXECUTABLE"):
        dbt_executable(settings)
