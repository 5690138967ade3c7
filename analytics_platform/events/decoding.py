"""Decoding a batch of messages against its event contract: one vectorised pass per batch (the
batch read as one NDJSON document into the contract's types; text fields and per-row checks only
for a batch holding a bad message). Every rejection gets a reason: malformed JSON, unknown event
type, wrong topic, unsupported schema version, missing field, wrong type, failed value check."""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import polars as pl

from analytics_platform.calendar import EXCHANGE_TZ
from analytics_platform.contracts import ColumnSpec, schema_errors
from analytics_platform.events.codec import ISO_TS
from analytics_platform.events.contracts import BY_EVENT_TYPE, QUARANTINE, EventContract


@dataclass(frozen=True)
class Decoded:
    valid: pl.DataFrame  # conforms to contract.table
    quarantine: pl.DataFrame  # conforms to QUARANTINE


_REJECT_COLUMNS = ("_row", "message_id", "payload", "raw_payload", "trade_date_property", "error")


def _parse(name: str, dtype: pl.DataType, decoded: pl.DataType) -> pl.Expr:
    """The field in its contract type (null where it does not parse)."""
    raw = pl.col(name)
    if decoded == dtype:
        return raw
    if isinstance(dtype, pl.Datetime):
        return raw.str.to_datetime(ISO_TS, time_unit="ns", time_zone="UTC", strict=False)
    if dtype == pl.Date:
        return raw.str.to_date("%Y-%m-%d", strict=False)
    if dtype == pl.Boolean:
        return pl.when(raw == "true").then(True).when(raw == "false").then(False)
    return raw.cast(dtype, strict=False)


# Limits on what a payload may be: beyond them it is quarantined, with the limit in the reason.
MAX_PAYLOAD_BYTES = 1 << 20
MAX_DEPTH = 64
_STRING = r'"(?:[^"\\]|\\.)*"'
_INTEGER = r"^-?(?:0|[1-9][0-9]*)$"
_NUMBER = r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$"
_NON_FINITE = r"(?:^|[\s:,\[])-?(?:NaN|Infinity)(?:[\s,\]}]|$)"
# An exponent beyond double range (about 1e308): syntactically JSON, but no f64 holds it.
_HUGE_EXPONENT = r"[0-9][eE]\+?0*(?:309|3[1-9][0-9]|[4-9][0-9]{2}|[0-9]{4,})"


def _structural_errors(rows: pl.DataFrame) -> pl.Series:
    """Per row, why its payload is not a JSON object within the limits (null when it is)."""
    payload = pl.col("payload")
    parsed = payload.str.json_path_match("$")
    flags = rows.select(
        invalid_utf8=payload.is_null(),
        size=payload.str.len_bytes(),
        parsed_kind=parsed.str.slice(0, 1),
        not_json=parsed.is_null(),
    )
    error = flags.select(
        pl.when(pl.col("invalid_utf8"))
        .then(pl.lit("payload is not valid UTF-8"))
        .when(pl.col("size") > MAX_PAYLOAD_BYTES)
        .then(pl.format(f"payload too large ({{}} bytes, limit {MAX_PAYLOAD_BYTES})", "size"))
        .when(pl.col("not_json"))
        .then(pl.lit("malformed JSON"))  # refined below, for these rows only
        .when(pl.col("parsed_kind") != "{")
        .then(
            pl.format(
                "payload is not a JSON object (got {})",
                pl.col("parsed_kind").replace_strict(
                    {"[": "an array", '"': "a string", "t": "true", "f": "false", "n": "null"},
                    default="a number",
                ),
            )
        )
        .alias("error")
    )["error"]
    malformed = (error == "malformed JSON").arg_true()
    if malformed.len():
        reasons = rows[malformed].select(_malformed_reason())["reason"]
        error = error.scatter(malformed, reasons)
    return error


