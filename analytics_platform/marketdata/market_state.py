"""The simulated world at one close: everything the next trading day needs, and nothing more.

`simulate_day(d, cfg, opening)` starts from the `MarketState` of the previous close and returns
the state at its own close, so a history is a chain of states and day d needs only day d-1's
(docs/simulator.md). A state is a few small frames; `history.WorldStore` persists it as Delta.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

REGIMES = ("CALM", "NORMAL", "STRESSED")
GENESIS_REGIME = "NORMAL"
# Share of NAV invested at genesis; the rest is cash.
INVESTED_SHARE = 0.95

SYMBOL_STATE_SCHEMA = pl.Schema(
    {
        "symbol": pl.String,
        # Efficient log price at the close (the transient impact left at the close dissipates
        # overnight); the next open starts from it plus the overnight move.
        "close_log_px": pl.Float64,
        # Quoted mid of the last (non-glitch) quote: the marking price of portfolios and benchmark.
        "close_mid": pl.Float64,
        # GARCH(1,1) variance of the idiosyncratic daily return for the next day.
        "variance": pl.Float64,
        # Log move of alpha ramps still unrealised at the close, applied in the overnight gap.
        "pending_alpha_log": pl.Float64,
        # The firm's own estimates (observable: computed from published closes and volumes).
        "est_variance": pl.Float64,
        "est_adv": pl.Float64,
        # Benchmark holdings in index units: weights drift with prices between rebalances.
        "benchmark_units": pl.Float64,
    }
)
POSITION_STATE_SCHEMA = pl.Schema(
    {"portfolio_id": pl.String, "symbol": pl.String, "quantity": pl.Int64}
)
PORTFOLIO_STATE_SCHEMA = pl.Schema(
    {"portfolio_id": pl.String, "cash": pl.Float64, "nav": pl.Float64}
)


@dataclass(frozen=True)
class MarketState:
    """The world after the close of `trade_date` (None: the genesis state of a new world)."""

    trade_date: dt.date | None
    regime: str
    symbols: pl.DataFrame  # SYMBOL_STATE_SCHEMA, one row per instrument, sorted by symbol
    positions: pl.DataFrame  # POSITION_STATE_SCHEMA, non-zero positions only
    portfolios: pl.DataFrame  # PORTFOLIO_STATE_SCHEMA, one row per portfolio

    def __post_init__(self) -> None:
        if self.regime not in REGIMES:
            raise ValueError(f"MarketState.regime must be one of {REGIMES}, got {self.regime!r}")
        for name, schema in (
            ("symbols", SYMBOL_STATE_SCHEMA),
            ("positions", POSITION_STATE_SCHEMA),
            ("portfolios", PORTFOLIO_STATE_SCHEMA),
        ):
            frame = getattr(self, name)
            if frame.schema != schema:
                raise ValueError(f"MarketState.{name}: schema {frame.schema} != {schema}")

    def position_matrix(self, portfolios: list[str], symbols: list[str]) -> np.ndarray:
        """Positions as a dense (portfolio x symbol) int64 matrix in the given orders."""
        matrix = np.zeros((len(portfolios), len(symbols)), dtype=np.int64)
        if self.positions.height:
            pf = np.searchsorted(np.array(portfolios), self.positions["portfolio_id"].to_numpy())
            sym = np.searchsorted(np.array(symbols), self.positions["symbol"].to_numpy())
            matrix[pf, sym] = self.positions["quantity"].to_numpy()
        return matrix

    def portfolio_column(self, portfolios: list[str], column: str) -> np.ndarray:
        frame = pl.DataFrame({"portfolio_id": portfolios}).join(
            self.portfolios, on="portfolio_id", how="left", maintain_order="left"
        )
        if frame[column].null_count():
            raise ValueError(f"MarketState.portfolios lacks {column} for some of {portfolios}")
        return frame[column].to_numpy()

    def equals(self, other: MarketState) -> bool:
        return (
            self.trade_date == other.trade_date
            and self.regime == other.regime
            and self.symbols.equals(other.symbols)
            and self.positions.equals(other.positions)
            and self.portfolios.equals(other.portfolios)
        )


def positions_frame(matrix: np.ndarray, portfolios: list[str], symbols: list[str]) -> pl.DataFrame:
    """Non-zero entries of a (portfolio x symbol) matrix as a long frame, sorted."""
    pf, sym = np.nonzero(matrix)
    return pl.DataFrame(
        {
            "portfolio_id": np.array(portfolios, dtype=object)[pf].astype(str),
            "symbol": np.array(symbols, dtype=object)[sym].astype(str),
            "quantity": matrix[pf, sym].astype(np.int64),
        },
        schema=POSITION_STATE_SCHEMA,
    ).sort("portfolio_id", "symbol")


def genesis_state(instruments: pl.DataFrame, portfolios: list[str], seed: int) -> MarketState:
    """The first state of a world: reference prices, long-run variances, fresh portfolios.

    Drawn from the seed only (not the date), so a world's genesis is the same wherever it starts.
    """
    rng = np.random.default_rng([seed, 0x6E5])
    n_sym = instruments.height
    symbols = instruments["symbol"].to_list()
    price = instruments["reference_px"].to_numpy()
    variance = instruments["daily_vol"].to_numpy() ** 2
    nav = rng.uniform(1e8, 5e8, len(portfolios))
    held = rng.uniform(size=(len(portfolios), n_sym)) < 0.6
    raw = np.where(held, rng.exponential(size=held.shape), 0.0)
    weights = raw / np.maximum(raw.sum(axis=1, keepdims=True), 1e-12)
    quantity = (np.round(INVESTED_SHARE * nav[:, None] * weights / price / 100) * 100).astype(
        np.int64
    )
    cash = nav - (quantity * price).sum(axis=1)
    return MarketState(
        trade_date=None,
        regime=GENESIS_REGIME,
        symbols=pl.DataFrame(
            {
                "symbol": symbols,
                "close_log_px": np.log(price),
                "close_mid": price,
                "variance": variance,
                "pending_alpha_log": np.zeros(n_sym),
                "est_variance": variance,
                "est_adv": instruments["adv"].to_numpy().astype(float),
                "benchmark_units": np.zeros(n_sym),  # set by the first day's rebalance
            },
            schema=SYMBOL_STATE_SCHEMA,
        ),
        positions=positions_frame(quantity, portfolios, symbols),
        portfolios=pl.DataFrame(
            {"portfolio_id": portfolios, "cash": cash, "nav": nav}, schema=PORTFOLIO_STATE_SCHEMA
        ).sort("portfolio_id"),
    )
