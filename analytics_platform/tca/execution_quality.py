"""Execution-quality tables: a Rule-605-style report and outliers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

DEFAULT_NOTIONAL_BUCKETS = (50_000.0, 200_000.0, 1_000_000.0)
DEFAULT_OUTLIER_K_SIGMA = 3.0
# A fill is outside the NBBO only beyond this tolerance: one tick (US equities), unless a
# tolerance in bps of the mid is configured.
ONE_TICK = 0.01


def notional_bucket(cuts: Sequence[float]) -> pl.Expr:
    """Order notional (Q·Pd) bucket labels like "[50000, 200000)"; cut points from config."""
    edges = [0.0, *cuts]
    labels = [f"[{lo:.0f}, {hi:.0f})" for lo, hi in zip(edges, [*cuts], strict=False)]
    labels.append(f"[{edges[-1]:.0f}, inf)")
    return (pl.col("quantity") * pl.col("decision_px")).cut(
        list(cuts), labels=labels, left_closed=True
    )


def notional_bucket_order(cuts: Sequence[float]) -> pl.Expr:
    """The position of `notional_bucket` among the buckets (0 = smallest): a numeric sort key
    for labels that do not sort as strings."""
    notional = pl.col("quantity") * pl.col("decision_px")
    return pl.sum_horizontal([(notional >= cut).cast(pl.Int64) for cut in cuts]).cast(pl.Int64)


def outside_nbbo(tolerance_bps: float | None = None) -> pl.Expr:
    """The fill printed beyond the quote defining M(t) by more than the tolerance (one tick, or
    `tolerance_bps` of the mid); null without a quote."""
    tolerance = (
        pl.lit(ONE_TICK) if tolerance_bps is None else pl.col("mid_at_fill") * tolerance_bps / 1e4
    )
    return (pl.col("price") > pl.col("ask_at_fill") + tolerance) | (
        pl.col("price") < pl.col("bid_at_fill") - tolerance
    )


def rule_605(
    fills_tca: pl.DataFrame,
    orders_tca: pl.DataFrame,
    trade_date: dt.date,
    cuts: Sequence[float] = DEFAULT_NOTIONAL_BUCKETS,
) -> pl.DataFrame:
    """SEC-Rule-605-style execution quality per order type and notional bucket. Averages are
    share-weighted, as in 605 reports."""
    horizons = [
        c.removeprefix("realized_spread_bps_")
        for c in fills_tca.columns
        if c.startswith("realized_spread_bps_")
    ]
    orders = orders_tca.select(
        "order_id",
        "order_type",
        bucket=notional_bucket(cuts).cast(pl.String),
        bucket_order=notional_bucket_order(cuts),
    )
    fills = fills_tca.join(orders, on="order_id").join(
        orders_tca.select("order_id", "arrival_ts"), on="order_id"
    )
    q = pl.col("quantity")

    def share_avg(expr: pl.Expr, where: pl.Expr | None = None) -> pl.Expr:
        keep = expr.is_not_null() if where is None else expr.is_not_null() & where
        shares = q.filter(keep).sum()
        return pl.when(shares > 0).then((expr * q).filter(keep).sum() / shares)

    improved = pl.col("price_improvement") > 0
    seconds_to_fill = (pl.col("ts") - pl.col("arrival_ts")).dt.total_nanoseconds() / 1e9
    per_fill = fills.group_by("order_type", "bucket", "bucket_order").agg(
        q.sum().alias("shares"),
        share_avg(pl.col("effective_spread_bps")).alias("avg_effective_spread_bps"),
        (
            (pl.col("effective_spread_bps") * q).sum() / (pl.col("quoted_spread_bps") * q).sum()
        ).alias("effective_over_quoted"),
        *[
            share_avg(pl.col(f"realized_spread_bps_{h}")).alias(f"avg_realized_spread_bps_{h}")
            for h in horizons
        ],
        *[
            share_avg(pl.col(f"price_impact_bps_{h}")).alias(f"avg_price_impact_bps_{h}")
            for h in horizons
        ],
        (q.filter(improved).sum() / q.sum()).alias("price_improved_share"),
        share_avg(pl.col("price_improvement"), improved).alias("avg_price_improvement"),
        share_avg(seconds_to_fill, improved).alias("avg_improved_time_s"),
        share_avg(seconds_to_fill).alias("avg_time_to_execution_s"),
    )
    counts = orders.group_by("order_type", "bucket", "bucket_order").agg(orders=pl.len())
    return (
        counts.join(per_fill, on=["order_type", "bucket", "bucket_order"], how="left")
        .with_columns(trade_date=pl.lit(trade_date))
        .sort("order_type", "bucket_order")
    )


def outliers(
    fills_tca: pl.DataFrame,
    pretrade: pl.DataFrame,
    k_sigma: float = DEFAULT_OUTLIER_K_SIGMA,
    nbbo_tolerance_bps: float | None = None,
) -> pl.DataFrame:
    """One row per finding, with the reason, of two separate kinds:

    * `cost_beyond_expectation`: orders whose scaled surprise |z| = |realised − expected| /
      timing risk (tca/pretrade) exceeds `k_sigma`: each order is judged against the noise its
      own duration and symbol allow, not against one pooled dispersion of the day;
    * `fill_outside_nbbo`: fills beyond the quote by more than the tolerance (`outside_nbbo`), a
      data-quality flag that the daily report counts as a share of fills, never as outliers.
    """
    outside = fills_tca.filter(outside_nbbo(nbbo_tolerance_bps)).select(
        kind=pl.lit("fill_outside_nbbo"),
        id=pl.col("exec_id"),
        order_id="order_id",
        symbol="symbol",
        value_bps=pl.col("effective_spread_bps"),
        expected_bps=pl.lit(None, dtype=pl.Float64),
        z_score=pl.lit(None, dtype=pl.Float64),
        detail=pl.format("price {} outside [{}, {}]", "price", "bid_at_fill", "ask_at_fill"),
        trade_date="trade_date",
    )
    surprise = pretrade.filter(pl.col("scaled_surprise").abs() > k_sigma).select(
        kind=pl.lit("cost_beyond_expectation"),
        id=pl.col("order_id"),
        order_id="order_id",
        symbol="symbol",
        value_bps=pl.col("arrival_cost_bps"),
        expected_bps=pl.col("expected_cost_bps"),
        z_score=pl.col("scaled_surprise"),
        detail=pl.format(
            "arrival cost {} bps vs expected {} bps, timing risk {} bps",
            pl.col("arrival_cost_bps").round(2),
            pl.col("expected_cost_bps").round(2),
            pl.col("timing_risk_bps").round(2),
        ),
        trade_date="trade_date",
    )
    return pl.concat([outside, surprise]).sort("kind", "id")


def outside_nbbo_share(fills_tca: pl.DataFrame, found: pl.DataFrame) -> float | None:
    """Share of the fills with a quote that `outliers` found outside the NBBO (None: no quote)."""
    quoted = fills_tca["bid_at_fill"].is_not_null().sum()
    outside = found.filter(pl.col("kind") == "fill_outside_nbbo").height
    return outside / quoted if quoted else None


# Rule 605 as filed: order-size categories in shares (the 605 covered sizes, and the larger
# orders a desk also trades), time-to-execution categories in seconds from the order's arrival.
SIZE_CATEGORY_SHARES = (100, 500, 2_000, 5_000, 10_000)
TIME_CATEGORY_SECONDS = (10, 30, 60, 300, 1_800)


def _category(value: pl.Expr, cuts: Sequence[float], unit: str) -> tuple[pl.Expr, pl.Expr]:
    """Label "[lo, hi) unit" of `value` between `cuts` and its numeric sort key."""
    edges = [0, *cuts]
    labels = [f"[{lo:g}, {hi:g}) {unit}" for lo, hi in zip(edges, cuts, strict=False)]
    labels.append(f"[{cuts[-1]:g}, inf) {unit}")
    order = pl.sum_horizontal([(value >= cut).cast(pl.Int64) for cut in cuts]).cast(pl.Int64)
    return order.replace_strict(dict(enumerate(labels)), return_dtype=pl.String), order


def quote_position() -> pl.Expr:
    """Where a fill printed against the NBBO defining M(t), from the side that pays: "inside"
    (better than the far side: BUY below the ask, SELL above the bid), "at" (at it), "outside"
    (worse); null without a quote."""
    improvement = pl.col("price_improvement")  # BUY ask − p, SELL p − bid
    return (
        pl.when(improvement.is_null())
        .then(pl.lit(None, dtype=pl.String))
        .when(improvement.round(8) > 0)
        .then(pl.lit("inside"))
        .when(improvement.round(8) == 0)
        .then(pl.lit("at"))
        .otherwise(pl.lit("outside"))
    )


def rule_605_by_symbol(
    fills_tca: pl.DataFrame, orders_tca: pl.DataFrame, trade_date: dt.date
) -> pl.DataFrame:
    """Rule 605 in its filed shape: per symbol, order type and order-size category (the parent
    order's shares): covered orders and shares; shares executed inside, at and outside the
    quote; price improvement (share-weighted average $/share over improved shares); size
    improvement (shares executed at or inside the quote beyond the size displayed there); and
    shares executed per time-to-execution category (seconds from arrival to the fill)."""
    size_label, size_order = _category(pl.col("quantity"), SIZE_CATEGORY_SHARES, "shares")
    orders = orders_tca.select(
        "order_id",
        "symbol",
        "order_type",
        "arrival_ts",
        size_category=size_label,
        size_category_order=size_order,
    )
    seconds = (pl.col("ts") - pl.col("arrival_ts")).dt.total_nanoseconds() / 1e9
    _, time_order = _category(seconds, TIME_CATEGORY_SECONDS, "s")
    displayed = (
        pl.when(pl.col("side") == "BUY")
        .then(pl.col("ask_size_at_fill"))
        .otherwise(pl.col("bid_size_at_fill"))
    )
    position = quote_position()
    q = pl.col("quantity")
    improved = position == "inside"
    keys = ["symbol", "order_type", "size_category", "size_category_order"]
    fills = (
        fills_tca.drop("symbol")
        .join(orders, on="order_id")
        .with_columns(_position=position, _time=time_order)
        .group_by(keys)
        .agg(
            shares=q.sum().cast(pl.Int64),
            shares_inside_quote=q.filter(pl.col("_position") == "inside").sum().cast(pl.Int64),
            shares_at_quote=q.filter(pl.col("_position") == "at").sum().cast(pl.Int64),
            shares_outside_quote=q.filter(pl.col("_position") == "outside").sum().cast(pl.Int64),
            avg_price_improvement=(pl.col("price_improvement") * q).filter(improved).sum()
            / q.filter(improved).sum(),
            size_improved_shares=(q - displayed)
            .clip(lower_bound=0)
            .filter(pl.col("_position").is_in(["at", "inside"]))
            .sum()
            .cast(pl.Int64),
            **{
                f"shares_exec_{name}": q.filter(pl.col("_time") == i).sum().cast(pl.Int64)
                for i, name in enumerate(_TIME_NAMES)
            },
        )
    )
    counts = orders.group_by(keys).agg(covered_orders=pl.len().cast(pl.Int64))
    return (
        counts.join(fills, on=keys, how="left")
        .with_columns(trade_date=pl.lit(trade_date, dtype=pl.Date))
        .sort("symbol", "order_type", "size_category_order")
    )


_TIME_NAMES = ("0_9s", "10_29s", "30_59s", "60_299s", "300_1799s", "1800s_plus")


def routing(fills_tca: pl.DataFrame, orders_tca: pl.DataFrame, trade_date: dt.date) -> pl.DataFrame:
    """Rule-606-style routing: per order type (and ALL) and venue, fills, shares and notional
    with the venue's share of the section's shares and notional, passive (ADD) share, fees paid,
    rebates received and net fees (positive = paid) in $ and in mils per share."""
    frame = fills_tca.lazy().join(
        orders_tca.lazy().select("order_id", "order_type"), on="order_id", how="left"
    )
    both = pl.concat([frame, frame.with_columns(order_type=pl.lit("ALL"))])
    q, fee = pl.col("quantity"), pl.col("fee")
    return (
        both.group_by("order_type", "venue")
        .agg(
            fills=pl.len().cast(pl.Int64),
            shares=q.sum().cast(pl.Int64),
            notional=(pl.col("price") * q).sum(),
            passive_share=q.filter(pl.col("liquidity") == "ADD").sum() / q.sum(),
            fees_paid=fee.filter(fee > 0).sum(),
            rebates_received=-fee.filter(fee < 0).sum(),
            net_fees=fee.sum(),
        )
        .with_columns(
            share_of_shares=pl.col("shares") / pl.col("shares").sum().over("order_type"),
            share_of_notional=pl.col("notional") / pl.col("notional").sum().over("order_type"),
            net_fee_mils_per_share=1e3 * pl.col("net_fees") / pl.col("shares"),
            trade_date=pl.lit(trade_date, dtype=pl.Date),
        )
        .sort("order_type", "venue")
        .collect()
    )
