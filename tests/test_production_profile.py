"""The production Dagster instance (deploy/production/dagster.yaml) against a real PostgreSQL:
it loads into PostgreSQL storage and the queued run coordinator with the documented limits,
and a partitioned materialisation is recorded there (runs, events, asset partitions)."""

import shutil
from pathlib import Path

import psycopg2
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, materialize
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

from analytics_platform.landing import LandingZone
from assets.raw_market_data import raw_market_data_assets
from resources import LakeResource, LandingZoneResource
from tests.conftest import PG, TRADE_DATE, tuning

PRODUCTION_YAML = Path(__file__).parents[1] / "deploy" / "production" / "dagster.yaml"


@pytest.fixture
def production_instance(tmp_path, monkeypatch, postgres_database):
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copy(PRODUCTION_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for var, value in {
        "DAGSTER_PG_HOST": PG["host"],
        "DAGSTER_PG_PORT": str(PG["port"]),
        "DAGSTER_PG_DB": postgres_database,
        "DAGSTER_PG_USER": PG["user"],
        "DAGSTER_PG_PASSWORD": PG["password"],
    }.items():
        monkeypatch.setenv(var, value)
    with DagsterInstance.get() as instance:
        yield instance, postgres_database


def test_production_profile_loads_postgres_storage_and_the_run_queue(production_instance):
    instance, _ = production_instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    queue = instance.get_concurrency_config().run_queue_config
    assert queue.max_concurrent_runs == 8
    assert {(limit["value"], limit["limit"]) for limit in queue.tag_concurrency_limits} == {
        ("sensor", 4),
        ("schedule", 2),
    }
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 1


def test_partition_run_is_recorded_in_postgres(production_instance, tmp_path, small_day):
    instance, database = production_instance
    zone = LandingZone(tmp_path / "landing")
    for table, frame in small_day.market_data.items():
        zone.write(table, TRADE_DATE, frame)
    result = materialize(
        raw_market_data_assets,
        partition_key=TRADE_DATE.isoformat(),
        instance=instance,
        resources={
            "lake": LakeResource(root_uri=str(tmp_path / "lake")),
            "landing": LandingZoneResource(root=str(tmp_path / "landing")),
            "quality": tuning(ANALYTICS_MAX_CROSSED_QUOTE_SHARE="1e-3")["quality"],
        },
    )
    assert result.success
    assert instance.get_run_by_id(result.run_id).status == DagsterRunStatus.SUCCESS
    quotes = AssetKey(["raw", "quotes"])
    assert instance.get_materialized_partitions(quotes) == {TRADE_DATE.isoformat()}
    # Straight from the database, not through Dagster's caches.
    with psycopg2.connect(dbname=database, **PG) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM runs WHERE run_id = %s", (result.run_id,))
        assert cursor.fetchone() == (1,)
        cursor.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
            (result.run_id, "ASSET_MATERIALIZATION"),
        )
        assert cursor.fetchone()[0] == len(raw_market_data_assets)
