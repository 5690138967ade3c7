"""Exactly-once landing of Pulsar events into Delta tables.

Rejected messages are upserted into raw/quarantine on (topic, message_id); valid rows are upserted
on event_id, and the batch's last message id is written in the *same Delta commit* (commit
metadata). A crash before that commit replays the batch; after it, resumes past it. Reading is in
`reading.py`, decoding in `decoding.py`, the sensors' probes in `probing.py`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl
import pulsar

from analytics_platform.events.contracts import QUARANTINE, EventContract
from analytics_platform.events.decoding import Decoded, decode_events
from analytics_platform.events.reading import (
    BrokerConnectionLost,
    MessageBatch,
    decode_offset,
    encode_offset,
    prefetch,
    read_batches,
)
from analytics_platform.lake import Lake

OFFSET_TOPIC_KEY = "ingest.topic"
OFFSET_ID_KEY = "ingest.last_message_id"


@dataclass
class IngestReport:
    topic: str
    table: str
    messages: int = 0
    inserted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    batches: int = 0
    trade_dates: set[dt.date] = field(default_factory=set)
    last_message_id: str | None = None
    delta_version: int | None = None

    @property
    def quarantine_rate(self) -> float:
        return self.quarantined / self.messages if self.messages else 0.0


def committed_offset(lake: Lake, contract: EventContract) -> pulsar.MessageId | None:
    """The last message id of the topic committed to the lake with its rows (None: start)."""
    commit = lake.latest_commit_metadata(contract.spec.table, OFFSET_TOPIC_KEY, contract.spec.topic)
    return decode_offset(commit[OFFSET_ID_KEY]) if commit else None


def conflicting_duplicates(
    lake: Lake, contract: EventContract, valid: pl.DataFrame
) -> pl.DataFrame:
    """The valid rows whose event_id is already taken, earlier in the batch or in the lake (on the
    same trading day), by a row with different content: an upstream correction or a producer bug
    that must not vanish as a "duplicate". Identical replays are not conflicts."""
    content = [c for c in contract.table.column_names if c != "message_id"]
    fingerprint = pl.struct(content).hash().alias("_content")
    batch = valid.with_columns(fingerprint)
    first = batch.unique("event_id", keep="first", maintain_order=True).select(
        "event_id", _first="_content"
    )
    stored = (
        lake.scan(contract.table, batch["trade_date"].unique().to_list())
        .filter(pl.col("event_id").is_in(batch["event_id"].unique().implode()))
        .select("event_id", fingerprint)
        .collect()
        .unique("event_id")
        .rename({"_content": "_stored"})
    )
    return (
        batch.join(first, on="event_id", how="left")
        .join(stored, on="event_id", how="left")
        .filter(
            pl.coalesce("_stored", "_first") != pl.col("_content"),
        )
        .drop("_content", "_first", "_stored")
    )


def land_batch(
    lake: Lake, contract: EventContract, batch: MessageBatch, report: IngestReport
) -> None:
    """Quarantine first (idempotent), then rows + offset in one commit."""
    received_at = dt.datetime.now(dt.UTC)
    decoded = decode_events(contract, batch.frame, batch.topic, received_at)
    conflicts = conflicting_duplicates(lake, contract, decoded.valid)
    quarantine = decoded.quarantine
    valid = decoded.valid
    if conflicts.height:
        valid = valid.join(conflicts.select("message_id"), on="message_id", how="anti")
        quarantine = pl.concat(
            [
                quarantine,
                QUARANTINE.conform(
                    conflicts.join(
                        batch.frame.select("message_id", "payload"), on="message_id"
                    ).select(
                        topic=pl.lit(batch.topic),
                        message_id="message_id",
                        payload="payload",
                        error=pl.format("conflicting duplicate of {}", "event_id"),
                        received_at=pl.lit(received_at).cast(pl.Datetime("ns", "UTC")),
                        trade_date="trade_date",
                    )
                ).collect(),
            ]
        )
    decoded = Decoded(valid=valid, quarantine=quarantine)
    if decoded.quarantine.height:
        lake.upsert(QUARANTINE, decoded.quarantine)
    result = lake.upsert(
        contract.table,
        decoded.valid,
        commit_metadata={
            OFFSET_TOPIC_KEY: batch.topic,
            OFFSET_ID_KEY: encode_offset(batch.last_id),
        },
    )
    report.messages += len(batch)
    report.batches += 1
    report.inserted += result.inserted
    report.duplicates += result.already_present + (
        decoded.valid.height - decoded.valid["event_id"].n_unique()
    )
    report.quarantined += decoded.quarantine.height
    report.trade_dates |= set(decoded.valid["trade_date"].unique().to_list())
    report.trade_dates |= set(decoded.quarantine["trade_date"].unique().to_list())
    report.last_message_id = encode_offset(batch.last_id)
    report.delta_version = result.version


def ingest_topic(
    client: pulsar.Client,
    lake: Lake,
    contract: EventContract,
    batch_size: int = 50_000,
    timeout_ms: int = 200,
) -> IngestReport:
    """Land every message published after the committed offset. Safe to re-run at any point."""
    report = IngestReport(contract.spec.topic, contract.spec.table)
    after = committed_offset(lake, contract)
    batches = read_batches(client, contract.spec.topic, after, batch_size, timeout_ms)
    # Reading (broker-bound) overlaps with decoding and landing (CPU-bound): both release the
    # GIL. Batches are still landed one by one, in order, so the offset protocol is unchanged.
    try:
        for batch in prefetch(batches, depth=2):
            land_batch(lake, contract, batch, report)
    except BrokerConnectionLost as lost:
        lost.report = report  # what was landed before the broker went away
        raise
    return report
