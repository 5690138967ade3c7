"""End-of-day TCA assets at full size: 20M quotes / ~500k fills, peak memory against 8 GB.

One child process lands the day the way production does (market data files through the raw
assets, trading events published to a pulsar-lite broker and ingested by the raw event assets);
a second child, started fresh, materialises every TCA asset of the partition from the lake and
reports its wall time and peak RSS. The budget (DESIGN) is the peer: the row reports the share
of it used, and the size of the raw tables the assets read, for scale.
"""

import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import child_json, peak_rss_mb, print_table, write_results

DAY = dt.date(2026, 11, 20)
SIZE = dict(n_symbols=200, n_quotes=20_000_000, n_orders=56_000)
BUDGET_MB = 8 * 1024


def prepare(home: str) -> None:
    """Child 1: simulate the day and land it in the lake through the raw assets."""
    from dagster import materialize  # noqa: PLC0415

    from analytics_platform.config import load_settings  # noqa: PLC0415
    from analytics_platform.events.broker import EmbeddedPulsar  # noqa: PLC0415
    from analytics_platform.events.publisher import publish_all, pulsar_client  # noqa: PLC0415
    from analytics_platform.landing import LandingZone  # noqa: PLC0415
    from analytics_platform.marketdata.simulator import (  # noqa: PLC0415
        SimulationConfig,
        simulate_day,
    )
    from assets.raw_events import raw_event_assets  # noqa: PLC0415
    from assets.raw_market_data import raw_market_data_assets  # noqa: PLC0415
    from resources import build_resources  # noqa: PLC0415

    settings = load_settings()
    day = simulate_day(DAY, SimulationConfig(**SIZE))
    zone = LandingZone(Path(str(settings.landing_uri)))
    for table, frame in day.market_data.items():
        zone.write(table, DAY, frame)
    counts = {"quotes": day.quotes.height, "fills": day.executions.height}
    # The resources find the embedded broker through its data directory.
    with EmbeddedPulsar(Path(str(settings.pulsar_data_dir))) as broker:
        with pulsar_client(broker.service_url) as client:
            publish_all(client, day.trading_events)
        del day
        result = materialize(
            [*raw_market_data_assets, *raw_event_assets],
            partition_key=DAY.isoformat(),
            resources=build_resources(settings),
        )
    assert result.success, "landing the raw tables failed"
    print(json.dumps(counts))


def measure(home: str) -> None:
    """Child 2: materialise the TCA assets of the day; print wall time and peak RSS."""
    from dagster import materialize  # noqa: PLC0415

    from analytics_platform.config import load_settings  # noqa: PLC0415
    from analytics_platform.events.broker import EmbeddedPulsar  # noqa: PLC0415
    from assets.tca import tca_assets  # noqa: PLC0415
    from resources import build_resources  # noqa: PLC0415

    settings = load_settings()
    lake_bytes = sum(f.stat().st_size for f in Path(str(settings.lake_uri)).rglob("*.parquet"))
    with EmbeddedPulsar(Path(str(settings.pulsar_data_dir))):  # for the TCAReportEvent
        started = time.perf_counter()
        result = materialize(
            tca_assets, partition_key=DAY.isoformat(), resources=build_resources(settings)
        )
        seconds = time.perf_counter() - started
    assert result.success, "the TCA assets failed"
    print(
        json.dumps(
            {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "lake_mb": lake_bytes / 2**20}
        )
    )


def _child(step: str, home: Path) -> dict:
    env = {**os.environ, "ANALYTICS_HOME": str(home)}
    for var in (
        "ANALYTICS_LAKE_URI",
        "ANALYTICS_LANDING_URI",
        "PULSAR_SERVICE_URL",
        "DAGSTER_HOME",
    ):
        env.pop(var, None)
    return child_json(f"from benchmarks.eod_tca import {step}; {step}({str(home)!r})", env)


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        counts = _child("prepare", Path(tmp))
        print(f"landed {counts} in {time.perf_counter() - started:.0f} s", flush=True)
        measured = _child("measure", Path(tmp))
    rows = [
        {
            "quotes": counts["quotes"],
            "fills": counts["fills"],
            "raw_lake_mb": int(measured["lake_mb"]),
            "tca_assets_s": measured["seconds"],
            "peak_rss_mb": int(measured["peak_rss_mb"]),
            "share_of_8gb_budget": measured["peak_rss_mb"] / BUDGET_MB,
        }
    ]
    print_table("End-of-day TCA assets, one partition (fresh process, from the lake)", rows)
    print(f"results: {write_results('eod_tca', rows)}")
    print(f"(runner peak {int(peak_rss_mb())} MB)")
    return rows
