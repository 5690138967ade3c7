"""Shared fixtures: a small simulated day, an isolated platform home, a real pulsar-lite broker."""

import datetime as dt
from pathlib import Path

import pytest

from analytics_platform.events.broker import EmbeddedPulsar
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
