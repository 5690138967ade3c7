"""Deterministic, vectorised simulator of one trading day: market data and the firm's trading.

The generating model (documented in docs/simulator.md) is the ground truth that TCA, attribution
and the cost model are validated against:

* log efficient price = log open + sigma * Brownian motion + alpha ramps of the firm's decisions
  + permanent impact of the firm's own fills (applied strictly after each fill);
* quotes = efficient price + microstructure noise, half-spread with a U-shaped intraday profile,
  snapped outward to the tick; a tiny share are deliberately crossed and flagged `is_glitch`;
* fill price = efficient mid * (1 + s * cost / 1e4) with
  cost = liquidity spread term + temporary sqrt impact + venue + algo + broker effects + noise.

Everything is drawn from one `numpy.random.Generator` seeded by (seed, trade_date): the same
config and date give bit-identical frames. No Python loop runs over rows.
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
# Strategy skill: realised alpha = skill * expected alpha (+ noise). EVENT_DRIVEN has none.
STRATEGY_SKILL = {"MOMENTUM": 0.8, "MEAN_REVERSION": 0.5, "STAT_ARB": 0.3, "EVENT_DRIVEN": 0.0}
URGENCY_PARTICIPATION = {"LOW": 0.03, "MEDIUM": 0.08, "HIGH": 0.15}
URGENCY_IMPACT_MULT = {"LOW": 0.7, "MEDIUM": 1.0, "HIGH": 1.4}
# Fees in $/share: positive = paid, negative = rebate.
FEE_PER_SHARE = {"REMOVE": 0.0030, "ADD": -0.0020, "DARK": 0.0010}
IMPACT_COEFFICIENT = 0.8  # Y in  cost = Y * sigma * sqrt(Q / ADV)
PERMANENT_SHARE = 0.4  # share of the sqrt impact that is permanent
ADD_SPREAD_CAPTURE = 0.3  # passive fills earn this share of the half-spread
FILL_NOISE_BPS = 2.0
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
    # Further events derived from the above (analytics_platform.marketdata.derived_events).
    derived: dict[str, pl.DataFrame]
    # Not observable in production: the generating components, for validation only.
    ground_truth_fills: pl.DataFrame
    ground_truth_decisions: pl.DataFrame

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
    return pl.DataFrame(
        {
            "symbol": symbols,
            "sector": np.array(SECTORS)[rng.integers(0, len(SECTORS), cfg.n_symbols)],
            "reference_px": price.round(2),
            "daily_vol": daily_vol,
            "adv": adv.astype(np.int64),
            "tick_size": np.full(cfg.n_symbols, 0.01),
            "spread_bps": spread_bps,
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
    true_alpha = skill * expected * (0.5 + confidence) + rng.normal(0, 8.0, n)
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


def _efficient_log_price(
    rng, keys: np.ndarray, sigma_per_sqrt_ns: np.ndarray, log_open: np.ndarray, sym: np.ndarray
) -> np.ndarray:
    """Brownian log-price at sorted per-symbol event keys (sym high bits, ns since open)."""
    t = keys % _KEY_SHIFT
    start = _group_start(sym)
    first = np.arange(len(keys)) == start
    dt_ns = np.where(first, t, t - np.r_[0, t[:-1]])
    steps = rng.standard_normal(len(keys)) * np.sqrt(dt_ns) * sigma_per_sqrt_ns[sym]
    walk = np.cumsum(steps)
    return log_open[sym] + walk - np.r_[0.0, walk][start]


def simulate_day(trade_date: dt.date, cfg: SimulationConfig | None = None) -> SimulatedDay:
    """Simulate one trading day. Deterministic in (cfg, trade_date)."""
    cfg = cfg or SimulationConfig()
    sess = session(trade_date)
    rng = _day_rng(cfg.seed, trade_date)
    inst = _instruments(cfg)
    n_sym = inst.height
    symbols = inst["symbol"].to_numpy()
    adv = inst["adv"].to_numpy().astype(float)
    sigma = inst["daily_vol"].to_numpy()
    tick = inst["tick_size"].to_numpy()
    base_half_spread_bps = inst["spread_bps"].to_numpy() / 2
    open_px = inst["reference_px"].to_numpy() * np.exp(rng.normal(0, 0.05, n_sym))
    sigma_per_sqrt_ns = sigma / np.sqrt(SESSION_NS)

    # --- the firm's decisions, parent orders and child fill schedule -------------------------
    dec = _draw_decisions(rng, cfg, adv)
    orders = _draw_orders(rng, cfg, dec, adv)
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

    # --- one Brownian path per symbol over quote and fill times -------------------------------
    # Quote keys are already sorted, so the stable (merge) sort only has to place the fills.
    keys = np.r_[quote_keys, f_sym * _KEY_SHIFT + f_t]
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    sorted_sym = sorted_keys // _KEY_SHIFT
    sorted_log = _efficient_log_price(
        rng, sorted_keys, sigma_per_sqrt_ns, np.log(open_px), sorted_sym
    )

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

    def alpha_at(query_keys: np.ndarray) -> np.ndarray:
        qt = (query_keys % _KEY_SHIFT).astype(float)
        slopes, intercepts = _sums_before(kink_keys, query_keys, slope_prefix, intercept_prefix)
        return qt * slopes - intercepts

    # Permanent impact: concave in cumulative executed quantity, applied strictly after a fill.
    f_adv = adv[f_sym]
    cum_qty = np.cumsum(f_qty) - np.repeat(
        np.r_[0, np.cumsum(np.bincount(f_order, weights=f_qty, minlength=len(dec.t)))[:-1]],
        np.bincount(f_order, minlength=len(dec.t)),
    )
    perm_log = (
        f_side
        * PERMANENT_SHARE
        * IMPACT_COEFFICIENT
        * sigma[f_sym]
        * (np.sqrt(cum_qty / f_adv) - np.sqrt((cum_qty - f_qty) / f_adv))
    )
    fill_keys = f_sym * _KEY_SHIFT + f_t
    impact_order = np.argsort(fill_keys, kind="stable")
    impact_keys, impact_prefix = fill_keys[impact_order], _prefix(perm_log[impact_order])

    def permanent_at(query_keys: np.ndarray) -> np.ndarray:
        return _sums_before(impact_keys, query_keys, impact_prefix)[0]

    log_mid = np.empty(len(keys))
    log_mid[order] = sorted_log + alpha_at(sorted_keys) + permanent_at(sorted_keys)
    q_mid, f_mid = np.exp(log_mid[: len(q_t)]), np.exp(log_mid[len(q_t) :])

    # --- quotes: noisy centre, U-shaped spread snapped outward to the tick --------------------
    q_half_bps = (
        base_half_spread_bps[q_sym]
        * (1 + 1.5 * (2 * q_u - 1) ** 2)
        * rng.lognormal(0, 0.25, len(q_t))
    )
    centre = q_mid * (1 + rng.normal(0, 0.15, len(q_t)) * q_half_bps / 1e4)
    half = q_mid * q_half_bps / 1e4
    q_tick = tick[q_sym]
    bid = np.floor((centre - half) / q_tick) * q_tick
    ask = np.maximum(np.ceil((centre + half) / q_tick) * q_tick, bid + q_tick)
    glitch = rng.uniform(size=len(q_t)) < cfg.glitch_rate
    bid, ask = np.where(glitch, ask + q_tick, bid), np.where(glitch, bid, ask)
    depth_lots = np.maximum(1, adv / 2e4)  # mean displayed size in round lots, per symbol
    bid_sz = (np.ceil(rng.exponential(depth_lots[q_sym])) * 100).astype(np.int64)
    ask_sz = (np.ceil(rng.exponential(depth_lots[q_sym])) * 100).astype(np.int64)

    def prevailing_quote(query_keys: np.ndarray) -> np.ndarray:
        """Index of the last quote of the same symbol strictly before each key, or -1."""
        idx = np.searchsorted(quote_keys, query_keys, side="left") - 1
        same = (idx >= 0) & (q_sym[np.maximum(idx, 0)] == query_keys // _KEY_SHIFT)
        return np.where(same, idx, -1)

    # --- fills: price from the ground-truth cost model ----------------------------------------
    n_fill = len(f_t)
    venue = _choice(rng, VENUE_SHARE, n_fill)
    liquidity = np.where(
        venue == "DARK", "ADD", np.where(rng.uniform(size=n_fill) < 0.6, "REMOVE", "ADD")
    )
    f_u = f_t / SESSION_NS
    f_half_bps = base_half_spread_bps[f_sym] * (1 + 1.5 * (2 * f_u - 1) ** 2)
    spread_term = np.where(
        venue == "DARK", 0.0, np.where(liquidity == "REMOVE", 1.0, -ADD_SPREAD_CAPTURE) * f_half_bps
    )
    order_q_over_adv = dec.quantity[f_order] / f_adv
    temp_bps = (
        (1 - PERMANENT_SHARE)
        * IMPACT_COEFFICIENT
        * sigma[f_sym]
        * 1e4
        * np.sqrt(order_q_over_adv)
        * _lookup(URGENCY_IMPACT_MULT, orders.urgency[f_order])
    )
    venue_bps = _lookup(VENUE_EFFECT_BPS, venue)
    algo_bps = _lookup(ALGO_EFFECT_BPS, orders.algo[f_order])
    broker_bps = _lookup(BROKER_EFFECT_BPS, orders.broker[f_order])
    noise_bps = rng.normal(0, FILL_NOISE_BPS, n_fill)
    cost_bps = spread_term + temp_bps + venue_bps + algo_bps + broker_bps + noise_bps
    f_price = np.round(f_mid * (1 + f_side * cost_bps / 1e4), 4)
    fee_rate = np.where(venue == "DARK", FEE_PER_SHARE["DARK"], _lookup(FEE_PER_SHARE, liquidity))
    fee = np.round(fee_rate * f_qty, 4)

    # Decision price: the quoted mid in force at the decision (the efficient one if none yet).
    dec_keys = dec.sym * _KEY_SHIFT + dec.t
    dq = prevailing_quote(dec_keys)
    dec_eff = np.exp(
        np.log(open_px[dec.sym]) + alpha_at(dec_keys) + permanent_at(dec_keys)
    )  # only used when no quote precedes the decision
    decision_px = np.where(dq >= 0, (bid[dq] + ask[dq]) / 2, dec_eff).round(4)

    # Limit orders stop filling once the fill price is through the limit.
    limit_px = np.where(
        orders.is_limit, decision_px * (1 + dec.side * orders.limit_bps / 1e4), np.nan
    )
    limit_px = np.where(orders.is_limit, np.round(limit_px, 2), np.nan)
    through = orders.is_limit[f_order] & (f_side * (f_price - limit_px[f_order]) > 0)
    keep = ~through
    f_order, f_t, f_qty, f_sym, f_side = (a[keep] for a in (f_order, f_t, f_qty, f_sym, f_side))
    f_price, fee, venue, liquidity = f_price[keep], fee[keep], venue[keep], liquidity[keep]
    truth_parts = {
        "spread_bps": spread_term[keep],
        "temporary_impact_bps": temp_bps[keep],
        "venue_effect_bps": venue_bps[keep],
        "algo_effect_bps": algo_bps[keep],
        "broker_effect_bps": broker_bps[keep],
        "noise_bps": noise_bps[keep],
        "total_cost_vs_efficient_mid_bps": cost_bps[keep],
        "efficient_mid": f_mid[keep],
        "permanent_impact_bps": perm_log[keep] * f_side * 1e4,
    }

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
    )
    context = _assemble_context(
        rng=rng,
        cfg=cfg,
        trade_date=trade_date,
        open_ns=sess.open_ns,
        inst=inst,
        quotes=frames["quotes"],
    )
    derived = derived_events(
        rng=rng,
        trade_date=trade_date,
        instruments=inst,
        orders=trading["orders"],
        executions=trading["executions"],
        decisions=trading["decisions"],
        positions=context["positions"],
        portfolio_performance=context["portfolio_performance"],
        indicators=context["technical_indicators"],
        impact_coefficient=IMPACT_COEFFICIENT,
    )
    return SimulatedDay(
        trade_date=trade_date, instruments=inst, **frames, **trading, **context, derived=derived
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
    *, trade_date, open_ns, symbols, dec, orders, decision_px, limit_px, fills, truth
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
    ground_truth_fills = pl.DataFrame({"exec_id": exec_id, "order_id": fill_order_id, **truth})
    ground_truth_decisions = pl.DataFrame(
        {
            "decision_id": decision_id,
            "true_alpha_bps": dec.true_alpha_bps,
            "strategy_skill": _lookup(STRATEGY_SKILL, dec.strategy),
            "horizon_s": dec.horizon_s.astype(np.int64),
        }
    )
    return {
        "decisions": decisions,
        "orders": orders_df,
        "executions": executions,
        "ground_truth_fills": ground_truth_fills,
        "ground_truth_decisions": ground_truth_decisions,
    }


def _assemble_context(*, rng, cfg, trade_date, open_ns, inst, quotes) -> dict[str, pl.DataFrame]:
    """Portfolio, benchmark, news sentiment and technical indicators of the day."""
    n_sym = inst.height
    symbols = inst["symbol"].to_numpy()
    trade_date_col = pl.lit(trade_date, dtype=pl.Date)
    portfolios = np.array([f"PF_{s}" for s in cfg.strategies])
    nav = rng.uniform(1e8, 5e8, len(portfolios)).round(2)
    held = rng.uniform(size=(len(portfolios), n_sym)) < 0.6
    raw_w = np.where(held, rng.exponential(size=held.shape), 0.0)
    weights = raw_w / np.maximum(raw_w.sum(axis=1, keepdims=True), 1e-12)
    price = inst["reference_px"].to_numpy()
    pf_idx, sym_idx = np.nonzero(held)
    qty = np.round(nav[pf_idx] * weights[pf_idx, sym_idx] / price[sym_idx], -2).astype(np.int64)
    positions = pl.DataFrame(
        {
            "portfolio_id": portfolios[pf_idx],
            "symbol": symbols[sym_idx],
            "quantity": qty,
            "price": price[sym_idx],
        }
    ).with_columns(
        position_id=pl.col("portfolio_id") + "|" + pl.col("symbol") + f"|{trade_date.isoformat()}",
        as_of_ts=pl.lit(open_ns).cast(TS),
        market_value=pl.col("quantity") * pl.col("price"),
        trade_date=trade_date_col,
    )
    cap = price * inst["adv"].to_numpy()
    benchmark_weights = pl.DataFrame(
        {
            "benchmark_id": "US_EQ_BENCH",
            "symbol": symbols,
            "sector": inst["sector"],
            "weight": cap / cap.sum(),
        }
    ).with_columns(
        weight_id=pl.col("benchmark_id") + "|" + pl.col("symbol") + f"|{trade_date.isoformat()}",
        as_of_ts=pl.lit(open_ns).cast(TS),
        trade_date=trade_date_col,
    )
    portfolio_performance = pl.DataFrame(
        {"portfolio_id": portfolios, "benchmark_id": "US_EQ_BENCH", "nav": nav}
    ).with_columns(
        performance_id=pl.col("portfolio_id") + f"|{trade_date.isoformat()}",
        ts=pl.lit(open_ns).cast(TS),
        trade_date=trade_date_col,
    )

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
        "positions": positions,
        "benchmark_weights": benchmark_weights,
        "portfolio_performance": portfolio_performance,
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
