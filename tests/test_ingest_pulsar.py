"""Exactly-once ingestion against a real pulsar-lite broker, including crashes and restarts."""

import datetime as dt
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_platform.events import landing, reading
from analytics_platform.events.broker import EmbeddedPulsar
from analytics_platform.events.codec import encode_events
from analytics_platform.events.contracts import QUARANTINE, TRADE_EXECUTED
from analytics_platform.events.decoding import decode_events
from analytics_platform.events.landing import committed_offset, ingest_topic
from analytics_platform.events.publisher import publish_frame, pulsar_client
from analytics_platform.lake import Lake
from analytics_platform.marketdata.simulator import simulate_day
from tests.conftest import SMALL

ROOT = Path(__file__).parents[1]


@pytest.fixture
def broker(tmp_path):
    """A broker of the test's own: topics start empty."""
    with EmbeddedPulsar(tmp_path / "pulsar") as b:
        yield b


def _landed(lake: Lake) -> pl.DataFrame:
    return lake.scan(TRADE_EXECUTED.table).collect()


def _assert_exactly(lake: Lake, executions: pl.DataFrame) -> None:
    landed = _landed(lake)
    assert landed.height == executions.height
    assert landed["exec_id"].n_unique() == landed.height
    assert set(landed["exec_id"]) == set(executions["exec_id"])
    merged = landed.join(executions, on="exec_id", suffix="_sent")
    for column in ("quantity", "price", "fee", "venue", "ts"):
        assert (merged[column] == merged[f"{column}_sent"]).all(), column


def test_lands_exactly_the_published_events_and_resumes(broker, tmp_path, small_day):
    lake = Lake(str(tmp_path / "lake"))
    fills = small_day.executions
    with pulsar_client(broker.service_url) as client:
        publish_frame(client, TRADE_EXECUTED.spec, fills.head(200))
        first = ingest_topic(client, lake, TRADE_EXECUTED, batch_size=64)
        assert (first.messages, first.inserted, first.batches) == (200, 200, 4)
        publish_frame(client, TRADE_EXECUTED.spec, fills.slice(200))
        second = ingest_topic(client, lake, TRADE_EXECUTED)
        assert second.messages == fills.height - 200  # resumed after the committed offset
        assert ingest_topic(client, lake, TRADE_EXECUTED).messages == 0
    _assert_exactly(lake, fills)


def test_republished_events_are_dropped_as_duplicates(broker, tmp_path, small_day):
    lake = Lake(str(tmp_path / "lake"))
    fills = small_day.executions
    with pulsar_client(broker.service_url) as client:
        publish_frame(client, TRADE_EXECUTED.spec, fills)
        ingest_topic(client, lake, TRADE_EXECUTED)
        publish_frame(client, TRADE_EXECUTED.spec, fills.head(50))  # an upstream replay
        report = ingest_topic(client, lake, TRADE_EXECUTED)
    assert (report.messages, report.inserted, report.duplicates) == (50, 0, 50)
    _assert_exactly(lake, fills)


def test_same_range_ingested_twice_from_scratch_lands_once(broker, tmp_path, small_day):
    lake = Lake(str(tmp_path / "lake"))
    with pulsar_client(broker.service_url) as client:
        publish_frame(client, TRADE_EXECUTED.spec, small_day.executions)
        ingest_topic(client, lake, TRADE_EXECUTED)
        # Lose the offset's effect: re-read the whole topic into the same table.
        batches = list(reading.read_batches(client, TRADE_EXECUTED.spec.topic, None, 10_000))
        report = landing.IngestReport(TRADE_EXECUTED.spec.topic, TRADE_EXECUTED.spec.table)
        for batch in batches:
            landing.land_batch(lake, TRADE_EXECUTED, batch, report)
    assert report.inserted == 0 and report.duplicates == small_day.executions.height
    _assert_exactly(lake, small_day.executions)


def test_bad_messages_are_quarantined_once_and_valid_ones_land(broker, tmp_path, small_day):
    lake = Lake(str(tmp_path / "lake"))
    fills = small_day.executions.head(30)
    with pulsar_client(broker.service_url) as client:
        publish_frame(client, TRADE_EXECUTED.spec, fills.head(10))
        producer = client.create_producer(TRADE_EXECUTED.spec.topic)
        producer.send(b"{oops", properties={"trade_date": "2026-11-20"})
        producer.send(b'{"event_type": "MysteryEvent"}', properties={"trade_date": "2026-11-20"})
        producer.close()
        publish_frame(client, TRADE_EXECUTED.spec, fills.slice(10))
        report = ingest_topic(client, lake, TRADE_EXECUTED)
        assert (report.messages, report.inserted, report.quarantined) == (32, 30, 2)
        again = ingest_topic(client, lake, TRADE_EXECUTED)
        assert again.messages == 0
    quarantine = lake.scan(QUARANTINE).collect().sort("message_id")
    assert quarantine.height == 2
    assert quarantine["error"].str.contains("malformed JSON").any()
    assert quarantine["error"].str.contains("unknown event_type 'MysteryEvent'").any()
    assert set(quarantine["payload"]) == {"{oops", '{"event_type": "MysteryEvent"}'}
    _assert_exactly(lake, fills)


