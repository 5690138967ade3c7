"""Outcome labels (DESIGN §7): one rule, public, over polars expressions or Series.

    outcome_vs_expectation_bps = round half away from zero, to an integer, of
        net alpha − (expected alpha − expected cost)
    outcome_label(bps) = GOOD if bps > 10, BAD if bps < −10, else NEUTRAL (±10 inclusive)

The expected cost is the pre-trade MarketImpactAssessmentEvent's. A null input (no expectation,
no outcome) gives a null label: such rows are excluded, never guessed.
"""

from __future__ import annotations

import polars as pl

GOOD, NEUTRAL, BAD = "GOOD", "NEUTRAL", "BAD"
THRESHOLD_BPS = 10
LABELS = (GOOD, NEUTRAL, BAD)

Value = pl.Expr | pl.Series | str | float | int


def _expr(value: Value) -> pl.Expr:
    if isinstance(value, pl.Expr):
        return value
    if isinstance(value, str):
        return pl.col(value)
    return pl.lit(value)


def _evaluate(expr: pl.Expr, *values: Value) -> pl.Expr | pl.Series:
    """`expr` as an expression, or evaluated to a Series when the inputs are Series."""
    series = [v for v in values if isinstance(v, pl.Series)]
    if not series:
        return expr
    frame = pl.DataFrame({f"_{i}": s for i, s in enumerate(series)})
    return frame.select(expr.alias(series[0].name or "value")).to_series()


def _bind(values: tuple[Value, ...]) -> list[pl.Expr]:
    """Series arguments become columns of the frame `_evaluate` builds; the rest stay as given."""
    bound, n = [], 0
    for v in values:
        if isinstance(v, pl.Series):
            bound.append(pl.col(f"_{n}"))
            n += 1
        else:
            bound.append(_expr(v))
    return bound


def round_half_away_from_zero(x: pl.Expr) -> pl.Expr:
    """To the nearest integer, halves away from zero (10.5 → 11, −10.5 → −11), as Int64."""
    return (x.sign() * (x.abs() + 0.5).floor()).cast(pl.Int64)


def outcome_vs_expectation_bps(
    net_alpha_bps: Value, expected_alpha_bps: Value, expected_cost_bps: Value
) -> pl.Expr | pl.Series:
    """round_half_away_from_zero(net alpha − (expected alpha − expected cost)), Int64."""
    net, alpha, cost = _bind((net_alpha_bps, expected_alpha_bps, expected_cost_bps))
    expr = round_half_away_from_zero(net - (alpha - cost))
    return _evaluate(expr, net_alpha_bps, expected_alpha_bps, expected_cost_bps)


def outcome_label(bps: Value) -> pl.Expr | pl.Series:
    """GOOD above +10, BAD below −10, NEUTRAL within ±10 inclusive; null stays null."""
    (x,) = _bind((bps,))
    expr = (
        pl.when(x > THRESHOLD_BPS)
        .then(pl.lit(GOOD))
        .when(x < -THRESHOLD_BPS)
        .then(pl.lit(BAD))
        .when(x.is_not_null())
        .then(pl.lit(NEUTRAL))
    )
    if isinstance(bps, int | float) and not isinstance(bps, bool):
        return pl.select(expr).item()
    return _evaluate(expr, bps)