def _malformed_reason() -> pl.Expr:
    """The class of an invalid JSON payload: non-finite number, number out of range, nesting too
    deep, truncated, or other syntax. (Evaluated only for payloads that do not parse.)"""
    payload = pl.col("payload")
    brackets = (
        payload.str.replace_all(_STRING, '""')
        .str.replace_all(r"[^\[\]{}]", "")
        .str.split("")
        .list.eval(
            pl.element().replace_strict({"{": 1, "[": 1, "}": -1, "]": -1}, default=0).cum_sum()
        )
    )
    depth, balance = brackets.list.max().fill_null(0), brackets.list.last().fill_null(0)
    unterminated_string = payload.str.replace_all(_STRING, "").str.contains('"', literal=True)
    return (
        pl.when(payload.str.contains(_NON_FINITE))
        .then(pl.lit("malformed JSON: non-finite number (NaN and Infinity are not JSON)"))
        .when(payload.str.contains(_HUGE_EXPONENT))
        .then(pl.lit("malformed JSON: number out of range (beyond a 64-bit float)"))
        .when(depth > MAX_DEPTH)
        .then(
            pl.format(f"malformed JSON: nesting too deep ({{}} levels, limit {MAX_DEPTH})", depth)
        )
        .when((balance > 0) | unterminated_string | (payload.str.strip_chars() == ""))
        .then(pl.lit("malformed JSON: truncated (the payload ends inside a value)"))
        .otherwise(pl.lit("malformed JSON: invalid syntax"))
        .alias("reason")
    )


_PAIR = rf'[{{,]\s*"(?:[^"\\]|\\.)*"\s*:\s*(?:{_STRING}|[\[{{]|[^\s,}}\]]+)'
_ARTICLED = {
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "string": "a string",
}


