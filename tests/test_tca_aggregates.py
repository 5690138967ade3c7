import math

import polars as pl
import pytest

from analytics_platform.tca.aggregates import Z95, cost_summary


def test_weighted_not_plain_mean_with_hand_computed_interval():
    frame = pl.DataFrame(
        {
            "venue": ["A", "A", "A", "B"],
            "bps": [10.0, 20.0, None, 5.0],
            "notional": [1.0, 3.0, 9.0, 2.0],
        }
    )
    out = cost_summary(frame, ["venue"], "bps", "notional")
    a = out.filter(pl.col("venue") == "A").row(0, named=True)
    assert a["count"] == 2 and a["notional"] == 4.0  # the null cost is left out
    assert a["weighted_bps"] == pytest.approx((10 * 1 + 20 * 3) / 4)  # 17.5, plain mean is 15
    var = (1 * (10 - 17.5) ** 2 + 3 * (20 - 17.5) ** 2) / 4
    n_eff = 4**2 / (1 + 9)
    se = math.sqrt(var / n_eff)
    assert a["ci95_low_bps"] == pytest.approx(17.5 - Z95 * se)
    assert a["ci95_high_bps"] == pytest.approx(17.5 + Z95 * se)
    assert a["median_bps"] == pytest.approx(15.0)
    assert a["p90_bps"] == pytest.approx(19.0)
    assert a["metric"] == "bps"
    b = out.filter(pl.col("venue") == "B").row(0, named=True)
    assert b["weighted_bps"] == 5.0 and b["ci95_low_bps"] == b["ci95_high_bps"] == 5.0
