"""Reading Pulsar topics: a *reader* (no subscription, nothing to acknowledge) resumes strictly
after a given message id and drops any id not greater than the last one seen (pulsar-lite readers
can redeliver); messages come as batch frames, optionally read ahead in a background thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass

import polars as pl
import pulsar


class BrokerConnectionLost(ConnectionError):
    """The broker went away while a topic was read: what was read before is landed and
    committed (the next run resumes after it), but the topic was not read to its end."""


@dataclass(frozen=True)
class MessageBatch:
    """Messages read from one topic, in broker order."""

    topic: str
    last_id: pulsar.MessageId
    frame: pl.DataFrame  # message_id, payload, raw_payload, trade_date_property

    def __len__(self) -> int:
        return self.frame.height


def encode_offset(msg_id: pulsar.MessageId) -> str:
    """A message id as text: the hex of its serialized form (what `message_id` columns hold)."""
    return msg_id.serialize().hex()


def decode_offset(text: str) -> pulsar.MessageId:
    return pulsar.MessageId.deserialize(bytes.fromhex(text))


def _more_available(reader: pulsar.Reader) -> bool:
    """Whether the broker holds messages after the reader's position (False where it cannot
    say, e.g. on a topic nothing was ever published to)."""
    try:
        return reader.has_message_available()
    except pulsar.PulsarException:
        return False


def read_chunks(
    client: pulsar.Client,
    topic: str,
    after: pulsar.MessageId | None,
    chunk_size: int,
    timeout_ms: int = 200,
) -> Iterator[tuple[list[pulsar.Message], list[pulsar.MessageId]]]:
    """Messages strictly after `after` (with their ids), in chunks of at most `chunk_size`, until
    none arrives in time and the broker has no more. The one per-message loop of the platform, so
    it is kept tight."""
    reader = client.create_reader(
        topic,
        after if after is not None else pulsar.MessageId.earliest,
        start_message_id_inclusive=False,
        receiver_queue_size=10_000,
    )
    read_next = reader.read_next
    last = after
    messages: list[pulsar.Message] = []
    ids: list[pulsar.MessageId] = []
    read = 0
    try:
        while True:
            try:
                msg = read_next(timeout_ms)
            except pulsar.Timeout:
                # Nothing in time: caught up, unless the broker is gone (a client reconnecting
                # also times out), which must not pass for the end of the topic, or is slow to
                # deliver (a loaded machine): the broker says whether more is there.
                connected = reader.is_connected()
                if connected and _more_available(reader):
                    continue
                break
            msg_id = msg.message_id()
            if last is not None and not msg_id > last:
                continue  # redelivered copy
            last = msg_id
            read += 1
            messages.append(msg)
            ids.append(msg_id)
            if len(ids) >= chunk_size:
                yield messages, ids
                messages, ids = [], []
    finally:
        reader.close()
    if ids:
        yield messages, ids
    if not connected:
        raise BrokerConnectionLost(
            f"lost the Pulsar broker while reading {topic} after {read} messages; they are"
            " landed and committed, and the next run resumes after them"
        )


def _payload_text(payloads: pl.Series) -> pl.Series:
    """Payload bytes as text; null where a payload is not UTF-8 (checked per row only then)."""
    try:
        return payloads.cast(pl.String)
    except pl.exceptions.ComputeError:
        return pl.Series([_utf8(p) for p in payloads.to_list()], dtype=pl.String)


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def message_frame(
    message_ids: list[bytes], payloads: list[bytes], trade_dates: list[str | None]
) -> pl.DataFrame:
    """The batch frame `decode_events` takes: serialized ids as hex, payload text (null if not
    UTF-8) and the raw bytes, the trade_date property."""
    raw = pl.Series(payloads, dtype=pl.Binary)
    return pl.DataFrame(
        {
            "message_id": pl.Series(message_ids, dtype=pl.Binary).bin.encode("hex"),
            "payload": _payload_text(raw),
            "raw_payload": raw,
            "trade_date_property": pl.Series(trade_dates, dtype=pl.String),
        }
    )


def read_batches(
    client: pulsar.Client,
    topic: str,
    after: pulsar.MessageId | None,
    batch_size: int,
    timeout_ms: int = 200,
) -> Iterator[MessageBatch]:
    """The messages after `after` as batch frames of at most `batch_size` rows."""
    for messages, ids in read_chunks(client, topic, after, batch_size, timeout_ms):
        frame = message_frame(
            [i.serialize() for i in ids],
            [m.data() for m in messages],
            [m.properties().get("trade_date") for m in messages],
        )
        yield MessageBatch(topic, ids[-1], frame)


def prefetch(items: Generator[MessageBatch], depth: int) -> Iterator[MessageBatch]:
    """Iterate `items` in a background thread, at most `depth` ahead of the consumer."""
    buffer: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(("done", None))
        except BaseException as exc:  # handed to the consumer, raised there
            buffer.put(("error", exc))
        finally:
            items.close()  # closes the Pulsar reader in this thread

    worker = threading.Thread(target=produce, name="pulsar-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = buffer.get()
            if kind == "done":
                return
            if kind == "error":
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=10)


def later(a: pulsar.MessageId | None, b: pulsar.MessageId | None) -> pulsar.MessageId | None:
    """The later of two positions (None = the start of the topic)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if a > b else b
