"""Pulsar sensors evaluated through Dagster against a real broker, and the runs they request."""

import datetime as dt
import json

import pytest
from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    SensorResult,
    build_sensor_context,
    materialize,
)
from dagster._core.test_utils import create_run_for_test

from analytics_platform.events.broker import EmbeddedPulsar
from analytics_platform.events.contracts import (
    INBOUND,
    PARENT_ORDER_SUBMITTED,
    TRADE_EXECUTED,
)
from analytics_platform.events.publisher import publish_frame, pulsar_client
from analytics_platform.lake import Lake
from analytics_platform.marketdata.simulator import simulate_day
from assets.raw_events import raw_event_assets
from resources import LakeResource, PulsarResource
from sensors.pulsar import pulsar_sensors
from tests.conftest import SMALL, tuning

SENSOR = next(s for s in pulsar_sensors(5) if s.name == "pulsar_trade_execution")
TRADE_EXECUTION_ASSETS = [
    a
    for a, c in zip(raw_event_assets, INBOUND, strict=True)
    if c.spec.workflow == "trade-execution"
]
OLD_DAY = dt.date(2026, 11, 18)


@pytest.fixture
def env(tmp_path):
    with EmbeddedPulsar(tmp_path / "pulsar") as broker:
        resources = {
            "pulsar": PulsarResource(service_url=broker.service_url, embedded_dir=str(tmp_path)),
            "lake": LakeResource(root_uri=str(tmp_path / "lake")),
            **tuning(ANALYTICS_INGEST_BATCH_SIZE="1000", ANALYTICS_SENSOR_MAX_MESSAGES="100000"),
        }
        yield broker, resources, Lake(str(tmp_path / "lake"))


def _tick(resources, cursor=None) -> SensorResult:
    with (
        DagsterInstance.ephemeral() as instance,
        build_sensor_context(resources=resources, cursor=cursor, instance=instance) as context,
    ):
        return SENSOR(context)


def _publish(broker, day):
    with pulsar_client(broker.service_url) as client:
        publish_frame(client, PARENT_ORDER_SUBMITTED.spec, day.orders)
        publish_frame(client, TRADE_EXECUTED.spec, day.executions)


def _materialize(resources, partition: str):
    result = materialize(TRADE_EXECUTION_ASSETS, partition_key=partition, resources=resources)
    assert result.success
    return result


def test_sensor_requests_exactly_the_dates_with_new_events(env, small_day):
    broker, resources, _ = env
    _publish(broker, simulate_day(dt.date(2026, 11, 19), SMALL))
    _publish(broker, small_day)
    result = _tick(resources)
    assert sorted(r.partition_key for r in result.run_requests) == ["2026-11-19", "2026-11-20"]
    assert all(r.tags["trigger"] == "sensor" for r in result.run_requests)
    assert set(json.loads(result.cursor)) == {
        PARENT_ORDER_SUBMITTED.spec.topic,
        TRADE_EXECUTED.spec.topic,
    }
    # Same broker state, same cursor input: the same deterministic run keys.
    assert [r.run_key for r in _tick(resources).run_requests] == [
        r.run_key for r in result.run_requests
    ]
    # Nothing new since the cursor: no request.
    assert not _tick(resources, result.cursor).run_requests


def test_requested_run_lands_the_published_events(env, small_day):
    broker, resources, lake = env
    _publish(broker, small_day)
    (request,) = _tick(resources).run_requests
    result = _materialize(resources, request.partition_key)
    landed = lake.scan(TRADE_EXECUTED.table, [small_day.trade_date]).collect()
    assert sorted(landed["exec_id"]) == sorted(small_day.executions["exec_id"])
    mat = result.asset_materializations_for_node("raw__executions")[0]
    assert mat.metadata["rows_inserted"].value == small_day.executions.height
    assert all(e.passed for e in result.get_asset_check_evaluations())


def test_late_event_reruns_only_its_own_date(env, small_day):
    broker, resources, _ = env
    _publish(broker, small_day)
    first = _tick(resources)
    _materialize(resources, "2026-11-20")
    late = simulate_day(OLD_DAY, SMALL).executions.head(1)
    with pulsar_client(broker.service_url) as client:
        publish_frame(client, TRADE_EXECUTED.spec, late)
    second = _tick(resources, first.cursor)
    assert [r.partition_key for r in second.run_requests] == [OLD_DAY.isoformat()]


