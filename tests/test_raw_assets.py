"""Materialise the real raw market-data assets with real Delta tables and Parquet drops."""

import polars as pl
import pytest
from dagster import AssetKey, MarkdownMetadataValue, materialize

from analytics_platform.lake import Lake
from analytics_platform.landing import LandingZone
from analytics_platform.marketdata.schemas import MARKET_DATA_CONTRACTS, QUOTES
from assets.raw_market_data import raw_market_data_assets
from resources import LakeResource, LandingZoneResource
from tests.conftest import TRADE_DATE, tuning


@pytest.fixture
def lake_env(tmp_path, small_day):
    zone = LandingZone(tmp_path / "landing")
    for table, frame in small_day.market_data.items():
        zone.write(table, TRADE_DATE, frame)
    resources = {
        "lake": LakeResource(root_uri=str(tmp_path / "lake")),
        "landing": LandingZoneResource(root=str(tmp_path / "landing")),
        "quality": tuning(ANALYTICS_MAX_CROSSED_QUOTE_SHARE="1e-3")["quality"],
    }
    return zone, Lake(str(tmp_path / "lake")), resources


def _run(resources):
    return materialize(
        raw_market_data_assets,
        partition_key=TRADE_DATE.isoformat(),
        resources=resources,
        raise_on_error=False,
    )


def test_raw_graph_materialises_one_day(lake_env, small_day):
    _, lake, resources = lake_env
    result = _run(resources)
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert len(checks) == 13 and all(c.passed for c in checks)
    # Partitioned checks: each result belongs to the day it checked (the UI shows it per day).
    assert {c.partition for c in checks} == {TRADE_DATE.isoformat()}
    for table, frame in small_day.market_data.items():
        contract = MARKET_DATA_CONTRACTS[table]
        stored = lake.scan(contract, [TRADE_DATE]).collect()
        assert stored.height == frame.height, table
        mat = result.asset_materializations_for_node(table.replace("/", "__"))[0]
        assert mat.metadata["dagster/row_count"].value == frame.height
        assert mat.metadata["delta_version"].value == 0
        assert "preview" in mat.metadata
        assert isinstance(mat.metadata["preview"], MarkdownMetadataValue)


def test_rematerialising_replaces_the_partition_without_duplicates(lake_env, small_day):
    _, lake, resources = lake_env
    _run(resources)
    first = lake.scan(QUOTES, [TRADE_DATE]).collect().sort("symbol", "seq")
    result = _run(resources)
    assert result.success
    second = lake.scan(QUOTES, [TRADE_DATE]).collect().sort("symbol", "seq")
    assert second.equals(first)
    assert lake.version(QUOTES.table) == 1


def test_a_sequence_gap_fails_the_blocking_check_and_names_the_range(lake_env, small_day):
    zone, _, resources = lake_env
    symbol = small_day.quotes["symbol"][0]
    holed = small_day.quotes.filter(
        ~((pl.col("symbol") == symbol) & pl.col("seq").is_between(10, 12))
    )
    zone.write(QUOTES.table, TRADE_DATE, holed)
    result = _run(resources)
    evaluations = {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()}
    gap = evaluations[(AssetKey(["raw", "quotes"]), "sequence_gaps")]
    assert not gap.passed
    assert f"{symbol} seq 10-12" in gap.description
    assert isinstance(gap.metadata["gap_ranges"], MarkdownMetadataValue)  # a table, not text
    others = [e for k, e in evaluations.items() if k[1] != "sequence_gaps"]
    assert all(e.passed for e in others)


def test_missing_landing_file_fails_with_the_path(lake_env):
    zone, _, resources = lake_env
    zone.path(QUOTES.table, TRADE_DATE).unlink()
    result = _run(resources)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "no landing file for raw/quotes on 2026-11-20" in str(failure.step_failure_data.error)
