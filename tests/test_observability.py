"""Observability: the Prometheus text by hand, the cached scrape, the JSON logs of a real run,
and `analytics-platform metrics` scraped after real runs against a real broker and lake."""

import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance, Definitions, asset, define_asset_job, materialize

from analytics_platform.cli import prepare_dagster_home
from analytics_platform.config import ConfigError, load_settings
from analytics_platform.events.contracts import QUARANTINE, TRADE_EXECUTED
from analytics_platform.events.publisher import publish_frame, pulsar_client
from analytics_platform.lake import Lake
from analytics_platform.observability import (
    BatchMetrics,
    CachedScrape,
    Collector,
    RunSample,
    TopicStats,
    escape_label,
    family,
    histogram,
    render,
)
from assets.metadata import lake_key
from assets.partitions import trading_day_partitions
from assets.raw_events import raw_event_assets
from resources import build_resources
from resources.loggers import build_loggers, default_run_config, json_console_logger
from tests.conftest import TRADE_DATE

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$")


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text -> {(name, sorted labels): value}; every line is a comment or a sample."""
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ .+$", line), line
            continue
        match = SAMPLE.match(line)
        assert match, line
        name, labels, value = match.groups()
        pairs = tuple(
            sorted(
                (k, v.encode().decode("unicode_escape"))
                for k, v in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels or "")
            )
        )
        samples[(name, pairs)] = float(value)
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


# --- the text format, by hand -----------------------------------------------------------------


def test_label_values_are_escaped():
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    lines = family("x_total", "counter", "Help with a \\ and\na newline.", [({"k": 'q"'}, 3)])
    assert lines == [
        "# HELP x_total Help with a \\\\ and\\na newline.",
        "# TYPE x_total counter",
        'x_total{k="q\\""} 3',
    ]


def test_histogram_buckets_are_cumulative_and_inf_is_the_count():
    observations = [({"job": "j"}, v) for v in (0.5, 3.0, 3.0, 20.0, 4000.0)]
    observations.append(({"job": "k"}, 7.0))
    lines = histogram("run_seconds", "Durations.", (1.0, 5.0, 60.0), observations)
    assert lines == [
        "# HELP run_seconds Durations.",
        "# TYPE run_seconds histogram",
        'run_seconds_bucket{job="j",le="1"} 1',
        'run_seconds_bucket{job="j",le="5"} 3',
        'run_seconds_bucket{job="j",le="60"} 4',
        'run_seconds_bucket{job="j",le="+Inf"} 5',
        'run_seconds_sum{job="j"} 4026.5',
        'run_seconds_count{job="j"} 5',
        'run_seconds_bucket{job="k",le="1"} 0',
        'run_seconds_bucket{job="k",le="5"} 0',
        'run_seconds_bucket{job="k",le="60"} 1',
        'run_seconds_bucket{job="k",le="+Inf"} 1',
        'run_seconds_sum{job="k"} 7',
        'run_seconds_count{job="k"} 1',
    ]


def test_render_from_plain_inputs():
    newest = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
    metrics = BatchMetrics(
        now=newest.timestamp() + 90,
        topics=[
            TopicStats(
                "persistent://a/b/c", "raw/c", ingested=10, quarantined=2, newest_event=newest
            )
        ],
        pulsar_up=True,
        backlog={"persistent://a/b/c": 4},
        runs=[
            RunSample("end_of_day", "SUCCESS", 12.0),
            RunSample("end_of_day", "FAILURE", 700.0),
            RunSample("end_of_day", "STARTED", None),
        ],
        sources_up={"dagster": True, "lake": True},
    )
    text = render(metrics)
    samples = parse(text)
    topic = {"topic": "persistent://a/b/c"}
    assert value(samples, "events_ingested_total", table="raw/c", **topic) == 10
    assert value(samples, "events_quarantined_total", **topic) == 2
    assert value(samples, "pulsar_backlog_messages", **topic) == 4
    assert value(samples, "events_lag_seconds", **topic) == 90
    assert value(samples, "pulsar_up") == 1
    ok = {"job": "end_of_day", "status": "SUCCESS"}
    assert value(samples, "dagster_run_duration_seconds_bucket", le="15", **ok) == 1
    assert value(samples, "dagster_run_duration_seconds_bucket", le="+Inf", **ok) == 1
    failed = {"job": "end_of_day", "status": "FAILURE"}
    assert value(samples, "dagster_run_duration_seconds_bucket", le="600", **failed) == 0
    assert value(samples, "dagster_run_duration_seconds_count", **failed) == 1
    assert value(samples, "dagster_runs_in_flight", job="end_of_day", status="STARTED") == 1
    # Every family announced once, before its samples.
    assert text.count("# TYPE dagster_run_duration_seconds histogram") == 1
    assert text.endswith("\n")


def test_a_broker_down_is_a_metric_without_backlog_lines():
    text = render(BatchMetrics(now=0.0, topics=[TopicStats("t", "raw/t")], pulsar_up=False))
    samples = parse(text)
    assert value(samples, "pulsar_up") == 0
    assert not [k for k in samples if k[0] == "pulsar_backlog_messages"]


def test_a_scrape_storm_costs_one_collection():
    calls = []

    def produce() -> str:
        calls.append(1)
        time.sleep(0.2)
        return f"collected {len(calls)}\n"

    cached = CachedScrape(produce, ttl_s=60)
    with ThreadPoolExecutor(16) as pool:
        texts = list(pool.map(lambda _: cached.text(), range(50)))
    assert set(texts) == {"collected 1\n"} and len(calls) == 1
    expiring = CachedScrape(produce, ttl_s=0)
    expiring.text()
    expiring.text()
    assert expiring.collections == 2


# --- JSON logs of a run -----------------------------------------------------------------------


def test_log_format_setting():
    assert load_settings({}).log_format == "text"
    assert load_settings({"ANALYTICS_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError, match="ANALYTICS_LOG_FORMAT"):
        load_settings({"ANALYTICS_LOG_FORMAT": "xml"})
    assert build_loggers(load_settings({}))["console"] is not json_console_logger


def test_json_logs_carry_run_id_and_partition(capfd):
    """A partition run of a job wired as the platform's are (the code location's loggers, the
    jobs' default run config), launched without any logger config: JSON lines on stderr."""
    json_settings = load_settings({"ANALYTICS_LOG_FORMAT": "json"})

    @asset(partitions_def=trading_day_partitions)
    def tiny(context) -> None:
        context.log.info('landed 3 rows "quoted"')

    defs = Definitions(
        assets=[tiny],
        jobs=[
            define_asset_job("tiny_job", selection=[tiny], config=default_run_config(json_settings))
        ],
        loggers=build_loggers(json_settings),
    )
    capfd.readouterr()
    result = defs.resolve_job_def("tiny_job").execute_in_process(
        partition_key=TRADE_DATE.isoformat(), instance=DagsterInstance.ephemeral()
    )
    assert result.success
    err = capfd.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]  # JSON, every one
    assert len(lines) >= 5
    assert all(line["run_id"] == result.run_id for line in lines)
    assert all(line["partition"] == TRADE_DATE.isoformat() for line in lines)
    assert all(line["job"] == "tiny_job" for line in lines)
    assert all({"ts", "level", "step_key", "event_type", "message"} <= set(line) for line in lines)
    mine = [line for line in lines if line["message"] == 'landed 3 rows "quoted"']
    assert mine == [{**mine[0], "level": "INFO", "step_key": "tiny", "event_type": None}]
    assert {"RUN_START", "STEP_START", "STEP_SUCCESS"} <= {line["event_type"] for line in lines}
    dt.datetime.fromisoformat(mine[0]["ts"])


