"""`analytics-platform` command line: run a simulated trading day end to end, build a history
through a Dagster backfill, open the UI.

This CLI launches Dagster runs: with `definitions.py` it is one of the two entry points of the
domain package that may import Dagster (DESIGN §2), and it does so lazily (`--help` stays fast).
"""

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from analytics_platform.calendar import is_trading_day, last_completed_trading_day, trading_days
from analytics_platform.config import ConfigError, PlatformSettings, load_settings
from analytics_platform.events.broker import EmbeddedPulsar, running_embedded_url

PROJECT = Path(__file__).resolve().parents[1]  # the repository root (workspace.yaml)
DAGSTER_YAML_MARKER = "# Embedded instance written by analytics-platform"
DAGSTER_YAML = """\
{marker} (regenerated when its settings change).
# SQLite storage under this directory; queued runs (the daemon launches them), at most
# ANALYTICS_MAX_CONCURRENT_RUNS at once; pools (pulsar_ingest, simulator) run one step at a time.
# See deploy/production/dagster.yaml for PostgreSQL storage.
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
sensors:
  # Each Pulsar sensor probes its topics; in parallel, a tick does not wait for the others.
  use_threads: true
  num_workers: 5
concurrency:
  runs:
    max_concurrent_runs: {max_runs}
  pools:
    default_limit: 1
telemetry:
  enabled: false
nux:
  enabled: false  # no community sign-up dialog in an internal tool
"""
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
SIM_OPTIONS = {  # CLI option -> environment variable of the simulated world's size
    "symbols": "ANALYTICS_SIM_SYMBOLS",
    "quotes": "ANALYTICS_SIM_QUOTES",
    "orders": "ANALYTICS_SIM_ORDERS",
    "seed": "ANALYTICS_SIM_SEED",
}


