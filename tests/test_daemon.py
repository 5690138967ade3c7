"""The daemon path: a real `dagster-daemon` evaluates the Pulsar sensors of the code location,
launches the partition run they request, and that run lands every published event exactly once
(and refreshes the TCA downstream of it)."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter, materialize

from analytics_platform.cli import prepare_dagster_home
from analytics_platform.config import load_settings
from analytics_platform.events.broker import EmbeddedPulsar
from analytics_platform.events.contracts import PARENT_ORDER_SUBMITTED, TRADE_EXECUTED
from analytics_platform.events.publisher import publish_frame, pulsar_client
from analytics_platform.lake import Lake
from analytics_platform.landing import LandingZone
from analytics_platform.tca.schemas import FILL_TCA
from assets.raw_market_data import raw_market_data_assets
from resources import build_resources
from tests.conftest import TRADE_DATE

FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
PROJECT = Path(__file__).resolve().parents[1]


def _wait_for_sensor_runs(instance: DagsterInstance, daemon: subprocess.Popen, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert daemon.poll() is None, "dagster-daemon exited"
        runs = instance.get_runs(filters=RunsFilter(tags={"trigger": "sensor"}))
        if runs and all(r.status in FINISHED for r in runs):
            return runs
        time.sleep(2)
    pytest.fail(f"no finished sensor run within {timeout_s:.0f} s")


def test_daemon_sensor_launches_the_partition_run(tmp_path, monkeypatch, small_day):
    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("ANALYTICS_MAX_CROSSED_QUOTE_SHARE", "0.001")
    for var in ("ANALYTICS_LAKE_URI", "ANALYTICS_LANDING_URI", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)
    with EmbeddedPulsar(tmp_path / "pulsar") as broker:
        monkeypatch.setenv("PULSAR_SERVICE_URL", broker.service_url)
        settings = load_settings()
        monkeypatch.setenv("DAGSTER_HOME", str(settings.dagster_home))  # restored after the test
        prepare_dagster_home(settings)
        # The day's market data is in the lake, as after the market-data load.
        zone = LandingZone(Path(str(settings.landing_uri)))
        for table, frame in small_day.market_data.items():
            zone.write(table, TRADE_DATE, frame)
        loaded = materialize(
            raw_market_data_assets,
            partition_key=TRADE_DATE.isoformat(),
            resources=build_resources(settings),
        )
        assert loaded.success
        with pulsar_client(broker.service_url) as client:
            publish_frame(client, PARENT_ORDER_SUBMITTED.spec, small_day.orders)
            publish_frame(client, TRADE_EXECUTED.spec, small_day.executions)

        daemon = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", "workspace.yaml"],
            cwd=PROJECT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            with DagsterInstance.get() as instance:
                runs = _wait_for_sensor_runs(instance, daemon, timeout_s=300)
        finally:
            daemon.terminate()
            _, stderr = daemon.communicate(timeout=60)
        assert [(r.job_name, r.tags["dagster/partition"], r.status) for r in runs] == [
            ("ingest_trade_execution", TRADE_DATE.isoformat(), DagsterRunStatus.SUCCESS)
        ], stderr.decode()[-3000:]

    lake = Lake(str(settings.lake_uri))
    landed = lake.scan(TRADE_EXECUTED.table, [TRADE_DATE]).collect()
    assert sorted(landed["exec_id"]) == sorted(small_day.executions["exec_id"])
    fill_tca = lake.scan(FILL_TCA, [TRADE_DATE]).collect()
    assert fill_tca.height == small_day.executions.height
