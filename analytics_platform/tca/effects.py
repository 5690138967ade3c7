"""Venue, algo and broker effects on the cost of a fill, estimated jointly in one regression over
a window of days, with standard errors clustered by parent order.

The cost. A fill's price against the quote its type executes at, in bps of the mid M(t),
positive = more expensive (s = +1 BUY, −1 SELL):

    cost_vs_reference_bps = 1e4·s·(p − reference)/M(t),
    reference = far side (lit aggressive: REMOVE), near side (lit passive: ADD), mid (dark)

= effective spread / 2 − (+1 aggressive, −1 passive, 0 dark)·quoted half-spread. The half-spread
a fill pays or earns by its type is mechanical; what is left is what a venue, an algo or a broker
changes (hidden liquidity, queue position, routing, leakage), plus the fill's own impact and noise.

The regression (Mundlak 1978: the within-order estimator and between-order effects in one OLS):

    y_if = Σ_k β_k·(x_kif − x̄_ki) + Σ_k π_k·x̄_ki + γ'z_i + c + e_if

* fill-level x, which vary within an order: venue dummies, lit aggressive (vs resting liquidity),
  quoted half-spread, own-impact proxy lit aggressive·σ_D·√(q/V_D), time of day (2u − 1)²
  (u = fraction of the session elapsed). Their within-order deviations identify β exactly as
  order fixed effects would (the deviations are orthogonal to everything constant in an order);
* order-level z, constant within an order: algo and broker dummies, urgency dummies, ln σ_D,
  ln(Q/V_D). Algo and broker are identified between orders, holding the order means x̄ (venue
  and fill-type mix, spreads, sizes, timing) and the order-level controls fixed.

σ_D and V_D are the symbol's daily volatility and tape volume that day (tca/pretrade). Fills with
no mid, or printed at their order's limit price, are left out: a fill capped by its limit has a
censored cost. Standard errors are CR1 clustered by parent order (the fills of one order share
its market and its execution), intervals and p-values Student-t on (orders − 1) degrees of
freedom, verdicts at 5% after Holm's correction across the entities of a table.

Each effect is relative to a baseline entity, the most frequent one (venue: by fills; algo,
broker: by orders; ties: the first name). A dark venue's fills are all of the dark type and no
other venue has that type, so the dark venue's effect also carries the difference between a
midpoint fill and a resting lit fill: it reads as the cost of a dark fill against a passive fill
at the baseline venue (lit aggressive fills are told apart by their own level).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from analytics_platform.calendar import session_bounds
from analytics_platform.regression import cr1_covariance, holm, ols
from analytics_platform.timeseries import side_sign

ENTITIES = ("venue", "algo", "broker")
DARK_VENUES = ("DARK",)
SIGNIFICANCE = 0.05
EFFECT_COLUMNS = {
    "entity": pl.String,
    "baseline": pl.String,
    "effect_bps": pl.Float64,
    "std_error": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "n_orders": pl.Int64,
    "n_fills": pl.Int64,
    "p_value": pl.Float64,
    "p_value_holm": pl.Float64,
    "verdict": pl.String,
    "window_start": pl.Date,
    "window_end": pl.Date,
    "trade_date": pl.Date,
}


def fill_type() -> pl.Expr:
    """dark (a dark venue, priced at the mid), lit_aggressive (REMOVE), lit_passive (ADD)."""
    return (
        pl.when(pl.col("venue").is_in(DARK_VENUES))
        .then(pl.lit("dark"))
        .when(pl.col("liquidity") == "REMOVE")
        .then(pl.lit("lit_aggressive"))
        .otherwise(pl.lit("lit_passive"))
    )


def cost_vs_reference_bps() -> pl.Expr:
    """1e4·s·(p − reference)/M(t), the reference being the quote the fill's type takes."""
    reference = (
        pl.when(fill_type() == "dark")
        .then(pl.col("mid_at_fill"))
        .when((fill_type() == "lit_aggressive") == (pl.col("side") == "BUY"))
        .then(pl.col("ask_at_fill"))
        .otherwise(pl.col("bid_at_fill"))
    )
    return 1e4 * side_sign() * (pl.col("price") - reference) / pl.col("mid_at_fill")


def effects_sample(
    fills_tca: pl.DataFrame, orders_tca: pl.DataFrame, pretrade: pl.DataFrame
) -> pl.DataFrame:
    """One row per usable fill: its cost, its order's algo, broker, urgency, and the controls."""
    orders = orders_tca.select(
        "order_id", "algo", "broker", "quantity", "limit_px",
        urgency=pl.col("urgency").fill_null("UNKNOWN"),
    )  # fmt: skip
    market = pretrade.select("order_id", "daily_volatility_bps", "day_volume")
    sessions = session_bounds(fills_tca["trade_date"])
    elapsed = (pl.col("ts") - pl.col("open_ts")).dt.total_nanoseconds() / (
        pl.col("close_ts") - pl.col("open_ts")
    ).dt.total_nanoseconds()
    aggressive = (fill_type() == "lit_aggressive").cast(pl.Float64)
    return (
        fills_tca.join(orders, on="order_id", suffix="_order")
        .join(market, on="order_id")
        .join(sessions, on="trade_date")
        .filter(
            pl.col("mid_at_fill").is_not_null()
            & (pl.col("daily_volatility_bps") > 0)
            & (pl.col("day_volume") > 0)
            & (pl.col("limit_px").is_null() | (pl.col("price") != pl.col("limit_px")))
        )
        .select(
            "order_id",
            "venue",
            "algo",
            "broker",
            "urgency",
            cost_bps=cost_vs_reference_bps(),
            lit_aggressive=aggressive,
            quoted_half_spread_bps=pl.col("quoted_spread_bps") / 2,
            own_impact_proxy_bps=aggressive
            * pl.col("daily_volatility_bps")
            * (pl.col("quantity") / pl.col("day_volume")).sqrt(),
            time_of_day=(2 * elapsed - 1) ** 2,
            log_volatility=pl.col("daily_volatility_bps").log(),
            log_size_over_volume=(pl.col("quantity_order") / pl.col("day_volume")).log(),
        )
        .sort("order_id")
    )


