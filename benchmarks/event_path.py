"""Event path: a late TradeExecutedEvent published to the broker, until it is in raw/executions
and in tca/fills, with the real dagster-daemon (sensors, run queue, run processes).

Setup: one simulated day at the default size is materialised with `run-day` in a fresh home;
then a daemon runs against that instance with the embedded broker up. Each sample publishes one
new fill of an existing order at a random phase of the sensor's interval and polls the two Delta
tables every 0.2 s; the next sample starts once the previous sample's run has finished (a day has
one run at a time, so an event arriving while the day's run is still refreshing what follows
tca/fills waits for it: that is the run's length, not the event path). The peer is the sensor
interval itself (what a request waits for at most). p50/p95 over the samples.
"""

import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from benchmarks.common import platform_env, print_table, write_results

PROJECT = Path(__file__).resolve().parents[1]
DAY = dt.date(2026, 11, 25)
SAMPLES = 20
TIMEOUT_S = 180


def _wait_for(lake_uri: str, table: str, exec_id: str, deadline: float) -> float | None:
    path = str(Path(lake_uri, table))
    while time.monotonic() < deadline:
        try:
            found = (
                pl.scan_delta(path)
                .filter((pl.col("trade_date") == DAY) & (pl.col("exec_id") == exec_id))
                .select(pl.len())
                .collect()
                .item()
            )
        except Exception:  # table being rewritten: try again
            found = 0
        if found:
            return time.monotonic()
        time.sleep(0.2)
    return None


def _wait_idle(deadline: float) -> None:
    """Until the instance under DAGSTER_HOME has no run queued or in progress."""
    from dagster import DagsterInstance, RunsFilter  # noqa: PLC0415

    from sensors.pulsar import IN_FLIGHT  # noqa: PLC0415

    with DagsterInstance.get() as instance:
        while time.monotonic() < deadline and instance.get_runs(
            filters=RunsFilter(statuses=IN_FLIGHT), limit=1
        ):
            time.sleep(0.5)


def measure() -> list[dict]:
    from analytics_platform.config import load_settings  # noqa: PLC0415
    from analytics_platform.events.broker import EmbeddedPulsar  # noqa: PLC0415
    from analytics_platform.events.contracts import TRADE_EXECUTED  # noqa: PLC0415
    from analytics_platform.events.publisher import publish_frame, pulsar_client  # noqa: PLC0415
    from analytics_platform.lake import Lake  # noqa: PLC0415

    home = tempfile.mkdtemp(prefix="bench-event-path-")
    env = platform_env(home, ANALYTICS_SIM_WARMUP_DAYS="0", DAGSTER_HOME=str(Path(home, "dagster")))
    day = subprocess.run(
        [sys.executable, "-m", "analytics_platform.cli", "run-day", "--date", DAY.isoformat()],
        cwd=PROJECT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if day.returncode:
        raise RuntimeError(day.stdout[-3000:] + day.stderr[-3000:])
    os.environ.update(env)
    settings = load_settings()
    lake = Lake(str(settings.lake_uri))
    template = lake.scan(TRADE_EXECUTED.table, [DAY]).head(1).collect()
    payload = TRADE_EXECUTED.payload_names
    rows = []
    with EmbeddedPulsar(Path(str(settings.pulsar_data_dir))) as broker:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "dagster._daemon", "run", "-w", "workspace.yaml"],
            cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        try:
            time.sleep(15)  # the daemon loads the code location and starts its sensors
            with pulsar_client(broker.service_url) as client:
                for k in range(SAMPLES):
                    _wait_idle(time.monotonic() + TIMEOUT_S)
                    time.sleep(random.uniform(0, settings.sensor_interval_s))
                    exec_id = f"E-LATE-{k:03d}"
                    late = template.select(*payload, "trade_date").with_columns(
                        exec_id=pl.lit(exec_id),
                        ts=pl.col("ts") + pl.duration(seconds=1),
                    )
                    started = time.monotonic()
                    publish_frame(client, TRADE_EXECUTED.spec, late)
                    deadline = started + TIMEOUT_S
                    raw = _wait_for(str(settings.lake_uri), "raw/executions", exec_id, deadline)
                    tca = _wait_for(str(settings.lake_uri), "tca/fills", exec_id, deadline)
                    rows.append(
                        {
                            "sample": k,
                            "to_raw_s": round(raw - started, 2) if raw else None,
                            "to_tca_s": round(tca - started, 2) if tca else None,
                        }
                    )
                    print(f"  sample {k}: {rows[-1]}", flush=True)
        finally:
            os.killpg(daemon.pid, 15)
            daemon.wait(timeout=60)
    return rows


def _quantile(values: list[float], q: float) -> float:
    return float(pl.Series(values).quantile(q, interpolation="linear"))


def run() -> None:
    from analytics_platform.config import load_settings  # noqa: PLC0415

    samples = measure()
    interval = load_settings().sensor_interval_s
    summary = []
    for column, label in (
        ("to_raw_s", "publish -> raw/executions"),
        ("to_tca_s", "publish -> tca/fills"),
    ):
        values = [s[column] for s in samples if s[column] is not None]
        summary.append(
            {
                "path": label,
                "samples": len(values),
                "missed": len(samples) - len(values),
                "p50_s": round(_quantile(values, 0.5), 1),
                "p95_s": round(_quantile(values, 0.95), 1),
                "max_s": round(max(values), 1),
                "sensor_interval_s": interval,
            }
        )
    print_table(
        f"Event path with the real daemon ({SAMPLES} late fills, default-size day)", summary
    )
    print(f"  results: {write_results('event_path', summary + samples)}")
