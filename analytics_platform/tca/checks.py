"""TCA quality checks: additive identities, quote coverage, keys."""

from __future__ import annotations

import polars as pl

from analytics_platform.quality.checks import CheckOutcome

TOLERANCE_BPS = 1e-9


def _max_gap(frame: pl.DataFrame, expr: pl.Expr) -> float:
    value = frame.select(expr.abs().max()).item()
    return float(value) if value is not None else 0.0


def fill_identity_check(fills_tca: pl.DataFrame) -> CheckOutcome:
    """effective = realized + impact at every horizon."""
    horizons = [
        c.removeprefix("realized_spread_bps_")
        for c in fills_tca.columns
        if c.startswith("realized_spread_bps_")
    ]
    gap = max(
        (
            _max_gap(
                fills_tca,
                pl.col("effective_spread_bps")
                - pl.col(f"realized_spread_bps_{h}")
                - pl.col(f"price_impact_bps_{h}"),
            )
            for h in horizons
        ),
        default=0.0,
    )
    return CheckOutcome(
        "spread_identity",
        gap <= TOLERANCE_BPS,
        f"max |effective − realized − impact| = {gap:.2e} bps",
        {"max_gap_bps": gap},
    )


def order_identity_check(orders_tca: pl.DataFrame) -> CheckOutcome:
    """IS components sum to is_total_bps; temporary + permanent = arrival cost."""
    is_gap = _max_gap(
        orders_tca,
        pl.col("is_delay_bps")
        + pl.col("is_trading_bps")
        + pl.col("is_opportunity_bps")
        + pl.col("is_fees_bps")
        - pl.col("is_total_bps"),
    )
    split_gap = _max_gap(
        orders_tca,
        pl.col("temporary_impact_bps")
        + pl.col("permanent_impact_bps")
        - pl.col("arrival_cost_bps"),
    )
    gap = max(is_gap, split_gap)
    return CheckOutcome(
        "cost_identities",
        gap <= TOLERANCE_BPS,
        f"IS sum gap {is_gap:.2e} bps, impact split gap {split_gap:.2e} bps",
        {"is_gap_bps": is_gap, "impact_split_gap_bps": split_gap},
    )


def quote_coverage_check(fills_tca: pl.DataFrame, min_share: float) -> CheckOutcome:
    """Share of fills with a valid benchmark quote (M(t) defined)."""
    share = 1.0 if fills_tca.is_empty() else fills_tca["mid_at_fill"].is_not_null().mean()
    return CheckOutcome(
        "quote_coverage",
        share >= min_share,
        f"{share:.2%} of fills have a valid quote (minimum {min_share:.0%})",
        {"coverage": share},
    )
