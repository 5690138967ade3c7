"""Data-quality checks over raw tables: pure functions returning a `CheckOutcome`.

Dagster assets turn outcomes into blocking asset-check results; tests call them directly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from analytics_platform.calendar import is_trading_day, session
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


def crossed_quotes_check(
    frame: pl.DataFrame, max_crossed_share: float, transient: str = "1ms"
) -> CheckOutcome:
    """Bid <= ask. Crossed (bid > ask) and locked (bid == ask) states are counted, split by how
    long they lasted: a state replaced within `transient` (a duration) by the next update of the
    same symbol (and level) is transient, as real feeds pass through them between two updates in
    the same millisecond; the others, and the last update of the day, are persistent. The check
    fails when the share of persistent crossed rows exceeds the threshold.
    """
    series = ["symbol", *(["level"] if "level" in frame.columns else [])]
    order = ["ts", *(["seq"] if "seq" in frame.columns else [])]
    lasted = pl.col("ts").shift(-1).over(series) - pl.col("ts")
    states = frame.sort(*series, *order).select(
        "symbol",
        crossed=pl.col("bid_px") > pl.col("ask_px"),
        locked=pl.col("bid_px") == pl.col("ask_px"),
        transient=(lasted < pl.duration(nanoseconds=_nanoseconds(transient))).fill_null(False),
    )
    stats = states.select(
        rows=pl.len(),
        crossed=(pl.col("crossed") & ~pl.col("transient")).sum(),
        crossed_transient=(pl.col("crossed") & pl.col("transient")).sum(),
        locked=(pl.col("locked") & ~pl.col("transient")).sum(),
        locked_transient=(pl.col("locked") & pl.col("transient")).sum(),
    ).row(0, named=True)
    share = stats["crossed"] / stats["rows"] if stats["rows"] else 0.0
    by_symbol = (
        states.filter(pl.col("crossed"))
        .group_by("symbol")
        .agg(
            persistent=(~pl.col("transient")).sum(),
            transient=pl.col("transient").sum(),
        )
        .sort("persistent", "transient", "symbol", descending=[True, True, False])
        .head(MAX_LISTED)
    )
    return CheckOutcome(
        "bid_le_ask",
        share <= max_crossed_share,
        f"{stats['crossed']} crossed ({share:.2e} of rows, limit {max_crossed_share:.0e}),"
        f" {stats['locked']} locked; transient (< {transient}): {stats['crossed_transient']}"
        f" crossed, {stats['locked_transient']} locked",
        {
            **stats,
            "crossed_share": share,
            "max_crossed_share": max_crossed_share,
            "transient_within": transient,
            "crossed_by_symbol": markdown_table(by_symbol, MAX_LISTED),
        },
    )


def _nanoseconds(duration: str) -> int:
    """'500us', '1ms', '2s' as nanoseconds (the duration syntax the settings accept)."""
    units = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
    value = duration.rstrip("numsh")
    return int(value) * units[duration[len(value) :]]


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
    """Every `ts` inside the regular session [open, close] of its trade date (a date that is not
    an NYSE trading day has no session: the check fails saying so)."""
    if not is_trading_day(trade_date):
        return CheckOutcome(
            "inside_session",
            False,
            f"{trade_date.isoformat()} is not an NYSE trading day: no session to check against",
            {"rows": frame.height},
        )
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
    "bid_le_ask": "Bid <= ask; crossed/locked states counted, transient ones (replaced within"
    " the configured duration) apart; fails when persistent crossed rows exceed the share",
    "sequence_gaps": "100% tick capture: per-symbol seq contiguous from 1, gaps named",
    "inside_session": "Every timestamp inside the regular session of the trade date",
}

MARKET_DATA_CHECKS: dict[str, tuple[str, ...]] = {
    "raw/quotes": ("schema", "unique_key", "bid_le_ask", "sequence_gaps", "inside_session"),
    "raw/market_trades": ("schema", "unique_key", "sequence_gaps", "inside_session"),
    "raw/book_snapshots": ("schema", "unique_key", "bid_le_ask", "inside_session"),
}


def run_market_data_checks(
    contract: TableContract,
    frame: pl.DataFrame,
    trade_date: dt.date,
    max_crossed_share: float,
    transient_cross: str = "1ms",
) -> list[CheckOutcome]:
    """The checks declared for a raw market-data table, in declaration order."""
    runners = {
        "schema": lambda: schema_check(frame, contract),
        "unique_key": lambda: unique_key_check(frame, list(contract.key)),
        "bid_le_ask": lambda: crossed_quotes_check(frame, max_crossed_share, transient_cross),
        "sequence_gaps": lambda: sequence_gap_check(frame),
        "inside_session": lambda: session_bounds_check(frame, trade_date),
    }
    return [runners[name]() for name in MARKET_DATA_CHECKS[contract.table]]
