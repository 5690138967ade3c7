"""Each best-execution rule by hand on a small frame: a violating case and a clean one."""

import datetime as dt

import polars as pl
import pytest

from analytics_platform.compliance import (
    EXCEPTIONS,
    RULES,
    costs_beyond_estimate,
    daily_exceptions,
    exceptions_report,
    persistently_worse,
    rule_outcomes,
    trade_throughs,
    trading_after_risk_violations,
)

DAY = dt.date(2026, 11, 20)
T0 = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)


def _fills(rows: list[tuple]) -> pl.DataFrame:
    """(exec_id, order_id, side, price, bid, ask, seconds after T0)"""
    return pl.DataFrame(
        [
            {
                "exec_id": e, "order_id": o, "symbol": "ABC", "side": s, "quantity": 100,
                "price": p, "venue": "XNAS", "bid_at_fill": b, "ask_at_fill": a,
                "mid_at_fill": (b + a) / 2, "ts": T0 + dt.timedelta(seconds=t), "trade_date": DAY,
            }
            for e, o, s, p, b, a, t in rows
        ]
    )  # fmt: skip


def test_trade_through_flags_fills_beyond_the_far_side_by_more_than_the_tolerance():
    fills = _fills(
        [
            ("E1", "O1", "BUY", 100.05, 99.98, 100.02, 0),  # 3c over the ask: ~3 bps
            ("E2", "O2", "SELL", 99.96, 99.98, 100.02, 0),  # 2c under the bid
            ("E3", "O3", "BUY", 100.02, 99.98, 100.02, 0),  # at the ask: clean
            ("E4", "O4", "BUY", 100.025, 99.98, 100.02, 0),  # within one tick: clean
        ]
    )
    found = trade_throughs(fills)  # one tick
    assert found["order_id"].to_list() == ["O1", "O2"]
    assert found.filter(pl.col("order_id") == "O1")["value"].item() == pytest.approx(3.0, abs=1e-6)
    assert "NBBO 99.98 x 100.02" in found["evidence"][0]
    # In bps of the mid: 2.5 bps lets O2 (2 bps) through, not O1 (3 bps).
    assert trade_throughs(fills, tolerance_bps=2.5)["order_id"].to_list() == ["O1"]


def test_trade_through_is_clean_inside_the_quote_and_without_a_quote():
    fills = _fills([("E1", "O1", "BUY", 100.0, 99.98, 100.02, 0)])
    quote = ("bid_at_fill", "ask_at_fill", "mid_at_fill")
    no_quote = fills.with_columns(pl.lit(None, pl.Float64).alias(c) for c in quote)
    assert trade_throughs(fills).is_empty()
    assert trade_throughs(no_quote).is_empty()


def _pretrade(z: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(len(z))],
            "symbol": "ABC", "side": "BUY", "algo": "VWAP", "broker": "B1",
            "expected_cost_bps": 5.0, "timing_risk_bps": 10.0,
            "arrival_cost_bps": [None if v is None else 5.0 + 10.0 * v for v in z],
            "scaled_surprise": z,
            "trade_date": DAY,
        }
    )  # fmt: skip


def test_cost_beyond_estimate_flags_only_costs_above_k_timing_risks():
    found = costs_beyond_estimate(_pretrade([4.5, 3.9, -6.0, None]), k_sigma=4.0)
    assert found["order_id"].to_list() == ["O0"]
    assert found["value"].item() == 4.5 and found["threshold"].item() == 4.0
    assert "realised 50.0 bps vs expected 5.0 bps" in found["evidence"].item()
    assert costs_beyond_estimate(_pretrade([1.0, -8.0]), k_sigma=4.0).is_empty()


def _violations(severity: str, seconds: int, portfolio: str = "P1") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "violation_id": ["RV1"], "ts": [T0 + dt.timedelta(seconds=seconds)],
            "portfolio_id": [portfolio], "symbol": ["ABC"], "rule": ["MAX_POSITION"],
            "limit_value": [0.05], "observed_value": [0.06], "severity": [severity],
            "trade_date": [DAY],
        }
    )  # fmt: skip


ORDERS = pl.DataFrame({"order_id": ["O1", "O2"], "portfolio_id": ["P1", "P2"]})


def test_trading_after_a_breach_names_the_order_the_violation_and_the_shares():
    fills = _fills(
        [
            ("E1", "O1", "BUY", 100.0, 99.98, 100.02, 5),  # before the breach at +10 s
            ("E2", "O1", "BUY", 100.0, 99.98, 100.02, 20),
            ("E3", "O1", "BUY", 100.0, 99.98, 100.02, 30),
            ("E4", "O2", "BUY", 100.0, 99.98, 100.02, 30),  # another portfolio: clean
        ]
    )
    found = trading_after_risk_violations(fills, ORDERS, _violations("BREACH", 10))
    assert found["order_id"].to_list() == ["O1"]
    assert found["value"].item() == 200.0
    assert "BREACH MAX_POSITION RV1" in found["evidence"].item()


def test_trading_before_a_breach_or_after_a_warning_is_clean():
    fills = _fills([("E1", "O1", "BUY", 100.0, 99.98, 100.02, 5)])
    assert trading_after_risk_violations(fills, ORDERS, _violations("BREACH", 10)).is_empty()
    later = _fills([("E1", "O1", "BUY", 100.0, 99.98, 100.02, 50)])
    assert trading_after_risk_violations(later, ORDERS, _violations("WARNING", 10)).is_empty()


def _effects(verdicts: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "entity": list(verdicts), "baseline": "XNAS",
            "effect_bps": [3.0 if v == "worse" else -1.0 for v in verdicts.values()],
            "ci_low": 1.0, "ci_high": 5.0, "p_value_holm": 0.001, "n_orders": 40,
            "n_fills": 400, "verdict": list(verdicts.values()),
            "window_start": dt.date(2026, 10, 23), "window_end": DAY, "trade_date": DAY,
        }
    )  # fmt: skip


def test_persistently_worse_names_the_venue_or_algo_and_its_effect():
    found = persistently_worse(
        {
            "venue": _effects({"XNAS": "baseline", "EDGX": "worse", "BATS": "not significant"}),
            "algo": _effects({"VWAP": "better"}),
        }
    )
    assert found.select("subject_type", "subject").rows() == [("venue", "EDGX")]
    assert "vs baseline XNAS" in found["evidence"].item()
    assert persistently_worse({"algo": _effects({"VWAP": "better", "TWAP": "baseline"})}).is_empty()


def test_the_day_conforms_to_the_contract_and_each_rule_reports_a_check():
    fills = _fills([("E1", "O1", "BUY", 100.05, 99.98, 100.02, 20)])
    found = daily_exceptions(
        fills=fills,
        orders=ORDERS,
        pretrade=_pretrade([5.0]),
        violations=_violations("BREACH", 10),
        effects={"venue": _effects({"EDGX": "worse"})},
        trade_date=DAY,
    )
    assert EXCEPTIONS.conform(found).collect().height == 4
    assert set(found["rule"]) == set(RULES)
    assert found["exception_id"].is_unique().all()
    outcomes = {o.name: o for o in rule_outcomes(found)}
    assert set(outcomes) == set(RULES) and not any(o.passed for o in outcomes.values())
    assert all(o.passed for o in rule_outcomes(found.clear()))
    report = exceptions_report(found, DAY)
    assert report.startswith("# Best-execution exceptions, 2026-11-20")
    assert "## trade_through (1)" in report
