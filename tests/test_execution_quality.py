"""Rule-605-style table and outliers, hand-computed on the tiny market of test_tca_formulas."""

import polars as pl
import pytest

from analytics_platform.tca import fill_tca, order_tca
from analytics_platform.tca.daily import daily_report
from analytics_platform.tca.execution_quality import outliers, outside_nbbo_share, rule_605
from analytics_platform.tca.schemas import PRETRADE
from tests.test_tca_formulas import DAY, FILLS, ORDERS, QUOTES, TAPE


@pytest.fixture(scope="module")
def tca():
    return (
        fill_tca(FILLS, ORDERS, QUOTES, horizons=("5s",)),
        order_tca(ORDERS, FILLS, QUOTES, TAPE),
    )


def test_rule_605_buckets_and_share_weighted_averages(tca):
    table = rule_605(*tca, DAY, cuts=(50_000.0, 200_000.0))
    mid = table.filter(pl.col("bucket") == "[50000, 200000)").row(0, named=True)
    small = table.filter(pl.col("bucket") == "[0, 50000)").row(0, named=True)
    assert (mid["order_type"], mid["orders"], mid["shares"]) == ("MARKET", 2, 1300)
    e1, e2, e3 = 10.0, 2e4 * 0.05 / 100.20, 2e4 * 0.10 / 100.10
    assert mid["avg_effective_spread_bps"] == pytest.approx((400 * e1 + 400 * e2 + 500 * e3) / 1300)
    quoted = [1e4 * 0.04 / 100.00, 1e4 * 0.04 / 100.20, 1e4 * 0.04 / 100.10]
    assert mid["effective_over_quoted"] == pytest.approx(
        (400 * e1 + 400 * e2 + 500 * e3) / (400 * quoted[0] + 400 * quoted[1] + 500 * quoted[2])
    )
    assert mid["price_improved_share"] == 0.0 and mid["avg_price_improvement"] is None
    assert mid["avg_time_to_execution_s"] == pytest.approx((400 * 5 + 400 * 20 + 500 * 7) / 1300)
    assert (small["orders"], small["shares"]) == (1, None)  # the unfilled order still counts


def test_fills_outside_the_nbbo_beyond_a_tolerance(tca):
    fills, _ = tca
    no_orders = pl.DataFrame(schema=PRETRADE.polars_schema)
    found = outliers(fills, no_orders)
    # E1 100.05 > ask 100.02, E2 100.25 > ask 100.22 (3 cents), E3 100.00 < bid 100.08 (8 cents):
    # all beyond one tick.
    assert found["kind"].to_list() == ["fill_outside_nbbo"] * 3
    assert sorted(found["id"]) == ["E1", "E2", "E3"]
    # 5 bps of a ~100 mid is 5 cents: only E3 is beyond it.
    assert outliers(fills, no_orders, nbbo_tolerance_bps=5.0)["id"].to_list() == ["E3"]
    # At exactly one tick outside, a fill is within the tolerance.
    at_tick = fills.with_columns(price=pl.col("ask_at_fill") + 0.01).filter(
        pl.col("exec_id") == "E1"
    )
    assert outliers(at_tick, no_orders).is_empty()
    assert outside_nbbo_share(fills, found) == pytest.approx(1.0)


def test_cost_outliers_use_the_scaled_surprise(tca):
    """|z| beyond k, z taken from tca/pretrade (surprise / timing risk), both signs; fills
    outside the NBBO are another kind and do not count as cost outliers in the daily report."""
    fills, orders = tca
    pretrade = pl.DataFrame(
        {
            "order_id": ["O1", "O2", "O3"],
            "symbol": ["AAA"] * 3,
            "arrival_cost_bps": [10.0, -5.0, 3.0],
            "expected_cost_bps": [2.0, 2.0, 2.0],
            "timing_risk_bps": [2.0, 2.0, 1.0],
            "scaled_surprise": [4.0, -3.5, 1.0],
            "trade_date": [DAY] * 3,
        }
    )
    found = outliers(fills, pretrade, k_sigma=3.0)
    costly = found.filter(pl.col("kind") == "cost_beyond_expectation")
    assert costly["id"].to_list() == ["O1", "O2"]
    assert costly["z_score"].to_list() == [4.0, -3.5]
    only_o1 = outliers(fills, pretrade, k_sigma=3.8).filter(
        pl.col("kind") == "cost_beyond_expectation"
    )
    assert only_o1["id"].to_list() == ["O1"]
    report = daily_report(fills, orders, found, DAY).row(0, named=True)
    assert report["outliers"] == 2
    assert report["fills_outside_nbbo_share"] == pytest.approx(1.0)
