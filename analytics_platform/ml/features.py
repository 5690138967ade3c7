"""Point-in-time features for training rows (DESIGN §7, REFERENCES "Point-in-time").

A row asks for features of a (symbol, portfolio) at a moment `at` (a decision's ts, an order's
arrival). Every feature group uses only inputs available strictly before `at` and carries
`<group>_as_of_ts`, the availability time of the newest input it used:

- quote (raw/quotes; quote ts): spread, L1 imbalance, microprice offset;
- book (raw/book_snapshots; snapshot ts): depth-weighted imbalance and depth over levels 1..5;
- volatility (raw/quotes mids): realised volatility over the last 5 and 30 minutes;
- flow (raw/market_trades, each print signed against the mid before it; print ts): prints and
  order-flow imbalance over 5 minutes, Kyle's lambda and Amihud illiquidity over 30;
- sentiment (raw/sentiment; event ts): latest score and relevance;
- technical (raw/technical_indicators; event ts): latest value of each indicator;
- position (raw/positions OPEN snapshot; the open): position and its share of the gross book;
- risk (previous days' security returns; their closes): ADV, the position's 1-day 95%
  historical VaR and worst-day stress loss;
- violations (raw/risk_violations; event ts): the portfolio's violations in the symbol today.

Lookups into quotes, book and tape use the as-of index (ties ordered by seq); event tables use
polars `join_asof(..., allow_exact_matches=False)`. No publication lag is modelled: every source's
availability time is its event or quote time (documented in docs/datasets.md).
"""

from __future__ import annotations

import polars as pl

from analytics_platform.timeseries import AsOfIndex, Frame, QuoteBook, quotes_at

TS = pl.Datetime("ns", "UTC")
SHORT, LONG = "5m", "30m"
BOOK_LEVELS = 5
RISK_DAYS = 20
KEYS = ["row_id", "symbol", "trade_date", "at"]


def _found(index: AsOfIndex, rows: pl.DataFrame, at: pl.Expr, columns: list[str]) -> pl.DataFrame:
    return index.rows_at(rows, {"p": at}, columns, strictly_before=True)["p"].drop("at")


def quote_features(rows: pl.DataFrame, book: QuoteBook) -> pl.DataFrame:
    q = _found(book, rows, pl.col("at"), ["ts", "bid", "ask", "mid", "bid_sz", "ask_sz"])
    sizes = pl.col("bid_sz") + pl.col("ask_sz")
    micro = (pl.col("ask") * pl.col("bid_sz") + pl.col("bid") * pl.col("ask_sz")) / sizes
    return q.select(
        quote_as_of_ts="ts",
        spread_bps=1e4 * (pl.col("ask") - pl.col("bid")) / pl.col("mid"),
        l1_imbalance=pl.when(sizes > 0).then((pl.col("bid_sz") - pl.col("ask_sz")) / sizes),
        microprice_offset_bps=pl.when(sizes > 0).then(
            1e4 * (micro - pl.col("mid")) / pl.col("mid")
        ),
    )


def book_features(rows: pl.DataFrame, snapshots: Frame) -> pl.DataFrame:
    top = (
        snapshots.lazy()
        .filter(pl.col("level") <= BOOK_LEVELS)
        .group_by("symbol", "trade_date", "ts")
        .agg(depth_bid=pl.col("bid_sz").sum(), depth_ask=pl.col("ask_sz").sum())
        .collect()
    )
    found = _found(AsOfIndex.build(top), rows, pl.col("at"), ["ts", "depth_bid", "depth_ask"])
    depth = pl.col("depth_bid") + pl.col("depth_ask")
    return found.select(
        book_as_of_ts="ts",
        book_imbalance=pl.when(depth > 0).then((pl.col("depth_bid") - pl.col("depth_ask")) / depth),
        book_depth=depth,
    )


def volatility_features(rows: pl.DataFrame, book: QuoteBook) -> pl.DataFrame:
    """Realised volatility Σr² of mid log returns over the window before `at` (bps)."""
    index = book.with_columns(
        _cum_rv=(pl.col("mid").log().diff().fill_null(0.0) ** 2).cum_sum().over("_group")
    )
    now = _found(index, rows, pl.col("at"), ["ts", "_cum_rv"])
    out = {"volatility_as_of_ts": now["ts"]}
    for window in (SHORT, LONG):
        then = _found(index, rows, pl.col("at").dt.offset_by(f"-{window}"), ["_cum_rv"])
        rv = now["_cum_rv"] - then["_cum_rv"].fill_null(0.0)
        out[f"realized_vol_{window}_bps"] = (rv.clip(lower_bound=0.0).sqrt() * 1e4).alias("v")
    return pl.DataFrame(out)


