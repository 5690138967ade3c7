"""Scale-out on an existing engine: the production profile (PostgreSQL instance storage, steps on
dagster-celery workers over RabbitMQ) backfills three days through two `analytics-platform worker`
processes, and every table it writes equals the one an in-process backfill writes."""

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal
import psycopg2
import pytest

from tests.conftest import PG

ROOT = Path(__file__).parents[1]
PRODUCTION_YAML = ROOT / "deploy" / "production" / "dagster.yaml"
DAYS = ("2026-11-23", "2026-11-25")
TINY_WORLD = {
    "ANALYTICS_SIM_SYMBOLS": "4",
    "ANALYTICS_SIM_QUOTES": "20000",
    "ANALYTICS_SIM_ORDERS": "30",
    "ANALYTICS_SIM_WARMUP_DAYS": "0",
}
# Columns a re-delivery legitimately changes: where and when a row was ingested or computed.
RUN_SPECIFIC = {"message_id", "received_at"}
# The model's weights depend on float reduction order across processes; its inputs do not.
COMPARED_DOMAINS = ("raw", "tca", "attribution")


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
    return {**env, "ANALYTICS_HOME": str(home), **TINY_WORLD, **variables}


def _backfill(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = ["backfill", "--start", DAYS[0], "--end", DAYS[1]]
    return subprocess.run(
        [sys.executable, "-m", "analytics_platform.cli", *command],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip


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
    """Every Delta table of the compared domains, run-specific columns dropped, rows sorted."""
    frames = {}
    for log_dir in sorted(lake_root.glob("*/*/_delta_log")):
        table = f"{log_dir.parent.parent.name}/{log_dir.parent.name}"
        if not table.startswith(COMPARED_DOMAINS):
            continue
        frame = pl.read_delta(str(log_dir.parent))
        frame = frame.drop([c for c in frame.columns if c in RUN_SPECIFIC])
        frames[table] = frame.sort(frame.columns, nulls_last=True)
    return frames


@pytest.mark.skipif(not _rabbitmq_up(), reason="RabbitMQ is not reachable at 127.0.0.1:5672")
def test_celery_backfill_on_two_workers_equals_an_in_process_run(tmp_path, postgres_database):
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
    workers = [_start_worker(name, celery_env, log) for name, log in logs.items()]
    try:
        scaled_out = _backfill(celery_env)
    finally:
        for worker in workers:
            os.killpg(worker.pid, 15)
            worker.wait(timeout=60)
    assert scaled_out.returncode == 0, scaled_out.stdout + scaled_out.stderr
    assert "3 of 3 days succeeded" in scaled_out.stdout
    print(scaled_out.stdout)

    # Both workers executed steps, and the instance in PostgreSQL recorded them as celery steps.
    for name, log in logs.items():
        assert "succeeded in" in log.read_text(), f"{name} ran no step"
    with psycopg2.connect(dbname=postgres_database, **PG) as db, db.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM event_logs WHERE event LIKE %s",
            ("%in celery worker%",),
        )
        assert cursor.fetchone()[0] > 0

    in_process = _backfill(_environment(tmp_path / "in_process"))
    assert in_process.returncode == 0, in_process.stdout + in_process.stderr
    print(in_process.stdout)
    expected = _tables(tmp_path / "in_process" / "lake")
    actual = _tables(tmp_path / "celery" / "lake")
    assert sorted(actual) == sorted(expected)
    assert {"raw/quotes", "raw/executions", "tca/fills", "tca/orders"} <= set(actual)
    for table, frame in expected.items():
        assert frame.height > 0 or table.startswith("raw/quarantine"), table
        # Same rows; sums may differ in the last bits (parallel reduction order).
        assert_frame_equal(actual[table], frame, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)
