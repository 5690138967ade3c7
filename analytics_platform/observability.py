"""Observability of the batch side: Prometheus metrics and JSON log lines.

Metrics (`analytics-platform metrics`, GET /metrics) beside the prediction service's own:
events ingested and quarantined per topic, the lag per topic (the broker's backlog after the
offset the lake stores, and the age of the newest landed event), durations of recent Dagster
runs by job and status, and the rows each asset's latest materialization wrote.

Three layers, so that the text format is tested by hand and the sources separately:
- `render` (and `family`, `histogram`): the exposition text from plain inputs (`BatchMetrics`);
- the collector: `lake_topic_stats`, `broker_backlog`, `dagster_runs`, `asset_rows` gather those
  inputs from the lake, the broker and the Dagster instance, each source failing on its own (a
  broker that is down is `pulsar_up 0`, not an error); the instance is handed in by the entry
  point that opened it (this module does not import Dagster: DESIGN §2);
- `CachedScrape` and `metrics_server`: collect on scrape, at most once per `ttl_s` however many
  scrapers ask, over a standard-library HTTP server.

`JsonLogFormatter` turns a Dagster log record into one JSON object per line (the `console`
logger of the code location with ANALYTICS_LOG_FORMAT=json).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import socket
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTENT_TYPE = "text/plain; version=0.0.4"
RUN_SECONDS_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
DEFAULT_TTL_S = 5.0
DEFAULT_RUN_LIMIT = 500
DEFAULT_BACKLOG_LIMIT = 100_000
PARTITION_TAG = "dagster/partition"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")

Labels = Mapping[str, str]


# ---------------------------------------------------------------------------------------------
# Exposition text (Prometheus text format 0.0.4), from plain inputs


def escape_label(value: str) -> str:
    """A label value as the text format wants it: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    """Integers without a decimal point, floats in full (repr), NaN and the infinities as
    Prometheus spells them."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{escape_label(str(v))}"' for k, v in labels.items()) + "}"


def family(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[Labels, float]]
) -> list[str]:
    """One metric family: its HELP and TYPE lines, then one line per (labels, value) sample."""
    lines = [f"# HELP {name} {_escape_help(help_text)}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{_labels(labels)} {format_value(value)}" for labels, value in samples]
    return lines


def histogram(
    name: str,
    help_text: str,
    buckets: Sequence[float],
    observations: Iterable[tuple[Labels, float]],
) -> list[str]:
    """A histogram family over (labels, value) observations: per label set, cumulative
    `_bucket` counts for each upper bound `le` and +Inf (= the count), then `_sum` and `_count`."""
    groups: dict[tuple[tuple[str, str], ...], list[float]] = defaultdict(list)
    for labels, value in observations:
        groups[tuple(labels.items())].append(value)
    lines = [f"# HELP {name} {_escape_help(help_text)}", f"# TYPE {name} histogram"]
    for key in sorted(groups):
        labels, values = dict(key), groups[key]
        for bound in buckets:
            count = sum(v <= bound for v in values)
            lines.append(f"{name}_bucket{_labels({**labels, 'le': format_value(bound)})} {count}")
        lines.append(f"{name}_bucket{_labels({**labels, 'le': '+Inf'})} {len(values)}")
        lines.append(f"{name}_sum{_labels(labels)} {format_value(float(sum(values)))}")
        lines.append(f"{name}_count{_labels(labels)} {len(values)}")
    return lines


@dataclass(frozen=True)
class TopicStats:
    """What the lake says about one inbound topic: rows landed in its raw table, messages
    quarantined, the newest landed event_ts, and the offset ingestion committed (opaque)."""

    topic: str
    table: str
    ingested: int = 0
    quarantined: int = 0
    newest_event: dt.datetime | None = None
    offset: object | None = None  # a pulsar.MessageId; None: nothing landed yet


@dataclass(frozen=True)
class RunSample:
    """One recent Dagster run: its job, status and duration (None while it has not finished)."""

    job: str
    status: str
    seconds: float | None


@dataclass(frozen=True)
class AssetRows:
    """The latest materialization of an asset: the rows it wrote, its partition, when."""

    asset: str
    rows: int
    partition: str | None
    timestamp: float


@dataclass(frozen=True)
class BatchMetrics:
    """Every input of the exposition text. `backlog` is None where it is unknown (the broker is
    down, or the lake, which holds the offsets, is); `sources_up` says which sources answered
    (dagster, lake)."""

    now: float
    topics: list[TopicStats] = field(default_factory=list)
    pulsar_up: bool = False
    backlog: Mapping[str, int] | None = None
    backlog_limit: int = DEFAULT_BACKLOG_LIMIT
    runs: list[RunSample] = field(default_factory=list)
    assets: list[AssetRows] = field(default_factory=list)
    sources_up: Mapping[str, bool] = field(default_factory=dict)
    collect_seconds: float = 0.0


def render(m: BatchMetrics) -> str:
    """The Prometheus text of the batch side."""
    topics = sorted(m.topics, key=lambda t: t.topic)
    finished = [r for r in m.runs if r.status in FINISHED and r.seconds is not None]
    in_flight: dict[tuple[str, str], int] = defaultdict(int)
    for run in m.runs:
        if run.status not in FINISHED:
            in_flight[(run.job, run.status)] += 1
    assets = sorted(m.assets, key=lambda a: a.asset)
    lines = [
        *family(
            "events_ingested_total",
            "counter",
            "Events landed in the lake, per topic (rows of its raw table).",
            [({"topic": t.topic, "table": t.table}, t.ingested) for t in topics],
        ),
        *family(
            "events_quarantined_total",
            "counter",
            "Messages rejected to raw/quarantine, per topic.",
            [({"topic": t.topic}, t.quarantined) for t in topics],
        ),
        *family(
            "pulsar_up",
            "gauge",
            "Whether the Pulsar broker answered this scrape.",
            [({}, int(m.pulsar_up))],
        ),
        *family(
            "pulsar_backlog_messages",
            "gauge",
            "Messages published after the offset the lake stores, per topic (not yet landed;"
            " counted up to pulsar_backlog_limit).",
            [({"topic": t.topic}, m.backlog[t.topic]) for t in topics if t.topic in m.backlog]
            if m.backlog is not None
            else [],
        ),
        *family(
            "pulsar_backlog_limit",
            "gauge",
            "Most messages counted per topic and scrape: a backlog at the limit is at least it.",
            [({}, m.backlog_limit)],
        ),
        *family(
            "events_lag_seconds",
            "gauge",
            "Seconds since the newest landed event (its event_ts), per topic.",
            [
                ({"topic": t.topic}, round(m.now - t.newest_event.timestamp(), 3))
                for t in topics
                if t.newest_event is not None
            ],
        ),
        *histogram(
            "dagster_run_duration_seconds",
            "Durations of recent finished Dagster runs, by job and status.",
            RUN_SECONDS_BUCKETS,
            [({"job": r.job, "status": r.status}, r.seconds) for r in finished],
        ),
        *family(
            "dagster_runs_in_flight",
            "gauge",
            "Recent Dagster runs not finished yet, by job and status.",
            [({"job": j, "status": s}, n) for (j, s), n in sorted(in_flight.items())],
        ),
        *family(
            "asset_rows_written",
            "gauge",
            "Rows written by the latest materialization of each asset.",
            [({"asset": a.asset, "partition": a.partition or ""}, a.rows) for a in assets],
        ),
        *family(
            "asset_last_materialization_timestamp_seconds",
            "gauge",
            "When each asset was last materialised (Unix time).",
            [({"asset": a.asset}, round(a.timestamp, 3)) for a in assets],
        ),
        *family(
            "metrics_source_up",
            "gauge",
            "Whether a source of these metrics answered this scrape.",
            [({"source": s}, int(up)) for s, up in sorted(m.sources_up.items())],
        ),
        *family(
            "metrics_collect_seconds",
            "gauge",
            "Time the last collection took.",
            [({}, round(m.collect_seconds, 6))],
        ),
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The collector: lake, broker, Dagster instance


def lake_topic_stats(lake, contracts: Sequence) -> list[TopicStats]:
    """Per inbound contract: rows in its raw table and the newest event_ts (from the Delta log's
    file statistics: no data file is read), the quarantined messages of its topic, the offset
    ingestion committed with its rows."""
    from analytics_platform.events.contracts import QUARANTINE  # noqa: PLC0415
    from analytics_platform.events.landing import committed_offset  # noqa: PLC0415

    quarantined = {}
    if lake.exists(QUARANTINE.table):
        counts = lake.scan(QUARANTINE).group_by("topic").len().collect()
        quarantined = dict(counts.iter_rows())
    stats = []
    for contract in contracts:
        table = contract.spec.table
        rows, newest = 0, None
        files = lake.files(table)
        if files.height:
            rows = int(files["num_records"].sum())
            if "max.event_ts" in files.columns:
                newest = files["max.event_ts"].max()
        stats.append(
            TopicStats(
                topic=contract.spec.topic,
                table=table,
                ingested=rows,
                quarantined=int(quarantined.get(contract.spec.topic, 0)),
                newest_event=newest,
                offset=committed_offset(lake, contract),
            )
        )
    return stats


def _reachable(service_url: str, timeout_s: float = 0.5) -> bool:
    """A TCP connection to the first host of a pulsar:// or pulsar+ssl:// URL."""
    hostport = service_url.split("://", 1)[-1].split(",", 1)[0].split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    default = 6651 if service_url.startswith("pulsar+ssl") else 6650
    try:
        with socket.create_connection(
            (host or hostport, int(port) if host else default), timeout=timeout_s
        ):
            return True
    except (OSError, ValueError):
        return False


