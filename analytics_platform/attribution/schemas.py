"""Contracts of the attribution tables (one row per key and trade_date partition)."""

from __future__ import annotations

import polars as pl

from analytics_platform.contracts import ColumnSpec, TableContract, trade_date_column

F, S, INT, D, B = pl.Float64, pl.String, pl.Int64, pl.Date, pl.Boolean
TS = pl.Datetime("ns", "UTC")


def _contract(
    table: str,
    description: str,
    key: list[str],
    columns: list[tuple],
    nullable: frozenset[str] | set[str] = frozenset(),
) -> TableContract:
    specs = [
        ColumnSpec(name, dtype, text, nullable=name in nullable) for name, dtype, text in columns
    ]
    return TableContract(table, description, [*specs, trade_date_column()], key)


_BPS_INTERVALS = [
    ("decision_alpha_bps", F, "Notional-weighted decision alpha"),
    ("decision_alpha_ci_low_bps", F, "95% interval, low"),
    ("decision_alpha_ci_high_bps", F, "95% interval, high"),
    ("is_delay_bps", F, "Notional-weighted IS delay"),
    ("is_trading_bps", F, "Notional-weighted IS trading"),
    ("is_opportunity_bps", F, "Notional-weighted IS opportunity"),
    ("is_fees_bps", F, "Notional-weighted IS fees"),
    ("is_total_bps", F, "Notional-weighted IS total (= delay + trading + opportunity + fees)"),
    ("is_total_ci_low_bps", F, "95% interval, low"),
    ("is_total_ci_high_bps", F, "95% interval, high"),
    ("net_alpha_bps", F, "Notional-weighted net alpha (= decision alpha − IS total)"),
    ("net_alpha_ci_low_bps", F, "95% interval, low"),
    ("net_alpha_ci_high_bps", F, "95% interval, high"),
    ("expected_alpha_bps", F, "Notional-weighted expected alpha"),
    ("alpha_vs_expected_bps", F, "Decision alpha − expected alpha"),
    ("hit_rate", F, "Share of decisions with positive net alpha"),
    ("alpha_lost_share", F, "IS total / decision alpha (null unless the alpha is positive)"),
]
_SUMMARY = [
    ("strategy_id", S, "Strategy"),
    ("n_decisions", INT, "Decisions with a known alpha and IS"),
    ("notional", F, "Σ Q·Pd of those decisions"),
    *_BPS_INTERVALS,
]
_SKILL = [
    ("skill", F, "Slope of realised on expected alpha (1 = earns what it expects)"),
    ("skill_std_error", F, "Standard error (clustered by day)"),
    ("skill_ci_low", F, "95% interval, low"),
    ("skill_ci_high", F, "95% interval, high"),
    ("skill_decisions", INT, "Decisions with a complete horizon used for skill"),
]
_WINDOW = [
    ("window_start", D, "First trading day of the window"),
    ("window_end", D, "Last trading day of the window (the partition)"),
    ("n_days", INT, "Trading days with data in the window"),
]

