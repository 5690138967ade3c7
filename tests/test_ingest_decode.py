"""Every rejection reason, decided in one vectorised pass; the batch's valid messages still land."""

import datetime as dt
import json

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_platform.events.codec import encode_events
from analytics_platform.events.contracts import (
    PARENT_ORDER_SUBMITTED,
    QUARANTINE,
    TRADE_EXECUTED,
    TRADING_DECISION,
)
from analytics_platform.events.decoding import decode_events
from analytics_platform.events.reading import message_frame

TOPIC = TRADE_EXECUTED.spec.topic
NOW = dt.datetime(2026, 11, 20, 22, 0, tzinfo=dt.UTC)


def _good(small_day, n=3) -> list[str]:
    frame = small_day.executions.head(n)
    return encode_events(TRADE_EXECUTED.spec, frame)["payload"].to_list()


def _batch(payloads: list[bytes | str], dates: list[str | None] | None = None) -> pl.DataFrame:
    raw = [p.encode() if isinstance(p, str) else p for p in payloads]
    ids = [f"id-{i}".encode() for i in range(len(raw))]
    return message_frame(ids, raw, dates or ["2026-11-20"] * len(raw))


def _mutate(payload: str, **changes) -> str:
    doc = json.loads(payload)
    for key, value in changes.items():
        if value is ...:
            doc.pop(key)
        else:
            doc[key] = value
    return json.dumps(doc)


def test_valid_batch_decodes_to_the_contract(small_day):
    decoded = decode_events(TRADE_EXECUTED, _batch(_good(small_day, 5)), TOPIC, NOW)
    assert decoded.quarantine.is_empty()
    assert decoded.valid.schema == TRADE_EXECUTED.table.polars_schema
    expected = small_day.executions.head(5)
    for column in TRADE_EXECUTED.payload_names:
        assert decoded.valid[column].to_list() == expected[column].to_list(), column
    assert decoded.valid["event_id"][0] == f"TradeExecutedEvent:{expected['exec_id'][0]}"