def test_no_double_processing_after_the_end_of_day_run(env, small_day):
    """Events the end-of-day run already landed are not requested again, even by a sensor with
    no cursor (e.g. newly deployed): it starts from the offset committed in the lake."""
    broker, resources, lake = env
    _publish(broker, small_day)
    _materialize(resources, "2026-11-20")  # the end-of-day run for the day
    assert not _tick(resources).run_requests
    # And a re-run of the partition inserts nothing new.
    result = _materialize(resources, "2026-11-20")
    mat = result.asset_materializations_for_node("raw__executions")[0]
    assert mat.metadata["rows_inserted"].value == 0
    assert lake.scan(TRADE_EXECUTED.table).collect().height == small_day.executions.height


def test_quarantine_rate_check_warns_above_threshold(env, small_day):
    broker, resources, _ = env
    with pulsar_client(broker.service_url) as client:
        publish_frame(client, TRADE_EXECUTED.spec, small_day.executions.head(5))
        producer = client.create_producer(TRADE_EXECUTED.spec.topic)
        producer.send(b"garbage", properties={"trade_date": "2026-11-20"})
        producer.close()
    result = _materialize(resources, "2026-11-20")
    check = next(
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "quarantine_rate" and e.asset_key.path == ["raw", "executions"]
    )
    assert not check.passed and check.severity.value == "WARN"
    assert "1 of 6 messages quarantined" in check.description


def test_sensor_skips_cleanly_without_a_broker(tmp_path):
    resources = {
        "pulsar": PulsarResource(embedded_dir=str(tmp_path / "nothing-here")),
        "lake": LakeResource(root_uri=str(tmp_path / "lake")),
        "ingest": tuning()["ingest"],
    }
    with build_sensor_context(resources=resources) as context:
        result = SENSOR(context)
    assert "no Pulsar broker" in str(getattr(result, "skip_message", result))


def test_a_day_with_a_run_in_flight_is_not_requested_again(env, small_day):
    """A backfill or CLI run of the day lands what is new: the sensor waits, keeps its cursor,
    and requests the day on a later tick only if the events are still not landed."""
    broker, resources, _ = env
    _publish(broker, simulate_day(dt.date(2026, 11, 19), SMALL))
    _publish(broker, small_day)
    with DagsterInstance.ephemeral() as instance:
        create_run_for_test(
            instance,
            job_name="end_of_day",
            status=DagsterRunStatus.STARTED,
            tags={"dagster/partition": "2026-11-20"},
        )
        with build_sensor_context(resources=resources, instance=instance) as context:
            busy = SENSOR(context)
        assert [r.partition_key for r in busy.run_requests] == ["2026-11-19"]
        assert busy.cursor in (None, "{}") or not json.loads(busy.cursor)
    # Once no run is in flight the day is requested (its events were never landed).
    assert sorted(r.partition_key for r in _tick(resources, busy.cursor).run_requests) == [
        "2026-11-19",
        "2026-11-20",
    ]


def test_the_days_rejects_show_on_raw_quarantine(env, small_day):
    """raw/quarantine is an asset of its own: its materialization counts the day's rejects by
    topic and reason (the rows are written by the raw event assets)."""
    from assets.raw_events import raw_quarantine  # noqa: PLC0415

    broker, resources, _ = env
    _publish(broker, small_day)
    with pulsar_client(broker.service_url) as client:
        producer = client.create_producer(TRADE_EXECUTED.spec.topic, block_if_queue_full=True)
        producer.send(b"{oops", properties={"trade_date": small_day.trade_date.isoformat()})
        producer.close()
    result = materialize(
        [*TRADE_EXECUTION_ASSETS, raw_quarantine],
        partition_key=small_day.trade_date.isoformat(),
        resources=resources,
    )
    assert result.success
    mat = result.asset_materializations_for_node("raw__quarantine")[0]
    assert mat.metadata["dagster/row_count"].value == 1
    assert TRADE_EXECUTED.spec.topic in mat.metadata["by_topic"].value
    assert "malformed" in mat.metadata["by_reason"].value
