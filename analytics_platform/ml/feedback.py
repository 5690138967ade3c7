"""Feedback on the served cost model: every day, the champion that served it predicts the day's
filled orders, and the realised costs grade it.

Per order: predicted cost, interval, realised arrival cost, error, interval hit. Per day and model:
MAE, bias, the 85% interval's coverage, and drift as the population stability index (PSI) of the
inputs (quoted spread, size vs ADV) and of the errors against the day before's, PSI =
Σ (p_i − q_i)·ln(p_i / q_i) over deciles of the reference (> 0.25 is a shift worth a look).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from analytics_platform.calendar import trading_days
from analytics_platform.serving.bundle import URGENCIES, Bundle
from analytics_platform.serving.model import Order, predict

COVERAGE_BAND = (0.83, 0.87)
PSI_ALERT = 0.25
SIZE_BUCKETS = 5
URGENCY_ORDER = {u: i for i, u in enumerate(URGENCIES)}
# An insight needs this much evidence: days with predictions, and |t| of the mean daily error.
INSIGHT_MIN_DAYS = 5
INSIGHT_MIN_T = 3.0
# A bucket's coverage this far from 85% (with enough orders) is worth a look.
BUCKET_COVERAGE_BAND = (0.75, 0.95)
BUCKET_MIN_ORDERS = 50
_FLOOR = 1e-4  # empty bins would make PSI infinite


def cost_orders(rows: pl.DataFrame, realized_vol: str = "realized_vol_30m_bps") -> list[Order]:
    """Cost-dataset rows as a trading system asks about them: with the symbol's realised
    volatility it saw before the order (column `realized_vol`)."""
    return [
        Order(**r)
        for r in rows.select(
            "symbol", "side", pl.col("quantity").cast(pl.Int64), "algo", "urgency", "order_type",
            realized_vol_bps=realized_vol,
        ).iter_rows(named=True)
    ]  # fmt: skip


def order_predictions(bundle: Bundle, cost_rows: pl.DataFrame) -> pl.DataFrame:
    """The day's filled orders with what the bundle predicted for them (symbols it knows)."""
    known = cost_rows.filter(
        pl.col("symbol").is_in(list(bundle.symbols)) & pl.col("arrival_cost_bps").is_not_null()
    ).sort("at", "row_id")
    orders = cost_orders(known)
    answers = pl.DataFrame(predict(bundle, orders)) if orders else None
    if answers is None:
        return pl.DataFrame()
    return (
        known.select(
            "row_id",
            "trade_date",
            "symbol",
            "at",
            "urgency",
            "arrival_cost_bps",
            "spread_bps",
            "size_vs_adv",
        )
        .rename({"row_id": "order_id"})
        .with_columns(
            answers.select(
                "cost_bps", "lower_bps", "upper_bps", "algo", "recommended_algo", "model_version"
            )
        )
        .with_columns(
            error_bps=pl.col("arrival_cost_bps") - pl.col("cost_bps"),
            in_interval=pl.col("arrival_cost_bps").is_between("lower_bps", "upper_bps"),
            prediction_id=pl.col("order_id") + "|" + pl.col("model_version"),
        )
    )


def psi(current: np.ndarray, reference: np.ndarray, bins: int = 10) -> float | None:
    """Population stability index of `current` against the deciles of `reference`."""
    current, reference = current[np.isfinite(current)], reference[np.isfinite(reference)]
    if len(current) < bins or len(reference) < bins:
        return None
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    p = np.maximum(np.histogram(current, edges)[0] / len(current), _FLOOR)
    q = np.maximum(np.histogram(reference, edges)[0] / len(reference), _FLOOR)
    return float(np.sum((p - q) * np.log(p / q)))


def daily_feedback(today: pl.DataFrame, reference: pl.DataFrame) -> pl.DataFrame:
    """One row per model version: orders, MAE, bias, coverage (and whether it is in its band),
    PSI of the inputs and errors against `reference` (the previous day's predictions)."""
    if today.is_empty():
        return pl.DataFrame()
    drift = {
        f"psi_{column}": psi(today[column].to_numpy(), reference[column].to_numpy())
        if reference.height
        else None
        for column in ("spread_bps", "size_vs_adv", "error_bps")
    }
    coverage = float(today["in_interval"].mean())
    return pl.DataFrame(
        [
            {
                "model_version": today["model_version"][0],
                "trade_date": today["trade_date"][0],
                "orders": today.height,
                "mae_bps": float(today["error_bps"].abs().mean()),
                "bias_bps": float(today["error_bps"].mean()),
                "coverage": coverage,
                "coverage_in_band": COVERAGE_BAND[0] <= coverage <= COVERAGE_BAND[1],
                **drift,
                "drift_flagged": any(v is not None and v > PSI_ALERT for v in drift.values()),
            }
        ]
    ).with_columns(feedback_id=pl.col("model_version") + "|" + pl.col("trade_date").cast(pl.String))


