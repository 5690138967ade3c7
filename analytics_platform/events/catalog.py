"""Event specs: type, version, topic and natural id of an event (contracts in `contracts.py`).

Topics follow `persistent://analytics/<workflow>/<event-kebab>` (DESIGN §8). Each event carries
`event_id`, `event_type`, `schema_version`, `event_ts` and `trade_date`; `trade_date` and
`event_type` are also message properties so consumers can route without decoding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TENANT = "analytics"


def kebab(name: str) -> str:
    """TradeExecutedEvent -> trade-executed; TCAReportEvent -> tca-report (acronyms kept)."""
    words = re.sub(
        r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name.removesuffix("Event")
    )
    return words.lower()


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