def _signed_tape(market_trades: Frame, book: QuoteBook) -> AsOfIndex:
    """Prints with their sign against the mid strictly before them (above: buy), and running
    counts and sums per symbol and day for window differences."""
    tape = (
        market_trades.lazy().select("symbol", "trade_date", "ts", "seq", "price", "size").collect()
    )
    mid = quotes_at(tape, {"p": pl.col("ts")}, book, "60s")["mid_p"]
    sign = (pl.col("price") - mid).sign().fill_null(0.0)
    index = AsOfIndex.build(tape.with_columns(_sign=sign))
    dollars = pl.col("price") * pl.col("size")
    return index.with_columns(
        _cum_prints=pl.int_range(1, pl.len() + 1).over("_group"),
        _cum_volume=pl.col("size").cum_sum().over("_group"),
        _cum_signed=(pl.col("_sign") * pl.col("size")).cum_sum().over("_group"),
        _cum_dollars=dollars.cum_sum().over("_group"),
        _cum_signed_dollars=(pl.col("_sign") * dollars).cum_sum().over("_group"),
    )


def flow_features(rows: pl.DataFrame, market_trades: Frame, book: QuoteBook) -> pl.DataFrame:
    tape = _signed_tape(market_trades, book)
    columns = ["ts", "_cum_prints", "_cum_volume", "_cum_signed", "_cum_dollars"]
    columns.append("_cum_signed_dollars")
    now = _found(tape, rows, pl.col("at"), columns)
    short = _found(tape, rows, pl.col("at").dt.offset_by(f"-{SHORT}"), columns[1:])
    long = _found(tape, rows, pl.col("at").dt.offset_by(f"-{LONG}"), columns[1:])

    def window(then: pl.DataFrame, column: str) -> pl.Series:
        return now[column].fill_null(0) - then[column].fill_null(0)

    mids = {
        name: _found(book, rows, point, ["mid"])["mid"]
        for name, point in {
            "now": pl.col("at"),
            "then": pl.col("at").dt.offset_by(f"-{LONG}"),
        }.items()
    }
    move = (mids["now"] - mids["then"]) / mids["then"]
    volume_5m = window(short, "_cum_volume")
    dollars_30m = window(long, "_cum_dollars")
    signed_dollars_30m = window(long, "_cum_signed_dollars")
    return pl.DataFrame(
        {
            "flow_as_of_ts": now["ts"],
            "prints_5m": window(short, "_cum_prints"),
            "order_flow_imbalance_5m": (
                window(short, "_cum_signed") / volume_5m.cast(pl.Float64)
            ).fill_nan(None),
            # bps of mid move per $1M of signed (Kyle) or traded (Amihud) value.
            "kyle_lambda_30m": (1e4 * move / (signed_dollars_30m / 1e6)).fill_nan(None),
            "amihud_30m": (1e4 * move.abs() / (dollars_30m / 1e6)).fill_nan(None),
        }
    ).with_columns(pl.selectors.float().replace([float("inf"), float("-inf")], None))


