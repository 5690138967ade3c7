"""Publish event frames to Pulsar (batched async sends, blocking when the queue is full)."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager

import polars as pl
import pulsar

from analytics_platform.events.catalog import EventSpec
from analytics_platform.events.codec import encode_events


def quiet_client(service_url: str) -> pulsar.Client:
    """A Pulsar client that logs warnings only (the C++ client is chatty at INFO)."""
    return pulsar.Client(
        service_url,
        logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Warn),
        operation_timeout_seconds=30,
    )


@contextmanager
def pulsar_client(service_url: str):
    client = quiet_client(service_url)
    try:
        yield client
    finally:
        client.close()


def publish_frame(client: pulsar.Client, spec: EventSpec, frame: pl.DataFrame) -> int:
    """Publish one event per row of `frame`, in `spec.ts_column` order. Returns the count."""
    encoded = encode_events(spec, frame.sort(spec.ts_column))
    producer = client.create_producer(
        spec.topic,
        block_if_queue_full=True,  # pulsar-lite drops messages silently otherwise
        batching_enabled=True,
        batching_max_messages=1000,
        batching_max_publish_delay_ms=5,
    )
    errors: list[str] = []

    def on_sent(result: pulsar.Result, _msg_id: pulsar.MessageId) -> None:
        if result != pulsar.Result.Ok:
            errors.append(str(result))

    try:
        for trade_date, payload in zip(
            encoded["trade_date"].to_list(), encoded["payload"].to_list(), strict=True
        ):
            producer.send_async(
                payload.encode(),
                on_sent,
                properties={
                    "trade_date": trade_date,
                    "event_type": spec.event_type,
                    "schema_version": str(spec.schema_version),
                },
            )
        producer.flush()
    finally:
        producer.close()
    if errors:
        raise RuntimeError(f"{len(errors)} sends to {spec.topic} failed: {errors[:3]}")
    return encoded.height


def publish_all(
    client: pulsar.Client, frames: Iterable[tuple[EventSpec, pl.DataFrame]]
) -> dict[str, int]:
    return {spec.topic: publish_frame(client, spec, frame) for spec, frame in frames}
