"""Pre-trade expectation against realised cost, per order, and how well calibrated the pre-trade
model is over a window of days.

Per order: expected = `expected_cost_bps` of the order's MarketImpactAssessmentEvent; realised =
`arrival_cost_bps` of tca/orders (filled orders only); surprise = realised − expected (positive =
cost more than expected). The surprise is scaled by the order's timing risk, the standard deviation
that market moves alone add to an arrival cost (REFERENCES "The ceiling"): a constant-rate
schedule of duration T averages the price path over T, whose variance is σ²·T/3, so

    timing_risk_bps = σ·√(T/3),  z = surprise / timing_risk,

with σ the symbol's volatility per √second that day and T = end_ts − arrival_ts in seconds. For a
calibrated model z ≈ N(0, 1) (Kissell's judgement of a model by z), so about 95% of |z| ≤ 1.96.

σ comes from what the platform publishes: the realised variance of the 5-minute mid returns of
raw/technical_indicators (`return_bps`), mean(r²) / interval, over the symbol's day. It is the day's
realised volatility (this is post-trade: the noise the order actually met), not a forecast.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from analytics_platform.calendar import SESSION_SECONDS
from analytics_platform.tca.aggregates import Z95, weighted_mean_and_se
from analytics_platform.tca.execution_quality import (
    DEFAULT_NOTIONAL_BUCKETS,
    notional_bucket,
    notional_bucket_order,
)

RETURN_INDICATOR = "return_bps"
GROUP_DIMENSIONS = ("algo", "broker", "urgency", "size_bucket")
CALIBRATION_BAND = 1.96  # |z| within it: the share a calibrated model puts at 95%
PRETRADE_COLUMNS = (
    *("order_id", "symbol", "side", "algo", "broker", "urgency", "size_bucket"),
    *("size_bucket_order", "notional", "expected_cost_bps", "arrival_cost_bps", "surprise_bps"),
    *("daily_volatility_bps", "variance_per_s", "day_volume", "duration_s", "timing_risk_bps"),
    *("scaled_surprise", "trade_date"),
)
CALIBRATION_COLUMNS = (
    *("dimension", "group", "group_order", "n_orders", "mean_expected_bps", "mean_realised_bps"),
    *("bias_bps", "bias_std_error", "bias_ci_low", "bias_ci_high", "mean_z", "share_within_1_96"),
    *("window_start", "window_end", "trade_date"),
)


def symbol_day_market(indicators: pl.DataFrame, market_trades: pl.DataFrame) -> pl.DataFrame:
    """Per symbol and day: the mid's variance per second (bps²/s) from the day's 5-minute
    returns, the daily volatility σ_D = √(variance·session seconds) in bps, and the day's tape
    volume (shares). The return interval is read from the series itself (first to last
    timestamp over the number of steps), so the grid is not assumed."""
    returns = indicators.lazy().filter(
        (pl.col("indicator") == RETURN_INDICATOR) & pl.col("value").is_not_null()
    )
    interval_s = (
        (pl.col("ts").max() - pl.col("ts").min()).dt.total_nanoseconds() / 1e9 / (pl.len() - 1)
    )
    variance = (
        returns.group_by("symbol", "trade_date")
        .agg(variance_per_s=(pl.col("value") ** 2).mean() / interval_s, _n=pl.len())
        .filter(pl.col("_n") > 1)
        .drop("_n")
    )
    volume = (
        market_trades.lazy()
        .group_by("symbol", "trade_date")
        .agg(day_volume=pl.col("size").sum().cast(pl.Float64))
    )
    return (
        variance.join(volume, on=["symbol", "trade_date"], how="full", coalesce=True)
        .with_columns(daily_volatility_bps=(pl.col("variance_per_s") * SESSION_SECONDS).sqrt())
        .collect()
    )


def timing_risk_bps(variance_per_s: pl.Expr, duration_s: pl.Expr) -> pl.Expr:
    """σ·√(T/3): the sd of the average price of a constant-rate schedule over T seconds."""
    return (variance_per_s * duration_s / 3).sqrt()


def pretrade_vs_realised(
    orders_tca: pl.DataFrame,
    assessments: pl.DataFrame,
    market: pl.DataFrame,
    cuts: Sequence[float] = DEFAULT_NOTIONAL_BUCKETS,
) -> pl.DataFrame:
    """Per order: the groups it is judged in (algo, broker, urgency, decision-notional bucket
    with its sort key), expected and realised cost, surprise, timing risk and the scaled
    surprise z (null without σ, a realised cost, or a positive duration)."""
    duration_s = (pl.col("end_ts") - pl.col("arrival_ts")).dt.total_nanoseconds() / 1e9
    risk = timing_risk_bps(pl.col("variance_per_s"), pl.col("duration_s"))
    surprise = pl.col("arrival_cost_bps") - pl.col("expected_cost_bps")
    return (
        orders_tca.lazy()
        .select(
            "order_id",
            "symbol",
            "side",
            "algo",
            "broker",
            "urgency",
            "trade_date",
            "arrival_cost_bps",
            size_bucket=notional_bucket(cuts).cast(pl.String),
            size_bucket_order=notional_bucket_order(cuts),
            notional=pl.col("quantity") * pl.col("decision_px"),
            duration_s=duration_s,
        )
        .join(
            assessments.lazy().select("order_id", "expected_cost_bps"),
            on="order_id",
            how="left",
        )
        .join(market.lazy(), on=["symbol", "trade_date"], how="left")
        .with_columns(surprise_bps=surprise, timing_risk_bps=risk)
        .with_columns(
            scaled_surprise=pl.when(pl.col("timing_risk_bps") > 0).then(
                pl.col("surprise_bps") / pl.col("timing_risk_bps")
            )
        )
        .select(PRETRADE_COLUMNS)
        .sort("order_id")
        .collect()
    )


def pretrade_calibration(
    pretrade: pl.DataFrame, *, window_start: dt.date, window_end: dt.date, trade_date: dt.date
) -> pl.DataFrame:
    """Per group dimension (algo, broker, urgency, size_bucket) and group value, over the orders
    of the window with both costs known: notional-weighted expected and realised cost and their
    difference (bias, with a 95% interval as every TCA aggregate: Kish effective n), and per
    order (each is one forecast) the mean z and the share of |z| ≤ 1.96. `group_order` sorts the
    groups of a dimension (size buckets by size, the others by name)."""
    known = pretrade.lazy().filter(pl.col("surprise_bps").is_not_null() & (pl.col("notional") > 0))
    w = pl.col("notional")
    bias, bias_se = weighted_mean_and_se(pl.col("surprise_bps"), w)
    expected, _ = weighted_mean_and_se(pl.col("expected_cost_bps"), w)
    realised, _ = weighted_mean_and_se(pl.col("arrival_cost_bps"), w)
    z = pl.col("scaled_surprise")
    long = pl.concat(
        [
            known.select(
                "surprise_bps",
                "expected_cost_bps",
                "arrival_cost_bps",
                "notional",
                "scaled_surprise",
                dimension=pl.lit(dimension),
                group=pl.col(dimension).cast(pl.String),
                group_order=(
                    pl.col("size_bucket_order")
                    if dimension == "size_bucket"
                    else pl.col(dimension).rank("dense").cast(pl.Int64) - 1
                ),
            )
            for dimension in GROUP_DIMENSIONS
        ]
    )
    return (
        long.group_by("dimension", "group", "group_order")
        .agg(
            n_orders=pl.len().cast(pl.Int64),
            mean_expected_bps=expected,
            mean_realised_bps=realised,
            bias_bps=bias,
            bias_std_error=bias_se,
            mean_z=z.mean(),
            share_within_1_96=pl.when(z.count() > 0).then(
                (z.abs() <= CALIBRATION_BAND).sum() / z.count()
            ),
        )
        .with_columns(
            bias_ci_low=pl.col("bias_bps") - Z95 * pl.col("bias_std_error"),
            bias_ci_high=pl.col("bias_bps") + Z95 * pl.col("bias_std_error"),
            window_start=pl.lit(window_start, dtype=pl.Date),
            window_end=pl.lit(window_end, dtype=pl.Date),
            trade_date=pl.lit(trade_date, dtype=pl.Date),
        )
        .select(CALIBRATION_COLUMNS)
        .sort("dimension", "group_order")
        .collect()
    )


def pretrade_summary(pretrade: pl.DataFrame) -> pl.DataFrame:
    """One row over the orders with both costs known: notional-weighted expected and realised
    cost and the bias with its 95% interval (the day's pre-trade vs realised)."""
    known = pretrade.lazy().filter(pl.col("surprise_bps").is_not_null() & (pl.col("notional") > 0))
    w = pl.col("notional")
    bias, se = weighted_mean_and_se(pl.col("surprise_bps"), w)
    return (
        known.select(
            expected_cost_bps=weighted_mean_and_se(pl.col("expected_cost_bps"), w)[0],
            realised_cost_bps=weighted_mean_and_se(pl.col("arrival_cost_bps"), w)[0],
            pretrade_bias_bps=bias,
            _se=se,
        )
        .with_columns(
            pretrade_bias_ci_low=pl.col("pretrade_bias_bps") - Z95 * pl.col("_se"),
            pretrade_bias_ci_high=pl.col("pretrade_bias_bps") + Z95 * pl.col("_se"),
        )
        .drop("_se")
        .collect()
        .cast(pl.Float64)
        .fill_nan(None)
    )
