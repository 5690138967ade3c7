"""Brinson attribution of one period and its linking across periods (DESIGN §7).

One period (R_p = Σ wp·rp, R_b = Σ wb·rb, Bacon 2008 ch. 5–6):
    selection   = wb·(rp − rb)              interaction = (wp − wb)·(rp − rb)
    allocation  = (wp − wb)·(rb − R_b)  (BF)   or   (wp − wb)·rb  (BHB)
    top_down folds interaction into selection (wp·(rp − rb)); bottom_up folds it into allocation.
    Identity: Σ allocation + selection + interaction = R_p − R_b.

Arithmetic effects of several periods do not add up to the compounded excess return; the linking
methods (Bacon ch. 8) rescale them so that Σ linked effects = Π(1 + rp) − Π(1 + rb) exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

EFFECTS = ("allocation", "selection", "interaction")
METHODS = ("BF", "BHB")
INTERACTIONS = ("separate", "top_down", "bottom_up")
LINKING_METHODS = ("carino", "menchero", "grap", "frongello")
WEIGHT_TOLERANCE = 1e-6


def brinson(
    frame: pl.DataFrame,
    *,
    method: str = "BF",
    interaction: str = "separate",
    by: Sequence[str] = (),
) -> pl.DataFrame:
    """Segment effects of one period: segment, allocation, selection, interaction, total.

    `frame` has segment, wp, wb, rp, rb; the weights of each side sum to 1 (within each group of
    the optional `by` columns, e.g. portfolio and day, which are kept in the result).
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    if interaction not in INTERACTIONS:
        raise ValueError(f"interaction: expected one of {INTERACTIONS}, got {interaction!r}")
    missing = {"segment", "wp", "wb", "rp", "rb", *by} - set(frame.columns)
    if missing:
        raise ValueError(f"brinson: frame lacks columns {sorted(missing)}")
    nulls = [c for c in ("wp", "wb", "rp", "rb") if frame[c].null_count()]
    if nulls:
        raise ValueError(f"brinson: null values in {nulls}")
    group = list(by)
    over = group or None
    totals = frame.with_columns(
        _sum_wp=_group_sum(pl.col("wp"), over),
        _sum_wb=_group_sum(pl.col("wb"), over),
        _rb_total=_group_sum(pl.col("wb") * pl.col("rb"), over),
    )
    for side in ("wp", "wb"):
        worst = (totals[f"_sum_{side}"] - 1).abs().max()
        if worst is not None and worst > WEIGHT_TOLERANCE:
            raise ValueError(f"brinson: {side} must sum to 1 per period (off by {worst:.3g})")
    active = pl.col("wp") - pl.col("wb")
    relative = pl.col("rp") - pl.col("rb")
    allocation = (
        active * (pl.col("rb") - pl.col("_rb_total")) if method == "BF" else active * pl.col("rb")
    )
    selection = pl.col("wb") * relative
    cross = active * relative
    if interaction == "top_down":
        selection, cross = selection + cross, pl.lit(0.0)
    elif interaction == "bottom_up":
        allocation, cross = allocation + cross, pl.lit(0.0)
    return totals.select(
        *group,
        "segment",
        allocation=allocation,
        selection=selection,
        interaction=cross,
    ).with_columns(total=pl.sum_horizontal(EFFECTS))


def _group_sum(expr: pl.Expr, over: list[str] | None) -> pl.Expr:
    return expr.sum().over(over) if over else expr.sum()


