"""Notional-weighted cost summaries (DESIGN §6 "Aggregates"): never a plain mean of bps."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

Z95 = 1.959963984540054
# Trading days the window tables (effects, pre-trade calibration) cover, ending on their day.
TCA_WINDOW_DAYS = 20


def weighted_mean_and_se(x: pl.Expr, w: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Aggregations of the weighted mean Σw·x/Σw and its standard error: the weighted standard
    deviation over √n_eff, with Kish's effective sample size n_eff = (Σw)²/Σw²."""
    mean = (x * w).sum() / w.sum()
    variance = ((x - mean) ** 2 * w).sum() / w.sum()
    n_eff = w.sum() ** 2 / (w**2).sum()
    return mean, (variance / n_eff).sqrt()


def cost_summary(
    frame: pl.DataFrame | pl.LazyFrame, by: Sequence[str], cost: str, weight: str
) -> pl.DataFrame:
    """Per group: count, notional, notional-weighted mean cost, median, p90 and a 95% interval
    mean ± 1.96·se (`weighted_mean_and_se`); rows with a null cost are left out."""
    x, w = pl.col(cost), pl.col(weight)
    mean, se = weighted_mean_and_se(x, w)
    return (
        frame.lazy()
        .filter(x.is_not_null() & w.is_not_null() & (w > 0))
        .group_by(*by)
        .agg(
            count=pl.len(),
            notional=w.sum(),
            weighted_bps=mean,
            median_bps=x.median(),
            p90_bps=x.quantile(0.9, interpolation="linear"),
            _se=se,
        )
        .with_columns(
            ci95_low_bps=pl.col("weighted_bps") - Z95 * pl.col("_se"),
            ci95_high_bps=pl.col("weighted_bps") + Z95 * pl.col("_se"),
            metric=pl.lit(cost),
        )
        .drop("_se")
        .sort(*by)
        .collect()
    )
