"""Properties of the TCA metrics over many random days and fills (hypothesis)."""

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_platform.marketdata.simulator import (
    ALGO_EFFECT_BPS,
    VENUE_EFFECT_BPS,
    SimulationConfig,
    simulate_day,
)
from analytics_platform.tca import fill_tca, order_tca
from tests.test_tca_formulas import ORDERS, QUOTES, fills

DAY = dt.date(2026, 11, 20)
TINY = dict(n_symbols=3, n_quotes=6_000, n_orders=25)
SIGNED_FILL_METRICS = [
    "arrival_cost_bps",
    "effective_spread_bps",
    "realized_spread_bps_5s",
    "price_impact_bps_5s",
]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_identities_hold_on_random_days(seed):
    day = simulate_day(DAY, SimulationConfig(seed=seed, **TINY))
    per_fill = fill_tca(day.executions, day.orders, day.quotes, horizons=("1s", "30s"))
    for h in ("1s", "30s"):
        gap = (
            per_fill["effective_spread_bps"]
            - per_fill[f"realized_spread_bps_{h}"]
            - per_fill[f"price_impact_bps_{h}"]
        ).drop_nulls()
        assert gap.abs().max() is None or gap.abs().max() < 1e-9
    per_order = order_tca(day.orders, day.executions, day.quotes, day.market_trades)
    # Deterministic output order, whatever the input order.
    assert per_fill.equals(per_fill.sort("ts", "exec_id"))
    assert per_order.equals(per_order.sort("arrival_ts", "order_id"))
    shuffled = day.executions.sample(fraction=1.0, shuffle=True, seed=seed)
    assert fill_tca(shuffled, day.orders, day.quotes, horizons=("1s", "30s")).equals(per_fill)
    split = (
        per_order["temporary_impact_bps"]
        + per_order["permanent_impact_bps"]
        - per_order["arrival_cost_bps"]
    ).drop_nulls()
    assert split.is_empty() or split.abs().max() < 1e-9
    s = pl.when(pl.col("side") == "BUY").then(1.0).otherwise(-1.0)
    q, x, pd_ = pl.col("quantity"), pl.col("executed_quantity"), pl.col("decision_px")
    # DESIGN §6 closed form, computed independently of the components.
    closed = per_order.select(
        gap=(
            s
            * (
                pl.when(x > 0).then(x * (pl.col("avg_fill_px") - pd_)).otherwise(0.0)
                + (q - x) * (pl.col("end_mid") - pd_)
            )
            + pl.col("fees")
        )
        / (q * pd_)
        * 1e4
        - pl.col("is_total_bps")
    )["gap"].drop_nulls()
    assert closed.is_empty() or closed.abs().max() < 1e-9
    assert (per_order["fill_rate"].drop_nulls().is_between(0, 1)).all()


@settings(max_examples=40, deadline=None)
@given(
    price=st.floats(99.0, 101.0),
    t=st.floats(1.0, 39.0),
    qty=st.integers(1, 10_000),
)
def test_flipping_the_side_flips_every_signed_cost(price, t, qty):
    buy = fill_tca(
        fills([("E", "O1", "BUY", t, qty, price, 0.0)]), ORDERS, QUOTES, horizons=("5s",)
    )
    sell = fill_tca(
        fills([("E", "O1", "SELL", t, qty, price, 0.0)]), ORDERS, QUOTES, horizons=("5s",)
    )
    for column in SIGNED_FILL_METRICS:
        assert buy[column][0] == pytest.approx(-sell[column][0], abs=1e-9), column
    # markout is measured against the fill price, the same flip holds
    assert buy["markout_bps_5s"][0] == pytest.approx(-sell["markout_bps_5s"][0], abs=1e-9)
    # paying above the mid is a cost for a buyer, selling above it is a gain
    if price > buy["mid_at_fill"][0]:
        assert buy["effective_spread_bps"][0] > 0 > sell["effective_spread_bps"][0]


def test_fill_tca_recovers_the_simulated_venue_and_algo_effects():
    """Notional-weighted effective spreads, net of the known spread/impact terms, rank venues and
    algos exactly as the generating model and estimate each effect within its 95% interval."""
    day = simulate_day(DAY, SimulationConfig(n_symbols=40, n_quotes=800_000, n_orders=4000))
    per_fill = (
        fill_tca(day.executions, day.orders, day.quotes, horizons=())
        .join(day.ground_truth_fills, on=["exec_id", "order_id"])
        .join(day.orders.select("order_id", "algo"), on="order_id")
        .with_columns(notional=pl.col("price") * pl.col("quantity"))
    )
    for label, truth, own in (
        ("venue", VENUE_EFFECT_BPS, "venue_effect_bps"),
        ("algo", ALGO_EFFECT_BPS, "algo_effect_bps"),
    ):
        estimate = (
            per_fill.with_columns(
                effect=pl.col("effective_spread_bps") / 2
                - (pl.col("cost_vs_quoted_mid_bps") - pl.col(own))
            )
            .drop_nulls("effect")
            .group_by(label)
            .agg(
                est=(pl.col("effect") * pl.col("notional")).sum() / pl.col("notional").sum(),
                se=pl.col("effect").std() / pl.len().sqrt(),
            )
            .sort("est")
        )
        assert estimate[label].to_list() == sorted(truth, key=truth.get), label
        for name, est, se in estimate.iter_rows():
            assert abs(est - truth[name]) < 1.96 * se + 0.25, (label, name, est, truth[name])
