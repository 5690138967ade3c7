"""M(t): the one definition of the benchmark mid used by every TCA metric (DESIGN §6).

M(t) = (bid + ask) / 2 of the last valid quote of the symbol with ts strictly before t, on the same
trade_date, no older than `max_quote_age`; otherwise null. Valid quotes are those a feed would
call the NBBO: not flagged as glitches, positive prices, not crossed (bid <= ask; locked quotes
are valid).
"""

from __future__ import annotations

import polars as pl

Frame = pl.DataFrame | pl.LazyFrame


def side_sign() -> pl.Expr:
    """s = +1 for BUY, -1 for SELL."""
    return pl.when(pl.col("side") == "BUY").then(1.0).otherwise(-1.0)


def valid_quotes(quotes: Frame) -> pl.LazyFrame:
    lazy = quotes.lazy()
    valid = (pl.col("bid_px") > 0) & (pl.col("ask_px") > 0) & (pl.col("bid_px") <= pl.col("ask_px"))
    if "is_glitch" in lazy.collect_schema().names():
        valid = valid & ~pl.col("is_glitch")
    return (
        lazy.filter(valid)
        .select(
            "symbol",
            "trade_date",
            quote_ts="ts",
            bid=pl.col("bid_px"),
            ask=pl.col("ask_px"),
            mid=(pl.col("bid_px") + pl.col("ask_px")) / 2,
        )
        .sort("quote_ts")
    )


def quote_before(
    queries: pl.LazyFrame, book: pl.LazyFrame, at: str, max_quote_age: str
) -> pl.LazyFrame:
    """Attach bid/ask/mid of the quote defining M(`at`) to each query row (nulls if none).

    `queries` needs symbol, trade_date and the timestamp column `at`.
    """
    return (
        queries.sort(at)
        .join_asof(
            book,
            left_on=at,
            right_on="quote_ts",
            by=["symbol", "trade_date"],
            strategy="backward",
            allow_exact_matches=False,  # strictly before
            tolerance=max_quote_age,
            check_sortedness=False,
        )
        .drop("quote_ts")
    )


def quotes_at(
    rows: pl.LazyFrame,
    key: str,
    points: dict[str, pl.Expr],
    book: pl.LazyFrame,
    max_quote_age: str,
) -> pl.DataFrame:
    """For each row and each named time point, the quote defining M(point): one as-of join over
    all points at once (one sort), pivoted to columns mid_<point>, bid_<point>, ask_<point>."""
    long = pl.concat(
        [
            rows.select(key, "symbol", "trade_date", point=pl.lit(name), at=expr)
            for name, expr in points.items()
        ]
    )
    found = quote_before(long, book, "at", max_quote_age).collect()
    wide = found.pivot(on="point", index=key, values=["mid", "bid", "ask"])
    missing = [
        f"{v}_{p}" for v in ("mid", "bid", "ask") for p in points if f"{v}_{p}" not in wide.columns
    ]
    return wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in missing)
