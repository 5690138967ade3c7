"""Order-level TCA: one row per parent order (DESIGN §6, "Per parent order")."""

from __future__ import annotations

import polars as pl

from analytics_platform.tca.fills import DEFAULT_MAX_QUOTE_AGE
from analytics_platform.tca.own_prints import match_own_prints
from analytics_platform.timeseries import (
    GROUP,
    TIE,
    AsOfIndex,
    Frame,
    QuoteBook,
    quote_book,
    quotes_at,
    side_sign,
)

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
DEFAULT_IMPACT_HORIZON = "300s"


def _tape(market_trades: Frame) -> AsOfIndex:
    """Prints indexed with running volume and notional per symbol and day, so a window's sums
    are a difference of two as-of lookups."""
    lazy = market_trades.lazy()
    ties = [TIE] if TIE in lazy.collect_schema().names() else []
    tape = AsOfIndex.build(lazy.select(*GROUP, "ts", *ties, "price", "size").collect())
    return tape.with_columns(
        cum_volume=pl.col("size").cum_sum().over("_group"),
        cum_notional=(pl.col("price") * pl.col("size")).cum_sum().over("_group"),
    )


def _window_sums(tape: AsOfIndex, orders: pl.DataFrame) -> pl.DataFrame:
    """Per order (in order): running volume and notional of its symbol-day's prints up to
    end_ts (`_hi_*`, inclusive) and before arrival_ts (`_lo_*`); their difference is the window."""
    columns = ["cum_volume", "cum_notional"]
    found = {
        **tape.rows_at(orders, {"_hi": pl.col("end_ts")}, columns, strictly_before=False),
        **tape.rows_at(orders, {"_lo": pl.col("arrival_ts")}, columns, strictly_before=True),
    }
    return pl.concat(
        [
            rows.select(
                pl.col(column).fill_null(0).alias(f"{bound}_{column.removeprefix('cum_')}")
                for column in columns
            )
            for bound, rows in found.items()
        ],
        how="horizontal",
    )


def _mid_integrals(book: QuoteBook, orders: pl.DataFrame) -> pl.DataFrame:
    """Per order (in order): F(arrival_ts) and F(end_ts), F(t) = the mid integral up to the
    quote in force at t plus that quote's mid for the time since it (0 before the day's first
    quote), and first_quote_ts, the day's first quote (null if none is in force by end_ts)."""
    # Per quote: the integral of the mid from the day's first quote up to it, each quote
    # weighted by the time until the next one of its symbol and day.
    in_force_ns = pl.when(pl.col("_group").shift(-1) == pl.col("_group")).then(
        (pl.col("ts").shift(-1) - pl.col("ts")).dt.total_nanoseconds()
    )
    integral = book.with_columns(_area=(pl.col("mid") * in_force_ns).fill_null(0.0)).with_columns(
        area_before=pl.col("_area").cum_sum().over("_group") - pl.col("_area")
    )
    points = {"arrival": pl.col("arrival_ts"), "end": pl.col("end_ts")}
    in_force = integral.rows_at(
        orders, points, ["ts", "mid", "area_before", "_group"], strictly_before=False
    )
    f = [
        quote.select(
            (
                pl.col("area_before")
                + pl.col("mid") * (pl.col("at") - pl.col("ts")).dt.total_nanoseconds()
            )
            .fill_null(0.0)
            .alias(f"_f_{point}")
        )
        for point, quote in in_force.items()
    ]
    # Group numbers are the groups' row numbers.
    first_quote = integral.groups["_first_ts"].gather(in_force["end"]["_group"])
    return pl.concat([*f, first_quote.to_frame("first_quote_ts")], how="horizontal")


