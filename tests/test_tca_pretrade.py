"""Pre-trade vs realised per order and the calibration table, hand-computed."""

import datetime as dt
import math

import polars as pl
import pytest

from analytics_platform.calendar import SESSION_SECONDS
from analytics_platform.tca import order_tca
from analytics_platform.tca.pretrade import (
    pretrade_calibration,
    pretrade_vs_realised,
    symbol_day_market,
    timing_risk_bps,
)
from tests.test_tca_formulas import DAY, FILLS, ORDERS, QUOTES, TAPE, at

INDICATORS = pl.DataFrame(
    {
        "symbol": ["AAA"] * 4,
        "ts": [at(0), at(300), at(600), at(600)],
        "indicator": ["return_bps", "return_bps", "return_bps", "rsi_14"],
        "value": [10.0, -20.0, 30.0, 55.0],
        "trade_date": [DAY] * 4,
    }
)
# mean r² = (100 + 400 + 900) / 3 over a 300 s step (600 s / 2 steps)
VARIANCE_PER_S = 1400 / 3 / 300


def test_symbol_day_market_by_hand():
    market = symbol_day_market(INDICATORS, TAPE).row(0, named=True)
    assert market["variance_per_s"] == pytest.approx(VARIANCE_PER_S)
    assert market["daily_volatility_bps"] == pytest.approx(
        math.sqrt(VARIANCE_PER_S * SESSION_SECONDS)
    )
    assert market["day_volume"] == TAPE["size"].sum()


def test_timing_risk_is_sigma_root_t_over_three():
    out = pl.select(risk=timing_risk_bps(pl.lit(2.0), pl.lit(150.0))).item()
    assert out == pytest.approx(math.sqrt(2.0 * 150 / 3))  # 10 bps


def test_pretrade_vs_realised_by_hand_for_both_sides():
    orders = order_tca(ORDERS.with_columns(urgency=pl.lit("LOW")), FILLS, QUOTES, TAPE)
    assessments = pl.DataFrame(
        {"order_id": ["O1", "O2", "O3"], "expected_cost_bps": [2.0, 2.0, 2.0]}
    )
    market = symbol_day_market(INDICATORS, TAPE)
    table = pretrade_vs_realised(orders, assessments, market, cuts=(50_000.0, 200_000.0))
    rows = {r["order_id"]: r for r in table.iter_rows(named=True)}
    realised = dict(zip(orders["order_id"], orders["arrival_cost_bps"], strict=True))
    risk = math.sqrt(VARIANCE_PER_S * 25 / 3)  # O1 and O2 run from 5 s to 30 s
    for order_id in ("O1", "O2"):  # a BUY and a SELL: arrival cost is signed by side already
        row = rows[order_id]
        assert row["surprise_bps"] == pytest.approx(realised[order_id] - 2.0)
        assert row["duration_s"] == pytest.approx(25.0)
        assert row["timing_risk_bps"] == pytest.approx(risk)
        assert row["scaled_surprise"] == pytest.approx((realised[order_id] - 2.0) / risk)
    assert rows["O1"]["scaled_surprise"] > 0 > rows["O2"]["scaled_surprise"]
    assert rows["O3"]["surprise_bps"] is None and rows["O3"]["scaled_surprise"] is None
    # Q·Pd: O1 99,900 and O2 50,050 in [50000, 200000), O3 10,000 in [0, 50000)
    assert [rows[o]["size_bucket_order"] for o in ("O1", "O2", "O3")] == [1, 1, 0]
    assert rows["O3"]["size_bucket"] == "[0, 50000)"


def _pretrade(rows) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema=[
            "order_id", "algo", "broker", "urgency", "size_bucket", "size_bucket_order",
            "notional", "expected_cost_bps", "arrival_cost_bps", "surprise_bps",
            "scaled_surprise",
        ],
        orient="row",
    )  # fmt: skip


def test_calibration_by_hand():
    """Algo A: notional 1, 1, 2, surprise 1, 2, 4 → bias (1 + 2 + 8)/4 = 2.75; weighted
    variance (1.75² + 0.75² + 2·1.25²)/4 = 1.6875, n_eff = 4²/6 → se = √(1.6875·6/16);
    z 0.5, 2.5, −1 → mean 2/3, share within ±1.96 = 2/3."""
    pretrade = _pretrade(
        [
            ("O1", "A", "X", "LOW", "[1000000, inf)", 3, 1.0, 5.0, 6.0, 1.0, 0.5),
            ("O2", "A", "X", "LOW", "[0, 50000)", 0, 1.0, 5.0, 7.0, 2.0, 2.5),
            ("O3", "A", "X", "LOW", "[200000, 1000000)", 2, 2.0, 6.0, 10.0, 4.0, -1.0),
            ("O4", "B", "X", "LOW", "[0, 50000)", 0, 1.0, 5.0, None, None, None),
        ]
    )
    table = pretrade_calibration(pretrade, window_start=DAY, window_end=DAY, trade_date=DAY)
    algo_a = table.filter(dimension="algo", group="A").row(0, named=True)
    assert algo_a["n_orders"] == 3  # O4 has no realised cost
    assert algo_a["bias_bps"] == pytest.approx(2.75)
    assert algo_a["mean_expected_bps"] == pytest.approx((5 + 5 + 12) / 4)
    assert algo_a["mean_realised_bps"] == pytest.approx((6 + 7 + 20) / 4)
    se = math.sqrt(1.6875 * 6 / 16)
    assert algo_a["bias_std_error"] == pytest.approx(se)
    assert algo_a["bias_ci_low"] == pytest.approx(2.75 - 1.959963984540054 * se)
    assert algo_a["mean_z"] == pytest.approx(2 / 3)
    assert algo_a["share_within_1_96"] == pytest.approx(2 / 3)
    assert table.filter(dimension="algo")["group"].to_list() == ["A"]
    buckets = table.filter(dimension="size_bucket")
    # Sorted by size, not as strings ("[1000000, inf)" < "[200000, ...)" as text).
    assert buckets["group"].to_list() == ["[0, 50000)", "[200000, 1000000)", "[1000000, inf)"]
    assert buckets["group_order"].to_list() == [0, 2, 3]
    assert set(table["window_end"]) == {DAY} and isinstance(table["trade_date"][0], dt.date)


def test_a_negative_surprise_is_a_negative_bias():
    pretrade = _pretrade([("O1", "A", "X", "LOW", "[0, 50000)", 0, 1.0, 5.0, 2.0, -3.0, -1.5)])
    row = pretrade_calibration(pretrade, window_start=DAY, window_end=DAY, trade_date=DAY).row(
        0, named=True
    )
    assert row["bias_bps"] == -3.0 and row["mean_z"] == -1.5
