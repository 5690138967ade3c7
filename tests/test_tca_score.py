"""Execution quality score: hand-computed composite, shrinkage and trend (JAX)."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from analytics_platform.tca.score import (
    SHRINKAGE_KAPPA,
    composite,
    entity_scores,
    shrunk_mean,
    trend_slope,
    with_trend,
)


def test_composite_is_the_weighted_sum_of_z_scores():
    components = np.array([[1.0, 10.0], [3.0, 10.0], [np.nan, 10.0]])
    scores = composite(components, np.array([0.6, 0.4], dtype=np.float32))
    # column 1: present values 1 and 3 -> z = -1, +1; missing -> 0. column 2: no dispersion -> 0
    assert scores == pytest.approx([-0.6, 0.6, 0.0], abs=1e-6)


def test_small_samples_are_shrunk_toward_the_average():
    scores = np.array([1.0, 1.0, 1.0, -0.5])
    groups = np.array([0, 0, 0, 1])
    shrunk = shrunk_mean(scores, groups, 2, SHRINKAGE_KAPPA)
    assert shrunk == pytest.approx([3.0 / (3 + SHRINKAGE_KAPPA), -0.5 / (1 + SHRINKAGE_KAPPA)])


def test_trend_is_the_least_squares_slope():
    assert trend_slope(np.array([0, 1, 2, 3]), np.array([1.0, 3.0, 5.0, 7.0])) == pytest.approx(2.0)
    assert trend_slope(np.array([5]), np.array([1.0])) is None


def test_entity_scores_and_trend_over_history():
    day = dt.date(2026, 11, 20)
    orders = pl.DataFrame(
        {
            "order_id": ["A", "B"],
            "algo": ["VWAP", "TWAP"],
            "broker": ["X", "X"],
            "score": [1.0, -1.0],
        }
    )
    fills = pl.DataFrame({"order_id": ["A", "A", "B"], "venue": ["V1", "V2", "V1"]})
    today = entity_scores(orders, fills, day)
    broker = today.filter(pl.col("entity") == "broker").row(0, named=True)
    assert broker["orders"] == 2 and broker["score"] == pytest.approx(0.0)
    v1 = today.filter((pl.col("entity") == "venue") & (pl.col("name") == "V1")).row(0, named=True)
    assert v1["score"] == pytest.approx(0.0 / (2 + SHRINKAGE_KAPPA))
    calendar = [dt.date(2026, 11, 18), dt.date(2026, 11, 19), day]
    history = today.with_columns(
        pl.when(pl.col("name") == "VWAP").then(pl.col("score") - 0.02).otherwise(pl.col("score")),
        trade_date=pl.lit(dt.date(2026, 11, 19)),
    )
    trended = with_trend(today, history, calendar)
    vwap = trended.filter(pl.col("name") == "VWAP").row(0, named=True)
    assert vwap["trend_20d"] == pytest.approx(0.02, abs=1e-6)


def test_order_scores_match_their_declared_contract(small_day):
    """tca/order_scores' contract is declared without running JAX at import: the real output
    must have exactly its columns and types."""
    from analytics_platform.tca import fill_tca, order_tca  # noqa: PLC0415
    from analytics_platform.tca.schemas import ORDER_SCORES  # noqa: PLC0415
    from analytics_platform.tca.score import order_components, order_scores  # noqa: PLC0415

    day = small_day
    fills = fill_tca(day.executions, day.orders, day.quotes)
    orders = order_tca(day.orders, day.executions, day.quotes, day.market_trades)
    expected = day.derived["raw/market_impact_assessments"].select("order_id", "expected_cost_bps")
    scored = order_scores(order_components(orders, fills, expected))
    assert scored.schema == ORDER_SCORES.polars_schema