def order_tca(
    orders: Frame,
    fills: Frame,
    quotes: Frame | QuoteBook,
    market_trades: Frame,
    *,
    impact_horizon: str = DEFAULT_IMPACT_HORIZON,
    max_quote_age: str = DEFAULT_MAX_QUOTE_AGE,
) -> pl.DataFrame:
    """Per parent order: fill rate, arrival / VWAP / TWAP benchmarks and costs, participation,
    implementation shortfall (Perold, Wagner split), permanent vs temporary impact, timings."""
    book = quote_book(quotes)
    # In output order from the start (as in fill_tca).
    lazy = orders.lazy()
    # decision_id (DESIGN §5) links the order to attribution; urgency and limit_px are what the
    # pre-trade comparison groups by and the effects regression censors on. Minimal order
    # frames may lack them.
    linked = [
        c for c in ("decision_id", "urgency", "limit_px") if c in lazy.collect_schema().names()
    ]
    base = lazy.select(*ORDER_COLUMNS, *linked).collect().sort("arrival_ts", "order_id")
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
        .collect()
    )
    end = pl.col("end_ts")
    mids = quotes_at(
        base,
        {"arrival": pl.col("arrival_ts"), "end": end, "post": end.dt.offset_by(impact_horizon)},
        book,
        max_quote_age,
    ).select(arrival_mid="mid_arrival", end_mid="mid_end", _post_mid="mid_post")
    # The tape twice: every print, and without the prints that are our own fills (own_prints).
    tape = match_own_prints(market_trades, fills)
    window = _window_sums(_tape(tape), base)
    window_ex_own = _window_sums(_tape(tape.filter(~pl.col("is_own"))), base).select(
        pl.all().name.suffix("_ex_own")
    )
    integrals = _mid_integrals(book, base)
    day_vwap = (
        market_trades.lazy()
        .group_by(*GROUP)
        .agg(_day_vwap=(pl.col("price") * pl.col("size")).sum() / pl.col("size").sum())
    )
    with_fills = base.join(executed, on="order_id", how="left", maintain_order="left")
    frame = (
        pl.concat(
            [with_fills, mids, window, window_ex_own, integrals],
            how="horizontal",
        )
        .lazy()
        .join(day_vwap, on=GROUP, how="left", maintain_order="left")
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
    volume_ex_own = pl.col("_hi_volume_ex_own") - pl.col("_lo_volume_ex_own")
    interval_vwap_ex_own = pl.when(volume_ex_own > 0).then(
        (pl.col("_hi_notional_ex_own") - pl.col("_lo_notional_ex_own")) / volume_ex_own
    )
    # No quote in force at end_ts (none yet that day): M is undefined over the whole window.
    covered_from = pl.when(pl.col("first_quote_ts").is_not_null()).then(
        pl.max_horizontal("arrival_ts", "first_quote_ts")
    )
    covered_ns = (pl.col("end_ts") - covered_from).dt.total_nanoseconds()
    twap = pl.when((pl.col("end_ts") > pl.col("arrival_ts")) & (covered_ns > 0)).then(
        (pl.col("_f_end") - pl.col("_f_arrival")) / covered_ns
    )
    budget = q * pd_ / 1e4  # bps of the decision-time value of the order
    return (
        frame.with_columns(
            avg_fill_px=avg,
            interval_vwap=interval_vwap,
            interval_vwap_ex_own=interval_vwap_ex_own,
            twap=twap,
        )
        .with_columns(
            fill_rate=x / q,
            arrival_cost_bps=1e4 * s * (pl.col("avg_fill_px") - p0_) / p0_,
            vwap_cost_bps=1e4
            * s
            * (pl.col("avg_fill_px") - pl.col("interval_vwap"))
            / pl.col("interval_vwap"),
            vwap_ex_own_cost_bps=1e4
            * s
            * (pl.col("avg_fill_px") - pl.col("interval_vwap_ex_own"))
            / pl.col("interval_vwap_ex_own"),
            day_vwap_cost_bps=1e4
            * s
            * (pl.col("avg_fill_px") - pl.col("_day_vwap"))
            / pl.col("_day_vwap"),
            twap_cost_bps=1e4 * s * (pl.col("avg_fill_px") - pl.col("twap")) / pl.col("twap"),
            participation_rate=pl.when(window_volume > 0).then(x / window_volume),
            participation_ex_own=pl.when(volume_ex_own > 0).then(x / volume_ex_own),
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
        .collect()
    )
