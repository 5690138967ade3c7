"""The observation sensors evaluated through Dagster on real landing files and a real broker: one
observation per landing file and day with the file's own rows, size and times, nothing again
until a file changes; the backlog of each topic before and after its events land."""

import datetime as dt
import os

import pyarrow.parquet as pq
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    SensorResult,
    SkipReason,
    build_sensor_context,
    materialize,
)
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
from dagster._core.definitions.data_version import CachingStaleStatusResolver
from dagster._time import get_current_datetime

from analytics_platform.events.broker import EmbeddedPulsar
from analytics_platform.events.contracts import INBOUND, PARENT_ORDER_SUBMITTED, TRADE_EXECUTED
from analytics_platform.events.publisher import publish_frame, pulsar_client
from analytics_platform.landing import LandingZone
from assets.raw_market_data import landing_specs, raw_market_data_assets
from resources import LakeResource, LandingZoneResource, PulsarResource
from sensors.observe import observe_sensors
from tests.conftest import TRADE_DATE, tuning
from tests.test_sensors import TRADE_EXECUTION_ASSETS

OBSERVE_LANDING, OBSERVE_TOPICS = observe_sensors(60)
PREVIOUS_DAY = dt.date(2026, 11, 19)
SATURDAY = dt.date(2026, 11, 21)


def _tick(sensor, resources, cursor=None) -> SensorResult | SkipReason:
    with (
        DagsterInstance.ephemeral() as instance,
        build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context,
    ):
        return sensor(context)


@pytest.fixture
def landing(tmp_path, small_day):
    zone = LandingZone(tmp_path / "landing")
    for table, frame in small_day.market_data.items():
        zone.write(table, TRADE_DATE, frame)
        zone.write(table, PREVIOUS_DAY, frame.head(100))
    return zone, {"landing": LandingZoneResource(root=str(zone.root))}


def _by_partition(result: SensorResult) -> dict[tuple[str, str], object]:
    return {(o.asset_key.to_user_string(), o.partition): o for o in result.asset_events}


def test_each_landing_file_is_observed_once_per_day_with_its_rows_size_and_times(landing):
    zone, resources = landing
    result = _tick(OBSERVE_LANDING, resources)
    observed = _by_partition(result)
    assert set(observed) == {
        (f"landing/{name}", day.isoformat())
        for name in ("quotes", "market_trades", "book_snapshots")
        for day in (TRADE_DATE, PREVIOUS_DAY)
    }
    for table in ("raw/quotes", "raw/market_trades", "raw/book_snapshots"):
        for day in (TRADE_DATE, PREVIOUS_DAY):
            path = zone.path(table, day)
            observation = observed[(f"landing/{table.split('/')[1]}", day.isoformat())]
            metadata = {k: getattr(v, "value", v) for k, v in observation.metadata.items()}
            assert metadata["path"] == str(path)
            assert metadata["dagster/row_count"] == pq.read_metadata(path).num_rows
            assert metadata["size_bytes"] == path.stat().st_size
            assert metadata["modified"] == pytest.approx(path.stat().st_mtime, abs=1e-6)
            assert observation.data_version
    # The same rows give the same version on both days only where the files are equal.
    versions = {key: o.data_version for key, o in observed.items()}
    assert versions[("landing/quotes", "2026-11-20")] != versions[("landing/quotes", "2026-11-19")]

    again = _tick(OBSERVE_LANDING, resources, cursor=result.cursor)
    assert again.asset_events == []
    assert again.skip_reason.skip_message == "no landing file appeared or changed"
    assert again.cursor == result.cursor


