"""Contracts of the TCA tables. Column types come from running the TCA functions on empty raw
frames (so they cannot drift from the code; JAX's score excepted, tested instead); descriptions
come from one glossary."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl

from analytics_platform.contracts import ColumnSpec, TableContract
from analytics_platform.events.contracts import (
    MARKET_IMPACT_ASSESSMENT,
    PARENT_ORDER_SUBMITTED,
    TECHNICAL_INDICATOR_COMPUTED,
    TRADE_EXECUTED,
)
from analytics_platform.marketdata.schemas import MARKET_TRADES, QUOTES
from analytics_platform.tca.aggregates import cost_summary
from analytics_platform.tca.breakdowns import BREAKDOWN_COLUMNS
from analytics_platform.tca.daily import SUMMARIES, daily_report, markout_curves
from analytics_platform.tca.effects import EFFECT_COLUMNS
from analytics_platform.tca.execution_quality import (
    outliers,
    routing,
    rule_605,
    rule_605_by_symbol,
)
from analytics_platform.tca.fills import DEFAULT_HORIZONS, FILL_COLUMNS, fill_tca
from analytics_platform.tca.orders import order_tca
from analytics_platform.tca.pretrade import (
    pretrade_calibration,
    pretrade_vs_realised,
    symbol_day_market,
)
from analytics_platform.tca.reversion import CURVE_COLUMNS, SPLIT_COLUMNS
from analytics_platform.tca.score import order_components

GLOSSARY = {
    "exec_id": "Fill id",
    "order_id": "Parent order id",
    "decision_id": "Decision that caused the order",
    "strategy_id": "Strategy",
    "portfolio_id": "Portfolio",
    "symbol": "Instrument symbol",
    "side": "BUY or SELL",
    "ts": "Fill time (UTC)",
    "quantity": "Shares (fill) or target shares (order)",
    "price": "Fill price",
    "venue": "Execution venue",
    "liquidity": "ADD or REMOVE",
    "fee": "Fee, positive = paid",
    "fees": "Sum of the order's fees",
    "algo": "Execution algorithm",
    "broker": "Executing broker",
    "order_type": "MARKET or LIMIT",
    "decision_px": "Decision price Pd",
    "arrival_ts": "Order arrival time t0",
    "end_ts": "Order end (completion, expiry or cancel)",
    "trade_date": "Exchange-local trading date (partition column)",
    "mid_at_fill": "M(t): mid of the last valid quote strictly before the fill",
    "arrival_mid": "M(t0): mid at the order's arrival, P0",
    "bid_at_fill": "Bid of the quote defining M(t)",
    "ask_at_fill": "Ask of the quote defining M(t)",
    "quoted_spread_bps": "1e4·(ask − bid)/M(t) of the quote defining M(t)",
    "end_mid": "M(end_ts), Pn",
    "arrival_cost_bps": "1e4·s·(price − P0)/P0",
    "effective_spread_bps": "2e4·s·(p − M(t))/M(t)",
    "price_improvement": "Per share: BUY ask(t) − p, SELL p − bid(t) (scores: bps of the mid)",
    "realized_spread_bps": "2e4·s·(p − M(t+h))/M(t)",
    "price_impact_bps": "2e4·s·(M(t+h) − M(t))/M(t)",
    "markout_bps": "1e4·s·(M(t+h) − p)/p, positive = the fill looks good",
    "executed_quantity": "Shares filled, X",
    "avg_fill_px": "Average fill price P̄ (null if unfilled)",
    "interval_vwap": "VWAP of prints with arrival_ts ≤ ts ≤ end_ts",
    "twap": "Time-weighted mid over [arrival_ts, end_ts]",
    "fill_rate": "X / Q",
    "vwap_cost_bps": "1e4·s·(P̄ − interval_vwap)/interval_vwap",
    "day_vwap_cost_bps": "1e4·s·(P̄ − day VWAP)/day VWAP",
    "twap_cost_bps": "1e4·s·(P̄ − twap)/twap",
    "participation_rate": "X / market volume in [arrival_ts, end_ts]",
    "interval_vwap_ex_own": "VWAP of the window's prints that are not our own fills (own_prints)",
    "vwap_ex_own_cost_bps": "1e4·s·(P̄ − interval_vwap_ex_own)/interval_vwap_ex_own",
    "participation_ex_own": "X / volume of the window's prints that are not our own fills",
    "is_delay_bps": "IS delay: s·Q·(P0 − Pd)/(Q·Pd)·1e4",
    "is_trading_bps": "IS trading: s·X·(P̄ − P0)/(Q·Pd)·1e4",
    "is_opportunity_bps": "IS opportunity: s·(Q − X)·(Pn − P0)/(Q·Pd)·1e4",
    "is_fees_bps": "IS fees: F/(Q·Pd)·1e4",
    "is_total_bps": "Sum of the four IS components",
    "permanent_impact_bps": "1e4·s·(M(end_ts+H) − P0)/P0",
    "temporary_impact_bps": "1e4·s·(P̄ − M(end_ts+H))/P0",
    "time_to_first_fill_s": "Seconds from arrival to the first fill",
    "time_to_complete_s": "Seconds from arrival to the last fill",
    "count": "Rows in the group with a value",
    "notional": "Σ weight (notional, currency)",
    "weighted_bps": "Notional-weighted mean cost (bps)",
    "median_bps": "Median cost (bps)",
    "p90_bps": "90th percentile cost (bps)",
    "ci95_low_bps": "Lower 95% bound of the weighted mean (Kish effective n)",
    "ci95_high_bps": "Upper 95% bound of the weighted mean",
    "metric": "Which cost column is summarised",
    "horizon": "Markout horizon",
    "bucket": "Order notional bucket (Q·Pd), cut points from config",
    "orders": "Parent orders counted (in the cell, or in the day)",
    "shares": "Shares executed",
    "avg_effective_spread_bps": "Share-weighted effective spread",
    "effective_over_quoted": "Σ effective·shares / Σ quoted·shares",
    "avg_realized_spread_bps": "Share-weighted realized spread",
    "avg_price_impact_bps": "Share-weighted price impact",
    "price_improved_share": "Share of shares executed with price improvement",
    "avg_price_improvement": "Average improvement per improved share (currency)",
    "avg_improved_time_s": "Average seconds from arrival to an improved fill",
    "avg_time_to_execution_s": "Average seconds from arrival to fill (share-weighted)",
    "kind": "fill_outside_nbbo (beyond the tolerance) or cost_beyond_expectation (|z| > k)",
    "id": "exec_id or order_id of the finding",
    "value_bps": "The cost found (bps)",
    "expected_bps": "Pre-trade expectation (bps)",
    "z_score": "Scaled surprise (realised − expected) / timing risk",
    "detail": "Human-readable reason",
    "report_id": "The trade date the report covers",
    "as_of_ts": "When the report was produced (end of the trade date)",
    "fills": "Fills in the day",
    "best_venue": "Lowest notional-weighted effective spread",
    "worst_venue": "Highest notional-weighted effective spread",
    "outliers": "Orders in tca/outliers whose cost is beyond expectation (fills outside the NBBO"
    " are not counted)",
    "fills_outside_nbbo_share": "Share of fills with a quote that printed outside the NBBO beyond"
    " the tolerance",
    "urgency": "LOW, MEDIUM or HIGH",
    "limit_px": "Limit price (LIMIT orders)",
    "size_bucket": "Order notional bucket (Q·Pd), cut points from config",
    "size_bucket_order": "Position of the size bucket, smallest first (sort key)",
    "expected_cost_bps": "Pre-trade expected cost (MarketImpactAssessmentEvent)",
    "surprise_bps": "Realised arrival cost − expected cost",
    "daily_volatility_bps": "The symbol's realised daily volatility σ_D (from 5-minute returns)",
    "variance_per_s": "The symbol's mid variance per second that day (bps²/s)",
    "day_volume": "The symbol's tape volume that day (shares)",
    "duration_s": "end_ts − arrival_ts (seconds)",
    "timing_risk_bps": "σ·√(T/3): sd of the arrival cost from market moves over the order's life",
    "scaled_surprise": "z = surprise / timing risk",
    "dimension": "Group dimension: algo, broker, urgency or size_bucket",
    "group": "The group's value (a size bucket label for size_bucket)",
    "group_order": "Sort key of the group within its dimension (size buckets by size)",
    "n_orders": "Parent orders counted",
    "n_fills": "Fills counted",
    "mean_expected_bps": "Notional-weighted expected cost",
    "mean_realised_bps": "Notional-weighted realised arrival cost",
    "bias_bps": "Notional-weighted surprise (realised − expected)",
    "bias_std_error": "Standard error of the bias (Kish effective n)",
    "bias_ci_low": "Lower 95% bound of the bias",
    "bias_ci_high": "Upper 95% bound of the bias",
    "mean_z": "Mean scaled surprise (0 for an unbiased model)",
    "share_within_1_96": "Share of orders with |z| ≤ 1.96 (0.95 for a calibrated model)",
    "window_start": "First trading day of the window",
    "window_end": "Last trading day of the window",
    "baseline": "The entity every effect is measured against (the most frequent)",
    "effect_bps": "Cost difference to the baseline (bps, positive = more expensive)",
    "std_error": "Standard error, clustered by parent order (CR1)",
    "ci_low": "Lower 95% bound of the effect",
    "ci_high": "Upper 95% bound of the effect",
    "p_value": "Two-sided p-value of effect = 0",
    "p_value_holm": "p-value after Holm's correction across the table's entities",
    "verdict": "better / worse / not significant (Holm, 5%), or baseline",
    "cost_vs_expectation": "−(arrival cost − pre-trade expected cost), bps",
    "speed": "−time to complete / order duration",
    "adverse_selection": "Notional-weighted 60 s markout of the order's fills (bps)",
    "score": "Execution quality score (weighted z-scores; entities: shrunk mean)",
    "entity": "venue, algo or broker (the name, in the effects tables)",
    "name": "The venue, algo or broker",
    "trend_20d": "Least-squares slope of the daily score over the last 20 trading days",
    "bid_size_at_fill": "Shares displayed at the bid of the quote defining M(t)",
    "ask_size_at_fill": "Shares displayed at the ask of the quote defining M(t)",
    "horizon_s": "Horizon in seconds (numeric sort key; negative = before the fill)",
    "bucket_order": "Numeric sort key of the bucket within its dimension (smallest first)",
    "n_filled": "Orders with at least one fill",
    "executed_notional": "Σ X·P0: executed shares at the arrival mid (the arrival-cost weight)",
    "cost_bps": "Arrival cost 1e4·s·(P̄ − P0)/P0, weighted by X·P0",
    "cost_std_error": "Standard error of cost_bps (Kish effective n)",
    "cost_ci_low": "Lower 95% bound of cost_bps",
    "cost_ci_high": "Upper 95% bound of cost_bps",
    "dollar_cost": "Σ s·X·(P̄ − P0): arrival cost in currency (= cost_bps·executed_notional/1e4)",
    "is_total_dollars": "Σ is_total_bps·Q·Pd/1e4: implementation shortfall in currency",
    "unfilled_shares": "Σ (Q − X)",
    "opportunity_cost_bps": "Q·Pd-weighted IS opportunity s·(Q − X)·(Pn − P0)/(Q·Pd)·1e4",
    "opportunity_dollars": "Σ s·(Q − X)·(Pn − P0): cost of the unfilled part in currency",
    "fill_type": "dark, lit_passive (ADD) or lit_aggressive (REMOVE)",
    "markout_std_error": "Standard error of the weighted markout (Kish effective n)",
    "markout_ci_low": "Lower 95% bound of the markout",
    "markout_ci_high": "Upper 95% bound of the markout",
    "permanent_bps": "Pooled permanent impact 1e4·s·(M(end_ts+H) − P0)/P0, weighted by X·P0",
    "permanent_std_error": "Standard error of the pooled permanent impact",
    "permanent_ci_low": "Lower 95% bound of the pooled permanent impact",
    "permanent_ci_high": "Upper 95% bound of the pooled permanent impact",
    "temporary_bps": "Pooled temporary impact (arrival − permanent), weighted by X·P0",
    "temporary_std_error": "Standard error of the pooled temporary impact",
    "temporary_ci_low": "Lower 95% bound of the pooled temporary impact",
    "temporary_ci_high": "Upper 95% bound of the pooled temporary impact",
    "size_category": "Rule 605 order-size category (parent order shares)",
    "size_category_order": "Numeric sort key of the size category",
    "covered_orders": "Parent orders in the cell",
    "shares_inside_quote": "Shares executed better than the quote (price improved)",
    "shares_at_quote": "Shares executed at the quote",
    "shares_outside_quote": "Shares executed worse than the quote",
    "size_improved_shares": "Shares executed at or inside the quote beyond the displayed size",
    "shares_exec_0_9s": "Shares executed 0–9 s after arrival",
    "shares_exec_10_29s": "Shares executed 10–29 s after arrival",
    "shares_exec_30_59s": "Shares executed 30–59 s after arrival",
    "shares_exec_60_299s": "Shares executed 60–299 s after arrival",
    "shares_exec_300_1799s": "Shares executed 5–30 min after arrival",
    "shares_exec_1800s_plus": "Shares executed 30 min or more after arrival",
    "passive_share": "Share of the shares that added liquidity (ADD)",
    "fees_paid": "Σ positive fees (currency)",
    "rebates_received": "Σ rebates (currency, positive)",
    "net_fees": "Σ fees, positive = paid",
    "net_fee_mils_per_share": "Net fees in mils ($0.001) per share",
    "share_of_shares": "The venue's share of the section's executed shares",
    "share_of_notional": "The venue's share of the section's executed notional",
    "arrival_cost_dollars": "Σ s·X·(P̄ − P0) over the day's orders (currency)",
    "arrival_cost_ci_low": "Lower 95% bound of the day's arrival cost",
    "arrival_cost_ci_high": "Upper 95% bound of the day's arrival cost",
    "is_total_ci_low": "Lower 95% bound of the day's implementation shortfall",
    "is_total_ci_high": "Upper 95% bound of the day's implementation shortfall",
    "window_orders": "Orders in the trailing window",
    "window_arrival_cost_bps": "Notional-weighted arrival cost over the trailing window",
    "window_arrival_cost_ci_low": "Lower 95% bound of the window's arrival cost",
    "window_arrival_cost_ci_high": "Upper 95% bound of the window's arrival cost",
    "window_is_total_bps": "Notional-weighted implementation shortfall over the window",
    "arrival_cost_vs_window_bps": "The day's arrival cost minus the window's",
    "realised_cost_bps": "Notional-weighted realised arrival cost (orders with an estimate)",
    "pretrade_bias_bps": "Notional-weighted surprise (realised − expected) of the day",
    "pretrade_bias_ci_low": "Lower 95% bound of the day's pre-trade bias",
    "pretrade_bias_ci_high": "Upper 95% bound of the day's pre-trade bias",
    "by_algo": "Per algo: orders, executed notional, cost bps with 95% interval, dollars, IS",
    "by_broker": "Per broker: orders, executed notional, cost bps with 95% interval, dollars, IS",
    "by_urgency": "Per urgency: orders, executed notional, cost bps with 95% interval, dollars",
    "by_venue": "Per venue (fills): executed notional, cost bps with 95% interval, dollars",
    "pretrade_calibration": "tca/pretrade_calibration rows (window): expected vs realised, bias",
    "top_outliers": "The largest cost outliers by |z| with their reason",
}


def describe(column: str) -> str:
    """Glossary entry of a column; horizon-suffixed metrics share their base entry."""
    base = re.sub(r"_\d+[a-z]+$", "", column)
    if column in GLOSSARY:
        return GLOSSARY[column]
    if base in GLOSSARY:
        return f"{GLOSSARY[base]} at horizon {column.removeprefix(base + '_')}"
    raise KeyError(f"TCA column {column!r} has no glossary entry")


def contract_from(table: str, schema: pl.Schema, key: list[str], description: str) -> TableContract:
    return TableContract(
        table=table,
        description=description,
        columns=[ColumnSpec(n, t, describe(n), nullable=True) for n, t in schema.items()],
        key=key,
    )


def _empty(contract: TableContract) -> pl.DataFrame:
    return pl.DataFrame(schema=contract.polars_schema)


_FILLS_SCHEMA = fill_tca(
    _empty(TRADE_EXECUTED.table),
    _empty(PARENT_ORDER_SUBMITTED.table),
    _empty(QUOTES),
    horizons=DEFAULT_HORIZONS,
).schema
_ORDERS_SCHEMA = order_tca(
    _empty(PARENT_ORDER_SUBMITTED.table),
    _empty(TRADE_EXECUTED.table),
    _empty(QUOTES),
    _empty(MARKET_TRADES),
).schema

FILL_TCA = contract_from(
    "tca/fills",
    _FILLS_SCHEMA,
    ["exec_id"],
    "Per fill: arrival cost, effective/realized spreads, impact and markouts at each horizon.",
)
ORDER_TCA = contract_from(
    "tca/orders",
    _ORDERS_SCHEMA,
    ["order_id"],
    "Per parent order: arrival, VWAP and TWAP costs, implementation shortfall, impact split.",
)


def summary_contract(table: str, by: list[str], description: str) -> TableContract:
    sample = pl.DataFrame(
        {
            **{b: pl.Series([], dtype=pl.String) for b in by},
            "c": pl.Series([], dtype=pl.Float64),
            "w": pl.Series([], dtype=pl.Float64),
        }
    )
    schema = cost_summary(sample, by, "c", "w").schema
    return contract_from(
        table, pl.Schema({**schema, "trade_date": pl.Date}), [*by, "metric"], description
    )


SUMMARY_CONTRACTS: dict[str, TableContract] = {
    spec.table: summary_contract(spec.table, list(spec.by), spec.description) for spec in SUMMARIES
}
MARKOUT_CURVES = contract_from(
    "tca/markout_curves",
    markout_curves(_empty(FILL_TCA), dt.date(2000, 1, 1)).schema,
    ["venue", "horizon", "metric"],
    "Notional-weighted markout per venue and horizon: the post-fill price path, per day"
    " (horizon_s sorts numerically).",
)


RULE_605 = contract_from(
    "tca/rule_605",
    rule_605(_empty(FILL_TCA), _empty(ORDER_TCA), dt.date(2000, 1, 1)).schema,
    ["order_type", "bucket"],
    "SEC-Rule-605-style execution quality by order type and notional bucket, per day.",
)
PRETRADE = contract_from(
    "tca/pretrade",
    pretrade_vs_realised(
        _empty(ORDER_TCA),
        _empty(MARKET_IMPACT_ASSESSMENT.table),
        symbol_day_market(_empty(TECHNICAL_INDICATOR_COMPUTED.table), _empty(MARKET_TRADES)),
    ).schema,
    ["order_id"],
    "Per order: pre-trade expected vs realised arrival cost, surprise, timing risk σ·√(T/3) and"
    " the scaled surprise z.",
)
PRETRADE_CALIBRATION = contract_from(
    "tca/pretrade_calibration",
    pretrade_calibration(
        _empty(PRETRADE),
        window_start=dt.date(2000, 1, 3),
        window_end=dt.date(2000, 1, 3),
        trade_date=dt.date(2000, 1, 3),
    ).schema,
    ["dimension", "group"],
    "Calibration of the pre-trade model over the trailing window, per algo, broker, urgency and"
    " size bucket: bias with its 95% interval, mean z, share of |z| ≤ 1.96.",
)
EFFECTS = {
    entity: contract_from(
        f"tca/{entity}_effects",
        pl.Schema(EFFECT_COLUMNS),
        ["entity"],
        f"{entity.capitalize()} effects on the cost of a fill against the most frequent {entity},"
        " estimated jointly with the other entities' over the trailing window (clustered by"
        " order, Holm-corrected verdicts).",
    )
    for entity in ("venue", "algo", "broker")
}
OUTLIERS = contract_from(
    "tca/outliers",
    outliers(_empty(FILL_TCA), _empty(PRETRADE)).schema,
    ["kind", "id"],
    "Orders whose cost is beyond k timing-risk sigmas of the pre-trade expectation, and fills"
    " outside the NBBO beyond a tolerance (a separate kind).",
)
DAILY_REPORT = contract_from(
    "tca/daily_report",
    daily_report(
        _empty(FILL_TCA),
        _empty(ORDER_TCA),
        _empty(OUTLIERS),
        dt.date(2000, 1, 3),
    ).schema,
    ["report_id"],
    "The day's headline TCA; published as TCAReportEvent.",
)
ORDER_SCORES = contract_from(
    "tca/order_scores",
    # order_scores appends the composite `score` (it runs JAX, which loading must not import).
    pl.Schema(
        {
            **order_components(
                _empty(ORDER_TCA),
                _empty(FILL_TCA),
                pl.DataFrame(schema={"order_id": pl.String, "expected_cost_bps": pl.Float64}),
            ).schema,
            "score": pl.Float64,
        }
    ),
    ["order_id"],
    "Execution quality score per order: five standardised components, documented weights.",
)
ENTITY_SCORES = contract_from(
    "tca/entity_scores",
    pl.Schema(
        {
            "entity": pl.String,
            "name": pl.String,
            "orders": pl.Int64,
            "score": pl.Float64,
            "trade_date": pl.Date,
            "trend_20d": pl.Float64,
        }
    ),
    ["entity", "name"],
    "Execution quality score per venue, algo and broker (shrunk for small samples), 20-day trend.",
)

BREAKDOWNS = contract_from(
    "tca/breakdowns",
    pl.Schema(BREAKDOWN_COLUMNS),
    ["dimension", "bucket"],
    "The day's costs by time of day, size/ADV, participation, urgency, order type, algo and"
    " broker: arrival cost bps with 95% interval and in dollars, shortfall, opportunity cost of"
    " the unfilled part.",
)
REVERSION_CURVES = contract_from(
    "tca/reversion_curves",
    pl.Schema(CURVE_COLUMNS),
    ["algo", "fill_type", "horizon"],
    "Notional-weighted markouts from 60 s before to 30 min after the fill, per algo and fill"
    " type (dark / lit passive / lit aggressive), per day; horizon_s sorts numerically.",
)
IMPACT_SPLIT = contract_from(
    "tca/impact_split",
    pl.Schema(SPLIT_COLUMNS),
    ["dimension", "bucket"],
    "Permanent vs temporary impact pooled over the trailing window, per participation bucket"
    " and urgency (the per-order split is mostly market noise).",
)
RULE_605_SYMBOL = contract_from(
    "tca/rule_605_symbol",
    rule_605_by_symbol(_empty(FILL_TCA), _empty(ORDER_TCA), dt.date(2000, 1, 1)).schema,
    ["symbol", "order_type", "size_category"],
    "Rule 605 in its filed shape: per symbol, order type and size category, shares inside / at"
    " / outside the quote, price and size improvement, time-to-execution categories.",
)
ROUTING = contract_from(
    "tca/routing",
    routing(_empty(FILL_TCA), _empty(ORDER_TCA), dt.date(2000, 1, 1)).schema,
    ["order_type", "venue"],
    "Rule-606-style routing per order type (and ALL): venue share of shares and notional,"
    " passive share, fees paid, rebates received and net fees.",
)


# Column-level lineage of the per-fill and per-order tables: each column and the (table, column)
# inputs it is computed from (DESIGN §6). Shown in the UI as `dagster/column_lineage`
# (assets/metadata.py turns it into materialization metadata); columns not listed have none
# declared.
_EX, _ORD, _Q, _TAPE = (
    TRADE_EXECUTED.spec.table,
    PARENT_ORDER_SUBMITTED.spec.table,
    QUOTES.table,
    MARKET_TRADES.table,
)
_MID = ((_Q, "bid_px"), (_Q, "ask_px"), (_Q, "ts"))
_FILL = ((_EX, "price"), (_EX, "side"), (_EX, "ts"))
_FILLED = ((_EX, "price"), (_EX, "quantity"), (_EX, "order_id"))
_HORIZON_COLUMNS = ("realized_spread_bps", "price_impact_bps", "markout_bps")
FILL_TCA_LINEAGE: dict[str, tuple[tuple[str, str], ...]] = {
    **{c: ((_EX, c),) for c in FILL_COLUMNS},  # carried over from raw/executions
    "mid_at_fill": (*_MID, (_EX, "ts")),
    "bid_at_fill": ((_Q, "bid_px"), (_Q, "ts"), (_EX, "ts")),
    "ask_at_fill": ((_Q, "ask_px"), (_Q, "ts"), (_EX, "ts")),
    "bid_size_at_fill": ((_Q, "bid_sz"), (_Q, "ts"), (_EX, "ts")),
    "ask_size_at_fill": ((_Q, "ask_sz"), (_Q, "ts"), (_EX, "ts")),
    "quoted_spread_bps": (*_MID, (_EX, "ts")),
    "arrival_mid": (*_MID, (_ORD, "arrival_ts")),
    "arrival_cost_bps": (*_FILL, *_MID, (_ORD, "arrival_ts")),
    "effective_spread_bps": (*_FILL, *_MID),
    "price_improvement": (*_FILL, *_MID),
    **{f"{c}_{h}": (*_FILL, *_MID) for c in _HORIZON_COLUMNS for h in DEFAULT_HORIZONS},
}
_ORDER_FIELDS = ("order_id", "decision_id", "strategy_id", "portfolio_id", "symbol", "side",
                 "algo", "broker", "order_type", "quantity", "decision_px", "arrival_ts",
                 "end_ts", "urgency", "limit_px", "trade_date")  # fmt: skip
_WINDOW = ((_ORD, "arrival_ts"), (_ORD, "end_ts"))
_TAPE_WINDOW = ((_TAPE, "price"), (_TAPE, "size"), (_TAPE, "ts"), *_WINDOW)
_COST = (*_FILLED, (_ORD, "side"))
ORDER_TCA_LINEAGE: dict[str, tuple[tuple[str, str], ...]] = {
    **{c: ((_ORD, c),) for c in _ORDER_FIELDS},
    "executed_quantity": ((_EX, "quantity"), (_EX, "order_id")),
    "fees": ((_EX, "fee"), (_EX, "order_id")),
    "avg_fill_px": _FILLED,
    "fill_rate": ((_EX, "quantity"), (_ORD, "quantity")),
    "arrival_mid": (*_MID, (_ORD, "arrival_ts")),
    "end_mid": (*_MID, (_ORD, "end_ts")),
    "interval_vwap": _TAPE_WINDOW,
    "interval_vwap_ex_own": (*_TAPE_WINDOW, *_FILL, (_EX, "quantity")),
    "twap": (*_MID, *_WINDOW),
    "arrival_cost_bps": (*_COST, *_MID, (_ORD, "arrival_ts")),
    "vwap_cost_bps": (*_COST, *_TAPE_WINDOW),
    "day_vwap_cost_bps": (*_COST, (_TAPE, "price"), (_TAPE, "size")),
    "twap_cost_bps": (*_COST, *_MID, *_WINDOW),
    "vwap_ex_own_cost_bps": (*_COST, *_TAPE_WINDOW, (_EX, "ts")),
    "participation_rate": ((_EX, "quantity"), *_TAPE_WINDOW),
    "participation_ex_own": ((_EX, "quantity"), (_EX, "ts"), *_TAPE_WINDOW),
    "time_to_first_fill_s": ((_EX, "ts"), (_ORD, "arrival_ts")),
    "time_to_complete_s": (
        (_EX, "ts"),
        (_EX, "quantity"),
        (_ORD, "arrival_ts"),
        (_ORD, "quantity"),
    ),
    "is_delay_bps": ((_ORD, "quantity"), (_ORD, "decision_px"), (_ORD, "side"), *_MID),
    "is_trading_bps": (*_COST, (_ORD, "quantity"), (_ORD, "decision_px"), *_MID),
    "is_opportunity_bps": ((_ORD, "quantity"), (_ORD, "decision_px"), (_EX, "quantity"), *_MID),
    "is_fees_bps": ((_EX, "fee"), (_ORD, "quantity"), (_ORD, "decision_px")),
    "is_total_bps": (*_COST, (_EX, "fee"), (_ORD, "quantity"), (_ORD, "decision_px"), *_MID),
    "permanent_impact_bps": ((_ORD, "side"), (_ORD, "end_ts"), *_MID),
    "temporary_impact_bps": (*_COST, (_ORD, "end_ts"), *_MID),
}
COLUMN_LINEAGE = {FILL_TCA.table: FILL_TCA_LINEAGE, ORDER_TCA.table: ORDER_TCA_LINEAGE}
