"""Data-quality checks over raw tables: pure functions returning a `CheckOutcome`.

Dagster assets turn outcomes into blocking asset-check results; tests call them directly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from analytics_platform.calendar import session
from analytics_platform.contracts import TableContract, schema_errors
from analytics_platform.reporting import markdown_table

MAX_LISTED = 20  # examples listed in a failing check's metadata


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def schema_check(frame: pl.DataFrame, contract: TableContract) -> CheckOutcome:
    """Pandera validation of the contract: types, nullability, value checks, key uniqueness."""
    try:
        contract.pandera_schema().validate(frame, lazy=True)
    except schema_errors() as errors:
        cases = pl.DataFrame(errors.failure_cases).head(MAX_LISTED).cast(pl.String)
        return CheckOutcome(
            "schema",
            False,
            f"{contract.table} violates its contract ({len(errors.failure_cases)} failure cases)",
            {"failure_cases": markdown_table(cases, MAX_LISTED)},
        )
    return CheckOutcome("schema", True, f"{contract.table} matches its contract")


def unique_key_check(frame: pl.DataFrame, key: list[str]) -> CheckOutcome:
    dupes = frame.group_by(key).agg(copies=pl.len()).filter(pl.col("copies") > 1)
    return CheckOutcome(
        "unique_key",
        dupes.is_empty(),
        f"key ({', '.join(key)}): {dupes.height} duplicated values",
        {"duplicated_keys": dupes.height, "examples": markdown_table(dupes.sort(key), MAX_LISTED)},
    )


def crossed_quotes_check(frame: pl.DataFrame, max_crossed_share: float) -> CheckOutcome:
    """Bid <= ask. Crossed (bid > ask) quotes are counted; locked (bid == ask) reported too.

    Feeds carry rare crossed updates; the check fails when their share exceeds the threshold.
    """
    stats = frame.select(
        rows=pl.len(),
        crossed=(pl.col("bid_px") > pl.col("ask_px")).sum(),
        locked=(pl.col("bid_px") == pl.col("ask_px")).sum(),
    ).row(0, named=True)
    share = stats["crossed"] / stats["rows"] if stats["rows"] else 0.0
    by_symbol = (
        frame.filter(pl.col("bid_px") > pl.col("ask_px"))
        .group_by("symbol")
        .agg(crossed=pl.len())
        .sort("crossed", "symbol", descending=[True, False])
        .head(MAX_LISTED)
    )
    return CheckOutcome(
        "bid_le_ask",
        share <= max_crossed_share,
        f"{stats['crossed']} crossed ({share:.2e} of rows, limit {max_crossed_share:.0e}), "
        f"{stats['locked']} locked",
        {
            "crossed": stats["crossed"],
            "locked": stats["locked"],
            "crossed_share": share,
            "max_crossed_share": max_crossed_share,
            "crossed_by_symbol": markdown_table(by_symbol, MAX_LISTED),
        },
    )


def sequence_gap_check(frame: pl.DataFrame) -> CheckOutcome:
    """100% tick capture: per-symbol `seq` must run 1, 2, 3, ... with no gap.

    A failure names each symbol and the missing seq range.
    """
    gaps = (
        frame.select("symbol", "seq")
        .sort("symbol", "seq")
        .with_columns(prev=pl.col("seq").shift(1, fill_value=0).over("symbol"))
        .filter(pl.col("seq") - pl.col("prev") > 1)
        .select(
            "symbol",
            missing_from=pl.col("prev") + 1,
            missing_to=pl.col("seq") - 1,
        )
        .with_columns(missing=pl.col("missing_to") - pl.col("missing_from") + 1)
    )
    missing = int(gaps["missing"].sum()) if gaps.height else 0
    ranges = ", ".join(
        f"{r['symbol']} seq {r['missing_from']}-{r['missing_to']}"
        for r in gaps.head(MAX_LISTED).iter_rows(named=True)
    )
    return CheckOutcome(
        "sequence_gaps",
        gaps.is_empty(),
        "no sequence gaps" if gaps.is_empty() else f"{missing} missing messages: {ranges}",
        {
            "gaps": gaps.height,
            "missing_messages": missing,
            "gap_ranges": markdown_table(gaps, MAX_LISTED),
        },
    )


def session_bounds_check(frame: pl.DataFrame, trade_date: dt.date) -> CheckOutcome:
    """Every `ts` inside the regular session [open, close] of its trade date."""
    sess = session(trade_date)
    open_ts = pl.lit(sess.open_utc).cast(pl.Datetime("ns", "UTC"))
    close_ts = pl.lit(sess.close_utc).cast(pl.Datetime("ns", "UTC"))
    outside = frame.filter((pl.col("ts") < open_ts) | (pl.col("ts") > close_ts))
    stats = frame.select(first=pl.col("ts").min(), last=pl.col("ts").max()).row(0, named=True)
    return CheckOutcome(
        "inside_session",
        outside.is_empty(),
        f"{outside.height} rows outside {sess.open_utc:%H:%M}-{sess.close_utc:%H:%M} UTC",
        {
            "outside_session": outside.height,
            "first_ts": str(stats["first"]),
            "last_ts": str(stats["last"]),
        },
    )


CHECK_DESCRIPTIONS = {
    "schema": "Pandera contract: columns, types, nullability and value ranges",
    "unique_key": "No two rows share the table's natural key",
    "bid_le_ask": "Bid <= ask; crossed quotes counted, failing above the configured share",
    "sequence_gaps": "100% tick capture: per-symbol seq contiguous from 1, gaps named",
    "inside_session": "Every timestamp inside the regular session of the trade date",
}

MARKET_DATA_CHECKS: dict[str, tuple[str, ...]] = {
    "raw/quotes": ("schema", "unique_key", "bid_le_ask", "sequence_gaps", "inside_session"),
    "raw/market_trades": ("schema", "unique_key", "sequence_gaps", "inside_session"),
    "raw/book_snapshots": ("schema", "unique_key", "bid_le_ask", "inside_session"),
}


def run_market_data_checks(
    contract: TableContract, frame: pl.DataFrame, trade_date: dt.date, max_crossed_share: float
) -> list[CheckOutcome]:
    """The checks declared for a raw market-data table, in declaration order."""
    runners = {
        "schema": lambda: schema_check(frame, contract),
        "unique_key": lambda: unique_key_check(frame, list(contract.key)),
        "bid_le_ask": lambda: crossed_quotes_check(frame, max_crossed_share),
        "sequence_gaps": lambda: sequence_gap_check(frame),
        "inside_session": lambda: session_bounds_check(frame, trade_date),
    }
    return [runners[name]() for name in MARKET_DATA_CHECKS[contract.table]]
