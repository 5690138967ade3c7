"""Cost breakdowns of a day's orders by time of day, size against ADV, participation, urgency,
order type, algo and broker (and of its fills by venue): what a desk reads first.

Per group, with s = +1 BUY, −1 SELL, X executed shares, P̄ the average fill price, P0 the arrival
mid, Pn the mid at end_ts, Q the target and Pd the decision price (DESIGN §6):

* `cost_bps`: arrival cost 1e4·s·(P̄ − P0)/P0 weighted by the executed notional at arrival X·P0,
  so that `dollar_cost` = Σ s·X·(P̄ − P0) = cost_bps·executed_notional/1e4 exactly; its standard
  error and 95 % interval as every TCA aggregate (Kish effective n);
* `is_total_bps` (notional Q·Pd weighted, so unfilled orders weigh in) and `is_total_dollars` =
  Σ is_total_bps·Q·Pd/1e4: the whole implementation shortfall, fees included;
* the opportunity cost of the unfilled part, DESIGN's IS opportunity term:
  `opportunity_dollars` = Σ s·(Q − X)·(Pn − P0) (from the arrival mid, the delay being its own IS
  term), `opportunity_cost_bps` its Q·Pd-weighted mean in bps of Q·Pd. It is what limit orders
  that did not fill (and cancelled orders) left on the table; positive = the price ran away.

Buckets carry `bucket_order`, a numeric sort key (labels such as "[5%, 10%)" or "09:30" do not
sort as text); orders without a value for a dimension fall in bucket "unknown", sorted last.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from analytics_platform.calendar import EXCHANGE_TZ
from analytics_platform.tca.aggregates import Z95, weighted_mean_and_se

TIME_OF_DAY_MINUTES = 30
SIZE_ADV_CUTS = (0.001, 0.005, 0.01, 0.05)  # Q / ADV
PARTICIPATION_CUTS = (0.05, 0.10, 0.20)  # X / window volume (participation_rate)
ORDER_DIMENSIONS = (
    "time_of_day", "size_adv", "participation", "urgency", "order_type", "algo", "broker",
)  # fmt: skip
UNKNOWN = "unknown"
UNKNOWN_ORDER = 1_000_000
BREAKDOWN_COLUMNS = {
    "dimension": pl.String,
    "bucket": pl.String,
    "bucket_order": pl.Int64,
    "n_orders": pl.Int64,
    "n_filled": pl.Int64,
    "notional": pl.Float64,
    "executed_notional": pl.Float64,
    "cost_bps": pl.Float64,
    "cost_std_error": pl.Float64,
    "cost_ci_low": pl.Float64,
    "cost_ci_high": pl.Float64,
    "dollar_cost": pl.Float64,
    "is_total_bps": pl.Float64,
    "is_total_dollars": pl.Float64,
    "unfilled_shares": pl.Int64,
    "opportunity_cost_bps": pl.Float64,
    "opportunity_dollars": pl.Float64,
    "trade_date": pl.Date,
}


def cut_bucket(
    value: pl.Expr, cuts: Sequence[float], percent: bool = False
) -> tuple[pl.Expr, pl.Expr]:
    """The label "[lo, hi)" of `value`'s bucket between `cuts` (as percentages with `percent`)
    and its numeric sort key (0 = lowest; "unknown" for a null value, sorted last)."""

    def show(x: float) -> str:
        return f"{x * 100:g}%" if percent else f"{x:g}"

    edges = [0.0, *cuts]
    labels = [f"[{show(lo)}, {show(hi)})" for lo, hi in zip(edges, cuts, strict=False)]
    labels.append(f"[{show(cuts[-1])}, inf)")
    order = pl.sum_horizontal([(value >= cut).cast(pl.Int64) for cut in cuts])
    label = order.replace_strict(dict(enumerate(labels)), return_dtype=pl.String)
    return (
        pl.when(value.is_null()).then(pl.lit(UNKNOWN)).otherwise(label),
        pl.when(value.is_null()).then(pl.lit(UNKNOWN_ORDER)).otherwise(order).cast(pl.Int64),
    )


def time_of_day_bucket(minutes: int = TIME_OF_DAY_MINUTES) -> tuple[pl.Expr, pl.Expr]:
    """The exchange-local start "HH:MM" of the `minutes` bucket of arrival_ts, and its sort key
    (minutes since midnight)."""
    start = pl.col("arrival_ts").dt.convert_time_zone(EXCHANGE_TZ).dt.truncate(f"{minutes}m")
    return (
        start.dt.strftime("%H:%M"),
        (start.dt.hour().cast(pl.Int64) * 60 + start.dt.minute().cast(pl.Int64)),
    )


def average_daily_volume(pretrade: pl.DataFrame, trade_date: dt.date) -> pl.DataFrame:
    """Per symbol: ADV, the mean tape volume (tca/pretrade `day_volume`) over the window's days
    before `trade_date` (known at the open); the day's own volume where no earlier day exists."""
    days = pretrade.lazy().select("symbol", "trade_date", "day_volume").unique().drop_nulls()
    before = (
        days.filter(pl.col("trade_date") < trade_date)
        .group_by("symbol")
        .agg(_adv_before=pl.col("day_volume").mean())
    )
    today = days.filter(pl.col("trade_date") == trade_date).select("symbol", _today="day_volume")
    return (
        today.join(before, on="symbol", how="full", coalesce=True)
        .select("symbol", adv=pl.coalesce("_adv_before", "_today"))
        .sort("symbol")
        .collect()
    )


