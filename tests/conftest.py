"""Shared fixtures: a small simulated day, an isolated platform home, a real pulsar-lite broker."""

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest

from analytics_platform.events.broker import EmbeddedPulsar
from analytics_platform.events.publisher import publish_all, pulsar_client
from analytics_platform.landing import LandingZone
from analytics_platform.marketdata.simulator import SimulatedDay, SimulationConfig, simulate_day

TRADE_DATE = dt.date(2026, 11, 20)
SMALL = SimulationConfig(n_symbols=6, n_quotes=30_000, n_orders=60, seed=11)


def tuning(**variables: str) -> dict[str, object]:
    """The settings-built config resources (quality, ingest, tca, attribution) with some
    variables set: the one place their defaults live is the platform settings."""
    from analytics_platform.config import load_settings  # noqa: PLC0415
    from resources import build_resources  # noqa: PLC0415

    built = build_resources(load_settings(variables))
    return {name: built[name] for name in ("quality", "ingest", "tca", "attribution")}


@pytest.fixture(scope="session")
def small_day() -> SimulatedDay:
    return simulate_day(TRADE_DATE, SMALL)


@pytest.fixture
def platform_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ANALYTICS_HOME in a temp dir, nothing else configured: the embedded default."""
    for var in (
        "ANALYTICS_LAKE_URI",
        "ANALYTICS_LANDING_URI",
        "PULSAR_SERVICE_URL",
        "MLFLOW_TRACKING_URI",
        "DAGSTER_HOME",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path / "var"))
    return tmp_path / "var"


@pytest.fixture(scope="session")
def pulsar_broker(tmp_path_factory: pytest.TempPathFactory):
    """A real pulsar-lite broker on its own loopback port, own data dir, metrics disabled."""
    with EmbeddedPulsar(tmp_path_factory.mktemp("pulsar")) as broker:
        yield broker


PG = {
    "host": os.environ.get("DAGSTER_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("DAGSTER_PG_PORT", "5432")),
    "user": os.environ.get("DAGSTER_PG_USER", "postgres"),
    "password": os.environ.get("DAGSTER_PG_PASSWORD", ""),
}


@pytest.fixture
def postgres_database():
    """A throwaway database on the machine's PostgreSQL server, dropped afterwards."""
    try:
        admin = psycopg2.connect(dbname="postgres", connect_timeout=3, **PG)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {PG['host']}:{PG['port']}: {exc}")
    admin.autocommit = True
    name = f"dagster_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(autouse=True)
def _dagster_home_restored():
    """`prepare_dagster_home` points DAGSTER_HOME at an instance for the whole process (what the
    CLI wants): a test that calls it must not hand its instance to the next test on its worker."""
    before = os.environ.get("DAGSTER_HOME")
    yield
    if before is None:
        os.environ.pop("DAGSTER_HOME", None)
    else:
        os.environ["DAGSTER_HOME"] = before


@contextmanager
def one_day_sources(tmp_path, small_day) -> Iterator[tuple[EmbeddedPulsar, dict]]:
    """The small day's vendor files landed and its events published to an embedded broker, with
    the resources that read them."""
    from resources import LakeResource, LandingZoneResource, PulsarResource  # noqa: PLC0415

    zone = LandingZone(tmp_path / "landing")
    for table, frame in small_day.market_data.items():
        zone.write(table, TRADE_DATE, frame)
    with EmbeddedPulsar(tmp_path / "pulsar") as broker:
        with pulsar_client(broker.service_url) as client:
            publish_all(client, small_day.trading_events)
        yield (
            broker,
            {
                "lake": LakeResource(root_uri=str(tmp_path / "lake")),
                "landing": LandingZoneResource(root=str(tmp_path / "landing")),
                **tuning(ANALYTICS_MAX_CROSSED_QUOTE_SHARE="1e-3"),
                "pulsar": PulsarResource(
                    service_url=broker.service_url, embedded_dir=str(tmp_path)
                ),
            },
        )
