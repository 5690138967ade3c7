"""Catalogue of the trading events the platform consumes: type, version, topic, natural id.

Topics follow `persistent://analytics/<workflow>/<event-kebab>` (DESIGN §8). Each event carries
`event_id`, `event_type`, `schema_version`, `event_ts` and `trade_date`; `trade_date` and
`event_type` are also message properties so consumers can route without decoding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TENANT = "analytics"


def kebab(name: str) -> str:
    """TradeExecutedEvent -> trade-executed."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name.removesuffix("Event")).lower()


@dataclass(frozen=True)
class EventSpec:
    event_type: str
    workflow: str
    id_column: str  # natural key of the payload; event_id = "<event_type>:<id>"
    ts_column: str  # payload column that becomes event_ts
    table: str  # raw lake table the event lands in
    schema_version: int = 1

    @property
    def topic(self) -> str:
        return f"persistent://{TENANT}/{self.workflow}/{kebab(self.event_type)}"


TRADING_DECISION = EventSpec(
    "TradingDecisionEvent", "trading-decision", "decision_id", "ts", "raw/decisions"
)
PARENT_ORDER_SUBMITTED = EventSpec(
    "ParentOrderSubmittedEvent", "trade-execution", "order_id", "arrival_ts", "raw/orders"
)
TRADE_EXECUTED = EventSpec(
    "TradeExecutedEvent", "trade-execution", "exec_id", "ts", "raw/executions"
)
NEWS_SENTIMENT_ANALYZED = EventSpec(
    "NewsSentimentAnalyzedEvent", "market-intelligence", "sentiment_id", "ts", "raw/sentiment"
)
TECHNICAL_INDICATOR_COMPUTED = EventSpec(
    "TechnicalIndicatorComputedEvent",
    "instrument-analysis",
    "indicator_id",
    "ts",
    "raw/technical_indicators",
)
PORTFOLIO_POSITION_SNAPSHOT = EventSpec(
    "PortfolioPositionSnapshotEvent",
    "portfolio-management",
    "position_id",
    "as_of_ts",
    "raw/positions",
)

INBOUND_EVENTS: tuple[EventSpec, ...] = (
    TRADING_DECISION,
    PARENT_ORDER_SUBMITTED,
    TRADE_EXECUTED,
    NEWS_SENTIMENT_ANALYZED,
    TECHNICAL_INDICATOR_COMPUTED,
    PORTFOLIO_POSITION_SNAPSHOT,
)