def test_a_rewritten_file_is_observed_again_with_a_new_version_only_if_its_content_changed(
    landing, small_day
):
    zone, resources = landing
    first = _tick(OBSERVE_LANDING, resources)
    before = _by_partition(first)[("landing/quotes", "2026-11-20")]

    quotes = small_day.market_data["raw/quotes"]
    zone.write("raw/quotes", TRADE_DATE, quotes.head(500))
    changed = _tick(OBSERVE_LANDING, resources, cursor=first.cursor)
    [observation] = changed.asset_events
    assert (observation.asset_key, observation.partition) == (
        AssetKey(["landing", "quotes"]),
        "2026-11-20",
    )
    assert observation.metadata["dagster/row_count"].value == 500
    assert observation.data_version != before.data_version

    # The vendor re-delivers the same content: observed (a new file), same data version.
    zone.write("raw/quotes", TRADE_DATE, quotes.head(500))
    redelivered = _tick(OBSERVE_LANDING, resources, cursor=changed.cursor)
    [same] = redelivered.asset_events
    assert same.data_version == observation.data_version


def test_a_copy_that_keeps_an_old_modification_time_is_still_observed(landing, small_day):
    """rsync -t style: the file keeps the vendor's mtime, older than anything observed."""
    zone, resources = landing
    first = _tick(OBSERVE_LANDING, resources)
    path = zone.write(
        "raw/market_trades", dt.date(2026, 11, 18), small_day.market_data["raw/market_trades"]
    )
    old = path.stat().st_mtime_ns - 86_400 * 10**9
    os.utime(path, ns=(old, old))
    result = _tick(OBSERVE_LANDING, resources, cursor=first.cursor)
    [observation] = result.asset_events
    assert observation.partition == "2026-11-18"
    assert observation.metadata["modified"].value == pytest.approx(old / 1e9, abs=1e-6)


def test_files_that_are_not_drops_of_a_trading_day_are_passed_over(landing, small_day):
    zone, resources = landing
    first = _tick(OBSERVE_LANDING, resources)
    zone.write("raw/quotes", SATURDAY, small_day.market_data["raw/quotes"].head(10))
    partial = zone.path("raw/book_snapshots", dt.date(2026, 11, 17))
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"PAR1 still being written")
    result = _tick(OBSERVE_LANDING, resources, cursor=first.cursor)
    assert result.asset_events == []
    assert result.skip_reason.skip_message == "0 landing files observed, 2 passed over"
    # Both are behind the cursor now; the partial file is seen again once it is complete.
    frame = small_day.market_data["raw/book_snapshots"]
    zone.write("raw/book_snapshots", dt.date(2026, 11, 17), frame)
    completed = _tick(OBSERVE_LANDING, resources, cursor=result.cursor)
    assert [
        (o.partition, o.metadata["dagster/row_count"].value) for o in completed.asset_events
    ] == [("2026-11-17", frame.height)]


def test_an_empty_landing_zone_skips(tmp_path):
    result = _tick(OBSERVE_LANDING, {"landing": LandingZoneResource(root=str(tmp_path / "none"))})
    assert result.asset_events == [] and result.cursor is None


def _raw_quotes_status(instance: DagsterInstance, graph) -> str:
    # What the UI computes for the partition's stale badge (Dagster has no public API for it).
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        instance=instance,
        asset_graph=graph,
    )
    resolver = CachingStaleStatusResolver(instance, graph, loading_context=view)
    return resolver.get_status(AssetKey(["raw", "quotes"]), TRADE_DATE.isoformat()).value


def test_a_corrected_vendor_file_marks_the_raw_partition_stale(landing, small_day, tmp_path):
    """Production profile (landing/* external): the daemon records the sensor's observations;
    raw/quotes of the day goes stale when its file's data version changes, not on a redelivery."""
    zone, resources = landing
    resources = {**resources, "lake": LakeResource(root_uri=str(tmp_path / "lake")), **tuning()}
    graph = Definitions(
        assets=[*landing_specs, *raw_market_data_assets], resources=resources
    ).resolve_asset_graph()
    quotes = small_day.market_data["raw/quotes"]
    with DagsterInstance.ephemeral() as instance:

        def tick(cursor):
            with build_sensor_context(instance=instance, resources=resources, cursor=cursor) as c:
                result = OBSERVE_LANDING(c)
            for event in result.asset_events:
                instance.report_runless_asset_event(event)
            return result.cursor

        cursor = tick(None)
        raw_quotes = next(a for a in raw_market_data_assets if a.key == AssetKey(["raw", "quotes"]))
        assert materialize(
            [raw_quotes],
            partition_key=TRADE_DATE.isoformat(),
            resources=resources,
            instance=instance,
        ).success
        assert _raw_quotes_status(instance, graph) == "FRESH"

        zone.write("raw/quotes", TRADE_DATE, quotes)  # redelivered, same content
        cursor = tick(cursor)
        assert _raw_quotes_status(instance, graph) == "FRESH"

        zone.write("raw/quotes", TRADE_DATE, quotes.head(1000))  # corrected
        tick(cursor)
        assert _raw_quotes_status(instance, graph) == "STALE"


