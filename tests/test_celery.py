"""Scale-out on an existing engine: the production profile (PostgreSQL instance storage, steps on
dagster-celery workers over RabbitMQ) backfills three days through two `analytics-platform worker`
processes (an asset backfill of the paths into TCA, driven by a real daemon), and every table it
writes equals the one the same backfill writes with in-process steps."""

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import polars as pl
import psycopg2
import pytest
from dagster import AssetSelection
from polars.testing import assert_frame_equal

from tests.conftest import PG

ROOT = Path(__file__).parents[1]
PRODUCTION_YAML = ROOT / "deploy" / "production" / "dagster.yaml"
DAYS = ("2026-11-23", "2026-11-24", "2026-11-25")
# The market-data and trading-event paths into TCA: every kind of step (simulated sources,
# vendor files, Pulsar ingestion, TCA) without the whole graph's 45 steps a day.
SELECTION = (
    AssetSelection.assets(["tca", "fills"], ["tca", "orders"])
    .upstream()
    .required_multi_asset_neighbors()
)
TINY_WORLD = {
    "ANALYTICS_SIM_SYMBOLS": "4",
    "ANALYTICS_SIM_QUOTES": "20000",
    "ANALYTICS_SIM_ORDERS": "30",
    "ANALYTICS_SIM_WARMUP_DAYS": "0",
}
# Columns a re-delivery legitimately changes: where and when a row was ingested or computed.
RUN_SPECIFIC = {"message_id", "received_at"}


def _rabbitmq_up(host: str = "127.0.0.1", port: int = 5672) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex((host, port)) == 0


def _environment(home: Path, **variables: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANALYTICS_", "PULSAR_", "DAGSTER_", "MLFLOW_"))
    }
    # The backfill alone: sensors would request runs of their own for the days it publishes.
    return {
        **env, "ANALYTICS_HOME": str(home), "ANALYTICS_SENSORS_RUNNING": "false", **TINY_WORLD,
        **variables,
    }  # fmt: skip


def _asset_backfill(env: dict[str, str], monkeypatch) -> str:
    """A Dagster asset backfill of SELECTION over DAYS (what the UI submits), driven by a real
    dagster-daemon under `env`; its final status."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter  # noqa: PLC0415
    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill  # noqa: PLC0415
    from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES  # noqa: PLC0415
    from dagster._core.utils import make_new_backfill_id  # noqa: PLC0415

    from analytics_platform.cli import dagster_daemon, prepare_dagster_home, pulsar_service  # noqa: PLC0415
    from analytics_platform.config import load_settings  # noqa: PLC0415
    from analytics_platform.definitions import defs  # noqa: PLC0415

    for var in [v for v in os.environ if v.startswith(("ANALYTICS_", "DAGSTER_", "MLFLOW_"))]:
        monkeypatch.delenv(var)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    prepare_dagster_home(settings)  # keeps a dagster.yaml it did not write (production)
    graph = defs.resolve_asset_graph()
    selection = SELECTION.resolve(graph)
    with pulsar_service(settings), DagsterInstance.get() as instance:
        backfill = PartitionBackfill.from_asset_partitions(
            backfill_id=make_new_backfill_id(),
            asset_graph=graph,
            partition_names=list(DAYS),
            asset_selection=list(selection),
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=instance,
            all_partitions=False,
            title=None,
            description=None,
            run_config=None,
        )
        instance.add_backfill(backfill)
        with dagster_daemon(instance):
            deadline = time.monotonic() + 600
            while instance.get_backfill(backfill.backfill_id).status in (
                BulkActionStatus.REQUESTED,
            ):
                assert time.monotonic() < deadline, "the backfill did not finish"
                time.sleep(2)
            in_flight = RunsFilter(statuses=[*IN_PROGRESS_RUN_STATUSES, DagsterRunStatus.QUEUED])
            while instance.get_runs_count(in_flight):
                assert time.monotonic() < deadline, "sensor-triggered runs did not finish"
                time.sleep(2)
        status = instance.get_backfill(backfill.backfill_id).status.value
        return status + _failures(instance, backfill.backfill_id)


def _failures(instance, backfill_id: str) -> str:
    """What went wrong in a backfill's runs (empty when nothing did), for the assertion message."""
    from dagster import DagsterEventType, DagsterRunStatus, RunsFilter  # noqa: PLC0415

    failed = instance.get_runs(
        RunsFilter(tags={"dagster/backfill": backfill_id}, statuses=[DagsterRunStatus.FAILURE])
    )
    backfill = instance.get_backfill(backfill_id)
    messages = [str(backfill.error)] if backfill.error else []
    for run in failed:
        for record in instance.all_logs(run.run_id):
            event = record.dagster_event
            if event and event.event_type in (
                DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE,
                DagsterEventType.ENGINE_EVENT,
            ):  # fmt: skip
                messages.append(f"{run.run_id[:8]} {event.step_key}: {record.message[:2000]}")
    return "".join(f"\n{m}" for m in messages)


