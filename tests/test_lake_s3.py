"""The lake on an S3-compatible store (moto's server, started here) with two writer processes
committing to the same Delta tables at once: nothing lost, nothing duplicated, one linear log.

delta-rs commits each log entry with a conditional put (write the next version only if it does
not exist yet), so a writer that loses the race re-reads the log, checks its change still
applies (a different partition does) and commits the next version. No locking provider needed.
"""

import datetime as dt
import multiprocessing as mp
import socket
import subprocess
import sys
import time

import boto3
import polars as pl
import pytest

from analytics_platform.calendar import trading_days
from analytics_platform.lake import Lake
from analytics_platform.marketdata.schemas import QUOTES

DAYS = trading_days(dt.date(2026, 10, 1), dt.date(2026, 10, 30))[:12]
RACED = dt.date(2026, 11, 2)  # both writers replace this partition


def _options(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }


def _quotes(day: dt.date, writer: int) -> pl.DataFrame:
    n = 500
    return pl.DataFrame(
        {
            "ts": pl.datetime_range(
                dt.datetime(day.year, day.month, day.day, 14, 30),
                dt.datetime(day.year, day.month, day.day, 14, 30) + dt.timedelta(seconds=n - 1),
                "1s",
                time_unit="ns",
                time_zone="UTC",
                eager=True,
            ),
            "symbol": ["ABC"] * n,
            "bid_px": [100.0 + writer] * n,
            "bid_sz": [100] * n,
            "ask_px": [100.02 + writer] * n,
            "ask_sz": [100] * n,
            "seq": list(range(1, n + 1)),
            "trade_date": [day] * n,
            "is_glitch": [False] * n,
        }
    )


def _writer(endpoint: str, writer: int, days: list[dt.date], errors) -> None:
    lake = Lake("s3://lake/root", _options(endpoint))
    for day in days:
        try:
            lake.write_partition(QUOTES, _quotes(day, writer), day, {"writer": str(writer)})
        except Exception as exc:  # reported to the test, which fails on any
            errors.put(f"writer {writer} {day}: {type(exc).__name__}: {exc}")


@pytest.fixture
def s3_endpoint():
    """moto's S3 server in its own process on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline and server.poll() is None, "moto did not start"
            time.sleep(0.2)
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    ).create_bucket(Bucket="lake")
    yield endpoint
    server.terminate()
    server.wait(timeout=30)


def test_two_writers_share_the_delta_tables_on_s3(s3_endpoint):
    ctx = mp.get_context("spawn")
    errors = ctx.Queue()
    writers = [
        ctx.Process(target=_writer, args=(s3_endpoint, i, [*DAYS[i::2], RACED], errors))
        for i in range(2)
    ]
    for w in writers:
        w.start()
    for w in writers:
        w.join(timeout=300)
        assert w.exitcode == 0
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert failures == []

    lake = Lake("s3://lake/root", _options(s3_endpoint))
    table = lake.scan(QUOTES).collect()
    per_day = table.group_by("trade_date").agg(n=pl.len(), writers=pl.col("bid_px").n_unique())
    assert sorted(per_day["trade_date"]) == sorted([*DAYS, RACED])
    assert (per_day["n"] == 500).all()  # every day exactly once, the raced one included
    assert (per_day["writers"] == 1).all()  # the raced day is one writer's, never a mix
    # One linear log: a version per commit, none lost or overwritten.
    commits = len(DAYS) + 2
    assert lake.version(QUOTES.table) == commits - 1
    history = lake.history(QUOTES.table)
    assert len(history) == commits
    # The writers really overlapped: their commits interleave in the log.
    order = [c["writer"] for c in reversed(history)]
    assert order != sorted(order) and order != sorted(order, reverse=True)