def broker_backlog(
    service_url: str | None,
    offsets: Mapping[str, object | None],
    limit: int = DEFAULT_BACKLOG_LIMIT,
    workers: int = 8,
) -> dict[str, int] | None:
    """Messages per topic after the given offsets (up to `limit`), read without acknowledging;
    None when there is no broker or it does not answer."""
    if not service_url or not _reachable(service_url):
        return None
    import pulsar  # noqa: PLC0415

    from analytics_platform.events.probing import probe_topic  # noqa: PLC0415

    client = pulsar.Client(
        service_url,
        logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error),
        operation_timeout_seconds=5,
        connection_timeout_ms=2000,
    )
    try:
        with ThreadPoolExecutor(min(workers, max(len(offsets), 1))) as pool:
            probes = pool.map(
                lambda item: probe_topic(client, item[0], item[1], limit), offsets.items()
            )
            return {p.topic: p.messages for p in probes}
    except Exception:
        return None
    finally:
        client.close()


def dagster_runs(instance, limit: int = DEFAULT_RUN_LIMIT) -> list[RunSample]:
    """The instance's `limit` most recent runs (a DagsterInstance, opened by the caller)."""
    samples = []
    for record in instance.get_run_records(limit=limit):
        run = record.dagster_run
        status = run.status.value
        seconds = None
        if status in FINISHED and record.start_time and record.end_time:
            seconds = max(record.end_time - record.start_time, 0.0)
        samples.append(RunSample(run.job_name, status, seconds))
    return samples


