"""A simulated world's history: the chain of closing states and the ground truth, as Delta tables.

A world is one `SimulationConfig`. Its store, under `<root>/<world id>/`, holds per simulated day:

* `state/days`: the regime and which close the day opened from (`opened_from`, null = genesis);
* `state/symbols`, `state/positions`, `state/portfolios`: the `MarketState` at the day's close;
* `truth/fills`, `truth/orders`, `truth/decisions`, `truth/market`: the generating components,
  for tests and validation only (analytics never read them; production has no such thing).

Day d is simulated from day d-1's stored close, never by replaying from the first day. A day,
once simulated, is fixed: it is re-simulated from the same opening (bit-identical), so re-running
a backfill changes nothing. A day whose predecessor is missing first simulates the gap back to the
latest stored day within `WARMUP_DAYS` trading days (state only: nothing is landed or published);
with no stored day that close, it opens from the world's genesis. Concurrent processes serialise
on a file lock per world.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from analytics_platform.calendar import previous_trading_day, trading_days
from analytics_platform.contracts import ColumnSpec, TableContract, trade_date_column
from analytics_platform.lake import Lake
from analytics_platform.marketdata.market_state import (
    PORTFOLIO_STATE_SCHEMA,
    POSITION_STATE_SCHEMA,
    SYMBOL_STATE_SCHEMA,
    MarketState,
)
from analytics_platform.marketdata.simulator import SimulatedDay, SimulationConfig, simulate_day

# How far back a missing predecessor is bridged by simulating the gap (trading days).
WARMUP_DAYS = 60


def _contract(table: str, description: str, schema: pl.Schema, key: tuple[str, ...]):
    columns = [ColumnSpec(name, dtype, name) for name, dtype in schema.items()]
    return TableContract(table, description, [*columns, trade_date_column()], key)


STATE_DAYS = _contract(
    "state/days",
    "One row per simulated day: regime and the close it opened from (null: genesis)",
    pl.Schema({"regime": pl.String, "opened_from": pl.Date}),
    (),
)
STATE_SYMBOLS = _contract(
    "state/symbols", "Per-symbol state at the close", SYMBOL_STATE_SCHEMA, ("symbol",)
)
STATE_POSITIONS = _contract(
    "state/positions",
    "Portfolio positions at the close",
    POSITION_STATE_SCHEMA,
    ("portfolio_id", "symbol"),
)
STATE_PORTFOLIOS = _contract(
    "state/portfolios", "Cash and NAV at the close", PORTFOLIO_STATE_SCHEMA, ("portfolio_id",)
)
# Ground truth: key columns fixed, every generated column follows.
TRUTH = {
    "fills": _contract(
        "truth/fills", "Per-fill cost terms", pl.Schema({"exec_id": pl.String}), ("exec_id",)
    ),
    "orders": _contract(
        "truth/orders", "Per-order true costs", pl.Schema({"order_id": pl.String}), ("order_id",)
    ),
    "decisions": _contract(
        "truth/decisions",
        "Per-decision true alpha and skill",
        pl.Schema({"decision_id": pl.String}),
        ("decision_id",),
    ),
    "market": _contract(
        "truth/market",
        "Per-symbol regime, factor and idiosyncratic returns",
        pl.Schema({"symbol": pl.String}),
        ("symbol",),
    ),
}


def world_id(cfg: SimulationConfig) -> str:
    """A short, stable name for a world: its seed and a hash of the whole config."""
    payload = json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=list)
    return f"seed{cfg.seed}-{hashlib.sha256(payload.encode()).hexdigest()[:10]}"


@dataclasses.dataclass(frozen=True)
class WorldStore:
    """The persisted history of one simulated world."""

    root: Path
    cfg: SimulationConfig

    @property
    def path(self) -> Path:
        return Path(self.root, world_id(self.cfg))

    @property
    def lake(self) -> Lake:
        return Lake(str(self.path))

    def days(self) -> pl.DataFrame:
        """trade_date, regime, opened_from of every simulated day, in date order."""
        return (
            self.lake.scan(STATE_DAYS)
            .select("trade_date", "regime", "opened_from")
            .collect()
            .sort("trade_date")
        )

    def opened_from(self, trade_date: dt.date) -> tuple[bool, dt.date | None]:
        """(stored?, the close it opened from: None = genesis)."""
        row = self.lake.scan(STATE_DAYS, [trade_date]).collect()
        if row.is_empty():
            return False, None
        return True, row["opened_from"][0]

    def closing_state(self, trade_date: dt.date) -> MarketState | None:
        days = self.lake.scan(STATE_DAYS, [trade_date]).collect()
        if days.is_empty():
            return None

        def read(contract: TableContract, schema: pl.Schema, *order: str) -> pl.DataFrame:
            return (
                self.lake.scan(contract, [trade_date]).select(list(schema)).collect().sort(*order)
            )

        return MarketState(
            trade_date=trade_date,
            regime=days["regime"][0],
            symbols=read(STATE_SYMBOLS, SYMBOL_STATE_SCHEMA, "symbol"),
            positions=read(STATE_POSITIONS, POSITION_STATE_SCHEMA, "portfolio_id", "symbol"),
            portfolios=read(STATE_PORTFOLIOS, PORTFOLIO_STATE_SCHEMA, "portfolio_id"),
        )

    def save(self, day: SimulatedDay) -> None:
        """Write the day's closing state and ground truth (each table: one partition overwrite).

        state/days is written last: a day counts as stored only once everything else is.
        """
        d = day.trade_date
        td = pl.lit(d, dtype=pl.Date).alias("trade_date")
        state = day.closing
        for contract, frame in (
            (STATE_SYMBOLS, state.symbols),
            (STATE_POSITIONS, state.positions),
            (STATE_PORTFOLIOS, state.portfolios),
            (TRUTH["fills"], day.ground_truth_fills.drop("trade_date")),
            (TRUTH["orders"], day.ground_truth_orders.drop("trade_date")),
            (TRUTH["decisions"], day.ground_truth_decisions.drop("trade_date")),
            (TRUTH["market"], day.ground_truth_market.drop("trade_date")),
        ):
            self.lake.write_partition(contract, frame.with_columns(td), d)
        days = pl.DataFrame(
            {"regime": [state.regime], "opened_from": [day.opening.trade_date]},
            schema=pl.Schema({"regime": pl.String, "opened_from": pl.Date}),
        )
        self.lake.write_partition(STATE_DAYS, days.with_columns(td), d)

    def truth(self, name: str, trade_dates: list[dt.date] | None = None) -> pl.DataFrame:
        """Ground truth table `name` (fills, orders, decisions, market) for validation."""
        return self.lake.scan(TRUTH[name], trade_dates).collect()

    def chain_breaks(self) -> list[dt.date]:
        """Stored days that did not open from their predecessor's close: a genesis after the
        world's first day, or a day simulated before its predecessor was."""
        days = self.days()
        if days.is_empty():
            return []
        first = days["trade_date"][0]
        return [
            d
            for d, opened in days.select("trade_date", "opened_from").iter_rows()
            if opened != previous_trading_day(d) and not (opened is None and d == first)
        ]

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def simulate(store: WorldStore, trade_date: dt.date, warmup_days: int = 0) -> SimulatedDay:
    """Day `trade_date` of the world, consistent with its stored history (see module doc).

    `warmup_days`: when no stored day is close enough to continue from, first simulate this
    many trading days before `trade_date` from genesis (state only), so that a later backfill
    over them continues into this day without a break.
    """
    with store.locked():
        return _simulate_unlocked(store, trade_date, warmup_days)


def _simulate_unlocked(store: WorldStore, trade_date: dt.date, warmup_days: int = 0):
    stored, opened_from = store.opened_from(trade_date)
    if not stored:
        opened_from = _bridge_to(store, previous_trading_day(trade_date), warmup_days)
    opening = store.closing_state(opened_from) if opened_from else None
    day = simulate_day(trade_date, store.cfg, opening)
    store.save(day)
    return day


def _bridge_to(store: WorldStore, last: dt.date, warmup_days: int) -> dt.date | None:
    """Make `last` a stored day by simulating, in order, the gap after the latest stored day
    within the warm-up window (or `warmup_days` days from genesis); None: open from genesis."""
    stored_days = set(store.days()["trade_date"].to_list())
    if last in stored_days:
        return last
    span = max(WARMUP_DAYS, warmup_days)
    window = trading_days(last - dt.timedelta(days=span * 7 // 5 + 10), last)[-span:]
    anchors = [d for d in window if d in stored_days]
    if anchors:
        gap = [d for d in window if d > anchors[-1]]
    elif warmup_days:
        gap = window[-warmup_days:]
    else:
        return None
    for d in gap:
        _simulate_unlocked(store, d)
    return last
