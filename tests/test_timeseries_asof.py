"""The as-of index behind every TCA time lookup agrees with polars' own as-of join."""

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_platform.timeseries import AsOfIndex

T0 = dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC)
TS = pl.Datetime("ns", "UTC")
DATES = [dt.date(2026, 11, 19), dt.date(2026, 11, 20)]


def _frame(rows: list[tuple[str, int, int]], value: str) -> pl.DataFrame:
    """(symbol, date index, ns after the open) rows; the date moves the clock by a day."""
    return pl.DataFrame(
        {
            "symbol": [r[0] for r in rows],
            "trade_date": [DATES[r[1]] for r in rows],
            "ts": [T0 + dt.timedelta(days=r[1] - 1, microseconds=r[2] / 1000) for r in rows],
        },
        schema={"symbol": pl.String, "trade_date": pl.Date, "ts": TS},
    ).with_columns(pl.int_range(pl.len()).alias(value))


rows = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C"]),
        st.integers(0, 1),
        st.integers(0, 10**10).map(lambda ns: ns - ns % 1000),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(table=rows, queries=rows, strictly_before=st.booleans())
def test_locate_matches_polars_join_asof(table, queries, strictly_before):
    index = AsOfIndex.build(_frame(table, "row"))
    presorted = AsOfIndex.build(index.rows.drop("_group"))  # the no-sort path
    assert presorted.keys.equals(index.keys) and presorted.rows.equals(index.rows)
    asked = _frame(queries, "query")
    found = index.locate(asked, {"at": pl.col("ts")}, strictly_before=strictly_before)
    ours = index.rows["row"].gather(found["at"])
    reference = (
        asked.sort("ts")
        .join_asof(
            index.rows.select("symbol", "trade_date", "row", row_ts="ts").sort("row_ts"),
            left_on="ts",
            right_on="row_ts",
            by=["symbol", "trade_date"],
            strategy="backward",
            allow_exact_matches=not strictly_before,
            check_sortedness=False,
        )
        .sort("query")
    )
    # Ties in ts may resolve to either of the tied rows; compare the rows' timestamps.
    ts = index.rows["ts"]
    assert ts.gather(found["at"]).to_list() == reference["row_ts"].to_list()
    assert ours.is_null().to_list() == reference["row"].is_null().to_list()


def test_groups_too_many_for_their_span_are_refused():
    # ~55 years between two rows of a group: 62 bits of offset leave room for two groups.
    wide = _frame([("A", 1, 0)] * 2, "row").with_columns(
        pl.Series("ts", [T0, T0 + dt.timedelta(days=20_000)], dtype=TS)
    )
    AsOfIndex.build(pl.concat([wide, wide.with_columns(symbol=pl.lit("B"))]))
    three = pl.concat([wide.with_columns(symbol=pl.lit(s)) for s in "ABC"])
    with pytest.raises(ValueError, match="do not fit one int64 key"):
        AsOfIndex.build(three)


def test_unsorted_input_is_ordered_and_ties_keep_their_input_order():
    rows = [("B", 1, 5_000), ("A", 1, 9_000), ("A", 1, 1_000), ("A", 1, 1_000), ("B", 0, 7_000)]
    index = AsOfIndex.build(_frame(rows, "row"))
    assert index.rows["row"].to_list() == [2, 3, 1, 4, 0]


def test_trade_date_not_following_ts_falls_back_to_sorting_the_columns():
    # Symbol A's 2026-11-20 row is stamped before its 2026-11-19 row: the one-key sort would
    # interleave the days, so the index sorts on (symbol, trade_date, ts) instead.
    frame = _frame([("A", 1, 1_000), ("A", 0, 2_000), ("A", 1, 3_000)], "row").with_columns(
        pl.Series("ts", [T0, T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=2)], dtype=TS)
    )
    index = AsOfIndex.build(frame)
    assert index.rows["row"].to_list() == [1, 0, 2]
    assert index.groups["trade_date"].to_list() == DATES
