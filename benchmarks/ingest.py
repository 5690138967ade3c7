"""Pulsar -> Delta ingestion throughput (events/s) from a pulsar-lite backlog.

Peer, measured in the same run on the same backlog: the broker read alone (a reader draining the
topic, no decoding, no Delta). The ratio is the cost of decoding, validating and landing exactly
once on top of just reading.
"""

import datetime as dt
import tempfile
import time
from pathlib import Path

import polars as pl
import pulsar

from analytics_platform.events.broker import EmbeddedPulsar
from analytics_platform.events.contracts import TRADE_EXECUTED
from analytics_platform.events.landing import ingest_topic
from analytics_platform.events.publisher import publish_frame, pulsar_client
from analytics_platform.lake import Lake
from analytics_platform.marketdata.simulator import SimulationConfig, simulate_day
from benchmarks.common import peak_rss_mb, print_table, write_results

BACKLOG = 200_000


def _fills(n: int) -> pl.DataFrame:
    cfg = SimulationConfig(n_symbols=100, n_quotes=2_000_000, n_orders=n // 10 + 2_000)
    return simulate_day(dt.date(2026, 11, 20), cfg).executions.head(n)


def _drain(client: pulsar.Client, topic: str) -> int:
    """The peer: a bare reader draining the topic (payloads fetched, nothing decoded or landed).
    Returns the messages served, redelivered copies included."""
    reader = client.create_reader(topic, pulsar.MessageId.earliest, receiver_queue_size=10_000)
    count = 0
    try:
        while True:
            reader.read_next(200).data()
            count += 1
    except pulsar.Timeout:
        return count
    finally:
        reader.close()


def run() -> list[dict]:
    fills = _fills(BACKLOG)
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedPulsar(Path(tmp, "pulsar")) as broker,
        pulsar_client(broker.service_url) as client,
    ):
        started = time.perf_counter()
        publish_frame(client, TRADE_EXECUTED.spec, fills)
        publish_s = time.perf_counter() - started

        started = time.perf_counter()
        read = _drain(client, TRADE_EXECUTED.spec.topic)
        read_s = time.perf_counter() - started

        lake = Lake(str(Path(tmp, "lake")))
        started = time.perf_counter()
        report = ingest_topic(client, lake, TRADE_EXECUTED)
        ingest_s = time.perf_counter() - started
    # The bare reader also counts the copies pulsar-lite redelivers; ingestion drops them.
    assert read >= report.messages == report.inserted == fills.height
    rows = [
        {
            "events": fills.height,
            "publish_per_s": int(fills.height / publish_s),
            "broker_read_per_s": int(fills.height / read_s),
            "ingest_to_delta_per_s": int(fills.height / ingest_s),
            "ratio_vs_read": ingest_s / read_s,
            "peak_rss_mb": int(peak_rss_mb()),
        }
    ]
    print_table("Pulsar ingestion (TradeExecutedEvent backlog -> Delta, exactly once)", rows)
    print(f"results: {write_results('ingest', rows)}")
    return rows
