"""Order-level TCA: one row per parent order (DESIGN §6, "Per parent order")."""

from __future__ import annotations

import polars as pl

from analytics_platform.tca.quotes import Frame, quotes_at, side_sign, valid_quotes

ORDER_COLUMNS = [
    "order_id",
    "strategy_id",
    "portfolio_id",
    "symbol",
    "side",
    "algo",
    "broker",
    "order_type",
    "quantity",
    "decision_px",
    "arrival_ts",
    "end_ts",
    "trade_date",
]
_NS_PER_S = 1e9


def _tape_cumulative(market_trades: Frame) -> pl.LazyFrame:
    """Running volume and notional per symbol and day, for O(log n) window sums."""
    return (
        market_trades.lazy()
        .select("symbol", "trade_date", "ts", "price", "size")
        .sort("ts")
        .with_columns(
            cum_volume=pl.col("size").cum_sum().over("symbol", "trade_date"),
            cum_notional=(pl.col("price") * pl.col("size")).cum_sum().over("symbol", "trade_date"),
        )
        .select(
            "symbol",
            "trade_date",
            tape_ts="ts",
            cum_volume="cum_volume",
            cum_notional="cum_notional",
        )
    )


def _tape_upto(orders: pl.LazyFrame, tape: pl.LazyFrame, at: str, inclusive: bool, name: str):
    """Cumulative volume/notional of prints with ts <= at (inclusive) or ts < at."""
    return (
        orders.select("order_id", "symbol", "trade_date", at)
        .sort(at)
        .join_asof(
            tape,
            left_on=at,
            right_on="tape_ts",
            by=["symbol", "trade_date"],
            strategy="backward",
            allow_exact_matches=inclusive,
            check_sortedness=False,
        )
        .select(
            "order_id",
            pl.col("cum_volume").fill_null(0).alias(f"{name}_volume"),
            pl.col("cum_notional").fill_null(0.0).alias(f"{name}_notional"),
        )
    )


def _quote_integral(book: pl.LazyFrame) -> pl.LazyFrame:
    """Per valid quote: the integral of the mid from the day's first quote up to this quote."""
    return (
        book.with_columns(
            _next=pl.col("quote_ts").shift(-1).over("symbol", "trade_date"),
            first_quote_ts=pl.col("quote_ts").min().over("symbol", "trade_date"),
        )
        .with_columns(
            _area=(
                pl.col("mid") * (pl.col("_next") - pl.col("quote_ts")).dt.total_nanoseconds()
            ).fill_null(0.0)
        )
        .with_columns(
            area_before=pl.col("_area").cum_sum().over("symbol", "trade_date") - pl.col("_area")
        )
        .select("symbol", "trade_date", "quote_ts", "mid", "area_before", "first_quote_ts")
    )


def _mid_integrals(keys: pl.LazyFrame, integral: pl.LazyFrame) -> pl.LazyFrame:
    """F(arrival_ts) and F(end_ts), F(t) = ∫ mid from the first quote to t, in one as-of join."""
    long = pl.concat(
        [
            keys.select("order_id", "symbol", "trade_date", point=pl.lit(name), at=pl.col(column))
            for name, column in (("arrival", "arrival_ts"), ("end", "end_ts"))
        ]
    )
    found = (
        long.sort("at")
        .join_asof(
            integral,
            left_on="at",
            right_on="quote_ts",
            by=["symbol", "trade_date"],
            strategy="backward",
            allow_exact_matches=True,  # the quote in force at `at`
            check_sortedness=False,
        )
        .select(
            "order_id",
            "point",
            "first_quote_ts",
            f=(
                pl.col("area_before")
                + pl.col("mid") * (pl.col("at") - pl.col("quote_ts")).dt.total_nanoseconds()
            ).fill_null(0.0),
        )
        .collect()
    )
    wide = found.pivot(on="point", index="order_id", values="f")
    wide = wide.with_columns(  # an empty input pivots to no point columns
        pl.lit(None, dtype=pl.Float64).alias(p) for p in ("arrival", "end") if p not in wide.columns
    )
    return (
        wide.join(
            found.filter(pl.col("point") == "end").select("order_id", "first_quote_ts"),
            on="order_id",
        )
        .select("order_id", "first_quote_ts", _f_arrival="arrival", _f_end="end")
        .lazy()
    )