def test_the_code_location_logs_json_when_configured():
    """With ANALYTICS_LOG_FORMAT=json the code location's `console` logger is the JSON one and
    every platform job's partition runs name it (else Dagster would use its default console)."""
    code = (
        "from analytics_platform.definitions import defs\n"
        "from resources.loggers import json_console_logger\n"
        "for name in ('end_of_day', 'ingest_trade_execution'):\n"
        "    job = defs.resolve_job_def(name)\n"
        "    config = job.partitioned_config.get_run_config_for_partition_key('2026-11-20')\n"
        "    print(job.loggers['console'] is json_console_logger, config['loggers'])\n"
    )
    for log_format, expected in (("json", "True {'console': {}}"), ("text", None)):
        env = {**os.environ, "ANALYTICS_LOG_FORMAT": log_format, "PYTHONPATH": str(ROOT)}
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if expected:
            assert out.stdout.splitlines() == [expected, expected], out.stderr[-2000:]
        else:
            assert out.returncode != 0 and "KeyError: 'loggers'" in out.stderr


# --- `analytics-platform metrics` after real runs ---------------------------------------------


@asset(partitions_def=trading_day_partitions)
def broken() -> None:
    raise RuntimeError("a failed run for the histogram")


def _scrape(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


@pytest.fixture
def metrics_command(platform_home, pulsar_broker, monkeypatch):
    """The platform's settings on a temp home and the session's broker; yields a starter of
    `analytics-platform metrics` (it answers on a free port) and stops it afterwards."""
    monkeypatch.setenv("PULSAR_SERVICE_URL", pulsar_broker.service_url)
    settings = load_settings()
    monkeypatch.setenv("DAGSTER_HOME", str(settings.dagster_home))
    prepare_dagster_home(settings)
    processes = []

    def start(*extra: str) -> str:
        process = subprocess.Popen(
            [sys.executable, "-m", "analytics_platform.cli", "metrics", "--port", "0", *extra],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        line = process.stdout.readline()
        assert line.startswith("metrics on http://"), line + process.stderr.read()
        return line.split()[-1]

    yield settings, start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def test_metrics_endpoint_after_real_runs(metrics_command, pulsar_broker, small_day):
    settings, start = metrics_command
    topic = TRADE_EXECUTED.spec.topic
    fills = small_day.executions
    with pulsar_client(pulsar_broker.service_url) as client:
        publish_frame(client, TRADE_EXECUTED.spec, fills.head(40))
        producer = client.create_producer(topic)
        producer.send(b"{not json", properties={"trade_date": TRADE_DATE.isoformat()})
        producer.close()
    executions = next(a for a in raw_event_assets if a.key == lake_key(TRADE_EXECUTED.spec.table))
    with DagsterInstance.get() as instance:
        landed = materialize(
            [executions],
            partition_key=TRADE_DATE.isoformat(),
            resources=build_resources(settings),
            instance=instance,
        )
        assert landed.success
        failed = materialize(
            [broken], partition_key=TRADE_DATE.isoformat(), instance=instance, raise_on_error=False
        )
        assert not failed.success
    # Published after the landing run: the backlog.
    with pulsar_client(pulsar_broker.service_url) as client:
        publish_frame(client, TRADE_EXECUTED.spec, fills.slice(40, 7))

    url = start()
    status, content_type, text = _scrape(url)
    assert (status, content_type) == (200, "text/plain; version=0.0.4")
    samples = parse(text)

    lake = Lake(str(settings.lake_uri))
    table = lake.scan(TRADE_EXECUTED.table).collect()
    quarantine = lake.scan(QUARANTINE).filter(pl.col("topic") == topic).collect()
    assert table.height >= 40 and quarantine.height >= 1  # the session's broker may hold more
    labels = {"topic": topic}
    assert value(samples, "events_ingested_total", table="raw/executions", **labels) == table.height
    assert value(samples, "events_quarantined_total", **labels) == quarantine.height
    assert value(samples, "pulsar_up") == 1
    assert value(samples, "pulsar_backlog_messages", **labels) == 7
    lag = time.time() - table["event_ts"].max().timestamp()
    assert abs(value(samples, "events_lag_seconds", **labels) - lag) < 60
    ok = {"job": landed.dagster_run.job_name, "status": "SUCCESS"}
    bad = {"job": failed.dagster_run.job_name, "status": "FAILURE"}
    assert value(samples, "dagster_run_duration_seconds_count", **ok) == 1
    assert value(samples, "dagster_run_duration_seconds_bucket", le="+Inf", **ok) == 1
    assert value(samples, "dagster_run_duration_seconds_count", **bad) == 1
    partition_rows = table.filter(pl.col("trade_date") == TRADE_DATE).height
    assert (
        value(samples, "asset_rows_written", asset="raw/executions", partition="2026-11-20")
        == partition_rows
    )
    assert value(samples, "metrics_source_up", source="dagster") == 1
    assert value(samples, "metrics_source_up", source="lake") == 1

    # A storm of scrapes within the cache's life: one collection answers them all.
    with ThreadPoolExecutor(8) as pool:
        storm = list(pool.map(lambda _: _scrape(url)[2], range(24)))
    assert set(storm) == {text}
    assert _scrape(url.replace("/metrics", "/healthz"))[2] == "ok\n"


def test_a_broker_that_is_down_is_pulsar_up_0(platform_home, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"pulsar://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once closed
    lake = Lake(str(tmp_path / "lake"))
    with DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        metrics = Collector(lake, instance, lambda: dead).collect()
        assert time.perf_counter() - started < 10
        nothing = Collector(lake, instance, lambda: None).collect()
    for m in (metrics, nothing):
        samples = parse(render(m))
        assert value(samples, "pulsar_up") == 0
        assert value(samples, "metrics_source_up", source="lake") == 1
        assert value(samples, "metrics_source_up", source="dagster") == 1


def test_the_server_answers_while_a_source_fails():
    from analytics_platform.observability import metrics_server  # noqa: PLC0415

    def failing() -> str:
        raise RuntimeError("instance unreachable")

    server = metrics_server("127.0.0.1", 0, failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        with pytest.raises(urllib.error.HTTPError) as error:
            _scrape(f"{base}/metrics")
        assert error.value.code == 500
        assert _scrape(f"{base}/healthz")[2] == "ok\n"
    finally:
        server.shutdown()
        server.server_close()