def _order_buckets(
    dimension: str, size_adv_cuts: Sequence[float], participation_cuts: Sequence[float]
) -> tuple[pl.Expr, pl.Expr]:
    if dimension == "time_of_day":
        return time_of_day_bucket()
    if dimension == "size_adv":
        return cut_bucket(pl.col("quantity") / pl.col("adv"), size_adv_cuts, percent=True)
    if dimension == "participation":
        return cut_bucket(pl.col("participation_rate"), participation_cuts, percent=True)
    value = pl.col(dimension).cast(pl.String)
    return (
        value.fill_null(UNKNOWN),
        pl.when(value.is_null())
        .then(pl.lit(UNKNOWN_ORDER))
        .otherwise(value.rank("dense") - 1)
        .cast(pl.Int64),
    )


def cost_aggregates() -> list[pl.Expr]:
    """Per group of a long frame with arrival_cost_bps, executed_notional (X·P0), notional
    (Q·Pd), is_total_bps, is_opportunity_bps, unfilled_shares, filled and order_id."""
    x, w = pl.col("arrival_cost_bps"), pl.col("executed_notional")
    known = x.is_not_null() & w.is_not_null() & (w > 0)
    mean, se = weighted_mean_and_se(x.filter(known), w.filter(known))
    notional = pl.col("notional")

    def by_notional(column: str) -> pl.Expr:
        kept = pl.col(column).is_not_null() & notional.is_not_null()
        return (pl.col(column) * notional).filter(kept).sum() / notional.filter(kept).sum()

    def dollars(column: str) -> pl.Expr:
        return (pl.col(column) * notional).sum() / 1e4

    return [
        pl.col("order_id").n_unique().cast(pl.Int64).alias("n_orders"),
        pl.col("order_id").filter(pl.col("filled")).n_unique().cast(pl.Int64).alias("n_filled"),
        notional.sum().alias("notional"),
        w.filter(known).sum().alias("executed_notional"),
        mean.alias("cost_bps"),
        se.alias("cost_std_error"),
        ((x * w).filter(known).sum() / 1e4).alias("dollar_cost"),
        by_notional("is_total_bps").alias("is_total_bps"),
        dollars("is_total_bps").alias("is_total_dollars"),
        pl.col("unfilled_shares").sum().cast(pl.Int64).alias("unfilled_shares"),
        by_notional("is_opportunity_bps").alias("opportunity_cost_bps"),
        dollars("is_opportunity_bps").alias("opportunity_dollars"),
    ]