def _metadata_value(metadata: Mapping, key: str):
    value = metadata.get(key)
    return getattr(value, "value", value)


def _commit_rows(lake, table: str, version: int) -> int | None:
    """Rows a Delta commit added (a partition write's or a merge's operation metrics)."""
    try:
        metrics = lake.commit(table, int(version)).get("operationMetrics") or {}
    except Exception:
        return None
    for key in ("num_added_rows", "num_target_rows_inserted", "numOutputRows"):
        if key in metrics:
            return int(metrics[key])
    return None


def asset_rows(instance, lake=None) -> list[AssetRows]:
    """Per asset, the rows its latest materialization wrote: its `dagster/row_count`, else the
    operation metrics of the Delta commit its `delta_version` names (asset keys mirror tables)."""
    keys = list(instance.get_asset_keys())
    latest = instance.get_latest_materialization_events(keys) if keys else {}
    out = []
    for key, entry in latest.items():
        if entry is None or entry.asset_materialization is None:
            continue
        mat = entry.asset_materialization
        name = key.to_user_string()
        rows = _metadata_value(mat.metadata, "dagster/row_count")
        version = _metadata_value(mat.metadata, "delta_version")
        if rows is None and version is not None and lake is not None:
            rows = _commit_rows(lake, name, version)
        if rows is None:
            continue
        out.append(AssetRows(name, int(rows), mat.partition, entry.timestamp))
    return out