def retrain_reason(
    feedback: dict | None,
    trained_through: dt.date | None,
    day: dt.date,
    every_days: int,
) -> str | None:
    """Why the cost model is refitted on `day`, or None to keep the champion: there is none
    yet; the day's feedback flagged drift or coverage outside its band; or the champion was
    trained through a day `every_days` or more trading days back (the schedule)."""
    if trained_through is None:
        return "no champion yet"
    if feedback is not None and feedback["drift_flagged"]:
        return "drift flagged (PSI over the alert level)"
    if feedback is not None and not feedback["coverage_in_band"]:
        return f"coverage {feedback['coverage']:.3f} outside {COVERAGE_BAND}"
    age = len(trading_days(trained_through, day)) - 1
    if age >= every_days:
        return f"scheduled: the champion is {age} trading days old"
    return None


def calibration_by_bucket(predictions: pl.DataFrame) -> pl.DataFrame:
    """Per urgency and per quintile of size vs ADV: orders, mean predicted and realised cost,
    bias (realised − predicted) and the 85% interval's coverage; `bucket_order` sorts buckets
    (LOW < MEDIUM < HIGH, small < large). `predictions` is ml/cost_predictions' shape."""
    if predictions.is_empty():
        return pl.DataFrame()
    size_rank = (pl.col("size_vs_adv").rank("ordinal") - 1) * SIZE_BUCKETS // pl.len()
    keyed = pl.concat(
        [
            predictions.with_columns(
                dimension=pl.lit("urgency"),
                bucket=pl.col("urgency"),
                bucket_order=pl.col("urgency").replace_strict(URGENCY_ORDER, return_dtype=pl.Int64),
            ),
            predictions.with_columns(
                dimension=pl.lit("size_vs_adv"),
                bucket=pl.format("Q{}", size_rank + 1),
                bucket_order=size_rank.cast(pl.Int64),
            ),
        ]
    )
    return (
        keyed.group_by("dimension", "bucket", "bucket_order")
        .agg(
            orders=pl.len(),
            max_size_vs_adv=pl.col("size_vs_adv").max(),
            predicted_bps=pl.col("cost_bps").mean(),
            realised_bps=pl.col("arrival_cost_bps").mean(),
            bias_bps=pl.col("error_bps").mean(),
            coverage=pl.col("in_interval").mean(),
        )
        .sort("dimension", "bucket_order")
    )


def model_insights(predictions: pl.DataFrame) -> pl.DataFrame:
    """Notable findings over a window of days of ml/cost_predictions:
    - an algo whose realised cost beats (or exceeds) its prediction across days: the mean of its
      daily mean errors, with the standard error across days, |t| ≥ INSIGHT_MIN_T over at least
      INSIGHT_MIN_DAYS days;
    - a size or urgency bucket whose interval coverage leaves BUCKET_COVERAGE_BAND.
    Columns: kind, subject, finding, value, std_error, n_orders, n_days."""
    if predictions.is_empty():
        return pl.DataFrame()
    daily = predictions.group_by("algo", "trade_date").agg(
        error=pl.col("error_bps").mean(), n=pl.len()
    )
    algos = (
        daily.group_by("algo")
        .agg(
            value=pl.col("error").mean(),
            std_error=pl.col("error").std() / pl.len().sqrt(),
            n_orders=pl.col("n").sum(),
            n_days=pl.len(),
        )
        .filter(
            (pl.col("n_days") >= INSIGHT_MIN_DAYS)
            & ((pl.col("value") / pl.col("std_error")).abs() >= INSIGHT_MIN_T)
        )
        .with_columns(
            kind=pl.when(pl.col("value") < 0)
            .then(pl.lit("algo_beats_prediction"))
            .otherwise(pl.lit("algo_exceeds_prediction")),
            subject=pl.col("algo"),
            finding=pl.format(
                "{}: realised cost {} its prediction by {} bps a day over {} days (t = {})",
                pl.col("algo"),
                pl.when(pl.col("value") < 0).then(pl.lit("beat")).otherwise(pl.lit("exceeded")),
                pl.col("value").abs().round(2),
                pl.col("n_days"),
                (pl.col("value") / pl.col("std_error")).round(1),
            ),
        )
    )
    buckets = (
        calibration_by_bucket(predictions)
        .filter(
            (pl.col("orders") >= BUCKET_MIN_ORDERS)
            & ~pl.col("coverage").is_between(*BUCKET_COVERAGE_BAND)
        )
        .with_columns(
            kind=pl.lit("bucket_miscalibrated"),
            subject=pl.col("dimension") + "=" + pl.col("bucket"),
            finding=pl.format(
                "{} {}: the 85% interval covered {} of {} orders",
                pl.col("dimension"),
                pl.col("bucket"),
                (pl.col("coverage") * 100).round(1).cast(pl.String) + "%",
                pl.col("orders"),
            ),
            value=pl.col("coverage"),
            std_error=(pl.col("coverage") * (1 - pl.col("coverage")) / pl.col("orders")).sqrt(),
            n_orders=pl.col("orders").cast(pl.UInt32),
            n_days=pl.lit(predictions["trade_date"].n_unique()).cast(pl.UInt32),
        )
    )
    columns = ["kind", "subject", "finding", "value", "std_error", "n_orders", "n_days"]
    return pl.concat([algos.select(columns), buckets.select(columns)], how="vertical_relaxed").sort(
        "kind", "subject"
    )