def prepare_dagster_home(settings: PlatformSettings) -> Path:
    """Point DAGSTER_HOME at the embedded instance, creating (or refreshing) its dagster.yaml."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = DAGSTER_YAML.format(marker=DAGSTER_YAML_MARKER, max_runs=settings.max_concurrent_runs)
    if not config.exists() or (
        config.read_text().startswith(DAGSTER_YAML_MARKER) and config.read_text() != wanted
    ):
        config.write_text(wanted)
    os.environ["DAGSTER_HOME"] = str(home.absolute())
    return home


def _apply_simulation_options(args: argparse.Namespace) -> PlatformSettings:
    """CLI sizes of the simulated world become its settings (env), for this process and the
    Dagster processes it starts; then the settings are loaded (and validated)."""
    for option, variable in SIM_OPTIONS.items():
        value = getattr(args, option, None)
        if value is not None:
            os.environ[variable] = str(value)
    return load_settings()


@contextmanager
def pulsar_service(settings: PlatformSettings) -> Iterator[str]:
    """The configured Pulsar; else the embedded broker another process (e.g. `make ui`) runs;
    else an embedded pulsar-lite broker started for the duration of the block."""
    running = running_embedded_url(Path(str(settings.pulsar_data_dir)))
    if settings.pulsar_service_url or running:
        yield settings.pulsar_service_url or str(running)
        return
    with EmbeddedPulsar(Path(str(settings.pulsar_data_dir))) as broker:
        yield broker.service_url


NEEDS_SIMULATOR = (
    "this command simulates its days; ANALYTICS_SIMULATOR=false (production sources) rules it out"
)


def _world_size(settings: PlatformSettings) -> str:
    return (
        f"{settings.sim_symbols} symbols, {settings.sim_quotes:,} quotes,"
        f" {settings.sim_orders:,} orders a day, seed {settings.sim_seed}"
    )


def _phase(label: str, started: float) -> float:
    now = time.perf_counter()
    print(f"  {label:<44} {now - started:6.1f} s")
    return now


def run_day(args: argparse.Namespace) -> int:
    settings = _apply_simulation_options(args)
    trade_date = args.date or last_completed_trading_day()
    if not is_trading_day(trade_date):
        print(f"{trade_date} is not an NYSE trading day", file=sys.stderr)
        return 2
    if not settings.simulator:
        print(NEEDS_SIMULATOR, file=sys.stderr)
        return 2
    prepare_dagster_home(settings)
    print(f"Simulated trading day {trade_date} ({_world_size(settings)})")
    from dagster import DagsterInstance  # noqa: PLC0415 - keep `--help` fast

    from analytics_platform.definitions import defs  # noqa: PLC0415
    from analytics_platform.marketdata.history import simulate  # noqa: PLC0415
    from resources import build_resources  # noqa: PLC0415

    t0 = t = time.perf_counter()
    # A new world first warms up the days before this one (state only), so that the day
    # continues a history that `make history` can land later without a break.
    store = build_resources(settings)["simulator"].store()
    before = store.days().height
    if not store.opened_from(trade_date)[0]:
        simulate(store, trade_date, warmup_days=settings.sim_warmup_days)
    t = _phase(f"world chain ({store.days().height - before} days added)", t)
    with pulsar_service(settings), DagsterInstance.get() as instance:
        result = defs.resolve_job_def("end_of_day").execute_in_process(
            partition_key=trade_date.isoformat(),
            instance=instance,
            raise_on_error=False,
            tags={"trigger": "cli"},
            # The full event log is in the instance (UI); the terminal gets warnings only.
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    t = _phase("simulate, land, publish, materialise the graph", t)
    _phase("total", t0)
    return _print_summary(result, settings)


def _materializations(result) -> dict[str, dict]:
    out = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        out[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
    return out


def _print_summary(result, settings: PlatformSettings) -> int:
    print(f"\nRun {result.run_id}: {'SUCCESS' if result.success else 'FAILURE'}")
    materialized = _materializations(result)
    print("\nTables written (rows, Delta version):")
    for key, meta in materialized.items():
        if key.startswith(("raw/", "tca/", "attribution/", "ml/", "compliance/")):
            rows, version = meta.get("dagster/row_count", 0), meta.get("delta_version")
            print(f"  {key:<28} {rows:>12,}   v{version}")
    quarantined = sum(meta.get("quarantined", 0) for meta in materialized.values())
    print(f"  events quarantined (raw/quarantine): {quarantined:,}")
    evaluations = result.get_asset_check_evaluations()
    # Warnings (e.g. compliance exceptions, quote coverage) are findings, not a failed run.
    failed = [e for e in evaluations if not e.passed and e.severity.value != "WARN"]
    warned = [e for e in evaluations if not e.passed and e.severity.value == "WARN"]
    print(
        f"\nChecks: {len(evaluations) - len(failed) - len(warned)} passed,"
        f" {len(failed)} failed, {len(warned)} warned"
    )
    for e in failed:
        print(f"  FAILED {e.asset_key.to_user_string()}:{e.check_name}: {e.description}")
    _print_marts(settings, materialized, evaluations)
    reports = {k: m for k, m in materialized.items() if k.startswith("reports/")}
    if reports:
        print("Reports (open in a browser; PDF beside; docs/reports.md):")
        for key, meta in reports.items():
            files = "  ".join(str(meta[f]) for f in ("html", "pdf") if f in meta)
            print(f"  {key:<20} {files}   (cache {meta.get('cache')})")
    _print_attribution(settings, result)
    topics = {k: m for k, m in materialized.items() if "published" in m}
    if topics:
        world = next(iter(topics.values()))
        print(
            f"\nSimulated world {world['world']}: regime {world['regime']},"
            f" opened from {world['opened_from']}"
        )
        print("Events published:")
        for meta in topics.values():
            print(f"  {meta['topic']:<72} {meta['published']:>9,}")
    print(f"""
Where to look next:
  Delta lake      {settings.lake_uri}
  Landing zone    {settings.landing_uri}
  Warehouse       {settings.warehouse_path}   (dbt marts; make docs: their dbt docs)
  Reports         {settings.reports_dir}/<date>/   (tca and performance, HTML and PDF)
  Dagster home    {settings.dagster_home}   (this run is in its history)
  Simulated world {settings.simulator_dir}   (closing states and ground truth per day)
  UI              make ui        ->  http://127.0.0.1:3000
  Predictions     .venv/bin/analytics-platform serve  ->  POST http://127.0.0.1:8000/predict
  History         make history   (the last 20 trading days through a Dagster backfill)
