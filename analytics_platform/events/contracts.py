"""Inbound event contracts: for each event type its Pulsar topic and its raw lake table.

A contract's columns are the event payload fields (DESIGN §5 names); the envelope
(`event_id`, `event_type`, `schema_version`, `event_ts`, `trade_date`) is common to all events and
lands as columns too, with the Pulsar `message_id` the row came from.

Parent orders travel as their own event, `ParentOrderSubmittedEvent`, published by the OMS when an
algo order starts working (the decision and fill events carry the ids that link to it).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from analytics_platform.contracts import (
    PRICE,
    QTY,
    TS,
    Check,
    ColumnSpec,
    TableContract,
    side_column,
    trade_date_column,
)
from analytics_platform.events.catalog import EventSpec

_POS = [Check.gt(0)]
_NON_NEG = [Check.ge(0)]
_UNIT = [Check.in_range(0.0, 1.0)]


def _envelope() -> list[ColumnSpec]:
    return [
        ColumnSpec("event_id", pl.String, "Deterministic event id (<event_type>:<natural id>)"),
        ColumnSpec("event_type", pl.String, "Event type name"),
        ColumnSpec("schema_version", pl.Int64, "Payload schema version"),
        ColumnSpec("event_ts", TS, "When the event happened (UTC)"),
    ]


def _ingest_columns() -> list[ColumnSpec]:
    return [
        ColumnSpec("message_id", pl.String, "Pulsar message id the row was ingested from"),
        trade_date_column(),
    ]


@dataclass(frozen=True)
class EventContract:
    """An inbound event: where it is published, what it carries, where it lands."""

    spec: EventSpec
    payload: tuple[ColumnSpec, ...]
    description: str
    supported_versions: tuple[int, ...] = (1,)

    @property
    def payload_names(self) -> list[str]:
        return [c.name for c in self.payload]

    @property
    def message_columns(self) -> list[ColumnSpec]:
        """The fields of a message on the topic, as decoded: the envelope, trade_date and the
        payload (the raw table adds the message id it was landed from)."""
        return [*_envelope(), trade_date_column(), *self.payload]

    @property
    def table(self) -> TableContract:
        return TableContract(
            table=self.spec.table,
            description=self.description,
            columns=[*_envelope(), *self.payload, *_ingest_columns()],
            key=["event_id"],
        )


def _c(name: str, dtype: pl.DataType, description: str, **kw) -> ColumnSpec:
    return ColumnSpec(name, dtype, description, **kw)


_SYMBOL = _c("symbol", pl.String, "Instrument symbol")
_TS = _c("ts", TS, "Event time (UTC)")


def _event(event_type: str, workflow: str, id_column: str, table: str, ts_column: str = "ts"):
    return EventSpec(event_type, workflow, id_column, ts_column, table)


TRADING_DECISION = EventContract(
    _event("TradingDecisionEvent", "trading-decision", "decision_id", "raw/decisions"),
    (
        _c("decision_id", pl.String, "Decision id"),
        _TS,
        _c("strategy_id", pl.String, "Strategy"),
        _c("portfolio_id", pl.String, "Portfolio"),
        _SYMBOL,
        side_column(),
        _c("target_quantity", QTY, "Shares the decision wants", checks=_POS),
        _c("decision_px", PRICE, "Mid price when the decision was taken", checks=_POS),
        _c(
            "signal_strength",
            pl.Float64,
            "Signed signal in [-1, 1]",
            checks=[Check.in_range(-1.0, 1.0)],
        ),
        _c("confidence", pl.Float64, "Model confidence in [0, 1]", checks=_UNIT),
        _c("expected_alpha_bps", pl.Float64, "Expected alpha over the horizon (bps)"),
        _c("horizon_s", QTY, "Alpha horizon (seconds)", checks=_POS),
    ),
    "Trading decisions of the strategies (TradingDecisionEvent).",
)

PARENT_ORDER_SUBMITTED = EventContract(
    _event("ParentOrderSubmittedEvent", "trade-execution", "order_id", "raw/orders", "arrival_ts"),
    (
        _c("order_id", pl.String, "Parent order id"),
        _c("decision_id", pl.String, "Decision that caused the order"),
        _c("strategy_id", pl.String, "Strategy"),
        _c("portfolio_id", pl.String, "Portfolio"),
        _SYMBOL,
        side_column(),
        _c("quantity", QTY, "Target shares", checks=_POS),
        _c("order_type", pl.String, "MARKET or LIMIT", checks=[Check.isin(["MARKET", "LIMIT"])]),
        _c("limit_px", PRICE, "Limit price (LIMIT orders)", nullable=True),
        _c("algo", pl.String, "Execution algorithm (VWAP, TWAP, POV, IS)"),
        _c("broker", pl.String, "Executing broker"),
        _c("urgency", pl.String, "LOW, MEDIUM or HIGH"),
        _c("decision_ts", TS, "Decision time"),
        _c("decision_px", PRICE, "Decision price", checks=_POS),
        _c("arrival_ts", TS, "Order reached the market"),
        _c("end_ts", TS, "Order completed, expired or was cancelled"),
        _c("is_cancelled", pl.Boolean, "Cancelled before completion"),
    ),
    "Parent (algo) orders, one per decision (ParentOrderSubmittedEvent).",
)

TRADE_EXECUTED = EventContract(
    _event("TradeExecutedEvent", "trade-execution", "exec_id", "raw/executions"),
    (
        _c("exec_id", pl.String, "Fill id"),
        _c("order_id", pl.String, "Parent order id"),
        _TS,
        _SYMBOL,
        side_column(),
        _c("quantity", QTY, "Shares filled", checks=_POS),
        _c("price", PRICE, "Fill price", checks=_POS),
        _c("venue", pl.String, "Execution venue"),
        _c("liquidity", pl.String, "ADD or REMOVE", checks=[Check.isin(["ADD", "REMOVE"])]),
        _c("fee", pl.Float64, "Fee in currency, positive = paid"),
    ),
    "Child fills of parent orders (TradeExecutedEvent).",
)

TRADE_SETTLED = EventContract(
    _event("TradeSettledEvent", "trade-execution", "settlement_id", "raw/settlements"),
    (
        _c("settlement_id", pl.String, "Settlement id"),
        _c("exec_id", pl.String, "Settled fill"),
        _TS,
        _SYMBOL,
        side_column(),
        _c("quantity", QTY, "Shares settled", checks=_POS),
        _c("settle_date", pl.Date, "Contractual settlement date (T+1)"),
        _c("settlement_amount", pl.Float64, "Cash moved: price x quantity + fee"),
    ),
    "Settlement instructions of fills (TradeSettledEvent).",
)

EXECUTION_QUALITY = EventContract(
    _event(
        "ExecutionQualityEvent", "trade-execution", "quality_id", "raw/execution_quality_events"
    ),
    (
        _c("quality_id", pl.String, "Event id of the broker's report"),
        _c("order_id", pl.String, "Parent order"),
        _TS,
        _SYMBOL,
        _c("broker", pl.String, "Reporting broker"),
        _c("reported_fill_rate", pl.Float64, "Broker-reported fill rate", checks=_UNIT),
        _c("reported_avg_px", PRICE, "Broker-reported average price", nullable=True),
        _c(
            "reported_slippage_bps",
            pl.Float64,
            "Broker-reported slippage vs arrival",
            nullable=True,
        ),
    ),
    "Brokers' own execution-quality reports per order (ExecutionQualityEvent).",
)

RISK_VIOLATION = EventContract(
    _event("RiskViolationEvent", "trading-decision", "violation_id", "raw/risk_violations"),
    (
        _c("violation_id", pl.String, "Violation id"),
        _TS,
        _c("portfolio_id", pl.String, "Portfolio"),
        _SYMBOL,
        _c("rule", pl.String, "Risk rule breached"),
        _c("limit_value", pl.Float64, "Limit of the rule"),
        _c("observed_value", pl.Float64, "Value that breached it"),
        _c(
            "severity",
            pl.String,
            "WARNING or BREACH",
            checks=[Check.isin(["WARNING", "BREACH"])],
        ),
    ),
    "Pre-trade risk rule violations (RiskViolationEvent).",
)

POSITION_SIZED = EventContract(
    _event("PositionSizedEvent", "trading-decision", "sizing_id", "raw/positions_sized"),
    (
        _c("sizing_id", pl.String, "Sizing id"),
        _c("decision_id", pl.String, "Decision sized"),
        _TS,
        _c("portfolio_id", pl.String, "Portfolio"),
        _SYMBOL,
        side_column(),
        _c("sized_quantity", QTY, "Shares after risk sizing", checks=_POS),
        _c("risk_budget_bps", pl.Float64, "Share of NAV risk budget used (bps)", checks=_NON_NEG),
    ),
    "Risk-sized positions for decisions (PositionSizedEvent).",
)

PORTFOLIO_POSITION_SNAPSHOT = EventContract(
    _event(
        "PortfolioPositionSnapshotEvent",
        "portfolio-management",
        "position_id",
        "raw/positions",
        "as_of_ts",
    ),
    (
        _c("position_id", pl.String, "portfolio|symbol|date|snapshot"),
        _c("as_of_ts", TS, "Snapshot time: the open (OPEN) or the close (CLOSE)"),
        _c("portfolio_id", pl.String, "Portfolio"),
        _SYMBOL,
        _c("quantity", QTY, "Signed position in shares"),
        _c("price", PRICE, "Valuation price", checks=_POS),
        _c("market_value", pl.Float64, "quantity x price"),
        _c(
            "snapshot",
            pl.String,
            "OPEN: the previous close's book at its closing price; CLOSE: after the day's fills,"
            " marked to the closing mid",
            checks=[Check.isin(["OPEN", "CLOSE"])],
        ),
    ),
    "Portfolio positions at the open and at the close (PortfolioPositionSnapshotEvent).",
)

BENCHMARK_WEIGHTS = EventContract(
    _event(
        "BenchmarkWeightsPublishedEvent",
        "portfolio-management",
        "weight_id",
        "raw/benchmark_weights",
        "as_of_ts",
    ),
    (
        _c("weight_id", pl.String, "benchmark|symbol|date"),
        _c("as_of_ts", TS, "Weights effective from"),
        _c("benchmark_id", pl.String, "Benchmark"),
        _SYMBOL,
        _c("sector", pl.String, "GICS sector"),
        _c("weight", pl.Float64, "Weight at the previous close's prices", checks=_UNIT),
        _c("reference_px", PRICE, "The previous close the weight is valued at", checks=_POS),
        _c("is_rebalance", pl.Boolean, "True when the weights were reset to target today"),
    ),
    "Benchmark constituents, weights and sector map (BenchmarkWeightsPublishedEvent).",
)

PORTFOLIO_PERFORMANCE = EventContract(
    _event(
        "PortfolioPerformanceUpdatedEvent",
        "portfolio-management",
        "performance_id",
        "raw/portfolio_performance",
    ),
    (
        _c("performance_id", pl.String, "portfolio|date"),
        _TS,
        _c("portfolio_id", pl.String, "Portfolio"),
        _c("benchmark_id", pl.String, "Benchmark of the portfolio"),
        _c("nav", pl.Float64, "Net asset value at the close", checks=_POS),
        _c("previous_nav", pl.Float64, "NAV at the previous close", checks=_POS),
        _c("pnl", pl.Float64, "nav - previous_nav: mark-to-close P&L net of fees"),
        _c("cash", pl.Float64, "Cash after the day's fills and fees"),
        _c("fees", pl.Float64, "Fees paid today (negative = net rebates)"),
    ),
    "End-of-day portfolio NAV and P&L (PortfolioPerformanceUpdatedEvent).",
)

PORTFOLIO_REBALANCED = EventContract(
    _event(
        "PortfolioRebalancedEvent",
        "portfolio-management",
        "rebalance_id",
        "raw/portfolio_rebalances",
    ),
    (
        _c("rebalance_id", pl.String, "Rebalance line id"),
        _TS,
        _c("portfolio_id", pl.String, "Portfolio"),
        _SYMBOL,
        _c("current_weight", pl.Float64, "Weight in the opening book (previous close prices)"),
        _c("target_weight", pl.Float64, "Weight once the day's decisions are filled"),
    ),
    "Portfolio rebalance instructions: the day's decisions as target weights"
    " (PortfolioRebalancedEvent).",
)

NEWS_SENTIMENT_ANALYZED = EventContract(
    _event("NewsSentimentAnalyzedEvent", "market-intelligence", "sentiment_id", "raw/sentiment"),
    (
        _c("sentiment_id", pl.String, "News item id"),
        _TS,
        _SYMBOL,
        _c(
            "sentiment_score",
            pl.Float64,
            "Sentiment in [-1, 1]",
            checks=[Check.in_range(-1.0, 1.0)],
        ),
        _c("relevance", pl.Float64, "Relevance in [0, 1]", checks=_UNIT),
        _c("source", pl.String, "NEWSWIRE, SOCIAL or FILINGS"),
    ),
    "News sentiment per symbol (NewsSentimentAnalyzedEvent).",
)

MARKET_IMPACT_ASSESSMENT = EventContract(
    _event(
        "MarketImpactAssessmentEvent",
        "market-intelligence",
        "assessment_id",
        "raw/market_impact_assessments",
    ),
    (
        _c("assessment_id", pl.String, "Assessment id"),
        _c("order_id", pl.String, "Order assessed before it was sent"),
        _TS,
        _SYMBOL,
        side_column(),
        _c("quantity", QTY, "Shares assessed", checks=_POS),
        _c("expected_cost_bps", pl.Float64, "Pre-trade expected cost (bps)"),
        _c("expected_impact_bps", pl.Float64, "Pre-trade expected market impact (bps)"),
    ),
    "Pre-trade market impact estimates (MarketImpactAssessmentEvent).",
)

TECHNICAL_INDICATOR_COMPUTED = EventContract(
    _event(
        "TechnicalIndicatorComputedEvent",
        "instrument-analysis",
        "indicator_id",
        "raw/technical_indicators",
    ),
    (
        _c("indicator_id", pl.String, "symbol|indicator|ts"),
        _TS,
        _SYMBOL,
        _c("indicator", pl.String, "Indicator name"),
        _c("value", pl.Float64, "Indicator value"),
    ),
    "Technical indicators on a 5-minute grid (TechnicalIndicatorComputedEvent).",
)

CORRELATION_MATRIX_UPDATED = EventContract(
    _event(
        "CorrelationMatrixUpdatedEvent",
        "instrument-analysis",
        "correlation_id",
        "raw/correlation_matrices",
    ),
    (
        _c("correlation_id", pl.String, "symbol_a|symbol_b|date"),
        _TS,
        _c("symbol_a", pl.String, "First symbol"),
        _c("symbol_b", pl.String, "Second symbol"),
        _c("correlation", pl.Float64, "Return correlation", checks=[Check.in_range(-1.0, 1.0)]),
        _c("window", pl.String, "Estimation window"),
    ),
    "Pairwise return correlations, one row per pair (CorrelationMatrixUpdatedEvent).",
)

INBOUND: tuple[EventContract, ...] = (
    TRADING_DECISION,
    RISK_VIOLATION,
    POSITION_SIZED,
    PARENT_ORDER_SUBMITTED,
    TRADE_EXECUTED,
    TRADE_SETTLED,
    EXECUTION_QUALITY,
    PORTFOLIO_POSITION_SNAPSHOT,
    BENCHMARK_WEIGHTS,
    PORTFOLIO_PERFORMANCE,
    PORTFOLIO_REBALANCED,
    NEWS_SENTIMENT_ANALYZED,
    MARKET_IMPACT_ASSESSMENT,
    TECHNICAL_INDICATOR_COMPUTED,
    CORRELATION_MATRIX_UPDATED,
)
BY_TOPIC = {c.spec.topic: c for c in INBOUND}
BY_EVENT_TYPE = {c.spec.event_type: c for c in INBOUND}
WORKFLOWS = tuple(dict.fromkeys(c.spec.workflow for c in INBOUND))

QUARANTINE = TableContract(
    table="raw/quarantine",
    description="Every rejected inbound message with the reason; nothing is dropped silently.",
    columns=[
        ColumnSpec("topic", pl.String, "Topic the message came from"),
        ColumnSpec("message_id", pl.String, "Pulsar message id"),
        ColumnSpec("payload", pl.String, "The raw payload as received"),
        ColumnSpec("error", pl.String, "Why it was rejected"),
        ColumnSpec("received_at", TS, "When the platform read it"),
        ColumnSpec(
            "trade_date",
            pl.Date,
            "trade_date message property (or the exchange date it was received on)",
        ),
    ],
    key=["topic", "message_id"],
)
