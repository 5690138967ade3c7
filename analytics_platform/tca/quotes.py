"""M(t): the one definition of the benchmark mid used by every TCA metric (DESIGN §6), and the
as-of index every time-point lookup of TCA goes through.

M(t) = (bid + ask) / 2 of the last valid quote of the symbol with ts strictly before t, on the same
trade_date, no older than `max_quote_age`; otherwise null. Valid quotes are those a feed would
call the NBBO: not flagged as glitches, positive prices, not crossed (bid <= ask; locked quotes
are valid).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Self

import polars as pl

Frame = pl.DataFrame | pl.LazyFrame
GROUP = ["symbol", "trade_date"]


def side_sign() -> pl.Expr:
    """s = +1 for BUY, -1 for SELL."""
    return pl.when(pl.col("side") == "BUY").then(1.0).otherwise(-1.0)


@dataclass(frozen=True)
class AsOfIndex:
    """The rows of a (symbol, trade_date, ts) table, sorted for as-of lookups by binary search.

    Each row has an int64 key ordered like (symbol, trade_date, ts): the row's (symbol,
    trade_date) group number in the high bits, nanoseconds since the group's first row in the
    low bits. An as-of lookup is one `search_sorted` of the query's key: no hash-grouped join, and
    the positions come back in query order, so no pivot or join back is needed.
    """

    rows: pl.DataFrame  # the table sorted by (symbol, trade_date, ts), plus _group
    groups: pl.DataFrame  # symbol, trade_date, _group, _first_ts
    keys: pl.Series  # per row, sorted
    offset_bits: int

    @classmethod
    def build(cls, frame: pl.DataFrame) -> Self:
        rows = frame.sort(*GROUP, "ts")
        starts = pl.any_horizontal(pl.col(c).ne_missing(pl.col(c).shift()) for c in GROUP)
        rows = rows.with_columns(
            _group=starts.cum_sum().cast(pl.Int64) - 1,
            _first_ts=pl.when(starts).then(pl.col("ts")).forward_fill(),
        ).with_columns(_offset=(pl.col("ts") - pl.col("_first_ts")).dt.total_nanoseconds())
        span = rows["_offset"].max() or 0
        offset_bits = int(span).bit_length() + 1  # + 1: room for queries past a group's last row
        if rows.height and (rows["_group"][-1] >> (63 - offset_bits)) > 0:
            raise ValueError(
                f"as-of index: {rows['_group'][-1] + 1} (symbol, trade_date) groups spanning"
                f" {span} ns do not fit one int64 key"
            )
        keys = rows.select(pl.col("_group") * (1 << offset_bits) + pl.col("_offset")).to_series()
        groups = rows.filter(starts).select(*GROUP, "_group", "_first_ts")
        return cls(rows.drop("_first_ts", "_offset"), groups, keys.set_sorted(), offset_bits)

    def with_columns(self, **columns: pl.Expr) -> Self:
        """Add row columns computed in index order (e.g. running sums `.over("_group")`)."""
        return replace(self, rows=self.rows.with_columns(**columns))

    def locate(
        self, queries: Frame, points: dict[str, pl.Expr], *, strictly_before: bool
    ) -> pl.DataFrame:
        """Per query row (in order) and named time point: the position in `rows` of the last row
        of the query's symbol and trade_date with ts < point (or <= point), null if none."""
        scale = 1 << self.offset_bits
        offsets = (
            queries.lazy()
            .select(*GROUP, **points)
            .join(self.groups.lazy(), on=GROUP, how="left", maintain_order="left")
            .select(
                "_group",
                *[
                    (pl.col(n) - pl.col("_first_ts")).dt.total_nanoseconds().alias(n)
                    for n in points
                ],
            )
            .collect()
        )
        keys = offsets.select(
            (pl.col("_group") * scale + pl.col(n).clip(upper_bound=scale - 1)).alias(n)
            for n in points
        )
        side = "left" if strictly_before else "right"
        lowest = 1 if strictly_before else 0
        # None before (or, strictly, at) the group's first row, nor for a group not indexed.
        # The searches run in parallel, one per point, as expressions of one select.
        found = keys.select(
            (pl.lit(self.keys).search_sorted(pl.col(n), side=side).cast(pl.Int64) - 1).alias(n)
            for n in points
        )
        return offsets.select(pl.when(pl.col(n) >= lowest).then(found[n]).alias(n) for n in points)


class QuoteBook(AsOfIndex):
    """The valid quotes (bid, ask, mid) indexed for M(t) lookups. Build it once with
    `quote_book` and pass it as `quotes` to several TCA calls over the same quotes."""


def quote_book(quotes: Frame | QuoteBook) -> QuoteBook:
    """The valid quotes of `quotes` with their mids, indexed (a QuoteBook is returned as is)."""
    if isinstance(quotes, QuoteBook):
        return quotes
    valid = (pl.col("bid_px") > 0) & (pl.col("ask_px") > 0) & (pl.col("bid_px") <= pl.col("ask_px"))
    if "is_glitch" in quotes.lazy().collect_schema().names():
        valid = valid & ~pl.col("is_glitch")
    book = (
        quotes.lazy()
        .filter(valid)
        .select(
            *GROUP,
            "ts",
            bid=pl.col("bid_px"),
            ask=pl.col("ask_px"),
            mid=(pl.col("bid_px") + pl.col("ask_px")) / 2,
        )
        .collect()
    )
    return QuoteBook.build(book)


def quotes_at(
    queries: Frame, points: dict[str, pl.Expr], book: QuoteBook, max_quote_age: str
) -> pl.DataFrame:
    """For each query row (in order) and named time point, the quote defining M(point):
    columns mid_<point>, bid_<point>, ask_<point> (null where M is undefined)."""
    found = book.locate(queries, points, strictly_before=True)
    at = queries.lazy().select(**points).collect()
    quote = book.rows.select("ts", "bid", "ask", "mid")
    columns = []
    for name in points:
        q = quote.select(pl.all().gather(found[name])).with_columns(at=at[name])
        fresh = pl.col("ts").dt.offset_by(max_quote_age) >= pl.col("at")
        columns.append(
            q.select(
                pl.when(fresh).then(pl.col(v)).alias(f"{v}_{name}") for v in ("mid", "bid", "ask")
            )
        )
    return pl.concat(columns, how="horizontal")
