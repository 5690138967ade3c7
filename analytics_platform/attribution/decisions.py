"""Decision → execution → outcome, per decision (DESIGN §7, REFERENCES "Execution attribution").

On TCA's denominator Q·Pd (bps, s = +1 BUY / −1 SELL):
    decision_alpha = 1e4·s·(Ph − Pd)/Pd, Ph = M(decision ts + horizon_s), or M(close) if later
    net_alpha      = decision_alpha − is_total  (is_total = delay + trading + opportunity + fees)
Identity (asserted by `net_alpha_identity_check`): net_alpha·Q·Pd/1e4 equals what the decision
earned, s·[X·(Ph − P̄) + (Q − X)·(Ph − Pn)] − F: the filled shares from their average price to
Ph, the unfilled ones from the order's end mid to Ph, less fees.

The decision alpha includes the order's own permanent impact (the price moved partly because we
traded); `strategy_skill` controls for it when it estimates skill.
"""

from __future__ import annotations

import polars as pl

from analytics_platform.calendar import session_bounds
from analytics_platform.quality.checks import CheckOutcome
from analytics_platform.reporting import markdown_table
from analytics_platform.timeseries import Frame, QuoteBook, quote_book, quotes_at, side_sign

TS = pl.Datetime("ns", "UTC")
IS_COMPONENTS = ("is_delay_bps", "is_trading_bps", "is_opportunity_bps", "is_fees_bps")
_DECISION_COLUMNS = (
    "decision_id",
    "ts",
    "strategy_id",
    "portfolio_id",
    "symbol",
    "side",
    "target_quantity",
    "decision_px",
    "signal_strength",
    "confidence",
    "expected_alpha_bps",
    "horizon_s",
    "trade_date",
)
_ORDER_COLUMNS = (
    "decision_id",
    "order_id",
    "algo",
    "broker",
    "executed_quantity",
    "fill_rate",
    "avg_fill_px",
    "arrival_mid",
    "end_mid",
    "fees",
    *IS_COMPONENTS,
    "is_total_bps",
)


def decision_outcomes(
    decisions: Frame,
    order_tca: Frame,
    quotes: Frame | QuoteBook,
    assessments: Frame,
    *,
    max_quote_age: str = "60s",
) -> pl.DataFrame:
    """One row per decision: its horizon price and alpha, the IS of its order, net alpha,
    realised vs expected alpha, and the pre-trade expected cost of its order."""
    book = quote_book(quotes)
    base = decisions.lazy().select(_DECISION_COLUMNS).collect().sort("ts", "decision_id")
    closes = session_bounds(base["trade_date"]).select("trade_date", "close_ts")
    base = (
        base.join(closes, on="trade_date", how="left", maintain_order="left")
        .with_columns(
            _horizon_end=pl.col("ts") + pl.duration(seconds=pl.col("horizon_s")),
        )
        .with_columns(
            horizon_complete=pl.col("_horizon_end") <= pl.col("close_ts"),
            horizon_ts=pl.min_horizontal("_horizon_end", "close_ts"),
        )
        .drop("_horizon_end", "close_ts")
    )
    horizon = quotes_at(base, {"h": pl.col("horizon_ts")}, book, max_quote_age).select(
        horizon_px="mid_h"
    )
    orders = order_tca.lazy().select(_ORDER_COLUMNS).collect()
    expected = (
        assessments.lazy()
        .select("order_id", "expected_cost_bps", "expected_impact_bps")
        .unique("order_id", keep="last")
        .collect()
    )
    s = side_sign()
    pd_ = pl.col("decision_px")
    return (
        pl.concat([base, horizon], how="horizontal")
        .join(orders, on="decision_id", how="left", maintain_order="left")
        .join(expected, on="order_id", how="left", maintain_order="left")
        .with_columns(
            notional=pl.col("target_quantity") * pd_,
            decision_alpha_bps=1e4 * s * (pl.col("horizon_px") - pd_) / pd_,
        )
        .with_columns(
            net_alpha_bps=pl.col("decision_alpha_bps") - pl.col("is_total_bps"),
            alpha_vs_expected_bps=pl.col("decision_alpha_bps") - pl.col("expected_alpha_bps"),
            # What the decision was expected to earn after its pre-trade cost estimate.
            expected_net_alpha_bps=pl.col("expected_alpha_bps") - pl.col("expected_cost_bps"),
        )
        .with_columns(
            net_vs_expected_bps=pl.col("net_alpha_bps") - pl.col("expected_net_alpha_bps"),
            as_of_ts=pl.col("horizon_ts"),
        )
    )


def earned_bps() -> pl.Expr:
    """What the decision earned, recomputed from prices: s·[X(Ph − P̄) + (Q − X)(Ph − Pn)] − F
    over Q·Pd, in bps (the right-hand side of the net-alpha identity)."""
    s, q, x = side_sign(), pl.col("target_quantity"), pl.col("executed_quantity")
    ph = pl.col("horizon_px")
    filled = pl.when(x > 0).then(x * (ph - pl.col("avg_fill_px"))).otherwise(0.0)
    unfilled = (q - x) * (ph - pl.col("end_mid"))
    return 1e4 * (s * (filled + unfilled) - pl.col("fees")) / (q * pl.col("decision_px"))


def net_alpha_identity_check(outcomes: pl.DataFrame, tolerance: float = 1e-9) -> CheckOutcome:
    """net_alpha = decision_alpha − IS equals what the decision earned from prices (rel. 1e-9)."""
    checked = outcomes.filter(pl.col("net_alpha_bps").is_not_null()).with_columns(
        _gap=(pl.col("net_alpha_bps") - earned_bps()).abs(),
        _scale=pl.max_horizontal(pl.col("net_alpha_bps").abs(), pl.lit(1.0)),
    )
    bad = checked.filter(pl.col("_gap").is_null() | (pl.col("_gap") > tolerance * pl.col("_scale")))
    return CheckOutcome(
        name="net_alpha_identity",
        passed=bad.is_empty(),
        description="decision alpha − IS = s·[X(Ph − P̄) + (Q − X)(Ph − Pn)] − F, per decision",
        metadata={
            "checked": checked.height,
            "violations": bad.height,
            "max_gap_bps": float(checked["_gap"].max() or 0.0) if checked.height else 0.0,
            "worst": markdown_table(
                bad.sort("_gap", descending=True).select("decision_id", "net_alpha_bps", "_gap")
            ),
        },
    )