class Collector:
    """Gathers `BatchMetrics` from the lake, the broker and a Dagster instance, each source on
    its own: one that fails is reported down (`metrics_source_up`), the others still count."""

    def __init__(
        self,
        lake,
        instance,
        service_url: Callable[[], str | None],
        *,
        contracts: Sequence | None = None,
        run_limit: int = DEFAULT_RUN_LIMIT,
        backlog_limit: int = DEFAULT_BACKLOG_LIMIT,
    ):
        if contracts is None:
            from analytics_platform.events.contracts import INBOUND  # noqa: PLC0415

            contracts = INBOUND
        self.lake, self.instance, self.service_url = lake, instance, service_url
        self.contracts, self.run_limit, self.backlog_limit = contracts, run_limit, backlog_limit
        self.log = logging.getLogger(__name__)

    def _attempt(self, source: str, up: dict[str, bool], fn: Callable, default):
        try:
            result = fn()
            up[source] = True
            return result
        except Exception:
            self.log.warning("metrics: %s did not answer", source, exc_info=True)
            up[source] = False
            return default

    def collect(self) -> BatchMetrics:
        started = time.perf_counter()
        up: dict[str, bool] = {}
        topics = self._attempt("lake", up, lambda: lake_topic_stats(self.lake, self.contracts), [])
        url = self.service_url()
        pulsar_up = bool(url) and _reachable(url)
        backlog = None
        if pulsar_up and up["lake"]:  # the backlog counts from the offsets the lake stores
            backlog = broker_backlog(url, {t.topic: t.offset for t in topics}, self.backlog_limit)
            pulsar_up = backlog is not None
        runs, assets = self._attempt(
            "dagster",
            up,
            lambda: (
                dagster_runs(self.instance, self.run_limit),
                asset_rows(self.instance, self.lake),
            ),
            ([], []),
        )
        return BatchMetrics(
            now=time.time(),
            topics=topics,
            pulsar_up=pulsar_up,
            backlog=backlog,
            backlog_limit=self.backlog_limit,
            runs=runs,
            assets=assets,
            sources_up=up,
            collect_seconds=time.perf_counter() - started,
        )


# ---------------------------------------------------------------------------------------------
# Serving: collect on scrape, cached


class CachedScrape:
    """`produce()` at most once per `ttl_s`: concurrent scrapes wait for the one collection in
    progress and share its text (a scrape storm costs one collection)."""

    def __init__(self, produce: Callable[[], str], ttl_s: float = DEFAULT_TTL_S):
        self.produce, self.ttl_s = produce, ttl_s
        self._lock = threading.Lock()
        self._text: str | None = None
        self._at = -math.inf
        self.collections = 0

    def text(self) -> str:
        with self._lock:
            if self._text is None or time.monotonic() - self._at >= self.ttl_s:
                self._text = self.produce()
                self._at = time.monotonic()
                self.collections += 1
            return self._text


def metrics_server(host: str, port: int, scrape: Callable[[], str]) -> ThreadingHTTPServer:
    """An HTTP server (not started: call `serve_forever`) answering GET /metrics with
    `scrape()` and GET /healthz with `ok`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            status, content_type = HTTPStatus.OK, CONTENT_TYPE
            if path == "/metrics":
                try:
                    body = scrape()
                except Exception as exc:
                    status, body = HTTPStatus.INTERNAL_SERVER_ERROR, f"collection failed: {exc}\n"
            elif path == "/healthz":
                body = "ok\n"
            else:
                status, body = HTTPStatus.NOT_FOUND, "GET /metrics or /healthz\n"
            payload = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


# ---------------------------------------------------------------------------------------------
# JSON log lines


def _partition(tags: Mapping[str, str]) -> str | None:
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG]
    start, end = (tags.get(t) for t in RANGE_TAGS)
    return f"{start}...{end}" if start and end else None


def _event_type(event) -> str | None:
    """The event's type as Dagster displays it (its stored PIPELINE_* values read RUN_*)."""
    value = getattr(event, "event_type_value", None)
    if value and value.startswith("PIPELINE_"):
        return "RUN_" + value.removeprefix("PIPELINE_")
    return value


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC, ISO 8601), level, run_id, job, step_key, partition
    (the run's `dagster/partition` tag, or `start...end` of a range run), message, and the
    Dagster event type where the record is an event. Reads the `dagster_meta` Dagster attaches
    to every record of a run's log manager; other records get nulls there."""

    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        line = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "run_id": meta.get("run_id"),
            "job": meta.get("job_name"),
            "step_key": meta.get("step_key"),
            "partition": _partition(meta.get("job_tags") or {}),
            "event_type": _event_type(event),
            "message": meta.get("orig_message", record.getMessage()),
        }
        error = getattr(getattr(event, "event_specific_data", None), "error", None)
        if error is not None and hasattr(error, "to_string"):
            line["error"] = error.to_string()
        elif record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record is emitted (not when the handler was
    made), so redirected or captured stderr gets the lines."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def json_logger(name: str, level: int | str) -> logging.Logger:
    """A logger of its own (not in the logging registry) writing JSON lines to stderr."""
    log = logging.getLoggerClass()(name, level=level)
    handler = StderrHandler()
    handler.setFormatter(JsonLogFormatter())
    log.addHandler(handler)
    return log
