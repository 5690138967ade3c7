"""Materialise the TCA assets for one day on top of real raw tables (Pulsar-ingested events)."""

import json

import polars as pl
from dagster import AssetKey, DagsterInstance, materialize

from analytics_platform.events.outbound import TCA_REPORT
from analytics_platform.events.publisher import pulsar_client
from analytics_platform.lake import Lake
from analytics_platform.tca import fill_tca
from analytics_platform.tca.schemas import (
    BREAKDOWNS,
    DAILY_REPORT,
    EFFECTS,
    FILL_TCA,
    IMPACT_SPLIT,
    ORDER_TCA,
    PRETRADE,
    PRETRADE_CALIBRATION,
    REVERSION_CURVES,
    ROUTING,
    RULE_605,
    RULE_605_SYMBOL,
    SUMMARY_CONTRACTS,
)
from assets.inputs import SKIP_UNCHANGED_TAG
from assets.raw_events import raw_event_assets
from assets.raw_market_data import raw_market_data_assets
from assets.tca import tca_assets
from tests.conftest import TRADE_DATE, one_day_sources
from tests.test_events_publish import _read_all

QUOTES_KEY = AssetKey(["raw", "quotes"])


def test_tca_graph_for_one_day(tmp_path, small_day):
    with one_day_sources(tmp_path, small_day) as (broker, resources):
        result = materialize(
            [*raw_market_data_assets, *raw_event_assets, *tca_assets],
            partition_key=TRADE_DATE.isoformat(),
            resources=resources,
        )
        with pulsar_client(broker.service_url) as client:
            reports = _read_all(client, TCA_REPORT.topic)
    assert result.success
    assert [json.loads(m.data())["event_id"] for m in reports] == [
        f"TCAReportEvent:{TRADE_DATE.isoformat()}"
    ]
    rule_605 = Lake(str(tmp_path / "lake")).scan(RULE_605, [TRADE_DATE]).collect()
    assert rule_605["orders"].sum() == small_day.orders.height
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert failed == []
    lake = Lake(str(tmp_path / "lake"))
    fills = lake.scan(FILL_TCA, [TRADE_DATE]).collect()
    expected = fill_tca(small_day.executions, small_day.orders, small_day.quotes)
    assert fills.height == small_day.executions.height
    joined = fills.join(expected, on="exec_id", suffix="_direct")
    gap = (joined["effective_spread_bps"] - joined["effective_spread_bps_direct"]).abs().max()
    assert gap is None or gap < 1e-9  # the lake round trip changes nothing
    orders = lake.scan(ORDER_TCA, [TRADE_DATE]).collect()
    assert orders.height == small_day.orders.height
    venues = lake.scan(SUMMARY_CONTRACTS["tca/venue_daily"], [TRADE_DATE]).collect()
    assert set(venues["metric"]) == {"effective_spread_bps", "arrival_cost_bps", "markout_bps_60s"}
    assert (venues["ci95_low_bps"] <= venues["weighted_bps"]).all()
    assert pl.Series(venues["venue"]).n_unique() == small_day.executions["venue"].n_unique()
    pretrade = lake.scan(PRETRADE, [TRADE_DATE]).collect()
    assert pretrade.height == small_day.orders.height
    calibration = lake.scan(PRETRADE_CALIBRATION, [TRADE_DATE]).collect()
    assert set(calibration["dimension"]) == {"algo", "broker", "urgency", "size_bucket"}
    assert set(calibration["window_end"]) == {TRADE_DATE}
    venue_effects = lake.scan(EFFECTS["venue"], [TRADE_DATE]).collect()
    assert set(venue_effects["entity"]) == set(small_day.executions["venue"])
    assert (venue_effects["verdict"] == "baseline").sum() == 1
    for entity in ("algo", "broker"):
        table = lake.scan(EFFECTS[entity], [TRADE_DATE]).collect()
        assert set(table["entity"]) == set(small_day.orders[entity])
    breakdowns = lake.scan(BREAKDOWNS, [TRADE_DATE]).collect()
    for _, group in breakdowns.group_by("dimension"):
        assert group["n_orders"].sum() == small_day.orders.height
    curves = lake.scan(REVERSION_CURVES, [TRADE_DATE]).collect()
    assert set(curves["horizon_s"]) <= {-60, -30, -5, 0, 1, 5, 30, 60, 300, 1800}
    assert set(curves["fill_type"]) == {"dark", "lit_passive", "lit_aggressive"}
    split = lake.scan(IMPACT_SPLIT, [TRADE_DATE]).collect()
    assert set(split["dimension"]) == {"all", "participation", "urgency"}
    by_symbol = lake.scan(RULE_605_SYMBOL, [TRADE_DATE]).collect()
    assert by_symbol["covered_orders"].sum() == small_day.orders.height
    assert by_symbol["shares"].sum() == small_day.executions["quantity"].sum()
    routed = lake.scan(ROUTING, [TRADE_DATE]).collect().filter(pl.col("order_type") == "ALL")
    assert routed["shares"].sum() == small_day.executions["quantity"].sum()
    report = lake.scan(DAILY_REPORT, [TRADE_DATE]).collect().row(0, named=True)
    assert report["window_orders"] == small_day.orders.height
    assert {r["bucket"] for r in report["by_algo"]} == set(small_day.orders["algo"])
    assert "top_outliers" in json.loads(reports[0].data())


def test_sensor_runs_skip_assets_whose_inputs_did_not_change(tmp_path, small_day):
    """A sensor run (SKIP_UNCHANGED_TAG) recomputes nothing when no input partition changed:
    the tables keep their versions and the checks their results; a changed input recomputes."""
    instance = DagsterInstance.ephemeral()
    lake = Lake(str(tmp_path / "lake"))
    with one_day_sources(tmp_path, small_day) as (_, resources):
        graph = [*raw_market_data_assets, *raw_event_assets, *tca_assets]
        tca_keys = [k for a in tca_assets for k in a.keys]

        def run(selection, tags=None):
            result = materialize(
                graph,
                selection=selection,
                partition_key=TRADE_DATE.isoformat(),
                resources=resources,
                instance=instance,
                tags=tags,
            )
            assert result.success
            return {
                m.asset_key.to_user_string(): m.metadata
                for m in result.get_asset_materialization_events()
                for m in [m.event_specific_data.materialization]
            }, result.get_asset_check_evaluations()

        run(None)
        versions = {t: lake.version(t) for t in (FILL_TCA.table, ORDER_TCA.table)}
        sensor_run = {SKIP_UNCHANGED_TAG: "true"}
        skipped, checks = run(tca_keys, sensor_run)
        recomputed = {k for k, meta in skipped.items() if "skipped_unchanged_since_run" not in meta}
        # Only the multi-asset (not a lake_table_asset) computes again.
        assert recomputed == set(), recomputed
        assert "tca/fills" in skipped and "tca/orders" in skipped
        assert {t: lake.version(t) for t in versions} == versions
        assert checks and all(c.passed for c in checks)
        assert all("carried_from_run" in c.metadata for c in checks if c.asset_key in skipped)

        # The quotes partition is replaced (new files): every asset reading it computes again.
        run([QUOTES_KEY])
        again, _ = run(tca_keys, sensor_run)
        assert "skipped_unchanged_since_run" not in again["tca/fills"]
        assert lake.version(FILL_TCA.table) > versions[FILL_TCA.table]
        # Without the tag (the end-of-day job, the CLI) an asset always computes.
        plain, _ = run([AssetKey(["tca", "fills"])])
        assert "skipped_unchanged_since_run" not in plain["tca/fills"]
