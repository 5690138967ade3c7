"""Execution quality score: a documented composite, computed in JAX.

Per order, five components, each oriented so that higher is better and standardised across the
day's orders (z-score; a component with no dispersion contributes 0):

| component | value | weight |
|---|---|---|
| cost vs expectation | −(arrival_cost_bps − expected_cost_bps) | 0.35 |
| fill rate | executed / target | 0.20 |
| speed | −time_to_complete_s / order duration | 0.15 |
| price improvement | share-weighted improvement per share, in bps of the mid | 0.15 |
| adverse selection | notional-weighted 60 s markout (bps) | 0.15 |

A missing component (e.g. an unfilled order has no cost) is scored 0 (the day's average).
The order score is Σ weight·z. Venue, algo and broker scores are the mean of their orders' scores
shrunk toward 0 (the day's average) for small samples: n·mean / (n + κ), κ = 20. The 20-day trend
is the least-squares slope of an entity's daily score over its last 20 trading days.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    import jax.numpy as jnp


def _jnp():
    """JAX is imported on first use: loading the code location must not pay ~0.5 s for it."""
    import jax.numpy as jnp  # noqa: PLC0415

    return jnp


WEIGHTS = {
    "cost_vs_expectation": 0.35,
    "fill_rate": 0.20,
    "speed": 0.15,
    "price_improvement": 0.15,
    "adverse_selection": 0.15,
}
SHRINKAGE_KAPPA = 20.0
TREND_DAYS = 20


def _zscores(values: jnp.ndarray) -> jnp.ndarray:
    """Column-wise z-scores ignoring NaN; NaN (missing) and zero-dispersion columns give 0."""
    jnp = _jnp()
    present = ~jnp.isnan(values)
    n = jnp.maximum(present.sum(axis=0), 1)
    mean = jnp.where(present, values, 0.0).sum(axis=0) / n
    centred = jnp.where(present, values - mean, 0.0)
    std = jnp.sqrt((centred**2).sum(axis=0) / n)
    return jnp.where(std > 0, centred / jnp.where(std > 0, std, 1.0), 0.0)


def composite(components: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Order scores from an (orders × components) matrix of raw, higher-is-better values."""
    jnp = _jnp()
    return np.asarray(_zscores(jnp.asarray(components, dtype=jnp.float32)) @ jnp.asarray(weights))


def shrunk_mean(scores: np.ndarray, groups: np.ndarray, n_groups: int, kappa: float) -> np.ndarray:
    """Per group: Σ score / (n + κ), i.e. the mean shrunk toward 0 for small n."""
    jnp = _jnp()
    sums = jnp.zeros(n_groups).at[groups].add(jnp.asarray(scores))
    counts = jnp.zeros(n_groups).at[groups].add(1.0)
    return np.asarray(sums / (counts + kappa))


def trend_slope(days: np.ndarray, values: np.ndarray) -> float | None:
    """Least-squares slope of values over day numbers (per trading day); None below 2 points."""
    jnp = _jnp()
    if len(values) < 2:
        return None
    x = jnp.asarray(days, dtype=jnp.float32)
    y = jnp.asarray(values, dtype=jnp.float32)
    xc = x - x.mean()
    denominator = (xc**2).sum()
    return float((xc * (y - y.mean())).sum() / denominator) if float(denominator) > 0 else None


def order_components(
    orders_tca: pl.DataFrame, fills_tca: pl.DataFrame, expectations: pl.DataFrame
) -> pl.DataFrame:
    """The five raw components per order (higher = better), nulls where undefined."""
    per_order_fills = (
        fills_tca.with_columns(notional=pl.col("price") * pl.col("quantity"))
        .group_by("order_id")
        .agg(
            price_improvement=(
                1e4 * pl.col("price_improvement") / pl.col("mid_at_fill") * pl.col("quantity")
            ).sum()
            / pl.col("quantity").sum(),
            adverse_selection=(pl.col("markout_bps_60s") * pl.col("notional")).sum()
            / pl.col("notional").filter(pl.col("markout_bps_60s").is_not_null()).sum(),
        )
    )
    duration = (pl.col("end_ts") - pl.col("arrival_ts")).dt.total_nanoseconds() / 1e9
    return (
        orders_tca.join(
            expectations.select("order_id", "expected_cost_bps"), on="order_id", how="left"
        )
        .join(per_order_fills, on="order_id", how="left")
        .select(
            "order_id",
            "symbol",
            "algo",
            "broker",
            "trade_date",
            cost_vs_expectation=-(pl.col("arrival_cost_bps") - pl.col("expected_cost_bps")),
            fill_rate=pl.col("fill_rate"),
            speed=pl.when(duration > 0).then(-pl.col("time_to_complete_s") / duration),
            price_improvement="price_improvement",
            adverse_selection="adverse_selection",
        )
    )


def order_scores(components: pl.DataFrame) -> pl.DataFrame:
    matrix = components.select(list(WEIGHTS)).cast(pl.Float64).fill_null(np.nan).to_numpy()
    scores = composite(matrix, np.array(list(WEIGHTS.values()), dtype=np.float32))
    return components.with_columns(score=pl.Series(scores, dtype=pl.Float64))


def entity_scores(
    scored_orders: pl.DataFrame, fills_tca: pl.DataFrame, trade_date: dt.date
) -> pl.DataFrame:
    """Shrunk mean score per venue, algo and broker (venue: the orders' fills' venues)."""
    venue_orders = fills_tca.select("order_id", "venue").unique()
    frames = []
    for entity, frame in (
        ("algo", scored_orders.rename({"algo": "name"})),
        ("broker", scored_orders.rename({"broker": "name"})),
        ("venue", scored_orders.join(venue_orders, on="order_id").rename({"venue": "name"})),
    ):
        names, codes = np.unique(frame["name"].to_numpy().astype(str), return_inverse=True)
        shrunk = shrunk_mean(frame["score"].to_numpy(), codes, len(names), SHRINKAGE_KAPPA)
        counts = np.bincount(codes, minlength=len(names))
        frames.append(
            pl.DataFrame(
                {
                    "entity": entity,
                    "name": names,
                    "orders": counts.astype(np.int64),
                    "score": shrunk.astype(np.float64),
                }
            )
        )
    return pl.concat(frames).with_columns(trade_date=pl.lit(trade_date)).sort("entity", "name")


def with_trend(
    today: pl.DataFrame, history: pl.DataFrame, trading_days: list[dt.date]
) -> pl.DataFrame:
    """Add `trend_20d`: slope of each entity's daily score over its last 20 trading days
    (`history` holds earlier days' entity scores; `trading_days` orders the calendar)."""
    index = {d: i for i, d in enumerate(trading_days)}
    window = set(trading_days[-TREND_DAYS:])
    series = pl.concat([history.select(today.columns), today]).filter(
        pl.col("trade_date").is_in(list(window))
    )
    slopes = []
    for (entity, name), group in series.group_by("entity", "name"):
        days = np.array([index[d] for d in group["trade_date"]])
        slopes.append(
            {
                "entity": entity,
                "name": name,
                "trend_20d": trend_slope(days, group["score"].to_numpy()),
            }
        )
    trend = pl.DataFrame(
        slopes, schema={"entity": pl.String, "name": pl.String, "trend_20d": pl.Float64}
    )
    return today.join(trend, on=["entity", "name"], how="left")
