"""`make run` in miniature: the real CLI in a fresh process on the embedded default."""

import os
import subprocess
import sys
from pathlib import Path

from analytics_platform.lake import Lake
from analytics_platform.marketdata.schemas import QUOTES

ROOT = Path(__file__).parents[1]


def _run_day(home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANALYTICS_", "PULSAR_", "DAGSTER_"))
    }
    env["ANALYTICS_HOME"] = str(home)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "jobs.cli",
            "run-day",
            "--date",
            "2026-11-20",
            "--symbols",
            "4",
            "--quotes",
            "20000",
            "--orders",
            "30",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


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
    lake = Lake(str(home / "lake"))
    assert lake.scan(QUOTES).collect().height == 20_000
    assert (home / "dagster" / "dagster.yaml").exists()
    assert (home / "pulsar" / "db.rocksdb").is_dir()  # the broker persisted under var/pulsar
    # The embedded broker is stopped when the command ends.
    procs = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert str(home / "pulsar") not in procs

    again = _run_day(home)  # re-running the same day is safe: same rows, no duplicates
    assert again.returncode == 0, again.stdout + again.stderr
    assert lake.scan(QUOTES).collect().height == 20_000


def _cli(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobs.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env_extra},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_non_trading_day_is_refused(tmp_path):
    proc = _cli({"ANALYTICS_HOME": str(tmp_path)}, "run-day", "--date", "2026-11-26")
    assert proc.returncode == 2
    assert "2026-11-26 is not an NYSE trading day" in proc.stderr


def test_invalid_configuration_names_the_variable(tmp_path):
    proc = _cli({"ANALYTICS_HOME": str(tmp_path), "PULSAR_SERVICE_URL": "http://nope"}, "run-day")
    assert proc.returncode == 2
    assert "PULSAR_SERVICE_URL" in proc.stderr
