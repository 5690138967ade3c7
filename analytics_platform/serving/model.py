"""Numpy inference over a bundle: the cost model and its 85% interval.

Linear bundles: cost_bps = w · x with x = [1, half spread (bps), daily vol (bps)·√(Q/ADV),
urgency, algo and order type indicators]; the interval adds the standardised residual's 7.5% and
92.5% quantiles times the symbol's daily volatility (bps). Network bundles: the same linear prior
plus a residual network, and a volatility head whose scale replaces the daily volatility. The
recommended algo is the one with the lowest predicted cost.
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


def network_inputs(x: np.ndarray, log_size: np.ndarray, vol: np.ndarray) -> np.ndarray:
    """The residual network's inputs: the design's columns but the intercept, log(Q/ADV) and the
    daily volatility (standardised with the bundle's `input_mean` / `input_std`)."""
    return np.column_stack([x[:, 1:], log_size, vol])


def network_forward(arrays: dict[str, np.ndarray], x: np.ndarray, inputs: np.ndarray):
    """(mean, scale) of a network bundle: the linear prior plus a one-hidden-layer residual, and
    a log-linear volatility head."""
    z = (inputs - arrays["input_mean"]) / arrays["input_std"]
    hidden = np.tanh(z @ arrays["w1"] + arrays["b1"])
    mean = x @ arrays["prior"] + hidden @ arrays["w2"] + arrays["b2"]
    scale = np.exp(z @ arrays["v"] + arrays["c"])
    return mean, scale


def predict(bundle: Bundle, orders: list[Order]) -> list[dict]:
    """Per order: cost_bps, lower_bps, upper_bps, recommended_algo, model_version."""
    n = len(orders)
    context = [bundle.symbols[o.symbol] for o in orders]
    half_spread = np.array([c.spread_bps / 2 for c in context])
    vol = np.array([c.daily_vol_bps for c in context])
    adv = np.array([max(c.adv, 1.0) for c in context])
    quantity = np.array([o.quantity for o in orders], dtype=float)
    sqrt_vol = vol * np.sqrt(quantity / adv)
    urgency = np.array([o.urgency for o in orders])
    limit = np.array([o.order_type == "LIMIT" for o in orders])
    log_size = np.log(quantity / adv)

    def mean_and_scale(algo: str) -> tuple[np.ndarray, np.ndarray]:
        x = design(
            half_spread, sqrt_vol, urgency=urgency, algo=np.full(n, algo), limit=limit,
            algos=bundle.algos,
        )  # fmt: skip
        if bundle.kind == "network":
            return network_forward(bundle.arrays, x, network_inputs(x, log_size, vol))
        return x @ bundle.coefficients, vol

    # Every algo for every order: the recommendation is the cheapest.
    per_algo = [mean_and_scale(a) for a in bundle.algos]
    by_algo = np.column_stack([m for m, _ in per_algo])
    scales = np.column_stack([s for _, s in per_algo])
    best = by_algo.argmin(axis=1)
    chosen = np.array(
        [bundle.algos.index(o.algo) if o.algo else best[i] for i, o in enumerate(orders)]
    )
    cost = by_algo[np.arange(n), chosen]
    scale = scales[np.arange(n), chosen]
    low, high = bundle.interval
    return [
        {
            "symbol": o.symbol,
            "cost_bps": round(float(cost[i]), 4),
            "lower_bps": round(float(cost[i] + low * scale[i]), 4),
            "upper_bps": round(float(cost[i] + high * scale[i]), 4),
            "algo": bundle.algos[chosen[i]],
            "recommended_algo": bundle.algos[best[i]],
            "model_version": bundle.version,
        }
        for i, o in enumerate(orders)
    ]
