"""Model feedback: realised vs predicted per order, coverage, and drift by PSI."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from analytics_platform.ml.feedback import (
    calibration_by_bucket,
    daily_feedback,
    model_insights,
    order_predictions,
    psi,
    retrain_reason,
)
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
            "realized_vol_30m_bps": [50.0] * n,  # a linear bundle's answer does not use it
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


def test_retraining_runs_on_drift_coverage_or_schedule():
    day = dt.date(2026, 11, 20)  # a Friday
    calm = {"drift_flagged": False, "coverage_in_band": True, "coverage": 0.85}
    assert retrain_reason(None, None, day, 5) == "no champion yet"
    # Trained through Monday the 16th: 4 trading days old on Friday, 5 on the next Monday.
    monday = dt.date(2026, 11, 16)
    assert retrain_reason(calm, monday, day, 5) is None
    assert retrain_reason(None, monday, day, 5) is None  # no feedback yet (no model served)
    assert retrain_reason(calm, monday, dt.date(2026, 11, 23), 5) == (
        "scheduled: the champion is 5 trading days old"
    )
    assert retrain_reason(calm, day, day, 1) is None  # trained through today already
    drift = {**calm, "drift_flagged": True}
    assert retrain_reason(drift, day, day, 5).startswith("drift flagged")
    wide = {**calm, "coverage_in_band": False, "coverage": 0.95}
    assert retrain_reason(wide, day, day, 5).startswith("coverage 0.950 outside")


def _predictions(errors_by_algo: dict[str, list[float]], days: list[dt.date]) -> pl.DataFrame:
    """One order per algo per day with the given errors (predicted 10 bps)."""
    rows = [
        {
            "trade_date": day,
            "algo": algo,
            "urgency": "MEDIUM",
            "size_vs_adv": 0.01,
            "cost_bps": 10.0,
            "arrival_cost_bps": 10.0 + errors[i],
            "error_bps": errors[i],
            "in_interval": abs(errors[i]) < 5,
        }
        for algo, errors in errors_by_algo.items()
        for i, day in enumerate(days)
    ]
    return pl.DataFrame(rows)


def test_an_algo_that_beats_its_prediction_across_days_is_an_insight():
    days = [dt.date(2026, 11, d) for d in (16, 17, 18, 19, 20)]
    # VWAP beats its prediction every day by 2 ± 0.1 (t = −2/(0.158/√5) ≈ −28); TWAP is noise.
    found = model_insights(
        _predictions(
            {"VWAP": [-2.0, -2.1, -1.9, -2.2, -1.8], "TWAP": [1.0, -1.0, 2.0, -2.0, 0.5]}, days
        )
    )
    assert found["subject"].to_list() == ["VWAP"]
    row = found.row(0, named=True)
    assert row["kind"] == "algo_beats_prediction"
    assert row["value"] == pytest.approx(-2.0)
    assert row["std_error"] == pytest.approx(np.std([-2, -2.1, -1.9, -2.2, -1.8], ddof=1) / 5**0.5)
    assert (row["n_orders"], row["n_days"]) == (5, 5)
    assert "VWAP: realised cost beat its prediction by 2.0 bps a day over 5 days" in row["finding"]
    # Four days are not enough evidence, however consistent.
    assert model_insights(_predictions({"VWAP": [-2.0] * 3 + [-2.1]}, days[:4])).is_empty()


def test_calibration_by_bucket_by_hand():
    days = [dt.date(2026, 11, 20)]
    frame = pl.concat(
        [
            _predictions({"VWAP": [1.0]}, days).with_columns(
                urgency=pl.lit(u),
                size_vs_adv=pl.lit(s),
                error_bps=pl.lit(e),
                in_interval=pl.lit(h),
                arrival_cost_bps=10.0 + pl.lit(e),
            )
            for u, s, e, h in [
                ("HIGH", 0.05, 8.0, False),
                ("LOW", 0.001, -1.0, True),
                ("LOW", 0.002, 1.0, True),
                ("MEDIUM", 0.01, 3.0, True),
                ("MEDIUM", 0.02, -2.0, False),
            ]
        ]
    )
    table = calibration_by_bucket(frame)
    urgency = table.filter(pl.col("dimension") == "urgency")
    assert urgency["bucket"].to_list() == ["LOW", "MEDIUM", "HIGH"]  # by bucket_order
    assert urgency["orders"].to_list() == [2, 2, 1]
    assert urgency["bias_bps"].to_list() == [0.0, 0.5, 8.0]
    assert urgency["coverage"].to_list() == [1.0, 0.5, 0.0]
    size = table.filter(pl.col("dimension") == "size_vs_adv")
    # Five orders in five quintiles, smallest first.
    assert size["bucket"].to_list() == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    assert size["max_size_vs_adv"].to_list() == [0.001, 0.002, 0.01, 0.02, 0.05]
    assert size["bias_bps"].to_list() == [-1.0, 1.0, 3.0, -2.0, 8.0]
