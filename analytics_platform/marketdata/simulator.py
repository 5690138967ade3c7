"""Deterministic, vectorised simulator of a trading history: market data and the firm's trading.

The generating model (docs/simulator.md) is the ground truth that TCA, attribution and the cost
model are validated against. A day starts from the previous close's `MarketState` and returns its
own closing state, so consecutive days form one consistent history:

* a market regime (Markov chain) and per-symbol GARCH variances persist across days; returns load
  on a market factor and a GICS sector factor; day d opens from day d-1's close plus an overnight
  move;
* log efficient price = log open + factor and idiosyncratic Brownian paths + alpha ramps of the
  firm's decisions + permanent impact of its fills + a transient impact that decays exponentially
  (a propagator), so the quotes and the tape feel the firm's orders;
* quotes = efficient price + microstructure noise, half-spread with a U-shaped intraday profile,
  snapped outward to the tick; a tiny share are deliberately crossed and flagged `is_glitch`;
* fills are priced from the prevailing NBBO (aggressive at the far side plus half their own impact,
  passive at the near side, dark at the mid) plus venue, algo and broker effects and noise;
* portfolios carry positions and cash across days and mark to the close; the benchmark holds
  index units whose weights drift with prices and reset on the first trading day of each month.

Everything is drawn from one `numpy.random.Generator` seeded by (seed, trade_date): the same
config, date and opening state give bit-identical frames. No Python loop runs over rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import string
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from analytics_platform.calendar import SESSION_SECONDS, session
from analytics_platform.contracts import TS
from analytics_platform.events import contracts as event_contracts
from analytics_platform.events.catalog import EventSpec
from analytics_platform.marketdata.derived_events import derived_events
from analytics_platform.marketdata.market_state import (
    PORTFOLIO_STATE_SCHEMA,
    SYMBOL_STATE_SCHEMA,
    MarketState,
    genesis_state,
    positions_frame,
)

NS = 1_000_000_000
SESSION_NS = int(SESSION_SECONDS * NS)
# Per-symbol keys pack (symbol index, ns since the open) into one sortable int64.
_KEY_SHIFT = 1 << 45

SECTORS = (
    "Communication Services",
    "Consumer Discretionary",
    "Consumer Staples",
    "Energy",
    "Financials",
    "Health Care",
    "Industrials",
    "Information Technology",
    "Materials",
    "Real Estate",
    "Utilities",
)

# Ground-truth execution effects in bps (positive = costs us more). TCA must recover these.
VENUE_EFFECT_BPS = {"XNYS": 0.8, "XNAS": 0.5, "ARCX": 0.3, "BATS": 0.0, "IEXG": -0.6, "DARK": -1.2}
VENUE_SHARE = {"XNYS": 0.22, "XNAS": 0.24, "ARCX": 0.12, "BATS": 0.14, "IEXG": 0.08, "DARK": 0.20}
ALGO_EFFECT_BPS = {"VWAP": 0.0, "TWAP": 0.6, "POV": 1.5, "IS": -0.8}
ALGO_SHARE = {"VWAP": 0.4, "TWAP": 0.2, "POV": 0.2, "IS": 0.2}
BROKER_EFFECT_BPS = {"BRKA": 0.0, "BRKB": 1.0, "BRKC": -0.5}
BROKER_SHARE = {"BRKA": 0.5, "BRKB": 0.3, "BRKC": 0.2}
# Strategy skill: E[realised alpha | expected alpha] = skill * expected. EVENT_DRIVEN has none.
STRATEGY_SKILL = {"MOMENTUM": 0.8, "MEAN_REVERSION": 0.5, "STAT_ARB": 0.3, "EVENT_DRIVEN": 0.0}
URGENCY_PARTICIPATION = {"LOW": 0.03, "MEDIUM": 0.08, "HIGH": 0.15}
URGENCY_IMPACT_MULT = {"LOW": 0.7, "MEDIUM": 1.0, "HIGH": 1.4}
# Fees in $/share: positive = paid, negative = rebate.
FEE_PER_SHARE = {"REMOVE": 0.0030, "ADD": -0.0020, "DARK": 0.0010}
IMPACT_COEFFICIENT = 0.8  # Y in  cost = Y * sigma * sqrt(Q / ADV)
PERMANENT_SHARE = 0.4  # share of the sqrt impact that is permanent (gamma)
# Transient impact: each fill of q shares moves the mid by
# s * TRANSIENT_COEFFICIENT * sigma * sqrt(q / ADV) * urgency multiplier, decaying as
# exp(-elapsed / TRANSIENT_DECAY_S) (an exponential propagator). Aggressive fills pay half of
# their own jump (walking the book); every fill's jump shows in the quotes after it.
TRANSIENT_COEFFICIENT = 0.5
TRANSIENT_DECAY_S = 180.0
FILL_NOISE_BPS = 1.0
# Where fills sit against the NBBO, in bps of the mid (positive = toward the mid): marketable
# orders also meet hidden and midpoint liquidity; passive orders rest pegged slightly inside.
INSIDE_OFFSET_BPS = {"REMOVE": 2.5, "ADD": 1.0}

# Market model across days.
REGIME_TRANSITIONS = {  # daily Markov chain over market regimes
    "CALM": {"CALM": 0.93, "NORMAL": 0.07, "STRESSED": 0.0},
    "NORMAL": {"CALM": 0.05, "NORMAL": 0.90, "STRESSED": 0.05},
    "STRESSED": {"CALM": 0.0, "NORMAL": 0.15, "STRESSED": 0.85},
}
REGIME_VOL_MULT = {"CALM": 0.7, "NORMAL": 1.0, "STRESSED": 1.8}
REGIME_LIQUIDITY_MULT = {"CALM": 1.15, "NORMAL": 1.0, "STRESSED": 0.7}  # day volume
REGIME_SPREAD_MULT = {"CALM": 0.85, "NORMAL": 1.0, "STRESSED": 1.5}
MARKET_FACTOR_VOL = 0.010  # daily std of the market factor (NORMAL regime)
SECTOR_FACTOR_VOL = 0.006  # daily std of each sector factor
OVERNIGHT_VOL_SHARE = 0.35  # overnight std as a share of the session's std
GARCH_ALPHA, GARCH_BETA = 0.08, 0.90  # idiosyncratic variance: h' = w + a*e^2 + b*h
DAY_VOLUME_NOISE = 0.15  # lognormal sd of a day's volume around regime-adjusted ADV
# The firm's own estimates (its risk model and pre-trade model), deliberately imperfect.
RISK_MODEL_DECAY = 0.94  # EWMA of squared close-to-close returns
ADV_DECAY = 0.9  # EWMA of daily volume
PRETRADE_IMPACT_COEFFICIENT = 0.7  # the firm's calibration of Y (the truth is 0.8)
PRETRADE_ERROR = 0.2  # lognormal sd of each assessment's error
BENCHMARK_ID = "US_EQ_BENCH"
SESSION_GRID = 23_400  # factor paths are sampled every second and interpolated
TAPE_VENUES = ("ARCX", "BATS", "FINRA", "IEXG", "XNAS", "XNYS")  # sorted: codes index it
TAPE_VENUES_SORTED = np.array(TAPE_VENUES)


@dataclass(frozen=True)
class SimulationConfig:
    """Scale and seed of a simulated day. Defaults are the `make run` day."""

    n_symbols: int = 50
    n_quotes: int = 1_000_000
    n_orders: int = 2_000
    fills_per_order: float = 10.0
    trades_per_quote: float = 0.25
    book_interval_s: int = 60
    book_levels: int = 5
    indicator_interval_s: int = 300
    news_per_symbol: float = 3.0
    glitch_rate: float = 2e-5
    cancel_rate: float = 0.03
    limit_order_share: float = 0.3
    # Scales the firm's market impact (permanent and transient); 0 gives the counterfactual
    # market without the firm, for validating impact measurement.
    impact_scale: float = 1.0
    seed: int = 7
    strategies: tuple[str, ...] = field(default_factory=lambda: tuple(STRATEGY_SKILL))

    def __post_init__(self) -> None:
        for name in ("n_symbols", "n_quotes", "n_orders", "book_interval_s", "book_levels"):
            if getattr(self, name) <= 0:
                raise ValueError(f"SimulationConfig.{name} must be positive")
        if self.fills_per_order < 1:
            raise ValueError("SimulationConfig.fills_per_order must be >= 1")
        if self.n_quotes < 20 * self.n_symbols:
            raise ValueError("SimulationConfig.n_quotes must be at least 20 per symbol")
        unknown = set(self.strategies) - set(STRATEGY_SKILL)
        if unknown:
            raise ValueError(f"SimulationConfig.strategies: unknown {sorted(unknown)}")


@dataclass
class SimulatedDay:
    """All frames of one simulated day. Market data follows the raw contracts (DESIGN §5)."""

    trade_date: dt.date
    instruments: pl.DataFrame
    quotes: pl.DataFrame
    market_trades: pl.DataFrame
    book_snapshots: pl.DataFrame
    decisions: pl.DataFrame
    orders: pl.DataFrame
    executions: pl.DataFrame
    positions: pl.DataFrame
    benchmark_weights: pl.DataFrame
    portfolio_performance: pl.DataFrame
    sentiment: pl.DataFrame
    technical_indicators: pl.DataFrame
    portfolio_rebalances: pl.DataFrame
    # Further events derived from the above (analytics_platform.marketdata.derived_events).
    derived: dict[str, pl.DataFrame]
    # The world before the open and after the close (the next day starts from `closing`).
    opening: MarketState
    closing: MarketState
    # Not observable in production: the generating components, for validation only.
    ground_truth_fills: pl.DataFrame
    ground_truth_orders: pl.DataFrame
    ground_truth_decisions: pl.DataFrame
    ground_truth_market: pl.DataFrame

    @property
    def trading_events(self) -> list[tuple[EventSpec, pl.DataFrame]]:
        """What the firm's systems publish to Pulsar during the day, one frame per event type."""
        frames = {
            "raw/decisions": self.decisions,
            "raw/orders": self.orders,
            "raw/executions": self.executions,
            "raw/positions": self.positions,
            "raw/benchmark_weights": self.benchmark_weights,
            "raw/portfolio_performance": self.portfolio_performance,
            "raw/portfolio_rebalances": self.portfolio_rebalances,
            "raw/sentiment": self.sentiment,
            "raw/technical_indicators": self.technical_indicators,
            **self.derived,
        }
        return [
            (c.spec, frames[c.spec.table].select(*c.payload_names, "trade_date"))
            for c in event_contracts.INBOUND
        ]

    @property
    def market_data(self) -> dict[str, pl.DataFrame]:
        return {
            "raw/quotes": self.quotes,
            "raw/market_trades": self.market_trades,
            "raw/book_snapshots": self.book_snapshots,
        }


