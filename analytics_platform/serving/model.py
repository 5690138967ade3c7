"""Numpy inference over a bundle: the linear cost model and its 85% interval.

cost_bps = w · x with x = [1, half spread (bps), daily vol (bps)·√(Q/ADV), urgency, algo and order
type indicators]; the interval adds the standardised residual's 7.5% and 92.5% quantiles times the
symbol's daily volatility (bps). The recommended algo is the one with the lowest predicted cost.
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
    # Every algo for every order: the recommendation is the cheapest.
    by_algo = np.column_stack(
        [
            design(
                half_spread,
                sqrt_vol,
                urgency=urgency,
                algo=np.full(n, a),
                limit=limit,
                algos=bundle.algos,
            )
            @ bundle.coefficients
            for a in bundle.algos
        ]
    )
    best = by_algo.argmin(axis=1)
    chosen = np.array(
        [bundle.algos.index(o.algo) if o.algo else best[i] for i, o in enumerate(orders)]
    )
    cost = by_algo[np.arange(n), chosen]
    low, high = bundle.interval
    return [
        {
            "symbol": o.symbol,
            "cost_bps": round(float(cost[i]), 4),
            "lower_bps": round(float(cost[i] + low * vol[i]), 4),
            "upper_bps": round(float(cost[i] + high * vol[i]), 4),
            "algo": bundle.algos[chosen[i]],
            "recommended_algo": bundle.algos[best[i]],
            "model_version": bundle.version,
        }
        for i, o in enumerate(orders)
    ]
