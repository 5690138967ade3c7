"""Model feedback: realised vs predicted per order, coverage, and drift by PSI."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from analytics_platform.ml.feedback import daily_feedback, order_predictions, psi
from tests.test_serving import _bundle


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(1)
    reference = rng.normal(0, 1, 20_000)
    assert psi(rng.normal(0, 1, 20_000), reference) < 0.01
    assert psi(rng.normal(1.0, 1, 20_000), reference) > 0.25
    assert psi(np.array([1.0, 2.0]), reference) is None  # too few to bin


def _cost_rows(realised: list[float]) -> pl.DataFrame:
    n = len(realised)
    at = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
    return pl.DataFrame(
        {
            "row_id": [f"O{i}" for i in range(n)],
            "trade_date": [dt.date(2026, 11, 20)] * n,
            "symbol": ["AAA"] * (n - 1) + ["UNKNOWN"],
            "at": [at + dt.timedelta(seconds=i) for i in range(n)],
            "side": ["BUY"] * n,
            "quantity": [10_000] * n,
            "algo": ["VWAP"] * n,
            "urgency": ["MEDIUM"] * n,
            "order_type": ["MARKET"] * n,
            "arrival_cost_bps": realised,
            "spread_bps": [4.0] * n,
            "size_vs_adv": [0.01] * n,
        }
    ).with_columns(pl.col("at").cast(pl.Datetime("ns", "UTC")))


def test_feedback_grades_the_served_model_by_hand():
    bundle = _bundle("v1")  # predicts 23.5 bps, interval [−76.5, 143.5], for these orders
    rows = _cost_rows([23.5, 33.5, 200.0, -100.0, 0.0])
    predicted = order_predictions(bundle, rows)
    assert predicted.height == 4  # the unknown symbol is not predicted
    assert predicted["cost_bps"].to_list() == pytest.approx([23.5] * 4)
    assert predicted["error_bps"].to_list() == pytest.approx([0.0, 10.0, 176.5, -123.5])
    assert predicted["in_interval"].to_list() == [True, True, False, False]
    feedback = daily_feedback(predicted, predicted.head(0)).row(0, named=True)
    assert feedback["orders"] == 4 and feedback["coverage"] == 0.5
    assert not feedback["coverage_in_band"]
    assert feedback["mae_bps"] == pytest.approx((0 + 10 + 176.5 + 123.5) / 4)
    assert feedback["bias_bps"] == pytest.approx((0 + 10 + 176.5 - 123.5) / 4)
    assert feedback["psi_error_bps"] is None  # no reference day yet
    assert feedback["feedback_id"] == "v1|2026-11-20"
