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


def _split_objects(
    batch: pl.DataFrame, specs: dict[str, ColumnSpec]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows that are JSON objects, with their fields decoded; rows that are not).

    Fast path: the whole batch is read as one NDJSON document (one payload per line) straight
    into the contract's types (timestamps and dates as text, parsed next). A batch holding a
    malformed message, a wrong type or a multi-line payload falls back to text fields and
    per-row checks, so each row gets its reason.
    """
    rows = batch.with_row_index("_row")
    one_object_per_line = pl.col("payload").str.strip_chars_start().str.starts_with("{") & ~pl.col(
        "payload"
    ).str.contains("\n", literal=True)
    if rows.select(one_object_per_line.fill_null(False).all()).item():
        native = {n: _json_native(c.dtype) for n, c in specs.items()}
        document = rows["payload"].str.join("\n").item().encode()
        try:
            fields = pl.read_ndjson(io.BytesIO(document), schema=native)
        except pl.exceptions.ComputeError:
            pass
        else:
            if fields.height == rows.height:
                return pl.concat([rows, fields], how="horizontal"), rows.clear()
    is_object = pl.col("payload").str.json_path_match("$").str.starts_with("{").fill_null(False)
    objects, others = rows.filter(is_object), rows.filter(~is_object)
    try:  # every field as text; raises on a malformed payload or a nested value
        fields = objects.with_columns(
            pl.col("payload")
            .str.json_decode(pl.Struct(dict.fromkeys(specs, pl.String)))
            .alias("_f")
        ).unnest("_f")
    except pl.exceptions.ComputeError:
        fields = objects.with_columns(
            pl.col("payload").str.json_path_match(f"$.{n}").alias(n) for n in specs
        )
    return fields, others


def _json_native(dtype: pl.DataType) -> pl.DataType:
    """The type JSON carries a field in: text for timestamps and dates, else the contract type."""
    return pl.String if isinstance(dtype, pl.Datetime) or dtype == pl.Date else dtype


def decode_events(
    contract: EventContract, batch: pl.DataFrame, topic: str, received_at: dt.datetime
) -> Decoded:
    """Split a batch (message_id, payload, trade_date_property) into typed rows and rejections."""
    table = contract.table
    names = [c.name for c in table.columns if c.name != "message_id"]
    specs = {c.name: c for c in table.columns}
    fields, not_objects = _split_objects(batch, {n: specs[n] for n in names})
    malformed = not_objects.with_columns(
        error=pl.when(pl.col("payload").is_null())
        .then(pl.lit("payload is not valid UTF-8"))
        .otherwise(pl.lit("malformed JSON: payload is not a JSON object"))
    )
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
    text_fields = [n for n in names if specs[n].dtype == pl.String]
    value_errors = (
        pl.concat(
            [
                _value_check_errors(contract, candidates),
                _nested_value_errors(typed.filter(~problem), text_fields),
            ]
        )
        .group_by("_row", maintain_order=True)
        .agg(pl.col("error").str.join("; "))
    )
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


def _nested_value_errors(rows: pl.DataFrame, text_fields: list[str]) -> pl.DataFrame:
    """(_row, error) for rows carrying a JSON object or array where the contract wants text.

    Both decoders hand such a value over as its JSON text, so the decoded text alone cannot
    tell `{"a": 1}` from the string "{\"a\": 1}". Only rows whose text starts like JSON are
    suspects (almost never any); for them the payload says which it was.
    """
    looks_nested = pl.any_horizontal(pl.col(n).str.contains(r"^\s*[\[{]") for n in text_fields)
    messages = [
        pl.when(pl.col("payload").str.contains(rf'"{re.escape(n)}"\s*:\s*[\[{{]')).then(
            pl.lit(f"field '{n}': expected String, got a JSON object or array")
        )
        for n in text_fields
    ]
    return (
        rows.filter(looks_nested)
        .select("_row", error=pl.concat_list(messages).list.drop_nulls().list.join("; "))
        .filter(pl.col("error") != "")
    )


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
