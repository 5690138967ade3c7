"""Numpy inference over a bundle: the cost model and its 85% interval.

Linear bundles: cost_bps = w · x with x = [1, half spread (bps), daily vol (bps)·√(Q/ADV),
urgency, algo and order type indicators]; the interval adds the standardised residual's 7.5% and
92.5% quantiles times the symbol's daily volatility (bps). Network bundles: the same linear prior
plus a residual network, and a volatility head whose scale replaces the daily volatility; both
also see the symbol's current 30-minute realised volatility (the order's own where the caller
sends it, else the bundle's snapshot of the symbol's latest day), which tells a calm day from a
busy one. The recommended algo is the one with the lowest predicted cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics_platform.serving.bundle import URGENCIES, Bundle


@dataclass(frozen=True)
class Order:
    symbol: str
    side: str
    quantity: int
    algo: str | None = None
    urgency: str = "MEDIUM"
    order_type: str = "MARKET"
    # The symbol's realised volatility over the last 30 minutes (bps), as the caller sees it now;
    # None: the bundle's snapshot.
    realized_vol_bps: float | None = None


def feature_names(algos: tuple[str, ...]) -> tuple[str, ...]:
    return (
        "intercept",
        "half_spread_bps",
        "sqrt_participation_vol_bps",
        *[f"urgency_{u}" for u in URGENCIES[1:]],
        *[f"algo_{a}" for a in algos[1:]],
        "order_type_LIMIT",
    )


def design(
    half_spread: np.ndarray,
    sqrt_vol: np.ndarray,
    *,
    urgency: np.ndarray,
    algo: np.ndarray,
    limit: np.ndarray,
    algos: tuple[str, ...],
) -> np.ndarray:
    """The model's design matrix (rows = orders) in `feature_names(algos)` order."""
    columns = [
        np.ones(len(half_spread)),
        half_spread,
        sqrt_vol,
        *[(urgency == u).astype(float) for u in URGENCIES[1:]],
        *[(algo == a).astype(float) for a in algos[1:]],
        limit.astype(float),
    ]
    return np.column_stack(columns)


def network_inputs(
    x: np.ndarray, log_size: np.ndarray, vol: np.ndarray, realized_vol: np.ndarray
) -> np.ndarray:
    """The residual network's inputs: the design's columns but the intercept, log(Q/ADV), the
    daily volatility and the log of the current 30-minute realised volatility (standardised with
    the bundle's `input_mean` / `input_std`)."""
    return np.column_stack([x[:, 1:], log_size, vol, np.log(realized_vol)])


def network_forward(arrays: dict[str, np.ndarray], x: np.ndarray, inputs: np.ndarray):
    """(mean, scale) of a network bundle: the linear prior plus a one-hidden-layer residual, and
    a log-linear volatility head."""
    # New inputs are appended: a bundle trained before one was added reads the ones it knows.
    known = inputs[:, : len(arrays["input_mean"])]
    z = (known - arrays["input_mean"]) / arrays["input_std"]
    hidden = np.tanh(z @ arrays["w1"] + arrays["b1"])
    mean = x @ arrays["prior"] + hidden @ arrays["w2"] + arrays["b2"]
    scale = np.exp(z @ arrays["v"] + arrays["c"])
    return mean, scale


SESSION_SECONDS = 6.5 * 3600
SESSION_HALF_HOURS = 13  # 6.5 hours
MIN_HORIZON_S = 60.0


def half_hour_vol(daily_vol_bps):
    """A 30-minute realised volatility where none is known: the daily volatility spread evenly
    over the session's half hours (numbers or polars expressions)."""
    return daily_vol_bps / SESSION_HALF_HOURS**0.5


def almgren_chriss_horizon_s(
    eta_bps: float, size_vs_adv: np.ndarray, daily_vol_bps: np.ndarray, risk_aversion: float
) -> np.ndarray:
    """The horizon T (seconds) of a constant-rate schedule that minimises expected cost plus
    risk aversion × variance (Almgren–Chriss 2000, linear temporary impact): with x = Q/ADV and
    T in days, E = η·x/T and Var = σ²·T/3 (bps), so T* = √(3·η·x / (λ·σ²)); at least a minute,
    at most a session."""
    days = np.sqrt(3 * eta_bps * size_vs_adv / (risk_aversion * daily_vol_bps**2))
    return np.clip(days * SESSION_SECONDS, MIN_HORIZON_S, SESSION_SECONDS)


def predict(bundle: Bundle, orders: list[Order]) -> list[dict]:
    """Per order: cost_bps, lower_bps, upper_bps (for its algo, else the recommended one),
    recommended_algo with its own cost and interval, model_version, and (bundles with impact
    parameters) optimal_horizon_s."""
    n, k = len(orders), len(bundle.algos)
    context = [bundle.symbols[o.symbol] for o in orders]
    # Every order with every algo in one design (rows order-major): the recommendation is the
    # cheapest, and one pass of numpy serves a single order as well as a batch.
    half_spread = np.repeat([c.spread_bps / 2 for c in context], k)
    vol = np.repeat([c.daily_vol_bps for c in context], k)
    size = np.repeat(
        [o.quantity / max(c.adv, 1.0) for o, c in zip(orders, context, strict=True)], k
    )
    x = design(
        half_spread,
        vol * np.sqrt(size),
        urgency=np.repeat([o.urgency for o in orders], k),
        algo=np.tile(np.array(bundle.algos), n),
        limit=np.repeat([o.order_type == "LIMIT" for o in orders], k),
        algos=bundle.algos,
    )
    if bundle.kind == "network":
        realized = np.repeat(
            [
                o.realized_vol_bps or c.realized_vol_bps or half_hour_vol(c.daily_vol_bps)
                for o, c in zip(orders, context, strict=True)
            ],
            k,
        )
        inputs = network_inputs(x, np.log(size), vol, realized)
        mean, scale = network_forward(bundle.arrays, x, inputs)
    else:
        mean, scale = x @ bundle.coefficients, vol
    by_algo, scales = mean.reshape(n, k), scale.reshape(n, k)
    best = by_algo.argmin(axis=1)
    low, high = bundle.interval
    horizons = (
        almgren_chriss_horizon_s(
            bundle.impact["eta_bps"], size[::k], vol[::k], bundle.impact["risk_aversion"]
        )
        if bundle.impact
        else None
    )

    def cost(i: int, j: int) -> dict[str, float]:
        mid, s = float(by_algo[i, j]), float(scales[i, j])
        return {
            "cost": round(mid, 4),
            "lower": round(mid + low * s, 4),
            "upper": round(mid + high * s, 4),
        }

    answers = []
    for i, o in enumerate(orders):
        j = bundle.algos.index(o.algo) if o.algo else int(best[i])
        own, recommended = cost(i, j), cost(i, int(best[i]))
        answers.append(
            {
                "symbol": o.symbol,
                "cost_bps": own["cost"],
                "lower_bps": own["lower"],
                "upper_bps": own["upper"],
                "algo": bundle.algos[j],
                "recommended_algo": bundle.algos[best[i]],
                "recommended_cost_bps": recommended["cost"],
                "recommended_lower_bps": recommended["lower"],
                "recommended_upper_bps": recommended["upper"],
                "model_version": bundle.version,
            }
        )
        if horizons is not None:
            answers[-1]["optimal_horizon_s"] = round(float(horizons[i]), 1)
    return answers
