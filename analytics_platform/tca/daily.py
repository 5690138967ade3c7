"""Daily TCA tables built from fill- and order-level TCA: performance by venue, algo, broker and
strategy, and markout curves. All notional-weighted (`cost_summary`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from analytics_platform.tca.aggregates import cost_summary
from analytics_platform.tca.execution_quality import outside_nbbo_share


@dataclass(frozen=True)
class DailySummary:
    table: str
    source: str  # "fills" (weight: fill notional) or "orders" (weight: Q·decision_px)
    by: tuple[str, ...]
    metrics: tuple[str, ...]
    description: str


SUMMARIES = (
    DailySummary(
        "tca/venue_daily",
        "fills",
        ("venue",),
        ("effective_spread_bps", "arrival_cost_bps", "markout_bps_60s"),
        "Venue performance per day: notional-weighted spreads, arrival cost and 60 s markout.",
    ),
    DailySummary(
        "tca/algo_daily",
        "orders",
        ("algo",),
        ("arrival_cost_bps", "vwap_cost_bps", "is_total_bps", "fill_rate"),
        "Algo performance per day: arrival, VWAP and implementation-shortfall costs, fill rate.",
    ),
    DailySummary(
        "tca/broker_daily",
        "orders",
        ("broker",),
        ("arrival_cost_bps", "vwap_cost_bps", "is_total_bps", "fill_rate"),
        "Broker performance per day: arrival, VWAP and implementation-shortfall costs, fill rate.",
    ),
    DailySummary(
        "tca/strategy_daily",
        "orders",
        ("strategy_id",),
        ("arrival_cost_bps", "is_delay_bps", "is_total_bps", "fill_rate"),
        "Strategy execution costs per day: arrival cost, delay and total shortfall, fill rate.",
    ),
)


def with_notional(source: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Add the aggregation weight: fill notional for fills, Q·decision_px for orders."""
    weight = (
        pl.col("price") * pl.col("quantity")
        if source == "fills"
        else pl.col("quantity") * pl.col("decision_px")
    )
    return frame.with_columns(notional=weight)


def daily_summary(spec: DailySummary, frame: pl.DataFrame, trade_date: dt.date) -> pl.DataFrame:
    weighted = with_notional(spec.source, frame)
    parts = [cost_summary(weighted, spec.by, m, "notional") for m in spec.metrics]
    return pl.concat(parts).with_columns(trade_date=pl.lit(trade_date))


def markout_curves(fills_tca: pl.DataFrame, trade_date: dt.date) -> pl.DataFrame:
    """Notional-weighted markout per venue and horizon (the curve a desk plots)."""
    markouts = [c for c in fills_tca.columns if c.startswith("markout_bps_")]
    long = (
        with_notional("fills", fills_tca)
        .unpivot(
            index=["venue", "notional"],
            on=markouts,
            variable_name="horizon",
            value_name="markout_bps",
        )
        .with_columns(pl.col("horizon").str.strip_prefix("markout_bps_"))
    )
    return cost_summary(long, ["venue", "horizon"], "markout_bps", "notional").with_columns(
        trade_date=pl.lit(trade_date)
    )


def daily_report(
    fills_tca: pl.DataFrame, orders_tca: pl.DataFrame, outliers: pl.DataFrame, trade_date: dt.date
) -> pl.DataFrame:
    """One row: the day's headline TCA (what TCAReportEvent carries)."""
    fills = with_notional("fills", fills_tca).with_columns(day=pl.lit(True))
    orders = with_notional("orders", orders_tca).with_columns(day=pl.lit(True))

    def headline(frame: pl.DataFrame, metric: str) -> float | None:
        summary = cost_summary(frame, ["day"], metric, "notional")
        return summary["weighted_bps"][0] if summary.height else None

    venues = cost_summary(fills, ["venue"], "effective_spread_bps", "notional").sort("weighted_bps")
    return pl.DataFrame(
        {
            "report_id": [trade_date.isoformat()],
            "as_of_ts": [dt.datetime.combine(trade_date, dt.time(23, 59), tzinfo=dt.UTC)],
            "fills": [fills_tca.height],
            "orders": [orders_tca.height],
            "notional": [float(fills["notional"].sum())],
            "arrival_cost_bps": [headline(orders, "arrival_cost_bps")],
            "effective_spread_bps": [headline(fills, "effective_spread_bps")],
            "is_total_bps": [headline(orders, "is_total_bps")],
            "fill_rate": [headline(orders, "fill_rate")],
            "best_venue": [venues["venue"][0] if venues.height else None],
            "worst_venue": [venues["venue"][-1] if venues.height else None],
            "outliers": [outliers.filter(pl.col("kind") == "cost_beyond_expectation").height],
            # Fills outside the NBBO are a data-quality share, not cost outliers.
            "fills_outside_nbbo_share": [outside_nbbo_share(fills_tca, outliers)],
            "trade_date": [trade_date],
        },
        schema_overrides={
            "as_of_ts": pl.Datetime("ns", "UTC"),
            "fills": pl.Int64,
            "orders": pl.Int64,
            "outliers": pl.Int64,
            **dict.fromkeys(
                [
                    "notional",
                    "arrival_cost_bps",
                    "effective_spread_bps",
                    "is_total_bps",
                    "fill_rate",
                    "fills_outside_nbbo_share",
                ],
                pl.Float64,
            ),
            "best_venue": pl.String,
            "worst_venue": pl.String,
        },
    )