def baseline_entity(sample: pl.DataFrame, entity: str) -> str:
    """The most frequent entity: by fills for venues, by orders otherwise; ties: first name."""
    rows = sample if entity == "venue" else sample.unique(["order_id", entity])
    counts = rows.group_by(entity).len().sort(["len", entity], descending=[True, False])
    return counts[entity][0]


def _dummies(entity: str, levels: list[str]) -> list[pl.Expr]:
    return [
        (pl.col(entity) == level).cast(pl.Float64).alias(f"{entity}={level}") for level in levels
    ]


def entity_effects(
    fills_tca: pl.DataFrame,
    orders_tca: pl.DataFrame,
    pretrade: pl.DataFrame,
    *,
    window_start: dt.date,
    window_end: dt.date,
    trade_date: dt.date,
) -> dict[str, pl.DataFrame]:
    """The venue, algo and broker effect tables (keys of ENTITIES) from one regression."""
    sample = effects_sample(fills_tca, orders_tca, pretrade)
    empty = {e: pl.DataFrame(schema=EFFECT_COLUMNS) for e in ENTITIES}
    if sample.is_empty():
        return empty
    levels, baselines = {}, {}
    for entity in (*ENTITIES, "urgency"):
        baselines[entity] = baseline_entity(sample, entity)
        levels[entity] = sorted(set(sample[entity].unique()) - {baselines[entity]})
    fill_level = [
        *_dummies("venue", levels["venue"]),
        pl.col("lit_aggressive"),
        pl.col("quoted_half_spread_bps"),
        pl.col("own_impact_proxy_bps"),
        pl.col("time_of_day"),
    ]
    order_level = [
        *_dummies("algo", levels["algo"]),
        *_dummies("broker", levels["broker"]),
        *_dummies("urgency", levels["urgency"]),
        pl.col("log_volatility"),
        pl.col("log_size_over_volume"),
        pl.lit(1.0).alias("intercept"),
    ]
    within = [(x - x.mean().over("order_id")).name.suffix(":within") for x in fill_level]
    between = [x.mean().over("order_id").name.suffix(":order_mean") for x in fill_level]
    design = sample.select(*within, *between, *order_level)
    n, k = design.shape
    orders = sample["order_id"].to_numpy()
    g = len(np.unique(orders))
    if n <= k or g < 2:
        return empty
    fit = ols(design.to_numpy(), sample["cost_bps"].to_numpy())
    se_all = np.sqrt(np.diag(cr1_covariance(fit, orders)))
    position = {name: i for i, name in enumerate(design.columns)}
    counts = {
        entity: sample.group_by(entity).agg(
            n_orders=pl.col("order_id").n_unique().cast(pl.Int64),
            n_fills=pl.len().cast(pl.Int64),
        )
        for entity in ENTITIES
    }
    from scipy.stats import t as student  # noqa: PLC0415  (scipy is heavy; only here)

    dof = g - 1
    quantile = float(student.ppf(0.975, dof))
    tables = {}
    for entity in ENTITIES:
        suffix = ":within" if entity == "venue" else ""
        columns = [position[f"{entity}={level}{suffix}"] for level in levels[entity]]
        effect, se = fit.coef[columns], se_all[columns]
        p_value = 2 * student.sf(np.abs(effect / se), dof)
        estimated = pl.DataFrame(
            {
                "entity": levels[entity],
                "effect_bps": effect,
                "std_error": se,
                "p_value": p_value,
                "p_value_holm": holm(p_value),
            },
            schema_overrides={"entity": pl.String},
        ).with_columns(
            ci_low=pl.col("effect_bps") - quantile * pl.col("std_error"),
            ci_high=pl.col("effect_bps") + quantile * pl.col("std_error"),
            verdict=pl.when(pl.col("p_value_holm") >= SIGNIFICANCE)
            .then(pl.lit("not significant"))
            .when(pl.col("effect_bps") < 0)
            .then(pl.lit("better"))
            .otherwise(pl.lit("worse")),
        )
        baseline = pl.DataFrame(
            {"entity": [baselines[entity]], "verdict": ["baseline"]}
        ).with_columns(
            pl.lit(0.0).alias(c) for c in ("effect_bps", "std_error", "ci_low", "ci_high")
        )
        tables[entity] = (
            pl.concat([baseline, estimated], how="diagonal_relaxed")
            .join(counts[entity].rename({entity: "entity"}), on="entity", how="left")
            .with_columns(
                baseline=pl.lit(baselines[entity]),
                window_start=pl.lit(window_start, dtype=pl.Date),
                window_end=pl.lit(window_end, dtype=pl.Date),
                trade_date=pl.lit(trade_date, dtype=pl.Date),
            )
            .select(pl.col(name).cast(dtype) for name, dtype in EFFECT_COLUMNS.items())
            .sort("effect_bps", "entity")
        )
    return tables