def test_offset_lives_in_the_same_commit_as_the_rows(broker, tmp_path, small_day):
    lake = Lake(str(tmp_path / "lake"))
    with pulsar_client(broker.service_url) as client:
        publish_frame(client, TRADE_EXECUTED.spec, small_day.executions.head(20))
        report = ingest_topic(client, lake, TRADE_EXECUTED)
    newest = lake.history(TRADE_EXECUTED.spec.table, 1)[0]
    assert newest["ingest.topic"] == TRADE_EXECUTED.spec.topic
    assert newest["operation"] == "WRITE" and newest["version"] == report.delta_version
    assert committed_offset(lake, TRADE_EXECUTED) is not None


@pytest.mark.parametrize("when", ["before", "after"])
def test_ingesting_process_killed_mid_run_loses_and_duplicates_nothing(
    broker, tmp_path, small_day, when
):
    lake_root = str(tmp_path / "lake")
    fills = small_day.executions
    with pulsar_client(broker.service_url) as client:
        publish_frame(client, TRADE_EXECUTED.spec, fills)
    crashed = subprocess.run(
        [sys.executable, "tests/crash_ingest.py", broker.service_url, lake_root, when, "2", "100"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert crashed.returncode == -9, crashed.stderr  # really killed
    partial = _landed(Lake(lake_root)).height
    assert partial == (100 if when == "before" else 200)
    with pulsar_client(broker.service_url) as client:
        report = ingest_topic(client, Lake(lake_root), TRADE_EXECUTED)
    assert report.messages == fills.height - partial
    _assert_exactly(Lake(lake_root), fills)


def test_broker_killed_with_sigkill_and_restarted(tmp_path, small_day):
    lake = Lake(str(tmp_path / "lake"))
    fills = small_day.executions
    data_dir = tmp_path / "pulsar"
    broker = EmbeddedPulsar(data_dir).start()
    try:
        with pulsar_client(broker.service_url) as client:
            publish_frame(client, TRADE_EXECUTED.spec, fills.head(300))
            ingest_topic(client, lake, TRADE_EXECUTED, batch_size=100)
            publish_frame(client, TRADE_EXECUTED.spec, fills.slice(300, 100))  # not yet ingested
        broker.stop(kill=True)
        broker = EmbeddedPulsar(data_dir).start()  # same storage, new port
        with pulsar_client(broker.service_url) as client:
            publish_frame(client, TRADE_EXECUTED.spec, fills.slice(400))
            report = ingest_topic(client, lake, TRADE_EXECUTED)
        assert report.messages == fills.height - 300
    finally:
        broker.stop()
    _assert_exactly(lake, fills)


def test_events_of_several_days_land_in_their_partitions(broker, tmp_path, small_day):
    other = simulate_day(dt.date(2026, 11, 19), SMALL).executions
    lake = Lake(str(tmp_path / "lake"))
    with pulsar_client(broker.service_url) as client:
        publish_frame(client, TRADE_EXECUTED.spec, other)
        publish_frame(client, TRADE_EXECUTED.spec, small_day.executions)
        report = ingest_topic(client, lake, TRADE_EXECUTED)
    assert report.trade_dates == {dt.date(2026, 11, 19), dt.date(2026, 11, 20)}
    per_day = lake.scan(TRADE_EXECUTED.table, [dt.date(2026, 11, 19)]).collect()
    assert per_day.height == other.height


def test_a_changed_duplicate_is_quarantined_and_an_identical_replay_is_a_duplicate(
    broker, tmp_path, small_day
):
    lake = Lake(str(tmp_path / "lake"))
    fills = small_day.executions.head(20)
    changed = fills.head(2).with_columns(quantity=pl.col("quantity") + 1, price=pl.col("price") * 2)
    with pulsar_client(broker.service_url) as client:
        publish_frame(client, TRADE_EXECUTED.spec, fills)
        ingest_topic(client, lake, TRADE_EXECUTED)
        # A correction of two fills, an identical replay of a third, and a fourth fill that is
        # new but changed within the same batch.
        publish_frame(client, TRADE_EXECUTED.spec, changed)
        publish_frame(client, TRADE_EXECUTED.spec, fills.slice(2, 1))
        new = small_day.executions.slice(20, 1)
        publish_frame(client, TRADE_EXECUTED.spec, new)
        publish_frame(
            client, TRADE_EXECUTED.spec, new.with_columns(quantity=pl.col("quantity") + 5)
        )
        report = ingest_topic(client, lake, TRADE_EXECUTED, batch_size=3)
    assert (report.inserted, report.duplicates, report.quarantined) == (1, 1, 3)
    _assert_exactly(lake, pl.concat([fills, new]))  # the originals stay as first landed
    quarantined = lake.scan(QUARANTINE).collect().sort("error")
    expected = sorted(
        f"conflicting duplicate of TradeExecutedEvent:{e}"
        for e in [*changed["exec_id"], *new["exec_id"]]
    )
    assert quarantined["error"].to_list() == expected
    # Both payloads are findable: the original in the raw table, the change in quarantine.
    assert all('"quantity":' in p for p in quarantined["payload"])
    landed_ids = set(_landed(lake)["message_id"])
    assert not landed_ids & set(quarantined["message_id"])


def test_a_broker_lost_mid_read_fails_the_ingestion_after_landing_what_was_read(
    tmp_path, small_day
):
    lake = Lake(str(tmp_path / "lake"))
    fills = small_day.executions
    broker = EmbeddedPulsar(tmp_path / "pulsar").start()
    try:
        with pulsar_client(broker.service_url) as client:
            publish_frame(client, TRADE_EXECUTED.spec, fills)
            batches = reading.read_batches(client, TRADE_EXECUTED.spec.topic, None, 100)
            report = landing.IngestReport(TRADE_EXECUTED.spec.topic, TRADE_EXECUTED.spec.table)
            landing.land_batch(lake, TRADE_EXECUTED, next(batches), report)
            broker.stop(kill=True)
            with pytest.raises(reading.BrokerConnectionLost, match="lost the Pulsar broker"):
                for batch in batches:
                    landing.land_batch(lake, TRADE_EXECUTED, batch, report)
    finally:
        broker.stop()
    landed = _landed(lake)
    assert landed.height == report.inserted >= 100  # what was read before is committed
    assert committed_offset(lake, TRADE_EXECUTED) is not None


MIXED = [
    lambda p: p,
    lambda p: p.replace('"quantity":', '"quantity": 100.0, "q":'),  # an integer as 100.0
    lambda p: p.replace('"venue":', '"venue": {"mic": "XNYS"}, "v":'),
    lambda p: p.replace('"quantity":', '"quantity": -5, "quantity":'),
    lambda p: p[: len(p) // 2],
    lambda p: p.replace('"price":', '"price": "123.5", "p":'),
]


class _Crash(Exception):
    pass


@settings(max_examples=4, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(range(len(MIXED))), min_size=20, max_size=60),
    first_batch=st.integers(3, 40),
    crash_at=st.integers(1, 3),
    second_batch=st.integers(3, 40),
)
def test_no_message_lands_in_both_tables_whatever_the_crash_and_batches(  # noqa: PLR0917
    tmp_path_factory, small_day, kinds, first_batch, crash_at, second_batch
):
    """Ingest a mix of valid and bad messages, crash right after a quarantine commit and before
    its rows commit, ingest again with another batch size: every message id is in exactly one
    table (or a counted duplicate) and has the verdict it gets when decoded alone."""
    root = tmp_path_factory.mktemp("crash")
    lake = Lake(str(root / "lake"))
    good = encode_events(TRADE_EXECUTED.spec, small_day.executions.head(len(kinds)))
    payloads = [MIXED[k](p).encode() for k, p in zip(kinds, good["payload"], strict=True)]
    with EmbeddedPulsar(root / "pulsar") as broker, pulsar_client(broker.service_url) as client:
        producer = client.create_producer(TRADE_EXECUTED.spec.topic, block_if_queue_full=True)
        for payload in payloads:
            producer.send(payload, properties={"trade_date": "2026-11-20"})
        producer.close()
        calls = {"raw": 0}
        crash_at = min(crash_at, -(-len(payloads) // first_batch))  # a batch that exists
        real_upsert = Lake.upsert

        def crashing_upsert(self, contract, frame, commit_metadata=None):
            if contract.table == TRADE_EXECUTED.spec.table:
                calls["raw"] += 1
                if calls["raw"] == crash_at:
                    raise _Crash  # after this batch's quarantine commit, before its rows
            return real_upsert(self, contract, frame, commit_metadata)

        Lake.upsert = crashing_upsert
        try:
            with pytest.raises(_Crash):
                ingest_topic(client, lake, TRADE_EXECUTED, batch_size=first_batch)
        finally:
            Lake.upsert = real_upsert
        ingest_topic(client, lake, TRADE_EXECUTED, batch_size=second_batch)
    landed = set(_landed(lake)["message_id"])
    quarantined = set(lake.scan(QUARANTINE).collect()["message_id"])
    assert not landed & quarantined
    assert len(landed) + len(quarantined) == len(payloads)  # one verdict per message
    alone = [
        decode_events(
            TRADE_EXECUTED,
            reading.message_frame([b"id"], [p], ["2026-11-20"]),
            TRADE_EXECUTED.spec.topic,
            dt.datetime.now(dt.UTC),
        ).quarantine.height
        for p in payloads
    ]
    assert len(quarantined) == sum(alone)
