"""Outcome labels (DESIGN §7): integer rounding half away from zero, the ±10 bps bands, nulls."""

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics_platform.ml.labels import outcome_label, outcome_vs_expectation_bps


def test_outcome_vs_expectation_rounds_half_away_from_zero():
    net = pl.Series([10.5, -10.5, 0.49, -0.49, 12.0])
    zero = pl.Series([0.0] * 5)
    assert outcome_vs_expectation_bps(net, zero, zero).to_list() == [11, -11, 0, 0, 12]
    # net alpha 30 against an expected 25 − 5: 30 − 20 = 10
    assert outcome_vs_expectation_bps(
        pl.Series([30.0]), pl.Series([25.0]), pl.Series([5.0])
    ).to_list() == [10]


def test_labels_at_and_beyond_the_thresholds():
    bps = pl.Series([10, 11, -10, -11, 0, None], dtype=pl.Int64)
    assert outcome_label(bps).to_list() == ["NEUTRAL", "GOOD", "NEUTRAL", "BAD", "NEUTRAL", None]
    assert outcome_label(11) == "GOOD" and outcome_label(-11) == "BAD"


def test_a_missing_expectation_gives_no_label():
    got = outcome_vs_expectation_bps(
        pl.Series([5.0, 5.0]), pl.Series([None, 3.0]), pl.Series([1.0, None])
    )
    assert got.to_list() == [None, None]
    assert outcome_label(got).to_list() == [None, None]


def test_expressions_over_a_frame():
    frame = pl.DataFrame(
        {"net_alpha_bps": [40.0, -30.0], "expected_alpha_bps": [20.0, 20.0],
         "expected_cost_bps": [5.0, 5.0]}
    )  # fmt: skip
    out = frame.select(
        v=outcome_vs_expectation_bps(
            pl.col("net_alpha_bps"), pl.col("expected_alpha_bps"), pl.col("expected_cost_bps")
        )
    ).with_columns(label=outcome_label(pl.col("v")))
    assert out.rows() == [(25, "GOOD"), (-45, "BAD")]


@given(st.floats(-1e6, 1e6, allow_nan=False))
def test_labels_are_symmetric_around_zero(x):
    """A shortfall and a surplus of the same size get mirrored labels."""
    zero = pl.Series([0.0])
    up = outcome_vs_expectation_bps(pl.Series([x]), zero, zero).item()
    down = outcome_vs_expectation_bps(pl.Series([-x]), zero, zero).item()
    assert up == -down
    mirror = {"GOOD": "BAD", "BAD": "GOOD", "NEUTRAL": "NEUTRAL"}
    assert outcome_label(pl.Series([up])).item() == mirror[outcome_label(pl.Series([down])).item()]


@pytest.mark.parametrize("value", [10.4, 10.5, -10.5])
def test_labels_apply_to_the_rounded_integer(value):
    bps = outcome_vs_expectation_bps(pl.Series([value]), pl.Series([0.0]), pl.Series([0.0]))
    assert outcome_label(bps).item() == ("NEUTRAL" if abs(value) < 10.5 else
                                         "GOOD" if value > 0 else "BAD")  # fmt: skip