def _latest_before(rows: pl.DataFrame, events: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Per row, the newest event of its `by` keys with ts strictly before `at` (row order)."""
    joined = (
        rows.select("row_id", *by, "at")
        .sort("at")
        .join_asof(
            events.sort("ts"),
            left_on="at",
            right_on="ts",
            by=by,
            strategy="backward",
            allow_exact_matches=False,
            check_sortedness=False,  # sorted by ts above; polars cannot check it per group
        )
    )
    return rows.select("row_id").join(joined, on="row_id", how="left", maintain_order="left")


def sentiment_features(rows: pl.DataFrame, sentiment: Frame) -> pl.DataFrame:
    events = (
        sentiment.lazy()
        .select("symbol", "ts", "sentiment_id", "sentiment_score", "relevance")
        .collect()
        .sort("ts", "sentiment_id")
    )
    found = _latest_before(rows, events, ["symbol"])
    return found.select(
        sentiment_as_of_ts="ts", sentiment_score="sentiment_score", sentiment_relevance="relevance"
    )


# The indicators the dataset carries (a fixed schema: a version's columns never depend on which
# indicators happened to be published before a cut-off).
TECHNICAL_INDICATORS = ("return_bps", "rsi_14", "volatility_12_bps")


def technical_features(rows: pl.DataFrame, indicators: Frame) -> pl.DataFrame:
    """The latest value of each indicator in TECHNICAL_INDICATORS (`tech_<name>`) published
    strictly before the row's time, and when the newest of them was published."""
    parts = []
    for name in TECHNICAL_INDICATORS:
        events = (
            indicators.lazy()
            .filter(pl.col("indicator") == name)
            .select("symbol", "ts", "indicator_id", "value")
            .collect()
            .sort("ts", "indicator_id")
        )
        found = _latest_before(rows, events, ["symbol"])
        parts.append(
            found.select(pl.col("ts").alias(f"_ts_{name}"), pl.col("value").alias(f"tech_{name}"))
        )
    wide = pl.concat(parts, how="horizontal")
    return wide.select(
        pl.max_horizontal(pl.selectors.starts_with("_ts_")).alias("technical_as_of_ts"),
        *[f"tech_{n}" for n in TECHNICAL_INDICATORS],
    )


def position_features(rows: pl.DataFrame, positions: Frame) -> pl.DataFrame:
    """The portfolio's position in the symbol at the open, and its share of the gross book."""
    opening = (
        positions.lazy()
        .filter(pl.col("snapshot") == "OPEN")
        .select("trade_date", "portfolio_id", "symbol", "quantity", "market_value", "as_of_ts")
        .collect()
        .with_columns(gross=pl.col("market_value").abs().sum().over("trade_date", "portfolio_id"))
    )
    found = rows.select("trade_date", "portfolio_id", "symbol", "at").join(
        opening, on=["trade_date", "portfolio_id", "symbol"], how="left", maintain_order="left"
    )
    available = pl.col("as_of_ts") < pl.col("at")
    return found.select(
        position_as_of_ts=pl.when(available).then("as_of_ts"),
        position_quantity=pl.when(available).then("quantity"),
        position_value=pl.when(available).then("market_value"),
        position_share_of_book=pl.when(available & (pl.col("gross") > 0)).then(
            pl.col("market_value") / pl.col("gross")
        ),
    )


def risk_features(
    rows: pl.DataFrame, position: pl.DataFrame, history: pl.DataFrame
) -> pl.DataFrame:
    """From the previous trading days' security returns (`history`: trade_date, symbol,
    security_return, volume, close_ts): ADV, and the open position's 1-day 95% historical VaR and
    worst-day stress loss, both positive = a loss."""
    window = (
        rows.select("row_id", "symbol", "trade_date")
        .join(history.rename({"trade_date": "day"}), on="symbol")
        .filter(pl.col("day") < pl.col("trade_date"))
    )
    window = window.filter(pl.col("day").rank("dense", descending=True).over("row_id") <= RISK_DAYS)
    stats = window.group_by("row_id").agg(
        risk_as_of_ts=pl.col("close_ts").max(),
        adv=pl.col("volume").mean(),
        _q05=pl.col("security_return").quantile(0.05, interpolation="linear"),
        _q95=pl.col("security_return").quantile(0.95, interpolation="linear"),
        _worst=pl.col("security_return").min(),
        _best=pl.col("security_return").max(),
        risk_days=pl.len(),
    )
    value = position["position_value"].fill_null(0.0)
    joined = (
        rows.select("row_id")
        .with_columns(_value=value)
        .join(stats, on="row_id", how="left", maintain_order="left")
    )
    # A long position loses on its 5% worst returns, a short one on its 5% best.
    loss_return = pl.when(pl.col("_value") >= 0).then("_q05").otherwise("_q95")
    return joined.select(
        "risk_as_of_ts",
        "adv",
        "risk_days",
        position_var_95=(-(pl.col("_value") * loss_return)).clip(lower_bound=0.0),
        position_stress_loss=(
            -(pl.col("_value") * pl.when(pl.col("_value") >= 0).then("_worst").otherwise("_best"))
        ).clip(lower_bound=0.0),
    )


def violation_features(rows: pl.DataFrame, violations: Frame) -> pl.DataFrame:
    events = (
        violations.lazy()
        .select("portfolio_id", "symbol", "ts", "violation_id")
        .collect()
        .sort("ts", "violation_id")
        .with_columns(
            violations_today=pl.int_range(1, pl.len() + 1).over(
                "portfolio_id",
                "symbol",
                pl.col("ts").dt.convert_time_zone("America/New_York").dt.date(),
            )
        )
    )
    found = _latest_before(rows, events, ["portfolio_id", "symbol"]).with_columns(
        _day=rows["trade_date"]
    )
    # Violations of an earlier day do not count today (their as-of time stays, for audit).
    return found.select(
        violations_as_of_ts="ts",
        violations_today=pl.when(
            pl.col("ts").dt.convert_time_zone("America/New_York").dt.date() == pl.col("_day")
        )
        .then("violations_today")
        .otherwise(0)
        .fill_null(0),
    )
