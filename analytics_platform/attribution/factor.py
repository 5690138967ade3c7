"""Factor decomposition of portfolio returns and of execution costs (REFERENCES "Factor
decomposition").

Daily factor returns come from the benchmark's cross-section (`security_returns`):
- MARKET: the benchmark return Σ w·r;
- SIZE: small minus big, the equal-weighted return of the smaller half of the constituents (by
  benchmark weight, a capitalisation proxy) minus the larger half;
- MOMENTUM: the top third by return over the previous `MOMENTUM_DAYS` days minus the bottom third;
- VOLATILITY: the top third by realised volatility over the previous `VOLATILITY_DAYS` days minus
  the bottom third;
- SECTOR (per portfolio): what its sector weights earned at the benchmark's sector returns above
  the market, Σ_s wp_s·(rb_s − Rb) over the invested sectors (market-neutral, so a leveraged book
  shows its leverage in MARKET, not here).
Momentum and volatility need history: days before enough of it exists are left out.

Portfolio returns: OLS with intercept over the days, r_t = α + Σ β_k·f_k,t + ε_t; a factor's
contribution is β_k·Σ_t f_k,t and, residuals summing to zero, Σ_t r_t = T·α + Σ_k contributions
(asserted).

Execution costs: a cross-section over the window's orders, cost_i = a + Σ b_k·x_ik + e_i with x the
order's exposure to each factor (its side times the day's MARKET, SECTOR-relative and MOMENTUM
returns of its symbol, its size as log notional, its symbol's trailing volatility). Per strategy,
its mean cost above the all-order mean splits into Σ_k b_k·(x̄_k,strategy − x̄_k) plus its mean
residual (asserted).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from analytics_platform.timeseries import side_sign

MOMENTUM_DAYS = 5
VOLATILITY_DAYS = 10
FACTORS = ("MARKET", "SECTOR", "SIZE", "MOMENTUM", "VOLATILITY")
COST_FACTORS = ("MARKET", "SECTOR", "SIZE", "MOMENTUM", "VOLATILITY")


def security_characteristics(returns: pl.DataFrame) -> pl.DataFrame:
    """Per symbol and day: trailing momentum and volatility known before the day (from the
    previous days' returns only)."""
    past = pl.col("security_return").shift(1)
    return (
        returns.sort("symbol", "trade_date")
        .with_columns(
            trailing_return=((1 + past).log().rolling_sum(MOMENTUM_DAYS).exp() - 1).over("symbol"),
            trailing_volatility=past.rolling_std(VOLATILITY_DAYS).over("symbol"),
        )
        .sort("trade_date", "symbol")
    )


def _weighted_return() -> pl.Expr:
    """Σ w·r / Σ w over the constituents with a return: the benchmark's (or a sector's) return."""
    r, w = pl.col("security_return"), pl.col("benchmark_weight")
    return (w * r).sum() / w.filter(r.is_not_null()).sum()


def _spread(column: str, top: float, bottom: float) -> pl.Expr:
    """Equal-weighted return of the day's constituents above the `top` quantile of `column`
    minus those below the `bottom` quantile."""
    rank = pl.col(column).rank("ordinal") / pl.col(column).count()
    r = pl.col("security_return")
    return r.filter(rank > top).mean() - r.filter(rank <= bottom).mean()


def factor_returns(returns: pl.DataFrame) -> pl.DataFrame:
    """trade_date, MARKET, SIZE, MOMENTUM, VOLATILITY (days with all four known)."""
    chars = security_characteristics(returns).filter(pl.col("security_return").is_not_null())
    return (
        chars.group_by("trade_date")
        .agg(
            MARKET=_weighted_return(),
            # Small minus big: the lower half by weight minus the upper half.
            SIZE=-_spread("benchmark_weight", 0.5, 0.5),
            MOMENTUM=_spread("trailing_return", 2 / 3, 1 / 3),
            VOLATILITY=_spread("trailing_volatility", 2 / 3, 1 / 3),
        )
        .drop_nulls()
        .sort("trade_date")
    )


def sector_tilt_returns(brinson_daily: pl.DataFrame) -> pl.DataFrame:
    """trade_date, portfolio_id, SECTOR: Σ wp·(rb − Rb) over the sectors (cash excluded)."""
    return (
        brinson_daily.filter((pl.col("method") == "BF") & (pl.col("segment") != "CASH"))
        .group_by("trade_date", "portfolio_id")
        .agg(SECTOR=(pl.col("wp") * (pl.col("rb") - pl.col("benchmark_return"))).sum())
    )


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients, their conventional standard errors, residuals."""
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    dof = max(len(y) - x.shape[1], 1)
    cov = resid @ resid / dof * np.linalg.pinv(x.T @ x)
    return coef, np.sqrt(np.clip(np.diag(cov), 0, None)), resid


def portfolio_factor_decomposition(
    portfolio_days: pl.DataFrame, factors: pl.DataFrame
) -> pl.DataFrame:
    """Per portfolio and factor (ALPHA first): exposure β (α for ALPHA), its standard error, the
    factor's summed return, the contribution β·Σf (T·α for ALPHA), the portfolio's summed return,
    R² and days. portfolio_days: trade_date, portfolio_id, nav_return, SECTOR."""
    joined = portfolio_days.join(factors, on="trade_date").sort("portfolio_id", "trade_date")
    parts = []
    for (portfolio,), rows in joined.group_by("portfolio_id", maintain_order=True):
        t = rows.height
        if t <= len(FACTORS) + 1:
            continue  # not enough days to estimate
        f = rows.select(FACTORS).to_numpy()
        y = rows["nav_return"].to_numpy()
        coef, se, resid = _ols(np.column_stack([np.ones(t), f]), y)
        total_ss = float(((y - y.mean()) ** 2).sum())
        sums = np.concatenate([[t], f.sum(axis=0)])
        parts.append(
            pl.DataFrame(
                {
                    "portfolio_id": portfolio,
                    "factor": ["ALPHA", *FACTORS],
                    "exposure": coef,
                    "std_error": se,
                    "factor_return_sum": sums,
                    "contribution": coef * sums,
                    "return_sum": float(y.sum()),
                    "residual_sum": float(resid.sum()),
                    "r_squared": 1 - float(resid @ resid) / total_ss if total_ss > 0 else None,
                    "n_days": t,
                }
            )
        )
    return pl.concat(parts) if parts else pl.DataFrame()


def cost_exposures(outcomes: pl.DataFrame, returns: pl.DataFrame) -> pl.DataFrame:
    """Each decision's order with its factor exposures (side-signed where a move helps or hurts
    a side): MARKET = s·market return of the day, SECTOR = s·(sector − market), MOMENTUM = s·its
    symbol's trailing return, SIZE = log notional, VOLATILITY = its symbol's trailing volatility."""
    chars = security_characteristics(returns)
    market = chars.group_by("trade_date").agg(_market=_weighted_return())
    sectors = chars.group_by("trade_date", "sector").agg(_sector=_weighted_return())
    s = side_sign()
    return (
        outcomes.filter(pl.col("is_total_bps").is_not_null())
        .join(
            chars.select(
                "trade_date", "symbol", "sector", "trailing_return", "trailing_volatility"
            ),
            on=["trade_date", "symbol"],
        )
        .join(market, on="trade_date")
        .join(sectors, on=["trade_date", "sector"])
        .with_columns(
            MARKET=s * pl.col("_market") * 1e4,
            SECTOR=s * (pl.col("_sector") - pl.col("_market")) * 1e4,
            SIZE=pl.col("notional").log(),
            MOMENTUM=s * pl.col("trailing_return") * 1e4,
            VOLATILITY=pl.col("trailing_volatility") * 1e4,
        )
        .drop_nulls([*COST_FACTORS])
    )


def cost_factor_decomposition(exposures: pl.DataFrame, cost: str = "is_total_bps") -> pl.DataFrame:
    """Per strategy and factor: the strategy's mean cost above the all-order mean explained by
    the factor, b_k·(x̄_k,strategy − x̄_k), with the coefficient b_k; the RESIDUAL row holds the
    strategy's mean residual, so the rows of a strategy add up to its excess mean cost."""
    n = exposures.height
    if n <= len(COST_FACTORS) + 1:
        return pl.DataFrame()
    x = exposures.select(COST_FACTORS).to_numpy()
    y = exposures[cost].to_numpy()
    coef, se, resid = _ols(np.column_stack([np.ones(n), x]), y)
    centred = exposures.select(
        "strategy_id",
        *[(pl.col(f) - pl.col(f).mean()) * b for f, b in zip(COST_FACTORS, coef[1:], strict=True)],
        RESIDUAL=pl.Series(resid),
        _excess=pl.col(cost) - pl.col(cost).mean(),
    )
    by_strategy = centred.group_by("strategy_id").agg(
        pl.len().alias("n_orders"), pl.all().exclude("strategy_id").mean()
    )
    coefficients = pl.DataFrame(
        {"factor": [*COST_FACTORS, "RESIDUAL"], "exposure": [*coef[1:], None],
         "std_error": [*se[1:], None]}
    )  # fmt: skip
    return (
        by_strategy.unpivot(
            index=["strategy_id", "n_orders", "_excess"],
            on=[*COST_FACTORS, "RESIDUAL"],
            variable_name="factor",
            value_name="contribution",
        )
        .rename({"_excess": "excess_cost_bps"})
        .join(coefficients, on="factor")
        .sort("strategy_id", "factor")
    )


