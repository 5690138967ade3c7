"""Per strategy: notional-weighted decision outcomes over a day or a window, and skill.

Aggregates weight each decision by its notional Q·Pd (DESIGN §6 "Aggregates") over the decisions
whose alpha and IS are both known, so the identity decision alpha − IS components = net alpha holds
for the aggregates too. Intervals: mean ± z·se with the Kish effective sample size (as TCA's).

Skill is the slope of realised on expected alpha, per strategy: a strategy with skill 1 earns
what it expects, 0 nothing. It is estimated jointly for all strategies by OLS over the decisions
whose horizon ended within the session,

    decision_alpha = c + γ·(expected impact × fill rate) + Σ_k skill_k·expected_alpha·[strategy = k]

where the common intercept and the pre-trade impact term absorb the order's own price impact
(which a decision alpha contains: the price moved partly because we traded). Standard errors are
the largest of the heteroscedasticity-robust (HC1) ones and those clustered by day (decisions of a
day share market moves) and by symbol and day (overlapping horizons share the symbol's own moves);
a variance from a few days' clusters is itself noisy, so clustering only ever widens the
interval. Intervals are Student-t on (days − 1) degrees of freedom; with fewer than
`MIN_CLUSTERS` days, HC1 alone on (decisions − parameters).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from analytics_platform.attribution.decisions import IS_COMPONENTS
from analytics_platform.regression import cr1_covariance, hc1_covariance, ols
from analytics_platform.tca.aggregates import Z95

WEIGHTED = ("decision_alpha_bps", *IS_COMPONENTS, "is_total_bps", "net_alpha_bps")
WITH_INTERVALS = ("decision_alpha_bps", "is_total_bps", "net_alpha_bps")
MIN_CLUSTERS = 10
DEFAULT_WINDOW_DAYS = 20


def strategy_summary(outcomes: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """Per group: decisions, notional, notional-weighted alpha / IS / net alpha (95% intervals),
    expected alpha, hit rate (share of decisions with positive net alpha), share of alpha lost
    to execution (IS / decision alpha, when the alpha is positive)."""
    w = pl.col("notional")
    known = outcomes.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in WEIGHTED) & (w > 0))

    def mean(c: str) -> pl.Expr:
        return (pl.col(c) * w).sum() / w.sum()

    n_eff = w.sum() ** 2 / (w**2).sum()
    spreads = [
        (((pl.col(c) - mean(c)) ** 2 * w).sum() / w.sum() / n_eff).sqrt().alias(f"_se_{c}")
        for c in WITH_INTERVALS
    ]
    summary = (
        known.group_by(*by)
        .agg(
            pl.len().alias("n_decisions"),
            w.sum().alias("notional"),
            *[mean(c).alias(c) for c in WEIGHTED],
            mean("expected_alpha_bps").alias("expected_alpha_bps"),
            (pl.col("net_alpha_bps") > 0).mean().alias("hit_rate"),
            *spreads,
        )
        .with_columns(
            *[
                expr
                for c in WITH_INTERVALS
                for expr in (
                    (pl.col(c) - Z95 * pl.col(f"_se_{c}")).alias(c.replace("_bps", "_ci_low_bps")),
                    (pl.col(c) + Z95 * pl.col(f"_se_{c}")).alias(c.replace("_bps", "_ci_high_bps")),
                )
            ],
            alpha_vs_expected_bps=pl.col("decision_alpha_bps") - pl.col("expected_alpha_bps"),
            alpha_lost_share=pl.when(pl.col("decision_alpha_bps") > 0).then(
                pl.col("is_total_bps") / pl.col("decision_alpha_bps")
            ),
        )
        .drop(pl.selectors.starts_with("_se_"))
        .sort(*by)
    )
    return summary


def strategy_skill(outcomes: pl.DataFrame) -> pl.DataFrame:
    """strategy_id, skill, skill_std_error, skill_ci_low, skill_ci_high, skill_decisions."""
    rows = outcomes.filter(
        pl.col("horizon_complete")
        & pl.all_horizontal(
            pl.col(c).is_not_null()
            for c in (
                "decision_alpha_bps",
                "expected_alpha_bps",
                "expected_impact_bps",
                "fill_rate",
            )
        )
    ).sort("strategy_id", "decision_id")
    empty = pl.DataFrame(
        schema={
            "strategy_id": pl.String,
            "skill": pl.Float64,
            "skill_std_error": pl.Float64,
            "skill_ci_low": pl.Float64,
            "skill_ci_high": pl.Float64,
            "skill_decisions": pl.Int64,
        }
    )
    strategies = rows["strategy_id"].unique().sort().to_list()
    n, k = rows.height, len(strategies) + 2
    if not strategies or n <= k:
        return empty
    expected = rows["expected_alpha_bps"].to_numpy()
    strategy = rows["strategy_id"].to_numpy()
    x = np.column_stack(
        [
            np.ones(n),
            (rows["expected_impact_bps"] * rows["fill_rate"]).to_numpy(),
            *[expected * (strategy == s) for s in strategies],
        ]
    )
    fit = ols(x, rows["decision_alpha_bps"].to_numpy())
    variances = np.diag(hc1_covariance(fit))
    days = rows["trade_date"].to_numpy()
    g = len(np.unique(days))
    dof = n - k
    if g >= MIN_CLUSTERS:
        symbol_days = rows.select(pl.struct("trade_date", "symbol").rank("dense")).to_series()
        for labels in (days, symbol_days.to_numpy()):
            variances = np.maximum(variances, np.diag(cr1_covariance(fit, labels)))
        dof = g - 1
    se = np.sqrt(variances)[2:]
    from scipy.stats import t as student  # noqa: PLC0415  (scipy is heavy; only here)

    z = float(student.ppf(0.975, dof))
    skill = fit.coef[2:]
    counts = rows.group_by("strategy_id").len().sort("strategy_id")["len"]
    return pl.DataFrame(
        {
            "strategy_id": strategies,
            "skill": skill,
            "skill_std_error": se,
            "skill_ci_low": skill - z * se,
            "skill_ci_high": skill + z * se,
            "skill_decisions": counts.cast(pl.Int64),
        }
    )