def _kind(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "number"
    return "boolean" if dtype == pl.Boolean else "string"  # timestamps, dates: JSON strings


def _token_errors(objects: pl.DataFrame, specs: dict[str, ColumnSpec]) -> pl.DataFrame:
    """(_row, error) for JSON objects whose fields' raw tokens break the decoding policy: a key
    given twice, an integer field written as 100.0 or "100", a number field written as a string,
    a text field given a number, an object or an array. The policy is strict and per field, so a
    message's verdict depends on its bytes alone, never on its batch.

    One regex pass finds every key/token pair of every payload (nested ones too: a contract key
    inside a nested object counts as given twice); the checks then run on the pairs.
    """
    fields = pl.DataFrame(
        {
            "key": list(specs),
            "order": list(range(len(specs))),
            "kind": [_kind(c.dtype) for c in specs.values()],
            "wanted": [
                str(c.dtype) if c.dtype == pl.String else f"{c.dtype} ({_ARTICLED[_kind(c.dtype)]})"
                for c in specs.values()
            ],
        }
    )
    pairs = (
        objects.select("_row", pair=pl.col("payload").str.extract_all(_PAIR))
        .explode("pair")
        .select("_row", parts=pl.col("pair").str.splitn(":", 2))
        .select(
            "_row",
            # Contract keys hold no colon, so the first one ends the key.
            key=pl.col("parts").struct.field("field_0").str.strip_chars(' \t\r\n{,"'),
            token=pl.col("parts").struct.field("field_1").str.strip_chars_start(" \t\r\n"),
        )
        .join(fields, on="key")
    )
    token = pl.col("token")
    wrong = (
        pl.when(token == "null")
        .then(False)
        .when(pl.col("kind") == "integer")
        .then(~token.str.contains(_INTEGER))
        .when(pl.col("kind") == "number")
        .then(~token.str.contains(_NUMBER))
        .when(pl.col("kind") == "boolean")
        .then(~token.is_in(["true", "false"]))
        .otherwise(~token.str.starts_with('"'))
    )
    got = (
        pl.when(token.is_in(["{", "["]))
        .then(pl.lit("a JSON object or array"))
        .otherwise(token.str.slice(0, 40))
    )
    repeated = (
        pairs.group_by("_row")
        .agg(pairs=pl.len(), keys=pl.col("key").n_unique())
        .filter(pl.col("pairs") > pl.col("keys"))["_row"]
    )
    suspects = pairs.filter(pl.col("_row").is_in(repeated.implode()) | wrong)
    per_key = suspects.group_by("_row", "key", "order", "wanted").agg(
        copies=pl.len(), bad=wrong.first(), got=got.first()
    )
    return (
        per_key.with_columns(
            error=pl.when(pl.col("copies") > 1)
            .then(pl.format("duplicate key '{}'", "key"))
            .when(pl.col("bad"))
            .then(pl.format("field '{}': expected {}, got {}", "key", "wanted", "got"))
        )
        .filter(pl.col("error").is_not_null())
        .sort("_row", "order")
        .group_by("_row", maintain_order=True)
        .agg(pl.col("error").str.join("; "))
    )


def _read_fields(rows: pl.DataFrame, specs: dict[str, ColumnSpec]) -> pl.DataFrame:
    """The fields of screened JSON objects in their JSON-native types: the batch read as one
    NDJSON document; should the reader refuse it, each field extracted as text. Screening made
    every token's type exact, so both give the same values."""
    native = {n: _json_native(c.dtype) for n, c in specs.items()}
    flat = ~pl.col("payload").str.contains("\n", literal=True)
    if rows.height and rows.select(flat.all()).item():
        document = rows["payload"].str.join("\n").item().encode()
        try:
            fields = pl.read_ndjson(io.BytesIO(document), schema=native)
        except pl.exceptions.ComputeError:
            pass
        else:
            if fields.height == rows.height:
                return pl.concat([rows, fields], how="horizontal")
    return rows.with_columns(
        pl.col("payload").str.json_path_match(f"$.{_json_path_key(n)}").alias(n) for n in specs
    )


def _json_native(dtype: pl.DataType) -> pl.DataType:
    """The type JSON carries a field in: text for timestamps and dates, else the contract type."""
    return pl.String if isinstance(dtype, pl.Datetime) or dtype == pl.Date else dtype


def _json_path_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else f"['{name}']"


def decode_events(
    contract: EventContract, batch: pl.DataFrame, topic: str, received_at: dt.datetime
) -> Decoded:
    """Split a batch (message_id, payload, trade_date_property) into typed rows and rejections."""
    table = contract.table
    names = [c.name for c in table.columns if c.name != "message_id"]
    specs = {c.name: c for c in table.columns}
    fields_specs = {n: specs[n] for n in names}
    rows = batch.with_row_index("_row").with_columns(error=_structural_errors(batch))
    # A message of another event type is reported as such (below), not by its fields' tokens.
    own_type = (
        pl.col("payload")
        .str.extract(r'[{,]\s*"event_type"\s*:\s*"([^"\\]*)"', 1)
        .fill_null(contract.spec.event_type)
        == contract.spec.event_type
    )
    objects = rows.filter(pl.col("error").is_null())
    bad_tokens = _token_errors(objects.filter(own_type), fields_specs)
    objects = objects.drop("error").join(bad_tokens, on="_row", how="left", maintain_order="left")
    malformed = pl.concat(
        [rows.filter(pl.col("error").is_not_null()), objects.filter(pl.col("error").is_not_null())]
    )
    fields = _read_fields(objects.filter(pl.col("error").is_null()).drop("error"), fields_specs)
    typed = fields.with_columns(
        *[_parse(n, specs[n].dtype, fields.schema[n]).alias(f"_t_{n}") for n in names]
    )
    checks = _envelope_and_field_checks(contract, specs, names)
    # Error strings are built only for the rows that have a problem (usually none).
    problem = pl.any_horizontal([condition for condition, _ in checks])
    messages = [pl.when(condition).then(message) for condition, message in checks]
    # A message of the wrong type is reported as such, not as a list of its missing fields.
    checked = typed.filter(problem).with_columns(
        error=pl.coalesce(
            messages[0], pl.concat_list(messages[1:]).list.drop_nulls().list.join("; ")
        )
    )
    candidates = typed.filter(~problem).select(
        "_row", "message_id", *[pl.col(f"_t_{n}").alias(n) for n in names]
    )
    value_errors = _value_check_errors(contract, candidates)
    valid = candidates.join(value_errors, on="_row", how="anti")
    rejected = pl.concat(
        [
            malformed.select(*_REJECT_COLUMNS),
            checked.select(*_REJECT_COLUMNS),
            fields.join(value_errors, on="_row").select(*_REJECT_COLUMNS),
        ]
    ).sort("_row")
    local_date = received_at.astimezone(ZoneInfo(EXCHANGE_TZ)).date()
    quarantine = rejected.select(
        topic=pl.lit(topic),
        message_id="message_id",
        # Keep the payload byte-exact where it is text; otherwise its hex, so nothing is lost.
        payload=pl.col("payload").fill_null(
            pl.lit("hex:") + pl.col("raw_payload").bin.encode("hex")
        ),
        error="error",
        received_at=pl.lit(received_at).cast(pl.Datetime("ns", "UTC")),
        trade_date=pl.col("trade_date_property")
        .str.to_date("%Y-%m-%d", strict=False)
        .fill_null(local_date),
    )
    return Decoded(
        valid=table.conform(valid.drop("_row")).collect(),
        quarantine=QUARANTINE.conform(quarantine).collect(),
    )


def _envelope_and_field_checks(
    contract: EventContract, specs: dict[str, ColumnSpec], names: list[str]
) -> list[tuple[pl.Expr, pl.Expr]]:
    """(condition, message) per rejection reason, over decoded text `n` and typed `_t_n` columns.
    The first is the event type: when it is wrong, it is the only reason reported."""
    expected = contract.spec.event_type
    checks = [
        (
            pl.col("event_type").is_not_null() & (pl.col("event_type") != expected),
            pl.when(pl.col("event_type").is_in(list(BY_EVENT_TYPE)))
            .then(
                pl.format(
                    "event_type {} does not belong on this topic (expects {})",
                    pl.col("event_type"),
                    pl.lit(expected),
                )
            )
            .otherwise(pl.format("unknown event_type '{}'", pl.col("event_type"))),
        ),
        (
            pl.col("_t_schema_version").is_not_null()
            & ~pl.col("_t_schema_version").is_in(list(contract.supported_versions)),
            pl.format("unsupported schema_version {}", pl.col("schema_version")),
        ),
        (
            pl.col("trade_date_property").is_not_null()
            & pl.col("trade_date").is_not_null()
            & (pl.col("trade_date_property") != pl.col("trade_date")),
            pl.format(
                "trade_date property {} differs from payload trade_date {}",
                pl.col("trade_date_property"),
                pl.col("trade_date"),
            ),
        ),
    ]
    for n in names:
        if not specs[n].nullable:
            checks.append((pl.col(n).is_null(), pl.lit(f"missing field '{n}'")))
        checks.append(
            (
                pl.col(n).is_not_null() & pl.col(f"_t_{n}").is_null(),
                pl.format(
                    f"field '{n}': expected {specs[n].dtype}, got {{}}",
                    pl.col(n).cast(pl.String).str.slice(0, 40),
                ),
            )
        )
    return checks


def _value_check_errors(contract: EventContract, rows: pl.DataFrame) -> pl.DataFrame:
    """(_row, error) for rows failing the contract's value checks (pandera)."""
    empty = pl.DataFrame(schema={"_row": pl.UInt32, "error": pl.String})
    if rows.is_empty():
        return empty
    try:
        contract.table.pandera_schema(check_key=False).validate(rows.drop("_row"), lazy=True)
    except schema_errors() as exc:
        cases = pl.DataFrame(exc.failure_cases).filter(pl.col("index").is_not_null())
        if cases.is_empty():
            raise
        positions = rows.select("_row").with_row_index("index")
        return (
            cases.with_columns(pl.col("index").cast(pl.UInt32))
            .join(positions, on="index")
            .group_by("_row")
            .agg(
                error=pl.format(
                    "field '{}' failed {} (value {})",
                    pl.col("column"),
                    pl.col("check"),
                    pl.col("failure_case").cast(pl.String),
                ).str.join("; ")
            )
            .select("_row", "error")
        )
    return empty