DECISION_OUTCOMES = _contract(
    "attribution/decision_outcomes",
    "Per decision: alpha to its horizon, the IS of its order, net alpha, against expectations.",
    ["decision_id"],
    [
        ("decision_id", S, "Decision id"),
        ("ts", TS, "Decision time"),
        ("strategy_id", S, "Strategy"),
        ("portfolio_id", S, "Portfolio"),
        ("symbol", S, "Instrument symbol"),
        ("side", S, "BUY or SELL"),
        ("target_quantity", INT, "Q: shares the decision wants"),
        ("decision_px", F, "Pd: decision price"),
        ("expected_alpha_bps", F, "The strategy's expected alpha over the horizon"),
        ("confidence", F, "The strategy's confidence"),
        ("horizon_s", INT, "Alpha horizon (seconds)"),
        ("horizon_ts", TS, "Decision ts + horizon, or the session close if later"),
        ("horizon_complete", B, "The horizon ended within the session"),
        ("horizon_px", F, "Ph = M(horizon_ts)"),
        ("order_id", S, "The decision's parent order"),
        ("algo", S, "Execution algorithm"),
        ("broker", S, "Executing broker"),
        ("executed_quantity", INT, "X: shares filled"),
        ("fill_rate", F, "X / Q"),
        ("notional", F, "Q·Pd: the denominator of every bps here"),
        ("decision_alpha_bps", F, "1e4·s·(Ph − Pd)/Pd"),
        ("is_delay_bps", F, "IS delay (DESIGN §6)"),
        ("is_trading_bps", F, "IS trading"),
        ("is_opportunity_bps", F, "IS opportunity"),
        ("is_fees_bps", F, "IS fees"),
        ("is_total_bps", F, "IS total"),
        ("net_alpha_bps", F, "Decision alpha − IS total"),
        ("alpha_vs_expected_bps", F, "Decision alpha − expected alpha"),
        ("expected_cost_bps", F, "Pre-trade expected cost of the order"),
        ("expected_impact_bps", F, "Pre-trade expected impact of the order"),
        ("expected_net_alpha_bps", F, "Expected alpha − expected cost"),
        ("net_vs_expected_bps", F, "Net alpha − expected net alpha"),
        ("as_of_ts", TS, "When the outcome was known (horizon_ts)"),
    ],
    nullable={
        "horizon_px", "order_id", "algo", "broker", "executed_quantity", "fill_rate",
        "decision_alpha_bps", "is_delay_bps", "is_trading_bps", "is_opportunity_bps",
        "is_fees_bps", "is_total_bps", "net_alpha_bps", "alpha_vs_expected_bps",
        "expected_cost_bps", "expected_impact_bps", "expected_net_alpha_bps",
        "net_vs_expected_bps",
    },
)  # fmt: skip

_SUMMARY_NULLABLE = {"alpha_lost_share"} | {c for c, _, _ in _BPS_INTERVALS if "_ci_" in c}

STRATEGY_DAILY = _contract(
    "attribution/strategy_daily",
    "Per strategy and day: notional-weighted decision alpha, IS and net alpha with intervals.",
    ["strategy_id"],
    [*_SUMMARY, ("strategy_day_id", S, "strategy|date"), ("as_of_ts", TS, "Latest horizon")],
    nullable=_SUMMARY_NULLABLE,
)

STRATEGY_WINDOW = _contract(
    "attribution/strategy_window",
    "Per strategy over the trailing window of days: outcomes with intervals and skill.",
    ["strategy_id"],
    [*_SUMMARY, *_SKILL, *_WINDOW],
    nullable=_SUMMARY_NULLABLE | {c for c, _, _ in _SKILL},
)

SECURITY_RETURNS = _contract(
    "attribution/security_returns",
    "Per benchmark constituent and day: sector, weight, previous and closing price, return.",
    ["benchmark_id", "symbol"],
    [
        ("benchmark_id", S, "Benchmark"),
        ("symbol", S, "Instrument symbol"),
        ("sector", S, "GICS sector"),
        ("benchmark_weight", F, "Weight at the previous close"),
        ("reference_px", F, "Previous close"),
        ("close_px", F, "M(session close)"),
        ("security_return", F, "close_px / reference_px − 1"),
        ("volume", INT, "Shares traded on the tape that day"),
    ],
    nullable={"close_px", "security_return"},
)

_PERIOD_RETURNS = [
    ("portfolio_return", F, "Holdings return Σ wp·rp"),
    ("benchmark_return", F, "Σ wb·rb"),
    ("excess_return", F, "portfolio_return − benchmark_return (= Σ effects)"),
]

BRINSON_DAILY = _contract(
    "attribution/brinson_daily",
    "Brinson effects per portfolio, day, method (BF, BHB) and GICS sector (cash its own).",
    ["portfolio_id", "method", "segment"],
    [
        ("portfolio_id", S, "Portfolio"),
        ("benchmark_id", S, "Benchmark"),
        ("method", S, "BF (Brinson-Fachler) or BHB"),
        ("interaction_mode", S, "separate, top_down or bottom_up"),
        ("segment", S, "GICS sector, or CASH"),
        ("wp", F, "Portfolio weight at the open"),
        ("wb", F, "Benchmark weight at the open"),
        ("rp", F, "Portfolio segment return"),
        ("rb", F, "Benchmark segment return"),
        ("allocation", F, "Allocation effect"),
        ("selection", F, "Selection effect"),
        ("interaction", F, "Interaction effect (0 when folded)"),
        ("total", F, "allocation + selection + interaction"),
        *_PERIOD_RETURNS,
        ("nav_return", F, "NAV / previous NAV − 1"),
        ("trading_effect", F, "nav_return − portfolio_return: intraday trading and fees"),
    ],
)

