"""Reversion curves and the pooled permanent / temporary impact split.

**Reversion curves.** Per fill and horizon h (seconds, negative = before the fill), the markout
in DESIGN §6's P&L convention, 1e4·s·(M(t+h) − p)/p (positive = the fill looks good), with the
one benchmark mid M (strictly before, same day, at most `max_quote_age` old). h = 0 is M(t), the
mid the fill is measured against: the markout there is minus half the effective spread (in bps
of p). Before the fill the curve shows what the price did on the way in (run-up: our own earlier
fills and anyone trading ahead), after it how much of the move stays (permanent) and how much
reverts (temporary). Curves are notional-weighted per algo and fill type (dark / lit passive /
lit aggressive, as the effects regression types fills), with an "ALL" algo.

**Impact split.** DESIGN's per-order split at horizon H, permanent = 1e4·s·(M(end_ts + H) − P0)/P0
and temporary = arrival cost − permanent, carries for one order the market's whole move over its
life plus H: a noise of sd σ·√(T + H), tens of bps against an impact of a few. Per order it is
mostly noise; only an average over many orders identifies the split. `impact_split` pools the
per-order split by bucket over a window of days, weighted by the executed notional at arrival
X·P0 (the weight of the arrival cost, so permanent + temporary = arrival cost in every row), with
standard errors (Kish effective n). Market moves average out across orders and days; what does not
average out is anything correlated with our side: the alpha of our decisions (a skilled
strategy's price keeps moving our way after the order, and is read as permanent impact) and
the transient impact not yet decayed at H. The split is identified where the decisions carry no
alpha over the order's life; elsewhere "permanent" is permanent impact + alpha.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import polars as pl

from analytics_platform.tca.aggregates import Z95, weighted_mean_and_se
from analytics_platform.tca.breakdowns import PARTICIPATION_CUTS, cut_bucket
from analytics_platform.tca.effects import fill_type
from analytics_platform.tca.fills import DEFAULT_MAX_QUOTE_AGE
from analytics_platform.timeseries import Frame, QuoteBook, quote_book, quotes_at, side_sign

REVERSION_HORIZONS = ("-60s", "-30s", "-5s", "0s", "1s", "5s", "30s", "60s", "300s", "1800s")
ALL = "ALL"
_UNITS = {"s": 1, "m": 60, "h": 3600}
CURVE_COLUMNS = {
    "algo": pl.String,
    "fill_type": pl.String,
    "horizon": pl.String,
    "horizon_s": pl.Int64,
    "n_fills": pl.Int64,
    "notional": pl.Float64,
    "markout_bps": pl.Float64,
    "markout_std_error": pl.Float64,
    "markout_ci_low": pl.Float64,
    "markout_ci_high": pl.Float64,
    "trade_date": pl.Date,
}
SPLIT_COLUMNS = {
    "dimension": pl.String,
    "bucket": pl.String,
    "bucket_order": pl.Int64,
    "n_orders": pl.Int64,
    "executed_notional": pl.Float64,
    "arrival_cost_bps": pl.Float64,
    "permanent_bps": pl.Float64,
    "permanent_std_error": pl.Float64,
    "permanent_ci_low": pl.Float64,
    "permanent_ci_high": pl.Float64,
    "temporary_bps": pl.Float64,
    "temporary_std_error": pl.Float64,
    "temporary_ci_low": pl.Float64,
    "temporary_ci_high": pl.Float64,
    "window_start": pl.Date,
    "window_end": pl.Date,
    "trade_date": pl.Date,
}


def horizon_seconds(horizon: str) -> int:
    """Seconds of a horizon label such as "300s", "-60s", "5m" (the numeric sort key)."""
    found = re.fullmatch(r"(-?\d+)([smh])", horizon)
    if found is None:
        raise ValueError(f"horizon {horizon!r}: expected an integer and s, m or h")
    return int(found[1]) * _UNITS[found[2]]


def horizon_seconds_expr(column: str = "horizon") -> pl.Expr:
    """`horizon_seconds` as an expression over a column of labels."""
    parts = pl.col(column).str.extract_groups(r"^(-?\d+)([smh])$")
    unit = parts.struct.field("2").replace_strict(_UNITS, return_dtype=pl.Int64)
    return (parts.struct.field("1").cast(pl.Int64) * unit).cast(pl.Int64)


def fill_markouts(
    fills_tca: pl.DataFrame,
    quotes: Frame | QuoteBook,
    horizons: Sequence[str] = REVERSION_HORIZONS,
    max_quote_age: str = DEFAULT_MAX_QUOTE_AGE,
) -> pl.DataFrame:
    """Long frame, one row per fill and horizon: exec_id, order_id, fill_type, notional (p·q),
    horizon, horizon_s, markout_bps (null where M(t+h) is undefined)."""
    base = fills_tca.select(
        "exec_id", "order_id", "symbol", "side", "ts", "price", "quantity", "venue",
        "liquidity", "trade_date",
    )  # fmt: skip
    points = {h: pl.col("ts").dt.offset_by(h) for h in horizons}
    mids = quotes_at(base, points, quote_book(quotes), max_quote_age).select(
        pl.col(f"mid_{h}").alias(h) for h in horizons
    )
    s, p = side_sign(), pl.col("price")
    return (
        pl.concat([base, mids], how="horizontal")
        .lazy()
        .with_columns(fill_type=fill_type(), notional=p * pl.col("quantity"), _s=s)
        .unpivot(
            index=["exec_id", "order_id", "fill_type", "notional", "price", "_s"],
            on=list(horizons),
            variable_name="horizon",
            value_name="_mid",
        )
        .with_columns(
            horizon_s=horizon_seconds_expr(),
            markout_bps=1e4 * pl.col("_s") * (pl.col("_mid") - p) / p,
        )
        .drop("_mid", "_s", "price")
        .collect()
    )


def _weighted(x: str, w: str, name: str) -> list[pl.Expr]:
    known = pl.col(x).is_not_null() & pl.col(w).is_not_null() & (pl.col(w) > 0)
    mean, se = weighted_mean_and_se(pl.col(x).filter(known), pl.col(w).filter(known))
    return [mean.alias(name), se.alias(f"{name}_std_error")]


def reversion_curves(
    markouts: pl.DataFrame, orders_tca: pl.DataFrame, trade_date: dt.date
) -> pl.DataFrame:
    """Per algo (and ALL) × fill type × horizon: notional-weighted markout with its 95 %
    interval, sorted by algo, fill type and horizon_s (numeric)."""
    frame = markouts.lazy().join(
        orders_tca.lazy().select("order_id", "algo"), on="order_id", how="left"
    )
    both = pl.concat([frame, frame.with_columns(algo=pl.lit(ALL))])
    return (
        both.filter(pl.col("markout_bps").is_not_null())
        .group_by("algo", "fill_type", "horizon", "horizon_s")
        .agg(
            pl.len().cast(pl.Int64).alias("n_fills"),
            pl.col("notional").sum(),
            *_weighted("markout_bps", "notional", "markout"),
        )
        .rename({"markout": "markout_bps"})
        .with_columns(
            markout_ci_low=pl.col("markout_bps") - Z95 * pl.col("markout_std_error"),
            markout_ci_high=pl.col("markout_bps") + Z95 * pl.col("markout_std_error"),
            trade_date=pl.lit(trade_date, dtype=pl.Date),
        )
        .select(pl.col(c).cast(t) for c, t in CURVE_COLUMNS.items())
        .sort("algo", "fill_type", "horizon_s")
        .collect()
    )


def impact_split(
    orders_tca: pl.DataFrame,
    *,
    window_start: dt.date,
    window_end: dt.date,
    trade_date: dt.date,
    participation_cuts: Sequence[float] = PARTICIPATION_CUTS,
) -> pl.DataFrame:
    """The per-order permanent / temporary split pooled over the window's filled orders, per
    participation bucket, urgency and overall (module docstring)."""
    label, order = cut_bucket(pl.col("participation_rate"), participation_cuts, percent=True)
    urgency = (
        pl.col("urgency").cast(pl.String)
        if "urgency" in orders_tca.columns
        else pl.lit(None, dtype=pl.String)
    )
    frame = orders_tca.lazy().filter(
        pl.col("permanent_impact_bps").is_not_null() & pl.col("temporary_impact_bps").is_not_null()
    )
    columns = [
        "arrival_cost_bps",
        "permanent_impact_bps",
        "temporary_impact_bps",
        (pl.col("executed_quantity") * pl.col("arrival_mid")).alias("executed_notional"),
    ]
    long = pl.concat(
        [
            frame.select(
                *columns, dimension=pl.lit("all"), bucket=pl.lit(ALL), bucket_order=pl.lit(0)
            ),
            frame.select(
                *columns, dimension=pl.lit("participation"), bucket=label, bucket_order=order
            ),
            frame.select(
                *columns,
                dimension=pl.lit("urgency"),
                bucket=urgency.fill_null("unknown"),
                bucket_order=urgency.rank("dense").cast(pl.Int64) - 1,
            ),
        ],
        how="vertical_relaxed",
    )
    w = "executed_notional"
    return (
        long.group_by("dimension", "bucket", "bucket_order")
        .agg(
            pl.len().cast(pl.Int64).alias("n_orders"),
            pl.col(w).sum(),
            _weighted("arrival_cost_bps", w, "arrival_cost_bps")[0],
            *_weighted("permanent_impact_bps", w, "permanent"),
            *_weighted("temporary_impact_bps", w, "temporary"),
        )
        .rename({"permanent": "permanent_bps", "temporary": "temporary_bps"})
        .with_columns(
            permanent_ci_low=pl.col("permanent_bps") - Z95 * pl.col("permanent_std_error"),
            permanent_ci_high=pl.col("permanent_bps") + Z95 * pl.col("permanent_std_error"),
            temporary_ci_low=pl.col("temporary_bps") - Z95 * pl.col("temporary_std_error"),
            temporary_ci_high=pl.col("temporary_bps") + Z95 * pl.col("temporary_std_error"),
            window_start=pl.lit(window_start, dtype=pl.Date),
            window_end=pl.lit(window_end, dtype=pl.Date),
            trade_date=pl.lit(trade_date, dtype=pl.Date),
        )
        .select(pl.col(c).cast(t) for c, t in SPLIT_COLUMNS.items())
        .sort("dimension", "bucket_order", "bucket")
        .collect()
    )