def finish(grouped: pl.LazyFrame, trade_date: dt.date) -> pl.LazyFrame:
    """Intervals from the standard errors; the trade date."""
    return grouped.with_columns(
        cost_ci_low=pl.col("cost_bps") - Z95 * pl.col("cost_std_error"),
        cost_ci_high=pl.col("cost_bps") + Z95 * pl.col("cost_std_error"),
        trade_date=pl.lit(trade_date, dtype=pl.Date),
    )


def order_cost_columns() -> list[pl.Expr]:
    """The per-order inputs of `cost_aggregates`."""
    return [
        pl.col("order_id"),
        pl.col("arrival_cost_bps"),
        (pl.col("executed_quantity") * pl.col("arrival_mid")).alias("executed_notional"),
        (pl.col("quantity") * pl.col("decision_px")).alias("notional"),
        pl.col("is_total_bps"),
        pl.col("is_opportunity_bps"),
        (pl.col("quantity") - pl.col("executed_quantity")).alias("unfilled_shares"),
        (pl.col("executed_quantity") > 0).alias("filled"),
    ]


def order_breakdowns(
    orders_tca: pl.DataFrame,
    adv: pl.DataFrame,
    trade_date: dt.date,
    *,
    dimensions: Sequence[str] = ORDER_DIMENSIONS,
    size_adv_cuts: Sequence[float] = SIZE_ADV_CUTS,
    participation_cuts: Sequence[float] = PARTICIPATION_CUTS,
) -> pl.DataFrame:
    """One row per dimension and bucket (module docstring), sorted by dimension, bucket_order."""
    frame = orders_tca.lazy().join(adv.lazy(), on="symbol", how="left")
    if "urgency" not in frame.collect_schema().names():
        frame = frame.with_columns(urgency=pl.lit(None, dtype=pl.String))
    parts = []
    for dimension in dimensions:
        label, order = _order_buckets(dimension, size_adv_cuts, participation_cuts)
        parts.append(
            frame.select(
                *order_cost_columns(),
                dimension=pl.lit(dimension),
                bucket=label,
                bucket_order=order,
            )
        )
    grouped = (
        pl.concat(parts).group_by("dimension", "bucket", "bucket_order").agg(cost_aggregates())
    )
    return (
        finish(grouped, trade_date)
        .select(pl.col(c).cast(t) for c, t in BREAKDOWN_COLUMNS.items())
        .sort("dimension", "bucket_order", "bucket")
        .collect()
    )


def fill_breakdown(fills_tca: pl.DataFrame, by: str, trade_date: dt.date) -> pl.DataFrame:
    """The same costs per fill-level group (venue): arrival cost weighted by q·P0, dollars
    Σ s·q·(p − P0); the order-level columns (notional, shortfall, opportunity) are null."""
    grouped = (
        fills_tca.lazy()
        .select(
            "order_id",
            "arrival_cost_bps",
            executed_notional=pl.col("quantity") * pl.col("arrival_mid"),
            notional=pl.lit(None, dtype=pl.Float64),
            is_total_bps=pl.lit(None, dtype=pl.Float64),
            is_opportunity_bps=pl.lit(None, dtype=pl.Float64),
            unfilled_shares=pl.lit(None, dtype=pl.Int64),
            filled=pl.lit(True),
            dimension=pl.lit(by),
            bucket=pl.col(by).cast(pl.String).fill_null(UNKNOWN),
            bucket_order=pl.col(by).cast(pl.String).rank("dense").cast(pl.Int64) - 1,
        )
        .group_by("dimension", "bucket", "bucket_order")
        .agg(cost_aggregates())
        .with_columns(
            pl.lit(None, dtype=pl.Float64).alias(c)
            for c in (
                "notional",
                "is_total_bps",
                "is_total_dollars",
                "opportunity_cost_bps",
                "opportunity_dollars",
            )
        )
        .with_columns(unfilled_shares=pl.lit(None, dtype=pl.Int64))
    )
    return (
        finish(grouped, trade_date)
        .select(pl.col(c).cast(t) for c, t in BREAKDOWN_COLUMNS.items())
        .sort("bucket_order", "bucket")
        .collect()
    )
