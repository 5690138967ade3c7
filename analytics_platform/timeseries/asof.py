"""The as-of index: point-in-time lookups of (symbol, trade_date, ts) tables by binary search.

Shared by every domain that asks "what was in force at time t" (TCA's M(t), attribution's
horizon prices, ML's point-in-time features).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Self

import polars as pl

Frame = pl.DataFrame | pl.LazyFrame
GROUP = ["symbol", "trade_date"]
# Rows sharing a timestamp (vendor feeds stamp many updates with the same millisecond) are
# ordered by the feed's sequence number when the table has one, so a lookup never depends on
# the row order of the input.
TIE = "seq"


@dataclass(frozen=True)
class AsOfIndex:
    """The rows of a (symbol, trade_date, ts) table, sorted for as-of lookups by binary search.

    Each row has an int64 key ordered like (symbol, trade_date, ts): the row's (symbol,
    trade_date) group number in the high bits, nanoseconds since the group's first row in the
    low bits. An as-of lookup is one `search_sorted` of the query's key: no hash-grouped join, and
    the positions come back in query order, so no pivot or join back is needed.
    """

    rows: pl.DataFrame  # the table sorted by (symbol, trade_date, ts[, seq]), plus _group
    groups: pl.DataFrame  # symbol, trade_date, _group, _first_ts
    keys: pl.Series  # per row, sorted
    offset_bits: int

    @classmethod
    def build(cls, frame: pl.DataFrame) -> Self:
        # One contiguous chunk per column: every later select and gather would otherwise
        # re-assemble the chunks (a scan yields one per row group) again.
        rows = frame.rechunk()
        # Tables often arrive in this order already: checking it, with the group starts found
        # on the way, is far cheaper than sorting.
        starts, in_order = _group_starts(rows)
        if not in_order.all():
            rows, starts = _in_index_order(rows)
        # Flagged sorted, so per-group window expressions (`.over("_group")`) take polars'
        # sorted-groups fast path.
        group = (starts.cum_sum().cast(pl.Int64) - 1).set_sorted()
        first_row = starts.arg_true()  # per group, the position of its first row
        first_ts = rows["ts"].gather(first_row)
        offset = (rows["ts"] - first_ts.gather(group)).dt.total_nanoseconds()
        span = offset.max() or 0
        offset_bits = int(span).bit_length() + 1  # + 1: room for queries past a group's last row
        if offset_bits > 62 or first_row.len() > 1 << (63 - offset_bits):
            raise ValueError(
                f"as-of index: {first_row.len()} (symbol, trade_date) groups spanning"
                f" {span} ns do not fit one int64 key"
            )
        keys = (group * (1 << offset_bits) + offset).set_sorted()
        groups = rows.select(pl.col(GROUP).gather(first_row)).with_columns(
            _group=pl.int_range(pl.len(), dtype=pl.Int64), _first_ts=first_ts
        )
        return cls(rows.with_columns(_group=group), groups, keys, offset_bits)

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
        # Searched in key order of the first point (the others usually move with it), so the
        # binary searches walk the index forward instead of jumping around it; one point per
        # thread, as the expressions of one select.
        order = keys[next(iter(points))].arg_sort(nulls_last=True)
        found = (
            keys.select(pl.all().gather(order))
            .select(
                (pl.lit(self.keys).search_sorted(pl.col(n), side=side).cast(pl.Int64) - 1).alias(n)
                for n in points
            )
            .select(pl.all().gather(order.arg_sort()))
        )
        # None before (or, strictly, at) the group's first row, nor for a group not indexed.
        lowest = 1 if strictly_before else 0
        return offsets.select(pl.when(pl.col(n) >= lowest).then(found[n]).alias(n) for n in points)

    def rows_at(
        self,
        queries: Frame,
        points: dict[str, pl.Expr],
        columns: list[str],
        *,
        strictly_before: bool,
    ) -> dict[str, pl.DataFrame]:
        """Per named point: `columns` of the row `locate` finds for each query (nulls where
        none), in query order, with the point's own time as `at`."""
        found = self.locate(queries, points, strictly_before=strictly_before)
        at = queries.lazy().select(**points).collect()
        picked = self.rows.select(columns)
        return {
            name: picked.select(pl.all().gather(found[name])).with_columns(at=at[name])
            for name in points
        }


def _ties(frame: pl.DataFrame) -> list[str]:
    return [TIE] if TIE in frame.columns else []


def _group_starts(frame: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Per row: whether it starts a new (symbol, trade_date) run, and whether it is in
    (symbol, trade_date, ts[, seq]) order after the row before it."""
    same_symbol = pl.col("symbol") == pl.col("symbol").shift()
    same_day = same_symbol & (pl.col("trade_date") == pl.col("trade_date").shift())
    ts_order = pl.col("ts") >= pl.col("ts").shift()
    if _ties(frame):
        same_ts = pl.col("ts") == pl.col("ts").shift()
        ts_order = ts_order & (~same_ts | (pl.col(TIE) >= pl.col(TIE).shift()))
    in_order = (
        (pl.col("symbol") >= pl.col("symbol").shift())
        & (~same_symbol | (pl.col("trade_date") >= pl.col("trade_date").shift()))
        & (~same_day | ts_order)
    )
    found = frame.select(start=same_day.not_().fill_null(True), in_order=in_order.fill_null(True))
    return found["start"], found["in_order"]


def _in_index_order(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """`frame` sorted by (symbol, trade_date, ts[, seq]), rows tied on all of them kept in input
    order, with its group starts.

    Sorting on one int64 key (the symbol's rank in the high bits, ns since the earliest ts in
    the low bits) is several times faster than sorting on the three columns. It relies on
    trade_date following ts within a symbol, so the result is checked; a frame where that does
    not hold, or whose span leaves no room for its symbols, is sorted on the columns.
    """
    symbols = frame["symbol"].unique().sort()
    since = (frame["ts"] - frame["ts"].min()).dt.total_nanoseconds()
    bits = int(since.max() or 0).bit_length()
    if bits <= 62 and symbols.len() <= 1 << (62 - bits):
        rank = frame["symbol"].cast(pl.Enum(symbols)).to_physical().cast(pl.Int64)
        key = (rank * (1 << bits) + since).alias("_key")
        candidate = (
            frame.with_columns(key).sort("_key", *_ties(frame), maintain_order=True).drop("_key")
        )
        starts, in_order = _group_starts(candidate)
        if in_order.all():
            return candidate, starts
    rows = frame.sort(*GROUP, "ts", *_ties(frame), maintain_order=True)
    return rows, _group_starts(rows)[0]
