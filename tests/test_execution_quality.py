"""Rule-605-style table and outliers, hand-computed on the tiny market of test_tca_formulas."""

import polars as pl
import pytest

from analytics_platform.tca import fill_tca, order_tca
from analytics_platform.tca.execution_quality import outliers, rule_605
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


def test_fills_outside_the_nbbo_and_cost_surprises(tca):
    fills, orders = tca
    expectations = pl.DataFrame({"order_id": ["O1", "O2"], "expected_cost_bps": [2.0, 2.0]})
    found = outliers(fills, orders, expectations, k_sigma=0.5)
    outside = found.filter(pl.col("kind") == "fill_outside_nbbo")
    # E1 100.05 > ask 100.02, E2 100.25 > ask 100.22, E3 100.00 < bid 100.08
    assert sorted(outside["id"]) == ["E1", "E2", "E3"]
    surprise = found.filter(pl.col("kind") == "cost_beyond_expectation")
    assert sorted(surprise["id"]) == ["O1", "O2"]  # residuals 13 and -2: |z| = 0.707 each
    assert surprise["z_score"].abs().round(3).to_list() == [0.707, 0.707]
    assert (
        outliers(fills, orders, expectations, k_sigma=3.0)["kind"].to_list()
        == ["fill_outside_nbbo"] * 3
    )