# ---------------------------------------------------------------------------------------------
# Topics


@pytest.fixture
def broker_env(tmp_path):
    with EmbeddedPulsar(tmp_path / "pulsar") as broker:
        resources = {
            "pulsar": PulsarResource(service_url=broker.service_url, embedded_dir=str(tmp_path)),
            "lake": LakeResource(root_uri=str(tmp_path / "lake")),
            **tuning(ANALYTICS_INGEST_BATCH_SIZE="1000"),
        }
        yield broker, resources


def _metadata(result: SensorResult) -> dict[str, dict[str, object]]:
    return {
        o.metadata["topic"].value: {k: v.value for k, v in o.metadata.items()}
        for o in result.asset_events
    }


def test_topics_report_their_backlog_until_the_events_land(broker_env, small_day):
    broker, resources = broker_env
    with pulsar_client(broker.service_url) as client:
        orders = publish_frame(client, PARENT_ORDER_SUBMITTED.spec, small_day.orders)
        fills = publish_frame(client, TRADE_EXECUTED.spec, small_day.executions)

    first = _tick(OBSERVE_TOPICS, resources)
    observed = _metadata(first)
    assert set(observed) == {c.spec.topic for c in INBOUND}  # the first tick reports every topic
    assert {o.asset_key for o in first.asset_events} == {
        AssetKey(["pulsar", *c.spec.topic.split("/")[-2:]]) for c in INBOUND
    }
    assert observed[PARENT_ORDER_SUBMITTED.spec.topic]["backlog"] == orders
    assert observed[TRADE_EXECUTED.spec.topic]["backlog"] == fills
    assert {t: m["backlog"] for t, m in observed.items() if m["backlog"]} == {
        PARENT_ORDER_SUBMITTED.spec.topic: orders,
        TRADE_EXECUTED.spec.topic: fills,
    }
    assert {m["committed_offset"] for m in observed.values()} == {"(none)"}

    unchanged = _tick(OBSERVE_TOPICS, resources, cursor=first.cursor)
    assert unchanged.asset_events == []

    ingested = materialize(
        TRADE_EXECUTION_ASSETS, partition_key=TRADE_DATE.isoformat(), resources=resources
    )
    assert ingested.success
    landed = _metadata(_tick(OBSERVE_TOPICS, resources, cursor=first.cursor))
    # Only the topics whose events landed moved: their backlog is 0 after the committed offset.
    assert set(landed) == {PARENT_ORDER_SUBMITTED.spec.topic, TRADE_EXECUTED.spec.topic}
    assert {m["backlog"] for m in landed.values()} == {0}
    assert all(m["committed_offset"] != "(none)" for m in landed.values())


def test_topics_are_not_observed_when_the_broker_is_down(broker_env):
    broker, resources = broker_env
    broker.stop()
    skipped = _tick(OBSERVE_TOPICS, resources)
    assert isinstance(skipped, SkipReason)
    assert f"the Pulsar broker at {broker.service_url} did not answer" in skipped.skip_message

    embedded_not_started = {
        **resources,
        "pulsar": PulsarResource(embedded_dir=str(broker.data_dir)),
    }
    skipped = _tick(OBSERVE_TOPICS, embedded_not_started)
    assert isinstance(skipped, SkipReason)
    assert "no Pulsar broker" in skipped.skip_message