def factor_decomposition(
    returns: pl.DataFrame,
    brinson_daily: pl.DataFrame,
    outcomes: pl.DataFrame,
    *,
    window: list,
) -> pl.DataFrame:
    """Both decompositions over the trading days `window`, as one table: scope PORTFOLIO_RETURN
    (entity = portfolio; total = Σ daily NAV returns) or EXECUTION_COST (entity = strategy;
    total = its mean IS above the all-order mean, bps). `returns` may reach further back than the
    window: the trailing characteristics need it."""
    if returns.is_empty() or brinson_daily.is_empty():
        return pl.DataFrame()
    factors = factor_returns(returns).filter(pl.col("trade_date").is_in(window))
    portfolio_days = (
        brinson_daily.filter(pl.col("trade_date").is_in(window))
        .group_by("trade_date", "portfolio_id")
        .agg(pl.col("nav_return").first())
        .join(sector_tilt_returns(brinson_daily), on=["trade_date", "portfolio_id"])
    )
    portfolios = portfolio_factor_decomposition(portfolio_days, factors)
    parts = []
    if not portfolios.is_empty():
        parts.append(
            portfolios.select(
                scope=pl.lit("PORTFOLIO_RETURN"),
                entity_id="portfolio_id",
                factor="factor",
                exposure="exposure",
                std_error="std_error",
                factor_return_sum="factor_return_sum",
                contribution="contribution",
                total="return_sum",
                r_squared="r_squared",
                n_obs=pl.col("n_days").cast(pl.Int64),
            )
        )
    costs = cost_factor_decomposition(
        cost_exposures(outcomes.filter(pl.col("trade_date").is_in(window)), returns)
    )
    if not costs.is_empty():
        parts.append(
            costs.select(
                scope=pl.lit("EXECUTION_COST"),
                entity_id="strategy_id",
                factor="factor",
                exposure="exposure",
                std_error="std_error",
                factor_return_sum=pl.lit(None, dtype=pl.Float64),
                contribution="contribution",
                total="excess_cost_bps",
                r_squared=pl.lit(None, dtype=pl.Float64),
                n_obs=pl.col("n_orders").cast(pl.Int64),
            )
        )
    if not parts:
        return pl.DataFrame()
    return pl.concat(parts, how="vertical_relaxed").with_columns(
        window_start=pl.lit(min(window)),
        window_end=pl.lit(max(window)),
        n_days=pl.lit(len(window), dtype=pl.Int64),
        trade_date=pl.lit(max(window)),
    )
