"""`make run` in miniature: the real CLI in a fresh process on the embedded default."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import polars as pl

from analytics_platform.lake import Lake
from analytics_platform.marketdata.schemas import QUOTES

ROOT = Path(__file__).parents[1]


TINY_WORLD = ("--symbols", "4", "--quotes", "20000", "--orders", "30")


def _platform(
    home: Path, *args: str, timeout: int = 300, **variables: str
) -> subprocess.CompletedProcess[str]:
    """The real CLI in a fresh process on the embedded default under `home` (plus `variables`)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANALYTICS_", "PULSAR_", "DAGSTER_"))
    }
    env.update(ANALYTICS_HOME=str(home), **variables)
    return subprocess.run(
        [sys.executable, "-m", "analytics_platform.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _run_day(home: Path) -> subprocess.CompletedProcess[str]:
    return _platform(home, "run-day", "--date", "2026-11-20", *TINY_WORLD)


def test_run_day_end_to_end_on_the_embedded_default(tmp_path):
    home = tmp_path / "var"
    proc = _run_day(home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "SUCCESS" in out
    assert "passed, 0 failed" in out
    assert "raw/executions" in out and "events quarantined (raw/quarantine): 0" in out
    assert "persistent://analytics/trade-execution/trade-executed" in out
    assert "make ui" in out
    assert str(home / "reports" / "2026-11-20" / "tca.html") in out  # the reports, linked
    assert (home / "reports" / "2026-11-20" / "performance.html").is_file()
    lake = Lake(str(home / "lake"))
    assert lake.scan(QUOTES).collect().height == 20_000
    assert (home / "dagster" / "dagster.yaml").exists()
    assert (home / "pulsar" / "db.rocksdb").is_dir()  # the broker persisted under var/pulsar
    # The embedded broker is stopped when the command ends.
    procs = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert str(home / "pulsar") not in procs

    again = _run_day(home)  # re-running the same day is safe: same rows, no duplicates
    assert again.returncode == 0, again.stdout + again.stderr
    assert "(cache hit)" in again.stdout  # same inputs: the reports come from the cache
    assert lake.scan(QUOTES).collect().height == 20_000


def test_non_trading_day_is_refused(tmp_path):
    proc = _platform(tmp_path, "run-day", "--date", "2026-11-26")
    assert proc.returncode == 2
    assert "2026-11-26 is not an NYSE trading day" in proc.stderr


def test_invalid_configuration_names_the_variable(tmp_path):
    proc = _platform(tmp_path, "run-day", PULSAR_SERVICE_URL="http://nope")
    assert proc.returncode == 2
    assert "PULSAR_SERVICE_URL" in proc.stderr


def _backfill(home: Path) -> subprocess.CompletedProcess[str]:
    days = ("--start", "2026-11-23", "--end", "2026-11-24")
    return _platform(home, "backfill", *days, *TINY_WORLD, timeout=600)


def test_backfill_builds_consistent_days_through_a_dagster_backfill(tmp_path):
    """`analytics-platform backfill` (`make history`): a real dagster-daemon launches one
    end-of-day run per day of a job backfill; the landed days chain (positions and NAV carry
    over), and re-running it changes nothing."""
    from dagster import DagsterInstance  # noqa: PLC0415

    from analytics_platform.events.contracts import (  # noqa: PLC0415
        PORTFOLIO_PERFORMANCE,
        PORTFOLIO_POSITION_SNAPSHOT,
        TRADE_EXECUTED,
    )

    home = tmp_path / "var"
    proc = _backfill(home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 of 2 days succeeded" in proc.stdout
    assert "chain breaks: none" in proc.stdout
    lake = Lake(str(home / "lake"))
    days = [dt.date(2026, 11, 23), dt.date(2026, 11, 24)]
    quotes = lake.scan(QUOTES).collect()
    assert quotes.group_by("trade_date").len().sort("trade_date")["len"].to_list() == [20_000] * 2
    positions = lake.scan(PORTFOLIO_POSITION_SNAPSHOT.table).collect()
    closing = positions.filter((pl.col("trade_date") == days[0]) & (pl.col("snapshot") == "CLOSE"))
    reopened = positions.filter((pl.col("trade_date") == days[1]) & (pl.col("snapshot") == "OPEN"))
    cols = ["portfolio_id", "symbol", "quantity", "price"]
    assert closing.select(cols).sort(cols).equals(reopened.select(cols).sort(cols))
    nav = lake.scan(PORTFOLIO_PERFORMANCE.table).collect().sort("trade_date")
    by_pf = nav.group_by("portfolio_id").agg(pl.col("nav").first(), pl.col("previous_nav").last())
    assert (by_pf["nav"] == by_pf["previous_nav"]).all()
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        backfills = instance.get_backfills()
        assert len(backfills) == 1 and backfills[0].job_name == "end_of_day"
    _assert_attribution_over_the_days(lake, days)

    executions = lake.scan(TRADE_EXECUTED.table).collect()
    again = _backfill(home)
    assert again.returncode == 0, again.stdout + again.stderr
    assert lake.scan(QUOTES).collect().height == quotes.height
    replayed = lake.scan(TRADE_EXECUTED.table).collect()
    assert replayed.height == executions.height
    assert (
        replayed.select("exec_id", "price")
        .sort("exec_id")
        .equals(executions.select("exec_id", "price").sort("exec_id"))
    )


def _assert_attribution_over_the_days(lake: Lake, days: list[dt.date]) -> None:
    """Attribution ran in each day's run; the second day's windows cover both days."""
    from analytics_platform.attribution.schemas import (  # noqa: PLC0415
        BRINSON_LINKED,
        DECISION_OUTCOMES,
        RISK_METRICS,
        STRATEGY_WINDOW,
    )
    from analytics_platform.events.contracts import TRADING_DECISION  # noqa: PLC0415

    decisions = lake.scan(TRADING_DECISION.table).collect()
    outcomes = lake.scan(DECISION_OUTCOMES).collect()
    assert sorted(outcomes["decision_id"]) == sorted(decisions["decision_id"])
    window = lake.scan(STRATEGY_WINDOW, [days[1]]).collect()
    assert window.height > 0 and (window["n_days"] == 2).all()
    linked = lake.scan(BRINSON_LINKED, [days[1]]).collect()
    totals = linked.group_by("portfolio_id", "method", "linking_method").agg(
        pl.col("total").sum(), pl.col("excess_return").first(), pl.col("n_days").first()
    )
    assert totals.height == 4 * 2 * 4  # portfolios x Brinson methods x linking methods
    assert (totals["n_days"] == 2).all()
    assert (totals["total"] - totals["excess_return"]).abs().max() < 1e-12
    metrics = lake.scan(RISK_METRICS, [days[1]]).collect()
    assert set(metrics["entity_type"]) == {"PORTFOLIO", "STRATEGY"}


def test_an_asset_backfill_from_the_ui_builds_the_same_days(tmp_path, monkeypatch):
    """What the UI's "Materialize all" over a partition range submits: an asset backfill of the
    whole graph. A real dagster-daemon drives it; the simulated market lands and publishes each
    day, and the days chain exactly as with the CLI."""
    import time  # noqa: PLC0415

    from dagster import DagsterInstance  # noqa: PLC0415
    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill  # noqa: PLC0415
    from dagster._core.utils import make_new_backfill_id  # noqa: PLC0415

    from analytics_platform.cli import dagster_daemon, prepare_dagster_home, pulsar_service  # noqa: PLC0415
    from analytics_platform.config import load_settings  # noqa: PLC0415
    from analytics_platform.events.contracts import PORTFOLIO_PERFORMANCE  # noqa: PLC0415

    for var in [v for v in os.environ if v.startswith(("ANALYTICS_", "PULSAR_", "DAGSTER_"))]:
        monkeypatch.delenv(var)
    home = tmp_path / "var"
    for name, value in {
        "ANALYTICS_HOME": str(home),
        "ANALYTICS_SIM_SYMBOLS": "4",
        "ANALYTICS_SIM_QUOTES": "20000",
        "ANALYTICS_SIM_ORDERS": "30",
        "ANALYTICS_SIM_WARMUP_DAYS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    prepare_dagster_home(settings)
    from analytics_platform.definitions import defs  # noqa: PLC0415

    graph = defs.resolve_asset_graph()
    days = ["2026-11-23", "2026-11-24"]
    with pulsar_service(settings), DagsterInstance.get() as instance:
        backfill = PartitionBackfill.from_asset_partitions(
            backfill_id=make_new_backfill_id(),
            asset_graph=graph,
            partition_names=days,
            asset_selection=list(graph.materializable_asset_keys),
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=instance,
            all_partitions=False,
            title="history from the UI",
            description=None,
            run_config=None,
        )
        instance.add_backfill(backfill)
        with dagster_daemon(instance):
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                status = instance.get_backfill(backfill.backfill_id).status
                if status not in (BulkActionStatus.REQUESTED,):
                    break
                time.sleep(3)
        assert (
            instance.get_backfill(backfill.backfill_id).status == BulkActionStatus.COMPLETED_SUCCESS
        )
    lake = Lake(str(home / "lake"))
    nav = lake.scan(PORTFOLIO_PERFORMANCE.table).collect().sort("trade_date")
    assert nav["trade_date"].unique().to_list() == [dt.date(2026, 11, 23), dt.date(2026, 11, 24)]
    by_pf = nav.group_by("portfolio_id").agg(pl.col("nav").first(), pl.col("previous_nav").last())
    assert (by_pf["nav"] == by_pf["previous_nav"]).all()