""")
    return 0 if result.success and not failed else 1


def _print_marts(settings: PlatformSettings, materialized: dict, evaluations) -> None:
    """The dbt marts built in the warehouse, their dbt tests, and the compliance exceptions."""
    marts = sorted(k for k in materialized if k.startswith("marts/"))
    tests = [e for e in evaluations if e.asset_key.path[0] == "marts"]
    if marts:
        passed = sum(e.passed for e in tests)
        print(f"\nMarts (dbt, {settings.warehouse_path}): {len(marts)} built,")
        print(f"  dbt tests {passed} passed, {len(tests) - passed} failed:")
        print("  " + ", ".join(k.removeprefix("marts/") for k in marts))
    exceptions = materialized.get("compliance/exceptions")
    if exceptions is not None:
        counts = {
            k.removeprefix("exceptions_"): v
            for k, v in exceptions.items()
            if k.startswith("exceptions_")
        }
        print("Best-execution exceptions (compliance/exceptions; report in its metadata):")
        print("  " + ", ".join(f"{rule} {n}" for rule, n in counts.items()))


def _print_attribution(settings: PlatformSettings, result) -> None:
    """Strategy outcomes and portfolio excess returns of the run's day (and its window)."""
    import polars as pl  # noqa: PLC0415

    from analytics_platform.attribution.schemas import BRINSON_LINKED, STRATEGY_WINDOW  # noqa: PLC0415
    from analytics_platform.lake import Lake  # noqa: PLC0415

    day = dt.date.fromisoformat(result.dagster_run.tags["dagster/partition"])
    lake = Lake(str(settings.lake_uri), dict(settings.lake_storage_options))
    strategies = lake.scan(STRATEGY_WINDOW, [day]).collect().sort("skill", descending=True)
    if strategies.is_empty():
        return
    n_days = strategies["n_days"].max()
    print(f"\nStrategies over the last {n_days} day(s) (attribution/strategy_window):")
    print(f"  {'strategy':<16} {'net alpha bps':>14} {'IS bps':>8} {'skill [95% interval]':>28}")
    for row in strategies.iter_rows(named=True):
        skill = (
            f"{row['skill']:.2f} [{row['skill_ci_low']:.2f}, {row['skill_ci_high']:.2f}]"
            if row["skill"] is not None
            else "n/a"
        )
        print(
            f"  {row['strategy_id']:<16} {row['net_alpha_bps']:>14.1f}"
            f" {row['is_total_bps']:>8.1f} {skill:>28}"
        )
    linked = (
        lake.scan(BRINSON_LINKED, [day])
        .filter((pl.col("method") == "BF") & (pl.col("linking_method") == "carino"))
        .group_by("portfolio_id")
        .agg(pl.col("excess_return").first(), pl.col("allocation", "selection").sum())
        .sort("portfolio_id")
        .collect()
    )
    print("Portfolios vs benchmark (attribution/brinson_linked, BF, Carino):")
    for row in linked.iter_rows(named=True):
        bps = {k: 1e4 * row[k] for k in ("excess_return", "allocation", "selection")}
        print(
            f"  {row['portfolio_id']:<20} excess {bps['excess_return']:>8.1f} bps"
            f"  allocation {bps['allocation']:>7.1f}  selection {bps['selection']:>7.1f}"
        )


def _daemon_alive(instance) -> bool:
    heartbeats = instance.get_daemon_heartbeats()
    now = time.time()
    return any(now - hb.timestamp < 60 for hb in heartbeats.values())


