"""Daily TCA tables built from fill- and order-level TCA: performance by venue, algo, broker and
strategy, and markout curves. All notional-weighted (`cost_summary`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from analytics_platform.tca.aggregates import cost_summary
from analytics_platform.tca.breakdowns import fill_breakdown, order_breakdowns
from analytics_platform.tca.execution_quality import outside_nbbo_share
from analytics_platform.tca.pretrade import pretrade_summary
from analytics_platform.tca.reversion import horizon_seconds_expr


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
    return (
        cost_summary(long, ["venue", "horizon"], "markout_bps", "notional")
        .with_columns(horizon_s=horizon_seconds_expr(), trade_date=pl.lit(trade_date))
        .sort("venue", "horizon_s")
    )


REPORT_TOP_OUTLIERS = 5
_BREAKDOWN_FIELDS = (
    "bucket", "n_orders", "executed_notional", "cost_bps", "cost_ci_low", "cost_ci_high",
    "dollar_cost", "is_total_bps",
)  # fmt: skip
_CALIBRATION_FIELDS = (
    "dimension", "group", "n_orders", "mean_expected_bps", "mean_realised_bps", "bias_bps",
    "bias_ci_low", "bias_ci_high", "mean_z", "share_within_1_96",
)  # fmt: skip
_OUTLIER_FIELDS = ("order_id", "symbol", "value_bps", "expected_bps", "z_score", "detail")


def _nested(frame: pl.DataFrame, fields: tuple[str, ...], name: str) -> pl.DataFrame:
    """The rows of `frame` as one list-of-structs cell (the event carries them as an array)."""
    return frame.select(pl.struct(*fields).implode().alias(name))


def _report_details(  # noqa: PLR0917  (the report's inputs, passed through)
    orders_tca: pl.DataFrame,
    fills_tca: pl.DataFrame,
    outliers: pl.DataFrame,
    trade_date: dt.date,
    window_orders: pl.DataFrame | None,
    pretrade: pl.DataFrame | None,
    calibration: pl.DataFrame | None,
) -> pl.DataFrame:
    """The columns the report adds to its headline: dollar costs and intervals, the day against
    the trailing window, breakdowns by algo, broker, urgency and venue, pre-trade expected vs
    realised, and the largest cost outliers with their reason."""
    orders = with_notional("orders", orders_tca).with_columns(day=pl.lit(True))
    day = cost_summary(orders, ["day"], "arrival_cost_bps", "notional")
    total = cost_summary(orders, ["day"], "is_total_bps", "notional")
    window = window_orders if window_orders is not None else orders_tca
    window = with_notional("orders", window).with_columns(day=pl.lit(True))
    w_arrival = cost_summary(window, ["day"], "arrival_cost_bps", "notional")
    w_total = cost_summary(window, ["day"], "is_total_bps", "notional")

    def first(frame: pl.DataFrame, column: str) -> float | None:
        return frame[column][0] if frame.height else None

    s = pl.when(pl.col("side") == "BUY").then(1.0).otherwise(-1.0)
    dollars = orders_tca.select(
        arrival_cost_dollars=(
            s * pl.col("executed_quantity") * (pl.col("avg_fill_px") - pl.col("arrival_mid"))
        ).sum(),
        is_total_dollars=(pl.col("is_total_bps") * pl.col("quantity") * pl.col("decision_px")).sum()
        / 1e4,
        opportunity_dollars=(
            pl.col("is_opportunity_bps") * pl.col("quantity") * pl.col("decision_px")
        ).sum()
        / 1e4,
    )
    dates = window["trade_date"]
    scalars = pl.DataFrame(
        {
            "arrival_cost_ci_low": [first(day, "ci95_low_bps")],
            "arrival_cost_ci_high": [first(day, "ci95_high_bps")],
            "is_total_ci_low": [first(total, "ci95_low_bps")],
            "is_total_ci_high": [first(total, "ci95_high_bps")],
            "window_start": [dates.min() if dates.len() else None],
            "window_end": [dates.max() if dates.len() else None],
            "window_orders": [window.height],
            "window_arrival_cost_bps": [first(w_arrival, "weighted_bps")],
            "window_arrival_cost_ci_low": [first(w_arrival, "ci95_low_bps")],
            "window_arrival_cost_ci_high": [first(w_arrival, "ci95_high_bps")],
            "window_is_total_bps": [first(w_total, "weighted_bps")],
        },
        schema_overrides={
            "window_start": pl.Date,
            "window_end": pl.Date,
            "window_orders": pl.Int64,
        },
    ).with_columns(pl.exclude("window_start", "window_end", "window_orders").cast(pl.Float64))
    vs_window = pl.DataFrame(
        {
            "arrival_cost_vs_window_bps": [
                None
                if first(day, "weighted_bps") is None or first(w_arrival, "weighted_bps") is None
                else first(day, "weighted_bps") - first(w_arrival, "weighted_bps")
            ]
        },
        schema={"arrival_cost_vs_window_bps": pl.Float64},
    )
    breakdowns = order_breakdowns(
        orders_tca,
        pl.DataFrame(schema={"symbol": pl.String, "adv": pl.Float64}),
        trade_date,
        dimensions=("algo", "broker", "urgency"),
    )
    nested = [
        _nested(
            breakdowns.filter(pl.col("dimension") == dimension),
            _BREAKDOWN_FIELDS,
            f"by_{dimension}",
        )
        for dimension in ("algo", "broker", "urgency")
    ]
    nested.append(
        _nested(fill_breakdown(fills_tca, "venue", trade_date), _BREAKDOWN_FIELDS, "by_venue")
    )
    empty_pretrade = pretrade is None
    expected = pretrade_summary(
        pretrade if not empty_pretrade else pl.DataFrame(schema={"surprise_bps": pl.Float64,
        "notional": pl.Float64, "expected_cost_bps": pl.Float64, "arrival_cost_bps": pl.Float64})
    )  # fmt: skip
    if calibration is None:
        calibration = pl.DataFrame(
            schema={f: pl.String if f in ("dimension", "group") else pl.Float64
                    for f in _CALIBRATION_FIELDS} | {"n_orders": pl.Int64}
        )  # fmt: skip
    nested.append(_nested(calibration, _CALIBRATION_FIELDS, "pretrade_calibration"))
    top = (
        outliers.filter(pl.col("kind") == "cost_beyond_expectation")
        .sort(pl.col("z_score").abs(), descending=True, nulls_last=True)
        .head(REPORT_TOP_OUTLIERS)
    )
    nested.append(_nested(top, _OUTLIER_FIELDS, "top_outliers"))
    return pl.concat([dollars, scalars, vs_window, expected, *nested], how="horizontal")


def daily_report(
    fills_tca: pl.DataFrame,
    orders_tca: pl.DataFrame,
    outliers: pl.DataFrame,
    trade_date: dt.date,
    *,
    window_orders: pl.DataFrame | None = None,
    pretrade: pl.DataFrame | None = None,
    calibration: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row: the day's headline TCA (what TCAReportEvent carries), then `_report_details`.
    `window_orders`: tca/orders over the trailing window (the day alone when None); `pretrade`:
    the day's tca/pretrade; `calibration`: the day's tca/pretrade_calibration."""
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
    ).hstack(
        _report_details(
            orders_tca, fills_tca, outliers, trade_date, window_orders, pretrade, calibration
        )
    )
