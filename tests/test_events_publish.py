"""The simulator's trading events reach a real pulsar-lite broker with a valid envelope."""

import json
import os
from pathlib import Path

import pulsar

from analytics_platform.events import catalog
from analytics_platform.events.codec import encode_events
from analytics_platform.events.contracts import TRADE_EXECUTED
from analytics_platform.events.publisher import publish_frame, pulsar_client


def _read_all(client: pulsar.Client, topic: str) -> list[pulsar.Message]:
    reader = client.create_reader(topic, pulsar.MessageId.earliest)
    messages, last = [], None
    try:
        while True:
            try:
                msg = reader.read_next(1000)
            except pulsar.Timeout:
                break
            # pulsar-lite readers may redeliver: keep only ids beyond the last one seen.
            if last is None or msg.message_id() > last:
                messages.append(msg)
                last = msg.message_id()
    finally:
        reader.close()
    return messages


def test_topics_follow_the_naming_convention():
    assert TRADE_EXECUTED.spec.topic == "persistent://analytics/trade-execution/trade-executed"
    assert catalog.kebab("NewsSentimentAnalyzedEvent") == "news-sentiment-analyzed"
    assert catalog.kebab("MLInsightEvent") == "ml-insight"
    assert catalog.kebab("ExecutionCostPredictionEvent") == "execution-cost-prediction"


def test_envelope_is_deterministic(small_day):
    a = encode_events(TRADE_EXECUTED.spec, small_day.executions)
    b = encode_events(TRADE_EXECUTED.spec, small_day.executions)
    assert a.equals(b)
    first = json.loads(a["payload"][0])
    assert first["event_id"] == f"TradeExecutedEvent:{small_day.executions['exec_id'][0]}"
    assert first["event_type"] == "TradeExecutedEvent"
    assert first["schema_version"] == 1
    assert first["trade_date"] == "2026-11-20"
    assert first["event_ts"].endswith("Z") and first["ts"] == first["event_ts"]
    assert first["quantity"] == small_day.executions["quantity"][0]


def test_publish_day_to_real_broker(pulsar_broker, small_day):
    with pulsar_client(pulsar_broker.service_url) as client:
        sent = publish_frame(client, TRADE_EXECUTED.spec, small_day.executions)
        received = _read_all(client, TRADE_EXECUTED.spec.topic)
    assert sent == small_day.executions.height
    assert len(received) == sent
    ids = [json.loads(m.data())["exec_id"] for m in received]
    assert sorted(ids) == sorted(small_day.executions["exec_id"].to_list())
    props = received[0].properties()
    assert props["trade_date"] == "2026-11-20"
    assert props["event_type"] == "TradeExecutedEvent"


def _listening_ports(pid: int) -> set[tuple[str, int]]:
    """(address, port) of the TCP sockets process `pid` listens on, from /proc."""
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A = LISTEN
                addr, port = local.split(":")
                ports.add((addr, int(port, 16)))
    return ports


def test_embedded_broker_listens_on_its_loopback_port_only(pulsar_broker):
    assert pulsar_broker.service_url.startswith("pulsar://127.0.0.1:")
    ports = _listening_ports(pulsar_broker.process.pid)
    assert ports == {("0100007F", pulsar_broker.port)}  # 127.0.0.1, no metrics endpoint