@contextmanager
def dagster_daemon(instance) -> Iterator[str]:
    """A running dagster-daemon for this instance: the one `make ui` runs, or one started for the
    duration of the block (it launches queued runs and drives backfills)."""
    if _daemon_alive(instance):
        yield "the running dagster-daemon"
        return
    daemon = subprocess.Popen(
        [sys.executable, "-m", "dagster._daemon", "run", "-w", str(PROJECT / "workspace.yaml")],
        cwd=PROJECT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"a dagster-daemon started for this backfill (pid {daemon.pid})"
    finally:
        if daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
        # Its last heartbeats would make the next command think a daemon is still running.
        instance.wipe_daemon_heartbeats()


def backfill(args: argparse.Namespace) -> int:
    """Simulate, land, publish and materialise every trading day in [start, end] through a
    Dagster backfill of the end-of-day job (visible in the UI); safe to re-run."""
    settings = _apply_simulation_options(args)
    end = args.end or last_completed_trading_day()
    start = args.start or trading_days(end - dt.timedelta(days=40), end)[-args.days]
    days = trading_days(start, end)
    if not days:
        print(f"no NYSE trading day between {start} and {end}", file=sys.stderr)
        return 2
    if not settings.simulator:
        print(NEEDS_SIMULATOR, file=sys.stderr)
        return 2
    prepare_dagster_home(settings)
    from dagster import DagsterInstance, RunsFilter  # noqa: PLC0415

    from analytics_platform.marketdata.history import simulate  # noqa: PLC0415
    from resources import build_resources  # noqa: PLC0415

    print(f"History {days[0]} .. {days[-1]}: {len(days)} trading days ({_world_size(settings)})")
    t0 = t = time.perf_counter()
    # The world's chain first, in date order (state only): each day continues the one before,
    # whatever order the backfill's runs then execute in.
    store = build_resources(settings)["simulator"].store()
    added = [day for day in days if not store.opened_from(day)[0]]
    for day in added:
        simulate(store, day)
    t = _phase(f"world chain ({len(added)} days added)", t)
    tag = uuid.uuid4().hex[:12]
    with pulsar_service(settings), DagsterInstance.get() as instance:
        with dagster_daemon(instance) as daemon:
            print(f"  runs launched by {daemon}")
            submitted = subprocess.run(
                [
                    sys.executable, "-m", "dagster", "job", "backfill",
                    "-w", str(PROJECT / "workspace.yaml"), "-j", "end_of_day",
                    "--from", days[0].isoformat(), "--to", days[-1].isoformat(),
                    "--tags", json.dumps({"trigger": "backfill", "analytics/history": tag}),
                    "--noprompt",
                ],
                cwd=PROJECT, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if submitted.returncode != 0:
                print(submitted.stdout + submitted.stderr, file=sys.stderr)
                return 1
            t = _phase(f"backfill submitted ({len(days)} partition runs)", t)
            runs = _wait_for_runs(instance, RunsFilter(tags={"analytics/history": tag}), len(days))
        t = _phase("partition runs finished", t)
    _phase("total", t0)
    return _print_backfill_summary(runs, store, settings, days)


def _wait_for_runs(instance, filters, expected: int, stall_s: float = 300.0):
    """Poll until every run has finished; fail when no run starts or finishes for `stall_s`
    (queued runs and no daemon to launch them)."""
    state, changed_at = None, time.monotonic()
    while True:
        runs = instance.get_runs(filters=filters)
        done = sum(r.status.value in FINISHED for r in runs)
        waiting = sum(r.status.value in ("QUEUED", "NOT_STARTED") for r in runs)
        if (done, waiting) != state:
            if state is None or done != state[0]:
                print(f"  {done}/{expected} runs finished", flush=True)
            state, changed_at = (done, waiting), time.monotonic()
        if len(runs) >= expected and done == len(runs):
            return runs
        if time.monotonic() - changed_at > stall_s and waiting == len(runs) - done:
            raise RuntimeError(
                f"no run started or finished for {stall_s:.0f} s: is a dagster-daemon running?"
            )
        time.sleep(2)


def _print_backfill_summary(runs, store, settings: PlatformSettings, days) -> int:
    by_day = {r.tags.get("dagster/partition"): r for r in runs}
    failed = [d for d, r in by_day.items() if r.status.value != "SUCCESS"]
    backfill_id = next(iter(runs)).tags.get("dagster/backfill", "?")
    print(f"\nBackfill {backfill_id}: {len(days) - len(failed)} of {len(days)} days succeeded")
    for day in failed:
        print(f"  FAILED {day}: run {by_day[day].run_id}")
    breaks = store.chain_breaks()
    world = store.days()
    print(
        f"Simulated world {store.path.name}: {world.height} days stored,"
        f" {world['trade_date'].min()} .. {world['trade_date'].max()};"
        f" chain breaks: {', '.join(map(str, breaks)) or 'none'}"
    )
    print(f"""
Where to look next:
  UI              make ui  ->  http://127.0.0.1:3000/overview/backfills  (backfill, runs)
  Delta lake      {settings.lake_uri}
  Simulated world {store.path}
""")
    return 0 if not failed else 1


def ui(args: argparse.Namespace) -> int:
    """Dagster webserver + daemon, with the embedded broker running so the sensors can probe it."""
    settings = load_settings()
    prepare_dagster_home(settings)
    command = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", args.host]
    command += ["-p", str(args.port)]
    # SIGTERM (e.g. from a supervisor) unwinds like Ctrl-C, so the UI and the broker stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with pulsar_service(settings) as service_url:
        print(f"Pulsar: {service_url}   UI: http://{args.host}:{args.port}")
        ui_process = subprocess.Popen(command)
        try:
            return ui_process.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            if ui_process.poll() is None:
                ui_process.terminate()
                ui_process.wait(timeout=30)


def _simulation_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "simulated world (default: the ANALYTICS_SIM_* settings; each size is its own world)"
    )
    for option in SIM_OPTIONS:
        group.add_argument(f"--{option}", type=int, default=None)


def dataset(args: argparse.Namespace) -> int:
    """Build a training-dataset version over [start, end] from the lake's daily dataset rows."""
    from analytics_platform.lake import Lake  # noqa: PLC0415
    from analytics_platform.ml.versions import (  # noqa: PLC0415
        DATASET_VERSIONS,
        TRAINING_DATASET,
    )
    from assets.ml import build_dataset_versions  # noqa: PLC0415

    settings = load_settings()
    lake = Lake(str(settings.lake_uri), dict(settings.lake_storage_options))
    landed = set(lake.scan(TRAINING_DATASET).select("trade_date").unique().collect()["trade_date"])
    days = [d for d in trading_days(args.start, args.end) if d in landed]
    if not days:
        print(
            f"no dataset rows between {args.start} and {args.end}: run `make run` or"
            " `make history` first",
            file=sys.stderr,
        )
        return 2
    rows = build_dataset_versions(
        lake, days, Path(str(settings.datasets_dir)), dt.datetime.now(dt.UTC)
    )
    lake.upsert(DATASET_VERSIONS, rows)
    print(f"Dataset versions over {days[0]} .. {days[-1]} ({len(days)} trading days):")
    for row in rows.iter_rows(named=True):
        card = json.loads(row["card"])
        splits = ", ".join(f"{s['split']} {s['rows']:,}" for s in card["splits"])
        print(f"  {row['dataset']:<9} {row['dataset_version']}  {row['rows']:>9,} rows  ({splits})")
        print(f"            {row['path']}   (card: card.md beside it)")
    print(f'\nLoad one: polars.read_ipc("{rows["path"][0]}")')
    return 0


def _dagster_runs(instance):
    """The audit's view of the Dagster instance: a run id -> status, job, partition, times and the
    Delta versions its materializations recorded (None when the instance has no such run)."""
    from dagster import DagsterEventType  # noqa: PLC0415

    def iso(timestamp: float | None) -> str | None:
        if timestamp is None:
            return None
        return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")

    def lookup(run_id: str) -> dict | None:
        record = instance.get_run_record_by_id(run_id)
        if record is None:
            return None
        run = record.dagster_run
        materialized = {}
        for event in instance.get_records_for_run(
            run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION, limit=10_000
        ).records:
            mat = event.event_log_entry.dagster_event.event_specific_data.materialization
            version = mat.metadata.get("delta_version")
            materialized[mat.asset_key.to_user_string()] = version.value if version else None
        return {
            "run_id": run_id,
            "status": run.status.value,
            "job_name": run.job_name,
            "partition": run.tags.get("dagster/partition"),
            "trigger": run.tags.get("trigger") or run.tags.get("dagster/sensor_name"),
            "backfill": run.tags.get("dagster/backfill"),
            "start": iso(record.start_time),
            "end": iso(record.end_time),
            "materialized": materialized,  # asset -> the Delta version its metadata records
        }

    return lookup


def audit(args: argparse.Namespace) -> int:
    """Lineage audit of an order, decision, dataset version or model: prints the chain and writes
    it as JSON (default `$ANALYTICS_HOME/audits/<kind>-<id>.json`)."""
    from dagster import DagsterInstance  # noqa: PLC0415

    from analytics_platform.audit import Auditor, render, safe_name, to_json  # noqa: PLC0415
    from analytics_platform.lake import Lake  # noqa: PLC0415
    from analytics_platform.ml.registry import model_versions  # noqa: PLC0415

    settings = load_settings()
    lake = Lake(str(settings.lake_uri), dict(settings.lake_storage_options))
    home = settings.dagster_home
    with (
        DagsterInstance.from_config(str(home))
        if (home / "dagster.yaml").exists()
        else DagsterInstance.ephemeral()
    ) as instance:
        auditor = Auditor(
            lake,
            runs=_dagster_runs(instance),
            models=model_versions(str(settings.mlflow_tracking_uri)),
            max_quote_age=settings.tca_max_quote_age,
        )
        chain = auditor.audit(args.kind, args.id)
    target = (
        Path(args.json)
        if args.json
        else Path(settings.home, "audits", f"{args.kind}-{safe_name(args.id)}.json")
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(to_json(chain))
    print(render(chain), end="")
    print(f"\nAudit written to {target}")
    return 0


def serve_command(args: argparse.Namespace) -> int:
    """The prediction service in this process (numpy only: no dagster, mlflow or jax)."""
    import ipaddress  # noqa: PLC0415

    from analytics_platform.serving.server import serve  # noqa: PLC0415

    settings = load_settings()
    bundle = Path(args.bundle) if args.bundle else Path(str(settings.models_dir)) / "cost"
    if not (bundle / "CURRENT").exists() and not (bundle / "bundle.json").exists():
        print(f"no model bundle at {bundle}: run `make run` (it exports one)", file=sys.stderr)
        return 2
    token = settings.serve_token.get_secret_value() if settings.serve_token else None
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if token is None and not (loopback and settings.simulator):
        print(
            "ANALYTICS_SERVE_TOKEN is required to serve off loopback or in production"
            " (ANALYTICS_SIMULATOR=false): clients send `Authorization: Bearer <token>`",
            file=sys.stderr,
        )
        return 2
    print(
        f"serving {bundle} on http://{args.host}:{args.port}"
        f" (POST /predict, GET /healthz, GET /metrics){' with a bearer token' if token else ''}"
    )
    serve(args.host, args.port, bundle, token)
    return 0


def metrics(args: argparse.Namespace) -> int:
    """Prometheus metrics of the batch side on GET /metrics: collected from the Dagster
    instance, the lake and the broker on scrape, cached for --ttl seconds."""
    from dagster import DagsterInstance  # noqa: PLC0415

    from analytics_platform.lake import Lake  # noqa: PLC0415
    from analytics_platform.observability import (  # noqa: PLC0415
        CachedScrape,
        Collector,
        metrics_server,
        render,
    )

    settings = load_settings()
    prepare_dagster_home(settings)
    lake = Lake(str(settings.lake_uri), dict(settings.lake_storage_options))
    data_dir = Path(str(settings.pulsar_data_dir))
    with DagsterInstance.get() as instance:
        collector = Collector(
            lake,
            instance,
            lambda: settings.pulsar_service_url or running_embedded_url(data_dir),
            backlog_limit=args.backlog_limit,
        )
        server = metrics_server(
            args.host, args.port, CachedScrape(lambda: render(collector.collect()), args.ttl).text
        )
        print(f"metrics on http://{args.host}:{server.server_port}/metrics", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    return 0


def worker(args: argparse.Namespace) -> int:
    """A celery worker of the celery executor (ANALYTICS_EXECUTOR=celery): it executes the steps
    runs submit to the settings' queue on the settings' broker, against the same instance."""
    import yaml  # noqa: PLC0415
    from dagster_celery.cli import get_config_dir  # noqa: PLC0415

    settings = load_settings()
    prepare_dagster_home(settings)
    # dagster-celery turns the executor's config into the worker's celery config module.
    executor_config = settings.dagster_home / "celery" / "executor.yaml"
    executor_config.parent.mkdir(parents=True, exist_ok=True)
    executor_config.write_text(
        yaml.safe_dump(
            {
                "execution": {
                    "config": {
                        "broker": settings.celery_broker_url,
                        "backend": "rpc://",
                        "config_source": {"task_default_queue": settings.celery_queue},
                    }
                }
            }
        )
    )
    config_dir = get_config_dir(str(executor_config))
    paths = [config_dir, str(PROJECT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    command = [
        sys.executable, "-m", "celery", "-A", "dagster_celery.app", "worker",
        "--prefetch-multiplier=1", "--queues", settings.celery_queue,
        "--concurrency", str(args.concurrency), "--hostname", f"{args.name}@%h",
        "--loglevel", args.loglevel,
    ]  # fmt: skip
    print(f"celery worker {args.name} on queue {settings.celery_queue!r}", flush=True)
    os.execve(sys.executable, command, env)
    return 0  # not reached: the worker replaces this process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="analytics-platform", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run-day", help="simulate, publish and materialise one trading day")
    run.add_argument(
        "--date",
        type=dt.date.fromisoformat,
        default=None,
        help="trade date (default: last completed NYSE trading day)",
    )
    _simulation_arguments(run)
    run.set_defaults(func=run_day)
    history = sub.add_parser(
        "backfill", help="simulate, publish and materialise a range of days (a Dagster backfill)"
    )
    history.add_argument("--start", type=dt.date.fromisoformat, default=None)
    history.add_argument(
        "--end",
        type=dt.date.fromisoformat,
        default=None,
        help="last day (default: the last completed NYSE trading day)",
    )
    history.add_argument(
        "--days", type=int, default=20, help="trading days ending at --end when --start is unset"
    )
    _simulation_arguments(history)
    history.set_defaults(func=backfill)
    data = sub.add_parser("dataset", help="build a training-dataset version over a range of days")
    data.add_argument("--start", type=dt.date.fromisoformat, required=True)
    data.add_argument("--end", type=dt.date.fromisoformat, required=True)
    data.set_defaults(func=dataset)
    audit_cmd = sub.add_parser(
        "audit",
        help="lineage audit of an order, decision, dataset version or model (text + JSON)",
    )
    audit_cmd.add_argument("kind", choices=["order", "decision", "dataset", "model"])
    audit_cmd.add_argument(
        "id",
        help="order id, decision id, dataset version, or model (registered version, bundle"
        " version or MLflow run id)",
    )
    audit_cmd.add_argument(
        "--json",
        default=None,
        metavar="PATH",
        help="where to write the chain (default: $ANALYTICS_HOME/audits/<kind>-<id>.json)",
    )
    audit_cmd.set_defaults(func=audit)
    serve_cmd = sub.add_parser("serve", help="the execution-cost prediction service")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument(
        "--bundle",
        default=None,
        help="a bundle directory or a models root (default: the platform's)",
    )
    serve_cmd.set_defaults(func=serve_command)
    metrics_cmd = sub.add_parser("metrics", help="Prometheus metrics of the batch side")
    metrics_cmd.add_argument("--host", default="127.0.0.1")
    metrics_cmd.add_argument("--port", type=int, default=9108)
    metrics_cmd.add_argument(
        "--ttl", type=float, default=5.0, help="seconds a collection serves scrapes"
    )
    metrics_cmd.add_argument(
        "--backlog-limit", type=int, default=100_000, help="most messages counted per topic"
    )
    metrics_cmd.set_defaults(func=metrics)
    worker_cmd = sub.add_parser("worker", help="a celery worker for ANALYTICS_EXECUTOR=celery")
    worker_cmd.add_argument("--name", default=f"analytics-{os.getpid()}")
    worker_cmd.add_argument("--concurrency", type=int, default=1, help="steps at once")
    worker_cmd.add_argument("--loglevel", default="INFO")
    worker_cmd.set_defaults(func=worker)
    ui_cmd = sub.add_parser("ui", help="Dagster UI and daemon (and the embedded broker)")
    ui_cmd.add_argument("--host", default="127.0.0.1")
    ui_cmd.add_argument("--port", type=int, default=3000)
    ui_cmd.set_defaults(func=ui)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