@pytest.mark.parametrize(
    ("make_bad", "reason"),
    [
        (lambda g: "{not json", "malformed JSON"),
        (lambda g: '["an", "array"]', "payload is not a JSON object (got an array)"),
        (lambda g: b"\xff\xfe\x00bytes", "not valid UTF-8"),
        (
            lambda g: _mutate(g, event_type="OrderTeleportedEvent"),
            "unknown event_type 'OrderTeleportedEvent'",
        ),
        (lambda g: _mutate(g, event_type="TradingDecisionEvent"), "does not belong on this topic"),
        (lambda g: _mutate(g, schema_version=7), "unsupported schema_version 7"),
        (lambda g: _mutate(g, price=...), "missing field 'price'"),
        (
            lambda g: _mutate(g, quantity="ten"),
            "'quantity': expected Int64 (an integer), got \"ten\"",
        ),
        (lambda g: _mutate(g, quantity=10.5), "'quantity': expected Int64 (an integer), got 10.5"),
        (
            lambda g: _mutate(g, quantity=100.0),
            "'quantity': expected Int64 (an integer), got 100.0",
        ),
        (
            lambda g: _mutate(g, quantity="100"),
            "'quantity': expected Int64 (an integer), got \"100\"",
        ),
        (
            lambda g: _mutate(g, price="123.5"),
            "'price': expected Float64 (a number), got \"123.5\"",
        ),
        (lambda g: _mutate(g, quantity=True), "'quantity': expected Int64 (an integer), got true"),
        (
            lambda g: g.replace('"quantity":', '"quantity": -5, "quantity":'),
            "duplicate key 'quantity'",
        ),
        (lambda g: g[: len(g) // 2], "malformed JSON: truncated"),
        (lambda g: g.replace('"price":', '"price": NaN, "p":'), "non-finite number"),
        (lambda g: g.replace('"price":', '"price": 1e400, "p":'), "number out of range"),
        (lambda g: "{" + '"a":{' * 5000 + "}" * 5001, "nesting too deep (5001 levels"),
        (lambda g: g[:-1] + ', "pad": "' + "x" * (1 << 20) + '"}', "payload too large"),
        (lambda g: _mutate(g, ts="yesterday"), "field 'ts': expected Datetime"),
        (lambda g: _mutate(g, price={"amount": 1}), "field 'price': expected Float64"),
        (lambda g: _mutate(g, schema_version="1"), "'schema_version': expected Int64"),
        (lambda g: _mutate(g, venue={"mic": "XNAS"}), "field 'venue': expected String, got a JSON"),
        (lambda g: _mutate(g, symbol=["A", "B"]), "field 'symbol': expected String, got a JSON"),
        (lambda g: _mutate(g, side="HOLD"), "field 'side' failed isin"),
        (lambda g: _mutate(g, price=-3.5), "field 'price' failed greater_than(0)"),
        (lambda g: _mutate(g, trade_date="2026-11-19"), "trade_date property 2026-11-20 differs"),
    ],
)
def test_each_rejection_reason_is_quarantined_and_the_rest_land(small_day, make_bad, reason):
    good = _good(small_day, 3)
    batch = _batch([good[0], make_bad(good[1]), good[2]])
    decoded = decode_events(TRADE_EXECUTED, batch, TOPIC, NOW)
    assert decoded.valid["exec_id"].to_list() == [
        small_day.executions["exec_id"][0],
        small_day.executions["exec_id"][2],
    ]
    assert decoded.quarantine.height == 1
    row = decoded.quarantine.row(0, named=True)
    assert reason in row["error"]
    assert row["message_id"] == b"id-1".hex() and row["topic"] == TOPIC
    assert row["trade_date"] == dt.date(2026, 11, 20)
    assert decoded.quarantine.schema == QUARANTINE.polars_schema


def test_text_that_looks_like_json_is_still_text(small_day):
    good = _good(small_day, 2)
    brace = _mutate(good[1], venue='{"mic": "XNAS"}')  # a string value, not an object
    decoded = decode_events(TRADE_EXECUTED, _batch([good[0], brace]), TOPIC, NOW)
    assert decoded.quarantine.is_empty()
    assert decoded.valid["venue"][1] == '{"mic": "XNAS"}'


def test_multi_line_payloads_decode_like_single_line_ones(small_day):
    good = _good(small_day, 3)
    pretty = [json.dumps(json.loads(p), indent=2) for p in good]
    decoded = decode_events(TRADE_EXECUTED, _batch([good[0], *pretty[1:]]), TOPIC, NOW)
    expected = decode_events(TRADE_EXECUTED, _batch(good), TOPIC, NOW)
    assert decoded.quarantine.is_empty()
    assert decoded.valid.equals(expected.valid)


def test_quarantine_keeps_the_payload_exactly(small_day):
    binary = b"\xff\xfe\x00bytes"
    text = "{broken"
    decoded = decode_events(TRADE_EXECUTED, _batch([binary, text]), TOPIC, NOW)
    assert decoded.quarantine["payload"].to_list() == ["hex:" + binary.hex(), text]


def test_missing_trade_date_property_falls_back_to_the_receiving_day(small_day):
    decoded = decode_events(TRADE_EXECUTED, _batch(["nope"], [None]), TOPIC, NOW)
    assert decoded.quarantine["trade_date"].to_list() == [dt.date(2026, 11, 20)]


def test_nullable_fields_may_be_absent(small_day):
    frame = small_day.orders.filter(pl.col("order_type") == "MARKET").head(2)
    payloads = encode_events(PARENT_ORDER_SUBMITTED.spec, frame)["payload"].to_list()
    payloads = [_mutate(p, limit_px=...) for p in payloads]
    decoded = decode_events(PARENT_ORDER_SUBMITTED, _batch(payloads), "t", NOW)
    assert decoded.valid.height == 2 and decoded.valid["limit_px"].is_null().all()


def test_wrong_contract_for_the_topic_is_rejected_not_coerced(small_day):
    payloads = encode_events(TRADING_DECISION.spec, small_day.decisions.head(2))[
        "payload"
    ].to_list()
    decoded = decode_events(TRADE_EXECUTED, _batch(payloads), TOPIC, NOW)
    assert decoded.valid.is_empty() and decoded.quarantine.height == 2


# ---------------------------------------------------------------- one verdict per message

MUTATIONS = [
    lambda g: g,
    lambda g: g,
    lambda g: g,
    lambda g: _mutate(g, quantity=100.0),
    lambda g: _mutate(g, quantity="100"),
    lambda g: _mutate(g, price="123.5"),
    lambda g: _mutate(g, schema_version="1"),
    lambda g: _mutate(g, venue={"mic": "XNYS"}),
    lambda g: g.replace('"quantity":', '"quantity": -5, "quantity":'),
    lambda g: g[: len(g) // 2],
    lambda g: g.replace('"price":', '"price": NaN, "p":'),
    lambda g: g.replace('"price":', '"price": 1e400, "p":'),
    lambda g: "{" + '"a":{' * 200 + "}" * 201,
    lambda g: '["an", "array"]',
    lambda g: _mutate(g, side="HOLD"),
    lambda g: _mutate(g, price=-1.0),
    lambda g: _mutate(g, ts="yesterday"),
    lambda g: _mutate(g, event_type="TradingDecisionEvent"),
    lambda g: _mutate(g, quantity=2**70),
    lambda g: _mutate(g, note={"quantity": 1}),  # a contract key inside a nested object
    lambda g: json.dumps(json.loads(g), indent=2),  # multi-line, still valid
    lambda g: b"\xff\xfe",
]


def _verdicts(payloads: list, batch_sizes: list[int]) -> dict[str, object]:
    """message id -> its landed row (as a tuple) or its quarantine reason, decoding the payloads
    in consecutive batches of the given sizes."""
    frame = _batch(payloads)
    out, start, sizes = {}, 0, iter(batch_sizes)
    while start < frame.height:
        size = next(sizes, frame.height)
        decoded = decode_events(TRADE_EXECUTED, frame.slice(start, size), TOPIC, NOW)
        for row in decoded.valid.iter_rows(named=True):
            out[row["message_id"]] = tuple(row.values())
        for row in decoded.quarantine.iter_rows(named=True):
            out[row["message_id"]] = row["error"]
        start += size
    return out


@settings(max_examples=25, deadline=None)
@given(
    kinds=st.lists(st.integers(0, len(MUTATIONS) - 1), min_size=1, max_size=30),
    batch_sizes=st.lists(st.integers(1, 12), max_size=10),
)
def test_a_message_gets_the_same_verdict_in_any_batch(small_day, kinds, batch_sizes):
    good = _good(small_day, len(kinds))
    payloads = [MUTATIONS[k](g) for k, g in zip(kinds, good, strict=True)]
    together = _verdicts(payloads, batch_sizes)
    alone = _verdicts(payloads, [1] * len(payloads))
    assert together == alone
    assert len(together) == len(payloads)  # every message has exactly one verdict
