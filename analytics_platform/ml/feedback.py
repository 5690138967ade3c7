"""Feedback on the served cost model: every day, the champion that served it predicts the day's
filled orders, and the realised costs grade it.

Per order: predicted cost, interval, realised arrival cost, error, interval hit. Per day and model:
MAE, bias, the 85% interval's coverage, and drift as the population stability index (PSI) of the
inputs (quoted spread, size vs ADV) and of the errors against the day before's, PSI =
Σ (p_i − q_i)·ln(p_i / q_i) over deciles of the reference (> 0.25 is a shift worth a look).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from analytics_platform.serving.bundle import Bundle
from analytics_platform.serving.model import Order, predict

COVERAGE_BAND = (0.83, 0.87)
PSI_ALERT = 0.25
_FLOOR = 1e-4  # empty bins would make PSI infinite


def order_predictions(bundle: Bundle, cost_rows: pl.DataFrame) -> pl.DataFrame:
    """The day's filled orders with what the bundle predicted for them (symbols it knows)."""
    known = cost_rows.filter(
        pl.col("symbol").is_in(list(bundle.symbols)) & pl.col("arrival_cost_bps").is_not_null()
    ).sort("at", "row_id")
    orders = [
        Order(r["symbol"], r["side"], int(r["quantity"]), r["algo"], r["urgency"], r["order_type"])
        for r in known.select(
            "symbol", "side", "quantity", "algo", "urgency", "order_type"
        ).iter_rows(named=True)
    ]
    answers = pl.DataFrame(predict(bundle, orders)) if orders else None
    if answers is None:
        return pl.DataFrame()
    return (
        known.select(
            "row_id", "trade_date", "symbol", "at", "arrival_cost_bps", "spread_bps", "size_vs_adv"
        )
        .rename({"row_id": "order_id"})
        .with_columns(
            answers.select(
                "cost_bps", "lower_bps", "upper_bps", "recommended_algo", "model_version"
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
