"""`analytics-platform` command line: run a simulated trading day end to end, open the UI.

This CLI launches Dagster runs, so it lives with the jobs (the domain package
`analytics_platform` never imports Dagster, DESIGN §2).
"""

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from analytics_platform.calendar import is_trading_day, last_completed_trading_day
from analytics_platform.config import ConfigError, PlatformSettings, load_settings
from analytics_platform.events.broker import EmbeddedPulsar, running_embedded_url
from analytics_platform.events.publisher import publish_all, pulsar_client
from analytics_platform.landing import LandingZone
from analytics_platform.marketdata.simulator import SimulationConfig, simulate_day

DAGSTER_YAML = """\
# Embedded instance (SQLite under this directory). See deploy/production/dagster.yaml for
# PostgreSQL storage and the queued run coordinator.
telemetry:
  enabled: false
"""


def prepare_dagster_home(settings: PlatformSettings) -> Path:
    """Point DAGSTER_HOME at the embedded instance, creating it on first use."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home.absolute())
    return home


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


def _phase(label: str, started: float) -> float:
    now = time.perf_counter()
    print(f"  {label:<38} {now - started:6.1f} s")
    return now


def run_day(args: argparse.Namespace) -> int:
    settings = load_settings()
    trade_date = args.date or last_completed_trading_day()
    if not is_trading_day(trade_date):
        print(f"{trade_date} is not an NYSE trading day", file=sys.stderr)
        return 2
    prepare_dagster_home(settings)
    cfg = SimulationConfig(
        n_symbols=args.symbols, n_quotes=args.quotes, n_orders=args.orders, seed=args.seed
    )
    print(
        f"Simulated trading day {trade_date} ({cfg.n_symbols} symbols, {cfg.n_quotes:,} quotes,"
        f" {cfg.n_orders:,} orders, seed {cfg.seed})"
    )
    t0 = t = time.perf_counter()
    day = simulate_day(trade_date, cfg)
    t = _phase("simulate", t)
    zone = LandingZone(Path(str(settings.landing_uri)))
    for table, frame in day.market_data.items():
        zone.write(table, trade_date, frame)
    t = _phase("land market data files", t)

    from dagster import DagsterInstance  # noqa: PLC0415 - keep `--help` fast

    from analytics_platform.definitions import defs  # noqa: PLC0415

    with pulsar_service(settings) as service_url:
        with pulsar_client(service_url) as client:
            published = publish_all(client, day.trading_events)
        t = _phase(f"publish {sum(published.values()):,} events to Pulsar", t)
        with DagsterInstance.get() as instance:
            result = defs.resolve_job_def("end_of_day").execute_in_process(
                partition_key=trade_date.isoformat(),
                instance=instance,
                raise_on_error=False,
                tags={"trigger": "cli"},
                # The full event log is in the instance (UI); the terminal gets warnings only.
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            )
        t = _phase("materialise end-of-day graph", t)
    _phase("total", t0)
    return _print_summary(result, settings, published)


def _print_summary(result, settings: PlatformSettings, published: dict[str, int]) -> int:
    print(f"\nRun {result.run_id}: {'SUCCESS' if result.success else 'FAILURE'}")
    print("\nTables written (rows, Delta version):")
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        meta = {k: v.value for k, v in mat.metadata.items()}
        print(
            f"  {mat.asset_key.to_user_string():<28} {meta.get('dagster/row_count', 0):>12,}"
            f"   v{meta.get('delta_version')}"
        )
    quarantined = sum(
        e.event_specific_data.materialization.metadata["quarantined"].value
        for e in result.get_asset_materialization_events()
        if "quarantined" in e.event_specific_data.materialization.metadata
    )
    print(f"  events quarantined (raw/quarantine): {quarantined:,}")
    evaluations = result.get_asset_check_evaluations()
    failed = [e for e in evaluations if not e.passed]
    print(f"\nChecks: {len(evaluations) - len(failed)} passed, {len(failed)} failed")
    for e in failed:
        print(f"  FAILED {e.asset_key.to_user_string()}:{e.check_name}: {e.description}")
    print("\nEvents published:")
    for topic, count in published.items():
        print(f"  {topic:<72} {count:>9,}")
    print(f"""
Where to look next:
  Delta lake      {settings.lake_uri}
  Landing zone    {settings.landing_uri}
  Dagster home    {settings.dagster_home}   (this run is in its history)
  UI              make ui   ->  http://127.0.0.1:3000
""")
    return 0 if result.success and not failed else 1


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
    defaults = SimulationConfig()
    run.add_argument("--symbols", type=int, default=defaults.n_symbols)
    run.add_argument("--quotes", type=int, default=defaults.n_quotes)
    run.add_argument("--orders", type=int, default=defaults.n_orders)
    run.add_argument("--seed", type=int, default=defaults.seed)
    run.set_defaults(func=run_day)
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
