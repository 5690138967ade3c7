"""M(t): the one definition of the benchmark mid (DESIGN §6), used by TCA and by every domain
that prices a point in time against the quotes.

M(t) = (bid + ask) / 2 of the last valid quote of the symbol with ts strictly before t, on the same
trade_date, no older than `max_quote_age`; otherwise null. Of quotes sharing a timestamp, the last
is the one with the highest `seq`. Valid quotes are those a feed would
call the NBBO: not flagged as glitches, positive prices, not crossed (bid <= ask; locked quotes
are valid).
"""

from __future__ import annotations

import polars as pl

from analytics_platform.timeseries.asof import GROUP, TIE, AsOfIndex, Frame


class QuoteBook(AsOfIndex):
    """The valid quotes (bid, ask, mid) indexed for M(t) lookups. Build it once with
    `quote_book` and pass it as `quotes` to several TCA calls over the same quotes."""


def quote_book(quotes: Frame | QuoteBook) -> QuoteBook:
    """The valid quotes of `quotes` with their mids, indexed (a QuoteBook is returned as is)."""
    if isinstance(quotes, QuoteBook):
        return quotes
    valid = (pl.col("bid_px") > 0) & (pl.col("ask_px") > 0) & (pl.col("bid_px") <= pl.col("ask_px"))
    columns = quotes.lazy().collect_schema().names()
    if "is_glitch" in columns:
        valid = valid & ~pl.col("is_glitch")
    book = (
        quotes.lazy()
        .filter(valid)
        .select(
            *GROUP,
            "ts",
            *[TIE] if TIE in columns else [],
            pl.col("bid_px").alias("bid"),
            pl.col("ask_px").alias("ask"),
            ((pl.col("bid_px") + pl.col("ask_px")) / 2).alias("mid"),
            # Sizes ride along when the quotes have them (microstructure features use them).
            *[pl.col(c) for c in ("bid_sz", "ask_sz") if c in columns],
        )
        .collect()
    )
    return QuoteBook.build(book)


def quotes_at(
    queries: Frame, points: dict[str, pl.Expr], book: QuoteBook, max_quote_age: str
) -> pl.DataFrame:
    """For each query row (in order) and named time point, the quote defining M(point):
    columns mid_<point>, bid_<point>, ask_<point> (null where M is undefined)."""
    found = book.rows_at(queries, points, ["ts", "bid", "ask", "mid"], strictly_before=True)
    fresh = pl.col("ts").dt.offset_by(max_quote_age) >= pl.col("at")
    return pl.concat(
        [
            quote.select(
                pl.when(fresh).then(pl.col(v)).alias(f"{v}_{name}") for v in ("mid", "bid", "ask")
            )
            for name, quote in found.items()
        ],
        how="horizontal",
    )
