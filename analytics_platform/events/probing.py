"""What a sensor learns about a topic without decoding or acknowledging anything: how many new
messages there are per trade_date property, and the last id."""

from __future__ import annotations

from collections import Counter
from contextlib import closing
from dataclasses import dataclass

import pulsar

from analytics_platform.events.reading import read_chunks


@dataclass(frozen=True)
class Probe:
    """What a sensor needs to know about a topic's new messages, read from properties only."""

    topic: str
    messages: int
    trade_dates: dict[str, int]  # trade_date property -> message count
    last_id: pulsar.MessageId | None


def probe_topic(
    client: pulsar.Client,
    topic: str,
    after: pulsar.MessageId | None,
    max_messages: int,
    timeout_ms: int = 200,
) -> Probe:
    """Count new messages per trade_date after `after` without decoding or acknowledging."""
    with closing(read_chunks(client, topic, after, max_messages, timeout_ms)) as chunks:
        messages, ids = next(chunks, ([], []))
    dates = Counter(m.properties().get("trade_date", "") for m in messages)
    return Probe(topic, len(ids), dict(dates), ids[-1] if ids else None)
