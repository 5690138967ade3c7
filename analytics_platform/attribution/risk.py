"""Risk-adjusted performance metrics with empyrical's conventions (DESIGN §7, REFERENCES).

Returns are simple per-period returns. Conventions: standard deviations with ddof=1; Sortino's
downside deviation averages the squared shortfalls over all observations; wealth starts at 1, so a
first-period loss is a drawdown; CAGR = W_N^(A/N) − 1; Calmar = CAGR / |max drawdown| on the full
sample. Annualisation A defaults to 252; `nyse_periods_per_year` gives the NYSE calendar's count
for a year, and `risk_free_per_period` the per-day rate from a QuantLib yield curve. Sharpe's √A
scaling assumes serially uncorrelated returns (Lo 2002).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
import polars as pl

from analytics_platform.calendar import trading_days

METRICS = (
    "sharpe",
    "sortino",
    "information_ratio",
    "tracking_error",
    "max_drawdown",
    "cagr",
    "calmar",
    "annual_volatility",
    "annual_return",
    "beta",
    "alpha",
    "observations",
)
DEFAULT_RISK_FREE_RATE = 0.04  # annual, continuously compounded, flat (settable)

Returns = pl.Series | Sequence[float] | np.ndarray


def risk_metrics(
    returns: Returns,
    *,
    benchmark: Returns | None = None,
    risk_free: float = 0.0,
    periods_per_year: float = 252,
    required_return: float = 0.0,
) -> dict[str, float]:
    """Sharpe, Sortino, information ratio, tracking error, max drawdown, CAGR, Calmar, annual
    volatility (and annual return, beta, alpha against `benchmark`) of a return series.

    `risk_free` is per period (subtracted in Sharpe and alpha); `required_return` is Sortino's
    minimum acceptable return per period (empyrical's default 0). Null/NaN periods are dropped
    (pairwise with the benchmark). Undefined metrics are NaN; those needing a benchmark are NaN
    without one.
    """
    r = _array(returns)
    b = _array(benchmark) if benchmark is not None else None
    if b is not None:
        if len(b) != len(r):
            raise ValueError(f"benchmark: expected {len(r)} periods, got {len(b)}")
        keep = np.isfinite(r) & np.isfinite(b)
        r, b = r[keep], b[keep]
    else:
        r = r[np.isfinite(r)]
    a = float(periods_per_year)
    n = len(r)
    nan = math.nan
    out = dict.fromkeys(METRICS, nan)
    out["observations"] = float(n)
    if n == 0:
        return out
    wealth = np.cumprod(1 + r)
    peaks = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
    max_drawdown = float(np.min(wealth / peaks - 1))
    cagr = float(wealth[-1] ** (a / n) - 1) if wealth[-1] > 0 else -1.0
    out.update(
        max_drawdown=min(max_drawdown, 0.0),
        cagr=cagr,
        annual_return=cagr,
        calmar=cagr / abs(max_drawdown) if max_drawdown < 0 else nan,
    )
    downside = math.sqrt(np.mean(np.minimum(r - required_return, 0.0) ** 2))
    mean_excess_mar = float(np.mean(r - required_return))
    out["sortino"] = mean_excess_mar * a / (downside * math.sqrt(a)) if downside > 0 else nan
    if n < 2:
        return out
    excess = r - risk_free
    out["annual_volatility"] = float(np.std(r, ddof=1) * math.sqrt(a))
    out["sharpe"] = _ratio(excess.mean(), np.std(excess, ddof=1)) * math.sqrt(a)
    if b is not None:
        active = r - b
        te = float(np.std(active, ddof=1))
        out["tracking_error"] = te * math.sqrt(a)
        out["information_ratio"] = _ratio(active.mean(), te) * math.sqrt(a)
        bench_excess = b - risk_free
        var_b = float(np.var(bench_excess, ddof=1))
        beta = float(np.cov(excess, bench_excess, ddof=1)[0, 1] / var_b) if var_b > 0 else nan
        out["beta"] = beta
        if not math.isnan(beta):
            out["alpha"] = float((1 + np.mean(excess - beta * bench_excess)) ** a - 1)
    return out


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else math.nan


def _array(values: Returns) -> np.ndarray:
    if isinstance(values, pl.Series):
        return values.cast(pl.Float64).fill_null(math.nan).to_numpy()
    return np.asarray(values, dtype=float)


def nyse_periods_per_year(year: int) -> int:
    """Trading days in `year` on the NYSE calendar (252 in most years, 250–253)."""
    return len(trading_days(dt.date(year, 1, 1), dt.date(year, 12, 31)))


def risk_free_per_period(
    day: dt.date, *, annual_rate: float = DEFAULT_RISK_FREE_RATE, periods_per_year: int = 252
) -> float:
    """The one-period risk-free return on `day`: the discount factor over 1/A of a year on a
    QuantLib flat-forward curve (continuously compounded `annual_rate`, Actual/365 Fixed)."""
    import QuantLib as ql  # noqa: PLC0415  (a curve per call: QuantLib state is global)

    reference = ql.Date(day.day, day.month, day.year)
    curve = ql.FlatForward(reference, annual_rate, ql.Actual365Fixed(), ql.Continuous)
    return 1 / curve.discount(1 / periods_per_year) - 1


def window_risk_metrics(
    portfolio_days: pl.DataFrame,
    strategy_days: pl.DataFrame,
    *,
    window_end: dt.date,
    annual_rate: float = DEFAULT_RISK_FREE_RATE,
) -> pl.DataFrame:
    """Risk metrics per portfolio (daily NAV returns against its benchmark's) and per strategy
    (daily net alpha as a return on the day's traded notional), over the days given.

    portfolio_days: trade_date, portfolio_id, nav_return, benchmark_return (one row per day);
    strategy_days: trade_date, strategy_id, net_alpha_bps.
    """
    periods = nyse_periods_per_year(window_end.year)
    risk_free = risk_free_per_period(window_end, annual_rate=annual_rate, periods_per_year=periods)
    series = [
        portfolio_days.select(
            "trade_date",
            entity_type=pl.lit("PORTFOLIO"),
            entity_id="portfolio_id",
            r="nav_return",
            b="benchmark_return",
        ),
        strategy_days.select(
            "trade_date",
            entity_type=pl.lit("STRATEGY"),
            entity_id="strategy_id",
            r=pl.col("net_alpha_bps") / 1e4,
            b=pl.lit(None, dtype=pl.Float64),
        ),
    ]
    rows = []
    for (entity_type, entity_id), days in (
        pl.concat(series)
        .sort("trade_date")
        .group_by("entity_type", "entity_id", maintain_order=True)
    ):
        has_benchmark = days["b"].null_count() < days.height
        metrics = risk_metrics(
            days["r"],
            benchmark=days["b"] if has_benchmark else None,
            risk_free=risk_free,
            periods_per_year=periods,
        )
        rows.append(
            {
                "entity_type": entity_type,
                "entity_id": entity_id,
                **{k: (None if math.isnan(v) else v) for k, v in metrics.items()},
                "window_start": days["trade_date"].min(),
                "window_end": window_end,
                "n_days": days.height,
            }
        )
    frame = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
    if frame.is_empty():
        return frame
    return frame.with_columns(
        pl.col("observations").cast(pl.Int64),
        periods_per_year=pl.lit(periods, dtype=pl.Int64),
        risk_free_per_day=pl.lit(risk_free),
        trade_date=pl.lit(window_end),
    ).sort("entity_type", "entity_id")
