"""Our own fills on the consolidated tape, found the way a production platform can: by symbol,
day, price, size, reporting venue and time, never by an id the tape does not carry.

Every fill of ours is also a print on the tape (raw/market_trades includes our own fills), so an
interval VWAP or a participation rate over the tape partly measures us. A print is ours when one
of our fills has

* the same symbol and trade_date, the same size (shares) and the same price (to 1e-4);
* a compatible reporting venue: an exchange fill prints under its own venue code, a dark / ATS
  fill (`DARK_VENUES`) prints on the FINRA trade reporting facility (`OFF_EXCHANGE_TAPE_VENUE`);
* a print time within a tolerance of the fill time: 1 s for exchange prints, 10 s for
  off-exchange prints (FINRA's reporting deadline).

Matching is one-to-one and greedy on time: each fill takes its nearest eligible print (ties: the
earlier print on the tape), and a print claimed by several fills goes to the nearest of them
(ties: the smaller exec_id); the other claimants stay unmatched. A market print of exactly our
size and price within the tolerance can be taken for ours: with sizes drawn from a wide
distribution that is rare, and it is counted in `own_print_match_rate`'s denominator only once.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from analytics_platform.tca.effects import DARK_VENUES
from analytics_platform.timeseries import Frame

OFF_EXCHANGE_TAPE_VENUE = "FINRA"
LIT_TOLERANCE = dt.timedelta(seconds=1)
OFF_EXCHANGE_TOLERANCE = dt.timedelta(seconds=10)
_PRICE_UNITS = 1e4  # prices compared in 1e-4 units (the tape's and the fills' precision)


def tape_venue() -> pl.Expr:
    """The venue a fill prints under on the tape: FINRA for dark / ATS fills, else its own."""
    return (
        pl.when(pl.col("venue").is_in(DARK_VENUES))
        .then(pl.lit(OFF_EXCHANGE_TAPE_VENUE))
        .otherwise(pl.col("venue"))
    )


def _price_units(column: str) -> pl.Expr:
    return (pl.col(column) * _PRICE_UNITS).round().cast(pl.Int64)


def match_own_prints(
    market_trades: Frame,
    fills: Frame,
    *,
    lit_tolerance: dt.timedelta = LIT_TOLERANCE,
    off_exchange_tolerance: dt.timedelta = OFF_EXCHANGE_TOLERANCE,
) -> pl.DataFrame:
    """The tape (in its input order) with `is_own` (a fill of ours matched this print) and
    `own_exec_id` (which fill; null otherwise), by the module's matching rule."""
    tape = market_trades.lazy().collect().with_row_index("_print")
    key = ["symbol", "trade_date", "_px", "size", "_venue"]
    prints = tape.lazy().select(
        "_print", "symbol", "trade_date", "ts", "size", _px=_price_units("price"), _venue="venue"
    )
    ours = fills.lazy().select(
        "exec_id",
        "symbol",
        "trade_date",
        _fill_ts="ts",
        size="quantity",
        _px=_price_units("price"),
        _venue=tape_venue(),
    )
    tolerance = (
        pl.when(pl.col("_venue") == OFF_EXCHANGE_TAPE_VENUE)
        .then(pl.lit(off_exchange_tolerance))
        .otherwise(pl.lit(lit_tolerance))
    )
    matched = (
        ours.join(prints, on=key, how="inner")
        .with_columns(_gap=(pl.col("ts") - pl.col("_fill_ts")).abs())
        .filter(pl.col("_gap") <= tolerance)
        # Each fill: its nearest print; then each print: its nearest claimant.
        .sort("_gap", "_print", "exec_id")
        .unique("exec_id", keep="first", maintain_order=True)
        .unique("_print", keep="first", maintain_order=True)
        .select("_print", own_exec_id="exec_id")
        .collect()
    )
    return (
        tape.join(matched, on="_print", how="left", maintain_order="left")
        .with_columns(is_own=pl.col("own_exec_id").is_not_null())
        .drop("_print")
    )


def own_print_match_rate(matched_tape: pl.DataFrame, fills: Frame) -> float | None:
    """Share of our fills found on the tape (None without fills)."""
    n_fills = fills.lazy().select(pl.len()).collect().item()
    return matched_tape["is_own"].sum() / n_fills if n_fills else None