def link(effects: pl.DataFrame, returns: pl.DataFrame, *, method: str) -> pl.DataFrame:
    """Link per-period segment effects over the periods of `returns` (ordered by period).

    effects: period, segment, allocation, selection, interaction (a segment absent from a period
    has zero effects there); returns: period, rp, rb, one row per period. Returns one row per
    segment with the linked allocation, selection, interaction and their total. Each period's
    effects must add up to rp − rb for the identity Σ linked = Π(1+rp) − Π(1+rb) to hold.
    """
    if method not in LINKING_METHODS:
        raise ValueError(f"method: expected one of {LINKING_METHODS}, got {method!r}")
    missing_e = {"period", "segment", *EFFECTS} - set(effects.columns)
    missing_r = {"period", "rp", "rb"} - set(returns.columns)
    if missing_e or missing_r:
        raise ValueError(
            f"link: effects lack {sorted(missing_e)}, returns lack {sorted(missing_r)}"
        )
    ordered = returns.sort("period")
    if ordered["period"].n_unique() != ordered.height:
        raise ValueError("link: returns must have one row per period")
    unknown = set(effects["period"].unique().to_list()) - set(ordered["period"].to_list())
    if unknown:
        raise ValueError(f"link: effects have periods without returns: {sorted(unknown)[:5]}")
    rp, rb = ordered["rp"].to_numpy(), ordered["rb"].to_numpy()
    segments = effects["segment"].unique(maintain_order=True).sort()
    linked: dict[str, np.ndarray] = {}
    for effect in EFFECTS:
        # periods x segments matrix of this effect (zero where a segment is absent)
        matrix = (
            effects.pivot(on="segment", index="period", values=effect, aggregate_function="sum")
            .join(ordered.select("period"), on="period", how="right")
            .select(segments.to_list())
            .fill_null(0.0)
            .to_numpy()
        )
        linked[effect] = _link_matrix(matrix, rp, rb, method).sum(axis=0)
    return pl.DataFrame({"segment": segments, **linked}).with_columns(
        total=pl.sum_horizontal(EFFECTS)
    )


def linking_coefficients(rp: np.ndarray, rb: np.ndarray, method: str) -> np.ndarray:
    """Per-period multipliers for the scaling methods (Carino, Menchero)."""
    d = rp - rb
    total_p, total_b = np.prod(1 + rp) - 1, np.prod(1 + rb) - 1
    if method == "carino":
        return _carino_k(rp, rb) / _carino_k(np.array([total_p]), np.array([total_b]))[0]
    n = len(rp)
    if np.isclose(total_p, total_b, rtol=0, atol=1e-15):
        m = (1 + total_p) ** ((n - 1) / n)
    else:
        m = ((total_p - total_b) / n) / ((1 + total_p) ** (1 / n) - (1 + total_b) ** (1 / n))
    squares = np.sum(d**2)
    a = (total_p - total_b - m * d.sum()) / squares * d if squares > 0 else np.zeros(n)
    return m + a


def _carino_k(rp: np.ndarray, rb: np.ndarray) -> np.ndarray:
    d = rp - rb
    equal = np.isclose(d, 0, rtol=0, atol=1e-15)
    safe = np.where(equal, 1.0, d)
    return np.where(equal, 1 / (1 + rp), (np.log1p(rp) - np.log1p(rb)) / safe)


def _link_matrix(matrix: np.ndarray, rp: np.ndarray, rb: np.ndarray, method: str) -> np.ndarray:
    """Linked effects, periods x segments."""
    if method in ("carino", "menchero"):
        return matrix * linking_coefficients(rp, rb, method)[:, None]
    growth_p_before = np.concatenate([[1.0], np.cumprod(1 + rp)[:-1]])  # Π_{s<t}(1 + rp_s)
    if method == "grap":
        growth_b_after = np.concatenate([np.cumprod((1 + rb)[::-1])[::-1][1:], [1.0]])
        return matrix * (growth_p_before * growth_b_after)[:, None]
    # Frongello: L_t = e_t·Π_{s<t}(1+rp_s) + rb_t·Σ_{s<t} L_s, i.e. the cumulative C_t = Σ_{s≤t} L_s
    # grows as C_t = C_{t−1}(1 + rb_t) + e_t·Π_{s<t}(1+rp_s); L_t = C_t − C_{t−1}.
    cumulative = np.zeros(matrix.shape[1])
    out = np.empty_like(matrix, dtype=float)
    for t in range(matrix.shape[0]):  # over periods (a window of days), not rows
        after = cumulative * (1 + rb[t]) + matrix[t] * growth_p_before[t]
        out[t] = after - cumulative
        cumulative = after
    return out