BRINSON_LINKED = _contract(
    "attribution/brinson_linked",
    "Brinson effects linked over the trailing window, per portfolio, method and linking method.",
    ["portfolio_id", "method", "linking_method", "segment"],
    [
        ("portfolio_id", S, "Portfolio"),
        ("benchmark_id", S, "Benchmark"),
        ("method", S, "BF or BHB"),
        ("linking_method", S, "carino, menchero, grap or frongello"),
        ("segment", S, "GICS sector, or CASH"),
        ("allocation", F, "Linked allocation"),
        ("selection", F, "Linked selection"),
        ("interaction", F, "Linked interaction"),
        ("total", F, "Linked total (Σ over segments = compounded excess return)"),
        ("portfolio_return", F, "Π(1 + rp) − 1 over the window"),
        ("benchmark_return", F, "Π(1 + rb) − 1 over the window"),
        ("excess_return", F, "portfolio_return − benchmark_return"),
        *_WINDOW,
    ],
)

RISK_METRICS = _contract(
    "attribution/risk_metrics",
    "Risk-adjusted metrics per portfolio (NAV returns vs its benchmark) and strategy (daily net"
    " alpha as a return on traded notional) over the trailing window.",
    ["entity_type", "entity_id"],
    [
        ("entity_type", S, "PORTFOLIO or STRATEGY"),
        ("entity_id", S, "Portfolio or strategy id"),
        ("sharpe", F, "Annualised Sharpe ratio"),
        ("sortino", F, "Annualised Sortino ratio"),
        ("information_ratio", F, "Annualised information ratio"),
        ("tracking_error", F, "Annualised tracking error"),
        ("max_drawdown", F, "Maximum drawdown (≤ 0)"),
        ("cagr", F, "Compound annual growth rate"),
        ("calmar", F, "CAGR / |max drawdown|"),
        ("annual_volatility", F, "Annualised volatility"),
        ("beta", F, "Beta to the benchmark"),
        ("alpha", F, "Annualised alpha against the benchmark"),
        ("observations", INT, "Days in the series"),
        ("periods_per_year", INT, "NYSE trading days in window_end's year"),
        ("risk_free_per_day", F, "One-day risk-free return (QuantLib flat-forward curve)"),
        *_WINDOW,
    ],
    nullable={
        "sharpe", "sortino", "information_ratio", "tracking_error", "calmar",
        "annual_volatility", "beta", "alpha",
    },
)  # fmt: skip

FACTOR = _contract(
    "attribution/factor",
    "Factor decomposition over the trailing window: portfolio returns (OLS on market, sector,"
    " size, momentum, volatility) and each strategy's execution cost above the average.",
    ["scope", "entity_id", "factor"],
    [
        ("scope", S, "PORTFOLIO_RETURN or EXECUTION_COST"),
        ("entity_id", S, "Portfolio (returns) or strategy (costs)"),
        ("factor", S, "ALPHA, MARKET, SECTOR, SIZE, MOMENTUM, VOLATILITY or RESIDUAL"),
        ("exposure", F, "β (returns; α for ALPHA) or the cost coefficient (bps per unit)"),
        ("std_error", F, "Standard error of the exposure"),
        ("factor_return_sum", F, "Σ factor returns over the days (T for ALPHA)"),
        ("contribution", F, "β·Σf (T·α for ALPHA), or b·(x̄_strategy − x̄) for costs"),
        ("total", F, "Σ daily returns, or the strategy's mean cost − the mean (bps)"),
        ("r_squared", F, "R² of the return regression"),
        ("n_obs", INT, "Days (returns) or orders (costs) in the regression"),
        *_WINDOW,
    ],
    nullable={"exposure", "std_error", "factor_return_sum", "r_squared"},
)

TABLES = (
    DECISION_OUTCOMES,
    STRATEGY_DAILY,
    STRATEGY_WINDOW,
    SECURITY_RETURNS,
    BRINSON_DAILY,
    BRINSON_LINKED,
    RISK_METRICS,
    FACTOR,
)