def _day_rng(seed: int, trade_date: dt.date) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{trade_date.isoformat()}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _choice(rng: np.random.Generator, shares: dict[str, float], size: int) -> np.ndarray:
    names = np.array(list(shares))
    p = np.array(list(shares.values()), dtype=float)
    return names[rng.choice(len(names), size=size, p=p / p.sum())]


def _lookup(mapping: dict[str, float], labels: np.ndarray) -> np.ndarray:
    names = np.array(sorted(mapping))
    values = np.array([mapping[n] for n in names], dtype=float)
    return values[np.searchsorted(names, labels)]


def _activity_times(rng: np.random.Generator, size: int, lo: float = 0.0, hi: float = 1.0):
    """Session fractions in [lo, hi) drawn from the U-shaped intraday density 1 + 3(2u-1)^2."""
    grid = np.linspace(0.0, 1.0, 4097)
    cdf = (grid + 0.5 * ((2 * grid - 1) ** 3 + 1)) / 2.0  # integral of 1+3(2u-1)^2, normalised
    u = rng.uniform(np.interp(lo, grid, cdf), np.interp(hi, grid, cdf), size)
    return np.interp(u, cdf, grid)


def _offsets_ns(fractions: np.ndarray) -> np.ndarray:
    """Session fractions to ns offsets on a microsecond grid (Delta stores timestamps in us)."""
    return (fractions * (SESSION_NS // 1000)).astype(np.int64) * 1000


def _us(ns: np.ndarray) -> np.ndarray:
    return (ns // 1000) * 1000


def _group_start(sorted_groups: np.ndarray) -> np.ndarray:
    """For a sorted group-id array, the index where each row's group starts."""
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    return np.repeat(starts, np.diff(np.r_[starts, len(sorted_groups)]))


def _rank_in_group(sorted_groups: np.ndarray) -> np.ndarray:
    """0-based position of each row inside its group (array sorted by group)."""
    return np.arange(len(sorted_groups)) - _group_start(sorted_groups)


def _prefix(values: np.ndarray) -> np.ndarray:
    return np.r_[0.0, np.cumsum(values)]


def _sums_before(event_keys: np.ndarray, query_keys: np.ndarray, *prefixes: np.ndarray):
    """Per prefix array: sum of event values of the same symbol strictly before each query key.

    `event_keys` sorted; each prefix holds its values' prefix sums (len + 1). Keys pack the
    symbol in the high bits, so a symbol's first event is where its base key would go. Queries
    in sorted order make the binary searches cache-friendly.
    """
    upto = np.searchsorted(event_keys, query_keys, side="left")
    query_sym = query_keys // _KEY_SHIFT
    n_sym = int(query_sym.max()) + 1 if len(query_sym) else 0
    sym_start = np.searchsorted(event_keys, np.arange(n_sym, dtype=np.int64) * _KEY_SHIFT)
    base = sym_start[query_sym]
    return [prefix[upto] - prefix[base] for prefix in prefixes]


def _instruments(cfg: SimulationConfig) -> pl.DataFrame:
    """Static reference data: drawn from the seed only, identical on every day."""
    rng = np.random.default_rng(cfg.seed)
    letters = np.array(list(string.ascii_uppercase))
    symbols: list[str] = []
    seen: set[str] = set()
    while len(symbols) < cfg.n_symbols:
        batch = rng.choice(letters, size=(cfg.n_symbols * 2, 4))
        lengths = rng.integers(2, 5, size=cfg.n_symbols * 2)
        for row, n in zip(batch, lengths, strict=True):
            name = "".join(row[:n])
            if name not in seen and len(symbols) < cfg.n_symbols:
                seen.add(name)
                symbols.append(name)
    adv = np.exp(rng.normal(np.log(3e6), 0.9, cfg.n_symbols)).round(-2)
    price = np.clip(np.exp(rng.normal(np.log(60.0), 0.8, cfg.n_symbols)), 5.0, 900.0)
    daily_vol = rng.uniform(0.01, 0.04, cfg.n_symbols)
    spread_bps = np.clip(
        np.exp(rng.normal(np.log(4.0), 0.4, cfg.n_symbols)) * (3e6 / adv) ** 0.25, 1.0, 60.0
    )
    beta = rng.uniform(0.6, 1.4, cfg.n_symbols)
    # Daily turnover 0.3-1.5 % of the float: shares outstanding for the cap-based benchmark.
    shares_outstanding = (adv / rng.uniform(0.003, 0.015, cfg.n_symbols)).round(-3)
    return pl.DataFrame(
        {
            "symbol": symbols,
            "sector": np.array(SECTORS)[rng.integers(0, len(SECTORS), cfg.n_symbols)],
            "reference_px": price.round(2),
            "daily_vol": daily_vol,
            "adv": adv.astype(np.int64),
            "tick_size": np.full(cfg.n_symbols, 0.01),
            "spread_bps": spread_bps,
            "beta": beta,
            "shares_outstanding": shares_outstanding.astype(np.int64),
        }
    ).sort("symbol")


@dataclass
class _Decisions:
    sym: np.ndarray
    t: np.ndarray  # ns since open
    side: np.ndarray  # +1 / -1
    strategy: np.ndarray
    expected_alpha_bps: np.ndarray
    true_alpha_bps: np.ndarray
    confidence: np.ndarray
    signal_strength: np.ndarray
    horizon_s: np.ndarray
    quantity: np.ndarray


def _draw_decisions(rng, cfg: SimulationConfig, adv: np.ndarray) -> _Decisions:
    n = cfg.n_orders
    weights = adv**0.7 / (adv**0.7).sum()
    sym = rng.choice(len(adv), size=n, p=weights)
    t = _offsets_ns(_activity_times(rng, n, 5 / 390, 375 / 390))
    side = rng.choice(np.array([1, -1]), size=n)
    strategy = np.array(cfg.strategies)[rng.integers(0, len(cfg.strategies), n)]
    expected = np.exp(rng.normal(np.log(15.0), 0.6, n))
    confidence = rng.beta(4, 3, n)
    skill = _lookup(STRATEGY_SKILL, strategy)
    # Confidence is informative (scaled by its mean, 4/7, so that E[alpha | expected] is exactly
    # skill * expected: skill is the slope of realised on expected alpha).
    true_alpha = skill * expected * confidence * (7 / 4) + rng.normal(0, 8.0, n)
    signal = side * np.clip(expected / 60 + rng.normal(0, 0.1, n), 0.01, 1.0)
    horizon = rng.choice(np.array([900, 1800, 3600, 7200]), size=n)
    q_over_adv = np.clip(np.exp(rng.normal(np.log(0.003), 0.8, n)), 1e-4, 0.05)
    quantity = np.maximum(100, np.round(q_over_adv * adv[sym], -2)).astype(np.int64)
    return _Decisions(
        sym, t, side, strategy, expected, true_alpha, confidence, signal, horizon, quantity
    )


@dataclass
class _Orders:
    arrival: np.ndarray
    end: np.ndarray
    algo: np.ndarray
    broker: np.ndarray
    urgency: np.ndarray
    is_limit: np.ndarray
    limit_bps: np.ndarray
    cancel_fraction: np.ndarray  # 1.0 = not cancelled


def _draw_orders(rng, cfg: SimulationConfig, dec: _Decisions, adv: np.ndarray) -> _Orders:
    n = len(dec.t)
    urgency = rng.choice(np.array(list(URGENCY_PARTICIPATION)), size=n, p=[0.3, 0.5, 0.2])
    participation = _lookup(URGENCY_PARTICIPATION, urgency)
    arrival = _us(dec.t + rng.integers(50_000_000, 2 * NS, n))
    duration = (dec.quantity / adv[dec.sym]) * SESSION_SECONDS / participation
    duration = np.clip(duration * rng.lognormal(0, 0.3, n), 30, 4 * 3600)
    # Orders may run past the close: they are cut at the close (partially filled).
    end = np.minimum(arrival + _us((duration * NS).astype(np.int64)), SESSION_NS)
    cancelled = rng.uniform(size=n) < cfg.cancel_rate
    return _Orders(
        arrival=arrival,
        end=end,
        algo=_choice(rng, ALGO_SHARE, n),
        broker=_choice(rng, BROKER_SHARE, n),
        urgency=urgency,
        is_limit=rng.uniform(size=n) < cfg.limit_order_share,
        limit_bps=rng.uniform(5, 60, n),
        cancel_fraction=np.where(cancelled, rng.uniform(0.2, 0.9, n), 1.0),
    )


def _split_fills(rng, cfg: SimulationConfig, dec: _Decisions, orders: _Orders):
    """Child-fill times and quantities per order: sorted times, integer quantities summing to Q."""
    n = len(dec.t)
    counts = 1 + rng.poisson(cfg.fills_per_order - 1, n)
    order_idx = np.repeat(np.arange(n), counts)
    frac = rng.uniform(size=len(order_idx))
    order = np.lexsort((frac, order_idx))
    frac = frac[order]
    window = orders.end - orders.arrival
    t = orders.arrival[order_idx] + _us((frac * window[order_idx]).astype(np.int64))
    weights = rng.exponential(size=len(order_idx))
    wsum = np.bincount(order_idx, weights=weights)
    cum_w = np.cumsum(weights) - np.repeat(np.r_[0, np.cumsum(wsum)[:-1]], counts)
    cum_q = np.round(cum_w / wsum[order_idx] * dec.quantity[order_idx]).astype(np.int64)
    start = _group_start(order_idx)
    prev = np.where(np.arange(len(order_idx)) == start, 0, np.r_[0, cum_q[:-1]])
    qty = cum_q - prev
    # Cancelled orders keep only the fills before the cancel point of their window.
    keep = (qty > 0) & (frac < orders.cancel_fraction[order_idx])
    return order_idx[keep], t[keep], qty[keep]


def _brownian(rng, keys: np.ndarray, sigma_per_sqrt_ns: np.ndarray, sym: np.ndarray) -> np.ndarray:
    """Per-symbol Brownian path (0 at the open) at sorted per-symbol keys (sym | ns since open)."""
    t = keys % _KEY_SHIFT
    start = _group_start(sym)
    first = np.arange(len(keys)) == start
    dt_ns = np.where(first, t, t - np.r_[0, t[:-1]])
    steps = rng.standard_normal(len(keys)) * np.sqrt(dt_ns) * sigma_per_sqrt_ns[sym]
    walk = np.cumsum(steps)
    return walk - np.r_[0.0, walk][start]


def _factor_paths(rng, n_paths: int) -> np.ndarray:
    """Standard Brownian paths over the session (W(1) ~ N(0, 1)) on a one-second grid."""
    steps = rng.standard_normal((n_paths, SESSION_GRID)) / np.sqrt(SESSION_GRID)
    return np.concatenate([np.zeros((n_paths, 1)), np.cumsum(steps, axis=1)], axis=1)


def _path_at(paths: np.ndarray, rows: np.ndarray | int, t_ns: np.ndarray) -> np.ndarray:
    """Factor paths at ns offsets, linearly interpolated between grid seconds."""
    x = t_ns / SESSION_NS * SESSION_GRID
    i = np.minimum(x.astype(np.int64), SESSION_GRID - 1)
    frac = x - i
    return paths[rows, i] * (1 - frac) + paths[rows, i + 1] * frac


def _decayed_sums_before(
    event_keys: np.ndarray, jumps: np.ndarray, query_keys: np.ndarray, decay_ns: float
) -> np.ndarray:
    """Per group (the key's high bits): sum of jump * exp(-(t_query - t_event) / decay) over the
    group's events strictly before each query. `event_keys` sorted.

    The exponential kernel factorises, so one cumulative sum per group suffices. It is taken per
    group (never across groups): exp(t / decay) reaches ~1e57 at the close for a 180 s decay, and
    a running sum across groups would swamp a later group's small terms.
    """
    if not len(event_keys):
        return np.zeros(len(query_keys))
    group = event_keys // _KEY_SHIFT
    scaled = (
        pl.DataFrame({"g": group, "w": jumps * np.exp((event_keys % _KEY_SHIFT) / decay_ns)})
        .select(pl.col("w").cum_sum().over("g"))
        .to_series()
        .to_numpy()
    )
    idx = np.searchsorted(event_keys, query_keys, side="left") - 1
    safe = np.maximum(idx, 0)
    same = (idx >= 0) & (group[safe] == query_keys // _KEY_SHIFT)
    return np.where(same, scaled[safe] * np.exp(-(query_keys % _KEY_SHIFT) / decay_ns), 0.0)


def _cumsum_in_groups(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Inclusive running sum within each run of equal (sorted) group ids."""
    total = np.cumsum(values)
    return total - np.r_[0.0, total][_group_start(groups)]


def _next_regime(rng, regime: str) -> str:
    row = REGIME_TRANSITIONS[regime]
    return str(_choice(rng, row, 1)[0])


def portfolio_ids(cfg: SimulationConfig) -> list[str]:
    """One portfolio per strategy, sorted."""
    return sorted(f"PF_{s}" for s in cfg.strategies)


def simulate_day(
    trade_date: dt.date, cfg: SimulationConfig | None = None, opening: MarketState | None = None
) -> SimulatedDay:
    """Simulate one trading day from the previous close's state (default: the world's genesis).

    Deterministic in (cfg, trade_date, opening).
    """
    cfg = cfg or SimulationConfig()
    sess = session(trade_date)
    inst = _instruments(cfg)
    portfolios = portfolio_ids(cfg)
    opening = opening or genesis_state(inst, portfolios, cfg.seed)
    if opening.trade_date is not None and opening.trade_date >= trade_date:
        raise ValueError(f"the state after {opening.trade_date} cannot open {trade_date}")
    if opening.symbols["symbol"].to_list() != inst["symbol"].to_list():
        raise ValueError("the opening state belongs to another universe (seed or n_symbols)")
    rng = _day_rng(cfg.seed, trade_date)
    n_sym = inst.height
    symbols = inst["symbol"].to_numpy()
    state = opening.symbols
    tick = inst["tick_size"].to_numpy()
    beta = inst["beta"].to_numpy()
    sector_idx = np.searchsorted(np.array(SECTORS), inst["sector"].to_numpy())

    # --- the day's market: regime, volatilities, liquidity, overnight gap ---------------------
    regime = _next_regime(rng, opening.regime)
    vol_mult = REGIME_VOL_MULT[regime]
    idio_vol = np.sqrt(state["variance"].to_numpy()) * vol_mult
    market_vol, sector_vol = MARKET_FACTOR_VOL * vol_mult, SECTOR_FACTOR_VOL * vol_mult
    total_vol = np.sqrt((beta * market_vol) ** 2 + sector_vol**2 + idio_vol**2)
    adv = (
        inst["adv"].to_numpy()
        * REGIME_LIQUIDITY_MULT[regime]
        * rng.lognormal(0, DAY_VOLUME_NOISE, n_sym)
    )
    est_adv = state["est_adv"].to_numpy()
    base_half_spread_bps = inst["spread_bps"].to_numpy() / 2 * REGIME_SPREAD_MULT[regime]
    on_market = rng.normal(0, OVERNIGHT_VOL_SHARE * market_vol)
    on_sector = rng.normal(0, OVERNIGHT_VOL_SHARE * sector_vol, len(SECTORS))
    on_idio = rng.normal(0, OVERNIGHT_VOL_SHARE, n_sym) * idio_vol
    overnight = beta * on_market + on_sector[sector_idx] + on_idio
    log_open = state["close_log_px"].to_numpy() + overnight + state["pending_alpha_log"].to_numpy()

    # --- the firm's decisions, parent orders and child fill schedule (sized on its estimates) -
    dec = _draw_decisions(rng, cfg, est_adv)
    orders = _draw_orders(rng, cfg, dec, est_adv)
    f_order, f_t, f_qty = _split_fills(rng, cfg, dec, orders)
    f_sym = dec.sym[f_order]
    f_side = dec.side[f_order]

    # --- quote times --------------------------------------------------------------------------
    q_weights = adv**0.7 / (adv**0.7).sum()
    q_counts = rng.multinomial(cfg.n_quotes - 20 * n_sym, q_weights) + 20
    # Sorting the packed keys once yields quotes grouped by symbol and in time order.
    quote_keys = np.sort(
        np.repeat(np.arange(n_sym), q_counts) * _KEY_SHIFT
        + _offsets_ns(_activity_times(rng, cfg.n_quotes))
    )
    q_sym, q_t = quote_keys // _KEY_SHIFT, quote_keys % _KEY_SHIFT
    q_u = q_t / SESSION_NS

    # --- the exogenous log price (factors, idiosyncratic path, alpha) at quotes, fills, close --
    fill_keys = f_sym * _KEY_SHIFT + f_t
    close_keys = np.arange(n_sym, dtype=np.int64) * _KEY_SHIFT + SESSION_NS
    keys = np.r_[quote_keys, fill_keys, close_keys]
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    sorted_sym, sorted_t = sorted_keys // _KEY_SHIFT, sorted_keys % _KEY_SHIFT
    idio_walk = _brownian(rng, sorted_keys, idio_vol / np.sqrt(SESSION_NS), sorted_sym)
    paths = _factor_paths(rng, 1 + len(SECTORS))  # row 0: market, rows 1..: sectors
    factor_move = beta[sorted_sym] * market_vol * _path_at(
        paths, 0, sorted_t
    ) + sector_vol * _path_at(paths, 1 + sector_idx[sorted_sym], sorted_t)

    # Alpha ramps: each decision moves the log price by s*alpha linearly over its horizon.
    slope = dec.side * dec.true_alpha_bps / 1e4 / (dec.horizon_s * NS)
    kink_keys = np.r_[
        dec.sym * _KEY_SHIFT + dec.t, dec.sym * _KEY_SHIFT + dec.t + dec.horizon_s * NS
    ]
    kink_slope = np.r_[slope, -slope]
    kink_order = np.argsort(kink_keys, kind="stable")
    kink_keys, kink_slope = kink_keys[kink_order], kink_slope[kink_order]
    kink_t = (kink_keys % _KEY_SHIFT).astype(float)
    slope_prefix, intercept_prefix = _prefix(kink_slope), _prefix(kink_slope * kink_t)
    slopes, intercepts = _sums_before(kink_keys, sorted_keys, slope_prefix, intercept_prefix)
    exogenous = np.empty(len(keys))
    exogenous[order] = (
        log_open[sorted_sym]
        + factor_move
        + idio_walk
        + sorted_t.astype(float) * slopes
        - intercepts
    )
    n_q, n_fill = len(quote_keys), len(fill_keys)
    exo_q, exo_f, exo_close = (
        exogenous[:n_q],
        exogenous[n_q : n_q + n_fill],
        exogenous[n_q + n_fill :],
    )

    # --- noise of quotes and fills, drawn once (both pricing passes below share it) -----------
    q_half_bps = (
        base_half_spread_bps[q_sym] * (1 + 1.5 * (2 * q_u - 1) ** 2) * rng.lognormal(0, 0.25, n_q)
    )
    centre_noise = rng.normal(0, 0.15, n_q)
    q_tick = tick[q_sym]
    glitch = rng.uniform(size=n_q) < cfg.glitch_rate
    depth_lots = np.maximum(1, adv / 2e4)  # mean displayed size in round lots, per symbol
    bid_sz = (np.ceil(rng.exponential(depth_lots[q_sym])) * 100).astype(np.int64)
    ask_sz = (np.ceil(rng.exponential(depth_lots[q_sym])) * 100).astype(np.int64)
    clean_idx = np.flatnonzero(~glitch)
    clean_keys = quote_keys[clean_idx]

    def prevailing_quote(query_keys: np.ndarray) -> np.ndarray:
        """Index of the last non-glitch quote of the same symbol strictly before each key, or -1."""
        i = np.searchsorted(clean_keys, query_keys, side="left") - 1
        idx = clean_idx[np.maximum(i, 0)]
        return np.where((i >= 0) & (q_sym[idx] == query_keys // _KEY_SHIFT), idx, -1)

    def make_quotes(log_mid: np.ndarray, idx) -> tuple[np.ndarray, np.ndarray]:
        """Quotes `idx` from their log mids: noisy centre, U-shaped half-spread snapped outward
        to the tick, glitches crossed."""
        q_mid, half_bps, tick_ = np.exp(log_mid), q_half_bps[idx], q_tick[idx]
        centre = q_mid * (1 + centre_noise[idx] * half_bps / 1e4)
        half = q_mid * half_bps / 1e4
        bid = np.floor((centre - half) / tick_) * tick_
        ask = np.maximum(np.ceil((centre + half) / tick_) * tick_, bid + tick_)
        return np.where(glitch[idx], ask + tick_, bid), np.where(glitch[idx], bid, ask)

    venue = _choice(rng, VENUE_SHARE, n_fill)
    liquidity = np.where(
        venue == "DARK", "ADD", np.where(rng.uniform(size=n_fill) < 0.6, "REMOVE", "ADD")
    )
    effects_bps = (
        _lookup(VENUE_EFFECT_BPS, venue)
        + _lookup(ALGO_EFFECT_BPS, orders.algo[f_order])
        + _lookup(BROKER_EFFECT_BPS, orders.broker[f_order])
    )
    noise_bps = rng.normal(0, FILL_NOISE_BPS, n_fill)
    f_half_bps = base_half_spread_bps[f_sym] * (1 + 1.5 * (2 * f_t / SESSION_NS - 1) ** 2)
    f_vol, f_adv = total_vol[f_sym], adv[f_sym]
    urgency_mult = _lookup(URGENCY_IMPACT_MULT, orders.urgency[f_order])
    fill_sort = np.argsort(fill_keys, kind="stable")
    own_keys = f_order * _KEY_SHIFT + f_t  # fills arrive sorted by (order, time)
    decay_ns = TRANSIENT_DECAY_S * NS

    def impact(kept: np.ndarray, query_keys: np.ndarray):
        """Permanent increments and transient jumps of the kept fills, and the impact (log) they
        add to the price at each query key."""
        q = np.where(kept, f_qty, 0)
        cum = _cumsum_in_groups(q.astype(float), f_order)
        perm = (
            cfg.impact_scale
            * f_side
            * PERMANENT_SHARE
            * IMPACT_COEFFICIENT
            * f_vol
            * (np.sqrt(cum / f_adv) - np.sqrt((cum - q) / f_adv))
        )
        jump = (
            cfg.impact_scale
            * f_side
            * TRANSIENT_COEFFICIENT
            * f_vol
            * np.sqrt(q / f_adv)
            * urgency_mult
        )
        sorted_fill_keys = fill_keys[fill_sort]
        permanent = _sums_before(sorted_fill_keys, query_keys, _prefix(perm[fill_sort]))[0]
        transient = _decayed_sums_before(sorted_fill_keys, jump[fill_sort], query_keys, decay_ns)
        return perm, jump, permanent, transient

    # The quotes in force at each fill and decision (their indices do not depend on prices).
    fill_q = prevailing_quote(fill_keys)
    has_q = fill_q >= 0
    fill_q0 = np.maximum(fill_q, 0)
    dec_q = prevailing_quote(dec.sym * _KEY_SHIFT + dec.t)
    dec_q0 = np.maximum(dec_q, 0)
    shown = np.where(f_side > 0, ask_sz[fill_q0], bid_sz[fill_q0])

    def price_fills(bid_at_fill, ask_at_fill, log_mid_f, jump):
        """Fill prices from the prevailing NBBO; the terms in bps of its mid (positive = cost)."""
        eff = np.exp(log_mid_f)  # no quote yet: a model quote around the efficient price
        fb = np.where(has_q, bid_at_fill, eff * (1 - f_half_bps / 1e4))
        fa = np.where(has_q, ask_at_fill, eff * (1 + f_half_bps / 1e4))
        mid = (fb + fa) / 2
        near, far = np.where(f_side > 0, fb, fa), np.where(f_side > 0, fa, fb)
        side_px = np.where(venue == "DARK", mid, np.where(liquidity == "REMOVE", far, near))
        spread_bps = f_side * (side_px - mid) / mid * 1e4
        # An aggressive fill larger than the displayed far side walks the book: it pays half of
        # its own jump on the share beyond the displayed size.
        walk = np.clip(1 - np.where(has_q, shown, 0) / f_qty, 0.0, 1.0)
        own_bps = np.where(liquidity == "REMOVE", 0.5 * np.abs(jump) * 1e4 * walk, 0.0)
        inside_bps = np.select(
            [venue == "DARK", liquidity == "REMOVE"],
            [0.0, -INSIDE_OFFSET_BPS["REMOVE"]],
            INSIDE_OFFSET_BPS["ADD"],
        )
        cost_bps = spread_bps + own_bps + inside_bps + effects_bps + noise_bps
        price = mid * (1 + f_side * cost_bps / 1e4)
        return mid, spread_bps, own_bps, inside_bps, cost_bps, price

    def decision_prices(bid_at_decision, ask_at_decision):
        """The quoted mid in force at each decision (the open if no quote precedes it)."""
        quoted = (bid_at_decision + ask_at_decision) / 2
        return np.where(dec_q >= 0, quoted, np.exp(log_open[dec.sym])).round(4)

    def limit_prices(decision_px):
        limit = decision_px * (1 + dec.side * orders.limit_bps / 1e4)
        return np.where(orders.is_limit, np.round(limit, 2), np.nan)

    # Pass 1 with every scheduled fill, pricing only the quotes fills and decisions see: limit
    # orders stop filling once a fill would go through the limit. Pass 2 prices every quote and
    # the kept fills with only their own impact; a kept fill that still crosses its limit fills
    # at the limit.
    seen = np.r_[fill_q0, dec_q0]
    _, jump1, perm1, trans1 = impact(
        np.ones(n_fill, dtype=bool), np.r_[quote_keys[seen], fill_keys]
    )
    bid1, ask1 = make_quotes(exo_q[seen] + perm1[: len(seen)] + trans1[: len(seen)], seen)
    log_mid_f1 = exo_f + perm1[len(seen) :] + trans1[len(seen) :]
    price1 = price_fills(bid1[:n_fill], ask1[:n_fill], log_mid_f1, jump1)[-1]
    limit1 = limit_prices(decision_prices(bid1[n_fill:], ask1[n_fill:]))[f_order]
    keep = ~(orders.is_limit[f_order] & (f_side * (price1 - limit1) > 0))

    perm, jump, perm_sorted, trans_sorted = impact(keep, sorted_keys)
    perm_at, trans_at = np.empty(len(keys)), np.empty(len(keys))
    perm_at[order], trans_at[order] = perm_sorted, trans_sorted
    log_mid_q = exo_q + perm_at[:n_q] + trans_at[:n_q]
    bid, ask = make_quotes(log_mid_q, slice(None))
    log_mid_f = exo_f + perm_at[n_q : n_q + n_fill] + trans_at[n_q : n_q + n_fill]
    quoted_mid, spread_bps, own_bps, inside_bps, cost_bps, raw_price = price_fills(
        bid[fill_q0], ask[fill_q0], log_mid_f, jump
    )
    decision_px = decision_prices(bid[dec_q0], ask[dec_q0])
    limit_px = limit_prices(decision_px)
    f_limit = limit_px[f_order]
    clipped = orders.is_limit[f_order] & (f_side * (raw_price - f_limit) > 0)
    f_price = np.round(np.where(clipped, f_limit, raw_price), 4)
    clip_bps = f_side * (np.where(clipped, f_limit, raw_price) - raw_price) / quoted_mid * 1e4
    fee_rate = np.where(venue == "DARK", FEE_PER_SHARE["DARK"], _lookup(FEE_PER_SHARE, liquidity))
    fee = np.round(fee_rate * f_qty, 4)

    # Ground truth per fill: the firm's own impact on its own price (temporary: the decayed jumps
    # of the order's earlier fills plus half its own for aggressive fills; permanent: the order's
    # earlier increments), in bps of the quoted mid at the fill; positive = cost.
    own_sorted = np.argsort(own_keys, kind="stable")
    own_transient = np.empty(n_fill)
    own_transient[own_sorted] = _decayed_sums_before(
        own_keys[own_sorted], jump[own_sorted], own_keys[own_sorted], decay_ns
    )
    own_permanent = _cumsum_in_groups(perm, f_order) - perm
    truth_parts = {
        "quoted_mid": quoted_mid,
        "efficient_mid": np.exp(log_mid_f),
        "spread_bps": spread_bps,
        "temporary_impact_bps": f_side * own_transient * 1e4 + own_bps,
        "permanent_impact_bps": f_side * own_permanent * 1e4,
        "own_fill_impact_bps": own_bps,
        "inside_offset_bps": inside_bps,
        "transient_jump_bps": f_side * jump * 1e4,
        "permanent_increment_bps": f_side * perm * 1e4,
        "venue_effect_bps": _lookup(VENUE_EFFECT_BPS, venue),
        "algo_effect_bps": _lookup(ALGO_EFFECT_BPS, orders.algo[f_order]),
        "broker_effect_bps": _lookup(BROKER_EFFECT_BPS, orders.broker[f_order]),
        "noise_bps": noise_bps,
        "limit_clip_bps": clip_bps,
        "cost_vs_quoted_mid_bps": cost_bps + clip_bps,
    }
    truth_parts = {name: values[keep] for name, values in truth_parts.items()}
    f_order, f_t, f_qty, f_sym, f_side = (a[keep] for a in (f_order, f_t, f_qty, f_sym, f_side))
    f_price, fee, venue, liquidity = f_price[keep], fee[keep], venue[keep], liquidity[keep]

    # --- tape: prints at the prevailing quote, sized to the day's volume, plus our fills -------
    n_prints = int(cfg.trades_per_quote * cfg.n_quotes)
    p_sym = rng.choice(n_sym, size=n_prints, p=q_weights)
    p_t = _offsets_ns(_activity_times(rng, n_prints))
    pq = prevailing_quote(p_sym * _KEY_SHIFT + p_t)
    valid = pq >= 0
    p_sym, p_t, pq = p_sym[valid], p_t[valid], pq[valid]
    aggressor = rng.uniform(size=len(pq))
    mid_print = np.round((bid[pq] + ask[pq]) / 2, 3)
    p_price = np.where(aggressor < 0.45, ask[pq], np.where(aggressor < 0.9, bid[pq], mid_print))
    prints_per_symbol = np.maximum(np.bincount(p_sym, minlength=n_sym), 1)
    day_volume = adv * rng.lognormal(0, 0.2, n_sym)
    mu = np.log(day_volume / prints_per_symbol) - 0.5
    p_size = np.maximum(1, np.round(np.exp(rng.normal(mu[p_sym], 1.0)))).astype(np.int64)
    p_venue = rng.integers(0, len(TAPE_VENUES), len(p_t))
    tape_venue_of_fills = np.where(venue == "DARK", "FINRA", venue)  # off-exchange prints
    tape = pl.DataFrame(
        {
            "sym": np.r_[p_sym, f_sym],
            "t": np.r_[p_t, f_t],
            "price": np.r_[p_price, f_price],
            "size": np.r_[p_size, f_qty],
            "venue": np.r_[p_venue, np.searchsorted(TAPE_VENUES_SORTED, tape_venue_of_fills)],
        }
    ).sort("sym", "t", maintain_order=True)

    # --- book snapshots from the prevailing quote ----------------------------------------------
    snap_offsets = np.arange(cfg.book_interval_s, SESSION_SECONDS + 1, cfg.book_interval_s) * NS
    s_sym = np.repeat(np.arange(n_sym), len(snap_offsets))
    s_t = np.tile(snap_offsets, n_sym).astype(np.int64)
    sq = prevailing_quote(s_sym * _KEY_SHIFT + s_t)
    s_sym, s_t, sq = s_sym[sq >= 0], s_t[sq >= 0], sq[sq >= 0]
    levels = np.arange(1, cfg.book_levels + 1)
    b_sym, b_t, b_q = (np.repeat(a, cfg.book_levels) for a in (s_sym, s_t, sq))
    b_level = np.tile(levels, len(s_t))
    b_tick = tick[b_sym]
    deeper_lots = (1 + 0.6 * (b_level - 1)) * depth_lots[b_sym]

    def deeper_size() -> np.ndarray:
        return (np.ceil(rng.exponential(deeper_lots)) * 100).astype(np.int64)

    book = pl.DataFrame(
        {
            "sym": b_sym,
            "t": b_t,
            "level": b_level.astype(np.int64),
            "bid_px": np.round(bid[b_q] - (b_level - 1) * b_tick, 4),
            "bid_sz": np.where(b_level == 1, bid_sz[b_q], deeper_size()),
            "ask_px": np.round(ask[b_q] + (b_level - 1) * b_tick, 4),
            "ask_sz": np.where(b_level == 1, ask_sz[b_q], deeper_size()),
        }
    )

    # --- the close: marks, the efficient price the next day opens from, the state update ------
    cq = prevailing_quote(close_keys)
    close_log_px = exo_close + perm_at[n_q + n_fill :]  # the transient dissipates overnight
    close_mid = np.where(
        cq >= 0, (bid[np.maximum(cq, 0)] + ask[np.maximum(cq, 0)]) / 2, np.exp(close_log_px)
    ).round(4)
    elapsed_share = np.minimum(1.0, (SESSION_NS - dec.t) / (dec.horizon_s * NS))
    pending_alpha = np.bincount(
        dec.sym,
        weights=dec.side * dec.true_alpha_bps / 1e4 * (1 - elapsed_share),
        minlength=n_sym,
    )
    idio_return = on_idio + idio_walk[np.searchsorted(sorted_keys, close_keys)]
    daily_variance = inst["daily_vol"].to_numpy() ** 2
    next_variance = (
        (1 - GARCH_ALPHA - GARCH_BETA) * daily_variance
        + GARCH_ALPHA * (idio_return / vol_mult) ** 2
        + GARCH_BETA * state["variance"].to_numpy()
    )
    close_return = np.log(close_mid / state["close_mid"].to_numpy())
    traded_volume = np.bincount(
        tape["sym"].to_numpy(), weights=tape["size"].to_numpy(), minlength=n_sym
    )

    frames = _assemble(
        trade_date=trade_date,
        open_ns=sess.open_ns,
        symbols=symbols,
        quotes=dict(
            sym=q_sym,
            t=q_t,
            bid=bid,
            ask=ask,
            bid_sz=bid_sz,
            ask_sz=ask_sz,
            glitch=glitch,
        ),
        tape=tape,
        book=book,
    )
    trading = _assemble_trading(
        trade_date=trade_date,
        open_ns=sess.open_ns,
        symbols=symbols,
        dec=dec,
        orders=orders,
        decision_px=decision_px,
        limit_px=limit_px,
        fills=dict(
            order=f_order,
            t=f_t,
            qty=f_qty,
            sym=f_sym,
            side=f_side,
            price=f_price,
            fee=fee,
            venue=venue,
            liquidity=liquidity,
        ),
        truth=truth_parts,
        alpha_to_close_bps=dec.true_alpha_bps * elapsed_share,
    )
    portfolio = _portfolio_day(
        cfg=cfg,
        trade_date=trade_date,
        sess=sess,
        inst=inst,
        opening=opening,
        close_mid=close_mid,
        decisions=trading["decisions"],
        orders=trading["orders"],
        executions=trading["executions"],
    )
    closing = MarketState(
        trade_date=trade_date,
        regime=regime,
        symbols=pl.DataFrame(
            {
                "symbol": symbols,
                "close_log_px": close_log_px,
                "close_mid": close_mid,
                "variance": next_variance,
                "pending_alpha_log": pending_alpha,
                "est_variance": RISK_MODEL_DECAY * state["est_variance"].to_numpy()
                + (1 - RISK_MODEL_DECAY) * close_return**2,
                "est_adv": ADV_DECAY * est_adv + (1 - ADV_DECAY) * traded_volume,
                "benchmark_units": portfolio.pop("benchmark_units"),
            },
            schema=SYMBOL_STATE_SCHEMA,
        ),
        positions=portfolio.pop("closing_positions"),
        portfolios=portfolio.pop("closing_portfolios"),
    )
    market_return = on_market + market_vol * paths[0, -1]
    sector_return = on_sector + sector_vol * paths[1:, -1]
    ground_truth_market = pl.DataFrame(
        {
            "symbol": symbols,
            "regime": regime,
            "sector": inst["sector"],
            "beta": beta,
            "open_log_px": log_open,
            "close_log_px": close_log_px,
            "close_mid": close_mid,
            "overnight_return": overnight,
            "market_factor_return": np.full(n_sym, market_return),
            "sector_factor_return": sector_return[sector_idx],
            "idiosyncratic_return": idio_return,
            "idiosyncratic_vol": idio_vol,
            "total_vol": total_vol,
            "adv": adv,
            "traded_volume": traded_volume,
        }
    ).with_columns(trade_date=pl.lit(trade_date, dtype=pl.Date))
    context = _assemble_context(
        rng=rng,
        cfg=cfg,
        trade_date=trade_date,
        open_ns=sess.open_ns,
        symbols=symbols,
        quotes=frames["quotes"],
    )
    derived = derived_events(
        rng=rng,
        trade_date=trade_date,
        pretrade_inputs=inst.select("symbol", "spread_bps").with_columns(
            est_vol=np.sqrt(state["est_variance"].to_numpy()), est_adv=est_adv
        ),
        orders=trading["orders"],
        executions=trading["executions"],
        decisions=trading["decisions"],
        opening_nav=portfolio["portfolio_performance"].select("portfolio_id", nav="previous_nav"),
        indicators=context["technical_indicators"],
        impact_coefficient=PRETRADE_IMPACT_COEFFICIENT,
        estimation_error=PRETRADE_ERROR,
    )
    return SimulatedDay(
        trade_date=trade_date,
        instruments=inst,
        **frames,
        **trading,
        **context,
        **portfolio,
        derived=derived,
        opening=opening,
        closing=closing,
        ground_truth_market=ground_truth_market,
    )


def _names(names: np.ndarray, idx: np.ndarray | pl.Series) -> pl.Series:
    return pl.Series(names.tolist(), dtype=pl.String).gather(pl.Series(idx, dtype=pl.Int64))


def _assemble(*, trade_date, open_ns, symbols, quotes, tape, book) -> dict[str, pl.DataFrame]:
    seq = _rank_in_group(quotes["sym"]) + 1
    quotes_df = (
        pl.DataFrame(
            {
                "ts": pl.Series(quotes["t"] + open_ns).cast(TS),
                "symbol": _names(symbols, quotes["sym"]),
                "bid_px": np.round(quotes["bid"], 4),
                "bid_sz": quotes["bid_sz"],
                "ask_px": np.round(quotes["ask"], 4),
                "ask_sz": quotes["ask_sz"],
                "seq": seq.astype(np.int64),
                "is_glitch": quotes["glitch"],
            }
        )
        .with_columns(pl.lit(trade_date, dtype=pl.Date).alias("trade_date"))
        .select(
            "ts", "symbol", "bid_px", "bid_sz", "ask_px", "ask_sz", "seq", "trade_date", "is_glitch"
        )
    )
    tape_sym = tape["sym"].to_numpy()
    trades_df = tape.select(
        ts=(pl.col("t") + open_ns).cast(TS),
        symbol=_names(symbols, tape_sym),
        price=pl.col("price"),
        size=pl.col("size").cast(pl.Int64),
        venue=_names(TAPE_VENUES_SORTED, tape["venue"].to_numpy()),
        seq=pl.Series((_rank_in_group(tape_sym) + 1).astype(np.int64)),
        trade_date=pl.lit(trade_date, dtype=pl.Date),
    )
    book_df = book.select(
        ts=(pl.col("t") + open_ns).cast(TS),
        symbol=_names(symbols, book["sym"].to_numpy()),
        level=pl.col("level"),
        bid_px=pl.col("bid_px"),
        bid_sz=pl.col("bid_sz"),
        ask_px=pl.col("ask_px"),
        ask_sz=pl.col("ask_sz"),
        trade_date=pl.lit(trade_date, dtype=pl.Date),
    )
    return {"quotes": quotes_df, "market_trades": trades_df, "book_snapshots": book_df}


def _ids(prefix: str, trade_date: dt.date, n: int) -> pl.Series:
    """Deterministic ids unique across days: <prefix><yyyymmdd>-<n>."""
    stem = f"{prefix}{trade_date:%Y%m%d}-"
    return pl.select(
        id=pl.lit(stem) + pl.int_range(1, n + 1).cast(pl.String).str.zfill(7)
    ).to_series()


def _assemble_trading(
    *,
    trade_date,
    open_ns,
    symbols,
    dec,
    orders,
    decision_px,
    limit_px,
    fills,
    truth,
    alpha_to_close_bps,
) -> dict[str, pl.DataFrame]:
    n = len(dec.t)
    side = np.where(dec.side > 0, "BUY", "SELL")
    decision_id = _ids("D", trade_date, n)
    order_id = _ids("O", trade_date, n)
    strategy = pl.Series(dec.strategy.tolist(), dtype=pl.String)
    portfolio = "PF_" + strategy
    symbol = _names(symbols, dec.sym)
    trade_date_col = pl.lit(trade_date, dtype=pl.Date)
    decisions = pl.DataFrame(
        {
            "decision_id": decision_id,
            "ts": pl.Series(dec.t + open_ns).cast(TS),
            "strategy_id": strategy,
            "portfolio_id": portfolio,
            "symbol": symbol,
            "side": side,
            "target_quantity": dec.quantity,
            "decision_px": decision_px,
            "signal_strength": dec.signal_strength.round(4),
            "confidence": dec.confidence.round(4),
            "expected_alpha_bps": dec.expected_alpha_bps.round(3),
            "horizon_s": dec.horizon_s.astype(np.int64),
        }
    ).with_columns(trade_date=trade_date_col)
    cancelled = orders.cancel_fraction < 1.0
    window = orders.end - orders.arrival
    cancel_at = orders.arrival + _us((orders.cancel_fraction * window).astype(np.int64))
    end = np.where(cancelled, cancel_at, orders.end)
    orders_df = pl.DataFrame(
        {
            "order_id": order_id,
            "decision_id": decision_id,
            "strategy_id": strategy,
            "portfolio_id": portfolio,
            "symbol": symbol,
            "side": side,
            "quantity": dec.quantity,
            "order_type": np.where(orders.is_limit, "LIMIT", "MARKET"),
            "limit_px": pl.Series(limit_px).fill_nan(None),
            "algo": orders.algo,
            "broker": orders.broker,
            "urgency": orders.urgency,
            "decision_ts": pl.Series(dec.t + open_ns).cast(TS),
            "decision_px": decision_px,
            "arrival_ts": pl.Series(orders.arrival + open_ns).cast(TS),
            "end_ts": pl.Series(end + open_ns).cast(TS),
            "is_cancelled": cancelled,
        }
    ).with_columns(trade_date=trade_date_col)
    n_fill = len(fills["t"])
    exec_id = _ids("E", trade_date, n_fill)
    fill_order_id = order_id.gather(pl.Series(fills["order"], dtype=pl.Int64))
    executions = pl.DataFrame(
        {
            "exec_id": exec_id,
            "order_id": fill_order_id,
            "ts": pl.Series(fills["t"] + open_ns).cast(TS),
            "symbol": _names(symbols, fills["sym"]),
            "side": np.where(fills["side"] > 0, "BUY", "SELL"),
            "quantity": fills["qty"].astype(np.int64),
            "price": fills["price"],
            "venue": fills["venue"],
            "liquidity": fills["liquidity"],
            "fee": fills["fee"],
        }
    ).with_columns(trade_date=trade_date_col)
    ground_truth_fills = pl.DataFrame(
        {"exec_id": exec_id, "order_id": fill_order_id, **truth}
    ).with_columns(trade_date=trade_date_col)
    ground_truth_decisions = pl.DataFrame(
        {
            "decision_id": decision_id,
            "true_alpha_bps": dec.true_alpha_bps,
            # The part of the alpha ramp realised by the close (the rest moves the next open).
            "true_alpha_to_close_bps": alpha_to_close_bps,
            "strategy_skill": _lookup(STRATEGY_SKILL, dec.strategy),
            "horizon_s": dec.horizon_s.astype(np.int64),
        }
    ).with_columns(trade_date=trade_date_col)
    return {
        "decisions": decisions,
        "orders": orders_df,
        "executions": executions,
        "ground_truth_fills": ground_truth_fills,
        "ground_truth_orders": _order_truth(orders_df, executions, ground_truth_fills),
        "ground_truth_decisions": ground_truth_decisions,
    }


def _order_truth(
    orders: pl.DataFrame, executions: pl.DataFrame, fill_truth: pl.DataFrame
) -> pl.DataFrame:
    """Per parent order: the true cost split, quantity-weighted over its fills (bps, + = cost).

    temporary: the order's own decaying impact on its own fills; permanent: the order's own
    permanent impact on its later fills; spread and effects as generated. Orders without fills
    have null costs.
    """
    terms = (
        "spread_bps",
        "inside_offset_bps",
        "temporary_impact_bps",
        "permanent_impact_bps",
        "venue_effect_bps",
        "algo_effect_bps",
        "broker_effect_bps",
        "noise_bps",
        "limit_clip_bps",
        "cost_vs_quoted_mid_bps",
    )
    per_order = (
        executions.select("exec_id", "quantity")
        .join(fill_truth, on="exec_id")
        .group_by("order_id")
        .agg(
            pl.col("quantity").sum().alias("executed_quantity"),
            *[
                ((pl.col(t) * pl.col("quantity")).sum() / pl.col("quantity").sum()).alias(
                    "true_" + t.removesuffix("_bps") + "_cost_bps"
                )
                for t in terms
            ],
            # The permanent move the order leaves in the price (sum of its increments).
            permanent_move_bps=pl.col("permanent_increment_bps").sum(),
        )
    )
    return (
        orders.select("order_id", "trade_date")
        .join(per_order, on="order_id", how="left", maintain_order="left")
        .with_columns(pl.col("executed_quantity").fill_null(0))
    )


def _portfolio_day(
    *,
    cfg: SimulationConfig,
    trade_date: dt.date,
    sess,
    inst: pl.DataFrame,
    opening: MarketState,
    close_mid: np.ndarray,
    decisions: pl.DataFrame,
    orders: pl.DataFrame,
    executions: pl.DataFrame,
) -> dict:
    """Portfolios and benchmark through one day, and the events they publish.

    Positions at the close = the previous close's + the day's fills; cash moves with fills and
    fees; NAV marks positions to the closing mid, so NAV(d) = NAV(d-1) + P&L(d) by construction.
    The benchmark holds index units: weights drift with prices and reset to sqrt-cap targets on
    the first trading day of each month (and a world's first day).
    """
    symbols = inst["symbol"].to_list()
    portfolios = portfolio_ids(cfg)
    prev_close = opening.symbols["close_mid"].to_numpy()
    open_qty = opening.position_matrix(portfolios, symbols)
    open_cash = opening.portfolio_column(portfolios, "cash")
    exec_pf = executions.join(
        orders.select("order_id", pf="portfolio_id"), on="order_id", maintain_order="left"
    )
    pf_idx = np.searchsorted(np.array(portfolios), exec_pf["pf"].to_numpy())
    sym_idx = np.searchsorted(np.array(symbols), exec_pf["symbol"].to_numpy())
    signed = np.where(exec_pf["side"].to_numpy() == "BUY", 1, -1) * exec_pf["quantity"].to_numpy()
    close_qty = open_qty.copy()
    np.add.at(close_qty, (pf_idx, sym_idx), signed)
    flows = signed * exec_pf["price"].to_numpy() + exec_pf["fee"].to_numpy()
    n_pf = len(portfolios)
    close_cash = open_cash - np.bincount(pf_idx, weights=flows, minlength=n_pf)
    fees = np.bincount(pf_idx, weights=exec_pf["fee"].to_numpy(), minlength=n_pf)
    open_nav = open_cash + open_qty @ prev_close
    close_nav = close_cash + close_qty @ close_mid

    td = pl.lit(trade_date, dtype=pl.Date)
    open_ts, close_ts = pl.lit(sess.open_ns).cast(TS), pl.lit(sess.close_ns).cast(TS)

    def snapshot(quantity: np.ndarray, price: np.ndarray, label: str, ts) -> pl.DataFrame:
        return (
            positions_frame(quantity, portfolios, symbols)
            .join(pl.DataFrame({"symbol": symbols, "price": price}), on="symbol")
            .with_columns(
                position_id=pl.col("portfolio_id")
                + "|"
                + pl.col("symbol")
                + f"|{trade_date.isoformat()}|{label}",
                as_of_ts=ts,
                market_value=pl.col("quantity") * pl.col("price"),
                snapshot=pl.lit(label),
                trade_date=td,
            )
        )

    positions = pl.concat(
        [
            snapshot(open_qty, prev_close, "OPEN", open_ts),
            snapshot(close_qty, close_mid, "CLOSE", close_ts),
        ]
    )
    portfolio_performance = pl.DataFrame(
        {
            "portfolio_id": portfolios,
            "benchmark_id": BENCHMARK_ID,
            "nav": close_nav,
            "previous_nav": open_nav,
            "pnl": close_nav - open_nav,
            "cash": close_cash,
            "fees": fees,
        }
    ).with_columns(
        performance_id=pl.col("portfolio_id") + f"|{trade_date.isoformat()}",
        ts=close_ts,
        trade_date=td,
    )

    units = opening.symbols["benchmark_units"].to_numpy()
    rebalance = opening.trade_date is None or opening.trade_date.month != trade_date.month
    if rebalance:
        target = np.sqrt(inst["shares_outstanding"].to_numpy() * prev_close)
        units = target / target.sum() / prev_close
    value = units * prev_close
    benchmark_weights = pl.DataFrame(
        {
            "benchmark_id": BENCHMARK_ID,
            "symbol": symbols,
            "sector": inst["sector"],
            "weight": value / value.sum(),
            "reference_px": prev_close,
            "is_rebalance": np.full(len(symbols), rebalance),
        }
    ).with_columns(
        weight_id=pl.col("benchmark_id") + "|" + pl.col("symbol") + f"|{trade_date.isoformat()}",
        as_of_ts=open_ts,
        trade_date=td,
    )

    # The day's decisions as target weights against the opening book (valued at the last close).
    opening_book = positions.filter(pl.col("snapshot") == "OPEN").select(
        "portfolio_id", "symbol", "quantity"
    )
    rebalances = (
        decisions.group_by("portfolio_id", "symbol")
        .agg(
            ts=pl.col("ts").min(),
            change=(
                pl.when(pl.col("side") == "BUY").then(1).otherwise(-1) * pl.col("target_quantity")
            ).sum(),
        )
        .join(opening_book, on=["portfolio_id", "symbol"], how="left")
        .join(pl.DataFrame({"symbol": symbols, "price": prev_close}), on="symbol")
        .join(pl.DataFrame({"portfolio_id": portfolios, "nav": open_nav}), on="portfolio_id")
        .with_columns(pl.col("quantity").fill_null(0))
        .select(
            rebalance_id="RB-"
            + pl.col("portfolio_id")
            + "|"
            + pl.col("symbol")
            + f"|{trade_date.isoformat()}",
            ts="ts",
            portfolio_id="portfolio_id",
            symbol="symbol",
            current_weight=pl.col("quantity") * pl.col("price") / pl.col("nav"),
            target_weight=(pl.col("quantity") + pl.col("change")) * pl.col("price") / pl.col("nav"),
            trade_date=td,
        )
        .sort("ts", "rebalance_id")
    )
    return {
        "positions": positions,
        "benchmark_weights": benchmark_weights,
        "portfolio_performance": portfolio_performance,
        "portfolio_rebalances": rebalances,
        "benchmark_units": units,
        "closing_positions": positions_frame(close_qty, portfolios, symbols),
        "closing_portfolios": pl.DataFrame(
            {"portfolio_id": portfolios, "cash": close_cash, "nav": close_nav},
            schema=PORTFOLIO_STATE_SCHEMA,
        ),
    }


def _assemble_context(*, rng, cfg, trade_date, open_ns, symbols, quotes) -> dict[str, pl.DataFrame]:
    """News sentiment and technical indicators of the day."""
    n_sym = len(symbols)
    trade_date_col = pl.lit(trade_date, dtype=pl.Date)

    n_news = rng.poisson(cfg.news_per_symbol * n_sym)
    news_sym = rng.integers(0, n_sym, n_news)
    sentiment = pl.DataFrame(
        {
            "sentiment_id": _ids("N", trade_date, n_news),
            "ts": pl.Series(_offsets_ns(_activity_times(rng, n_news)) + open_ns).cast(TS),
            "symbol": symbols[news_sym],
            "sentiment_score": np.tanh(rng.normal(0, 0.8, n_news)).round(4),
            "relevance": rng.beta(2, 2, n_news).round(4),
            "source": rng.choice(np.array(["NEWSWIRE", "SOCIAL", "FILINGS"]), n_news),
        }
    ).with_columns(trade_date=trade_date_col)
    return {
        "sentiment": sentiment.sort("ts"),
        "technical_indicators": technical_indicators(quotes, cfg.indicator_interval_s).with_columns(
            indicator_id=pl.col("symbol")
            + "|"
            + pl.col("indicator")
            + "|"
            + pl.col("ts").cast(pl.String)
        ),
    }


def technical_indicators(quotes: pl.DataFrame, interval_s: int) -> pl.DataFrame:
    """Mid-price indicators on a regular grid per symbol (long format: indicator, value).

    return_bps: mid return over the last interval; rsi_14: Wilder-style RSI over 14 intervals
    (simple means); volatility_12_bps: std of the last 12 interval returns.
    """
    mids = quotes.filter(~pl.col("is_glitch")).select(
        "symbol", "ts", "trade_date", mid=(pl.col("bid_px") + pl.col("ask_px")) / 2
    )
    day_start = quotes["ts"].min()
    day_end = quotes["ts"].max()
    grid = pl.select(
        ts=pl.datetime_range(day_start, day_end, f"{interval_s}s", time_unit="ns", time_zone="UTC")
    ).join(mids.select("symbol").unique(), how="cross")
    bars = (
        grid.sort("symbol", "ts")
        .join_asof(
            mids.sort("symbol", "ts"),
            on="ts",
            by="symbol",
            strategy="backward",
            check_sortedness=False,
        )
        .drop_nulls("mid")
        .with_columns(ret=(pl.col("mid") / pl.col("mid").shift(1).over("symbol") - 1) * 1e4)
        .with_columns(
            gain=pl.col("ret").clip(lower_bound=0.0),
            loss=(-pl.col("ret")).clip(lower_bound=0.0),
        )
        .with_columns(
            return_bps=pl.col("ret"),
            rsi_14=100
            - 100
            / (
                1
                + pl.col("gain").rolling_mean(14).over("symbol")
                / pl.col("loss").rolling_mean(14).over("symbol")
            ),
            volatility_12_bps=pl.col("ret").rolling_std(12).over("symbol"),
        )
    )
    return (
        bars.unpivot(
            index=["symbol", "ts", "trade_date"],
            on=["return_bps", "rsi_14", "volatility_12_bps"],
            variable_name="indicator",
        )
        .filter(pl.col("value").is_not_null() & pl.col("value").is_finite())
        .sort("symbol", "ts", "indicator")
    )