def _start_worker(name: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "analytics_platform.cli", "worker", "--name", name],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while " ready." not in log.read_text():
        assert worker.poll() is None, f"worker {name} exited:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"worker {name} not ready:\n{log.read_text()}"
        time.sleep(0.5)
    return worker


def _tables(lake_root: Path) -> dict[str, pl.DataFrame]:
    """The Delta tables of the backfilled assets, run-specific columns dropped, rows sorted."""
    from analytics_platform.definitions import defs  # noqa: PLC0415

    frames = {}
    for key in SELECTION.resolve(defs.resolve_asset_graph()):
        table = "/".join(key.path)
        if not (lake_root / table / "_delta_log").is_dir():
            continue  # a source: landing files or a Pulsar topic
        frame = pl.read_delta(str(lake_root / table))
        frame = frame.drop([c for c in frame.columns if c in RUN_SPECIFIC])
        frames[table] = frame.sort(frame.columns, nulls_last=True)
    return frames


@pytest.mark.skipif(not _rabbitmq_up(), reason="RabbitMQ is not reachable at 127.0.0.1:5672")
def test_celery_backfill_on_two_workers_equals_an_in_process_run(
    tmp_path, postgres_database, monkeypatch
):
    dagster_home = tmp_path / "celery" / "dagster"
    dagster_home.mkdir(parents=True)
    shutil.copy(PRODUCTION_YAML, dagster_home / "dagster.yaml")
    queue = f"analytics-test-{uuid.uuid4().hex[:8]}"  # nothing else on this broker consumes it
    celery_env = _environment(
        tmp_path / "celery",
        DAGSTER_HOME=str(dagster_home),
        DAGSTER_PG_HOST=PG["host"],
        DAGSTER_PG_PORT=str(PG["port"]),
        DAGSTER_PG_DB=postgres_database,
        DAGSTER_PG_USER=PG["user"],
        DAGSTER_PG_PASSWORD=PG["password"],
        ANALYTICS_EXECUTOR="celery",
        ANALYTICS_CELERY_QUEUE=queue,
    )
    logs = {name: tmp_path / f"{name}.log" for name in ("worker-a", "worker-b")}
    workers = [_start_worker(name, {**os.environ, **celery_env}, log) for name, log in logs.items()]
    try:
        assert _asset_backfill(celery_env, monkeypatch) == "COMPLETED_SUCCESS"
    finally:
        for worker in workers:
            os.killpg(worker.pid, 15)
            worker.wait(timeout=60)

    # Both workers executed steps, and the instance in PostgreSQL recorded them as celery steps.
    for name, log in logs.items():
        assert "succeeded in" in log.read_text(), f"{name} ran no step"
    with psycopg2.connect(dbname=postgres_database, **PG) as db, db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM event_logs WHERE event LIKE %s", ("%celery worker%",))
        assert cursor.fetchone()[0] > 0

    in_process_env = _environment(tmp_path / "in_process", ANALYTICS_EXECUTOR="in_process")
    assert _asset_backfill(in_process_env, monkeypatch) == "COMPLETED_SUCCESS"
    expected = _tables(tmp_path / "in_process" / "lake")
    actual = _tables(tmp_path / "celery" / "lake")
    assert sorted(actual) == sorted(expected)
    assert {"raw/quotes", "raw/executions", "tca/fills", "tca/orders"} <= set(actual)
    for table, frame in expected.items():
        assert frame.height > 0 or table.startswith("raw/quarantine"), table
        # Same rows; sums may differ in the last bits (parallel reduction order).
        assert_frame_equal(actual[table], frame, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)