def order_tca(
    orders: Frame,
    fills: Frame,
    quotes: Frame,
    market_trades: Frame,
    *,
    impact_horizon: str = "300s",
    max_quote_age: str = "60s",
) -> pl.DataFrame:
    """Per parent order: fill rate, arrival / VWAP / TWAP benchmarks and costs, participation,
    implementation shortfall (Perold, Wagner split), permanent vs temporary impact, timings."""
    book = valid_quotes(quotes).collect().lazy()  # sorted once, shared by every lookup
    base = orders.lazy().select(ORDER_COLUMNS)
    executed = (
        fills.lazy()
        .group_by("order_id")
        .agg(
            executed_quantity=pl.col("quantity").sum(),
            _notional=(pl.col("price") * pl.col("quantity")).sum(),
            fees=pl.col("fee").sum(),
            _first_fill=pl.col("ts").min(),
            _last_fill=pl.col("ts").max(),
        )
    )
    keys = base.select("order_id", "symbol", "trade_date", "arrival_ts", "end_ts")
    mids = quotes_at(
        keys,
        "order_id",
        {
            "arrival": pl.col("arrival_ts"),
            "end": pl.col("end_ts"),
            "post": pl.col("end_ts").dt.offset_by(impact_horizon),
        },
        book,
        max_quote_age,
    ).select("order_id", arrival_mid="mid_arrival", end_mid="mid_end", _post_mid="mid_post")
    tape = _tape_cumulative(market_trades)
    day_vwap = (
        market_trades.lazy()
        .group_by("symbol", "trade_date")
        .agg(_day_vwap=(pl.col("price") * pl.col("size")).sum() / pl.col("size").sum())
    )
    integral = _quote_integral(book)
    frame = (
        base.join(executed, on="order_id", how="left")
        .join(mids.lazy(), on="order_id", how="left")
        .join(_tape_upto(keys, tape, "end_ts", True, "_hi"), on="order_id", how="left")
        .join(_tape_upto(keys, tape, "arrival_ts", False, "_lo"), on="order_id", how="left")
        .join(day_vwap, on=["symbol", "trade_date"], how="left")
        .join(_mid_integrals(keys, integral), on="order_id", how="left")
        .with_columns(pl.col("executed_quantity").fill_null(0), pl.col("fees").fill_null(0.0))
    )
    s = side_sign()
    q, x, pd_ = pl.col("quantity"), pl.col("executed_quantity"), pl.col("decision_px")
    p0_, pn_ = pl.col("arrival_mid"), pl.col("end_mid")
    filled = x > 0
    avg = pl.when(filled).then(pl.col("_notional") / x)
    window_volume = pl.col("_hi_volume") - pl.col("_lo_volume")
    interval_vwap = pl.when(window_volume > 0).then(
        (pl.col("_hi_notional") - pl.col("_lo_notional")) / window_volume
    )
    covered_from = pl.max_horizontal("arrival_ts", "first_quote_ts")
    covered_ns = (pl.col("end_ts") - covered_from).dt.total_nanoseconds()
    twap = pl.when((pl.col("end_ts") > pl.col("arrival_ts")) & (covered_ns > 0)).then(
        (pl.col("_f_end") - pl.col("_f_arrival")) / covered_ns
    )
    budget = q * pd_ / 1e4  # bps of the decision-time value of the order
    return (
        frame.with_columns(avg_fill_px=avg, interval_vwap=interval_vwap, twap=twap)
        .with_columns(
            fill_rate=x / q,
            arrival_cost_bps=1e4 * s * (pl.col("avg_fill_px") - p0_) / p0_,
            vwap_cost_bps=1e4
            * s
            * (pl.col("avg_fill_px") - pl.col("interval_vwap"))
            / pl.col("interval_vwap"),
            day_vwap_cost_bps=1e4
            * s
            * (pl.col("avg_fill_px") - pl.col("_day_vwap"))
            / pl.col("_day_vwap"),
            twap_cost_bps=1e4 * s * (pl.col("avg_fill_px") - pl.col("twap")) / pl.col("twap"),
            participation_rate=pl.when(window_volume > 0).then(x / window_volume),
            is_delay_bps=s * q * (p0_ - pd_) / budget,
            is_trading_bps=pl.when(filled)
            .then(s * x * (pl.col("avg_fill_px") - p0_))
            .otherwise(0.0)
            / budget,
            is_opportunity_bps=s * (q - x) * (pn_ - p0_) / budget,
            is_fees_bps=pl.col("fees") / budget,
            permanent_impact_bps=pl.when(filled).then(1e4 * s * (pl.col("_post_mid") - p0_) / p0_),
            temporary_impact_bps=1e4 * s * (pl.col("avg_fill_px") - pl.col("_post_mid")) / p0_,
            time_to_first_fill_s=(
                pl.col("_first_fill") - pl.col("arrival_ts")
            ).dt.total_nanoseconds()
            / _NS_PER_S,
            time_to_complete_s=(pl.col("_last_fill") - pl.col("arrival_ts")).dt.total_nanoseconds()
            / _NS_PER_S,
        )
        .with_columns(
            is_total_bps=pl.col("is_delay_bps")
            + pl.col("is_trading_bps")
            + pl.col("is_opportunity_bps")
            + pl.col("is_fees_bps")
        )
        .drop(pl.selectors.starts_with("_"), "first_quote_ts")
        .sort("arrival_ts", "order_id")
        .collect()
    )
