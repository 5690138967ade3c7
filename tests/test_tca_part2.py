"""TCA a desk can trust, part 2: own prints, breakdowns, reversion, pooled impact split,
Rule 605 / 606 tables and the daily report. Hand-computed cases on the tiny market of
test_tca_formulas (both sides), and the simulator's ground truth."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from analytics_platform.calendar import trading_days
from analytics_platform.marketdata.simulator import (
    TRANSIENT_DECAY_S,
    SimulationConfig,
    simulate_day,
)
from analytics_platform.tca import fill_tca, order_tca, quote_book
from analytics_platform.tca.breakdowns import order_breakdowns
from analytics_platform.tca.daily import daily_report, markout_curves
from analytics_platform.tca.execution_quality import routing, rule_605, rule_605_by_symbol
from analytics_platform.tca.own_prints import match_own_prints
from analytics_platform.tca.reversion import fill_markouts, horizon_seconds, impact_split
from tests.test_tca_formulas import DAY, FILLS, ORDERS, QUOTES, TAPE, at

# ------------------------------------------------------------------ own prints


def _own_tape() -> tuple[pl.DataFrame, pl.DataFrame]:
    """E3 is a dark fill (prints on FINRA 3 s late), E2 prints 0.5 s late; a market print of
    E1's size and price 10 s later is not ours."""
    fills = FILLS.with_columns(
        venue=pl.when(pl.col("exec_id") == "E3").then(pl.lit("DARK")).otherwise(pl.col("venue"))
    )
    extra = pl.DataFrame(
        {
            "ts": [at(10), at(25.5), at(15), at(20)],
            "symbol": "AAA",
            "price": [100.05, 100.25, 100.00, 100.05],
            "size": [400, 400, 500, 400],
            "venue": ["XNYS", "XNYS", "FINRA", "XNYS"],
            "seq": [6, 7, 8, 9],
            "trade_date": DAY,
        }
    ).with_columns(pl.col("ts").cast(TAPE["ts"].dtype))
    return fills, pl.concat([TAPE, extra]).sort("ts")


def test_own_prints_are_matched_by_price_size_venue_and_time():
    fills, tape = _own_tape()
    matched = match_own_prints(tape, fills)
    own = matched.filter("is_own").sort("ts")
    assert own["own_exec_id"].to_list() == ["E1", "E3", "E2"]
    assert matched.filter(pl.col("ts") == at(20))["is_own"].to_list() == [False]  # the decoy
    # Beyond the tolerance nothing matches.
    late = tape.with_columns(ts=pl.col("ts") + dt.timedelta(seconds=11))
    assert match_own_prints(late, fills)["is_own"].sum() == 0


def test_vwap_and_participation_ex_own_by_hand_for_both_sides():
    fills, tape = _own_tape()
    orders = order_tca(ORDERS, fills, QUOTES, tape)
    o1 = orders.filter(pl.col("order_id") == "O1").row(0, named=True)
    o2 = orders.filter(pl.col("order_id") == "O2").row(0, named=True)
    # Window [5 s, 30 s]: market prints 200@100.00, 300@100.10, 500@100.20, decoy 400@100.05;
    # ours 400@100.05, 400@100.25, 500@100.00.
    ex_own = (20000 + 30030 + 50100 + 40020) / 1400
    with_own = (20000 + 30030 + 50100 + 40020 + 40020 + 40100 + 50000) / 2700
    assert o1["interval_vwap"] == pytest.approx(with_own)
    assert o1["interval_vwap_ex_own"] == pytest.approx(ex_own)
    assert o1["participation_rate"] == pytest.approx(800 / 2700)
    assert o1["participation_ex_own"] == pytest.approx(800 / 1400)
    assert o1["vwap_cost_bps"] == pytest.approx(1e4 * (100.15 - with_own) / with_own)
    assert o1["vwap_ex_own_cost_bps"] == pytest.approx(1e4 * (100.15 - ex_own) / ex_own)
    assert o2["vwap_ex_own_cost_bps"] == pytest.approx(-1e4 * (100.00 - ex_own) / ex_own)
    assert o2["vwap_cost_bps"] == pytest.approx(-1e4 * (100.00 - with_own) / with_own)
    # No fill: the order's window holds no print of ours either way.
    o3 = orders.filter(pl.col("order_id") == "O3").row(0, named=True)
    assert o3["interval_vwap_ex_own"] is None and o3["participation_ex_own"] is None


HISTORY = SimulationConfig(n_symbols=20, n_quotes=100_000, n_orders=500, seed=5)
NO_ALPHA = SimulationConfig(
    n_symbols=20, n_quotes=100_000, n_orders=500, seed=5, strategies=("EVENT_DRIVEN",)
)
DAYS = trading_days(dt.date(2026, 10, 1), DAY)[-20:]


def _history(cfg: SimulationConfig, days: list[dt.date]) -> list:
    opening, out = None, []
    for day in days:
        sim = simulate_day(day, cfg, opening)
        opening = sim.closing
        out.append(sim)
    return out


def _weighted(frame: pl.DataFrame, column: str) -> float:
    w = pl.col("quantity") * pl.col("decision_px")
    known = frame.filter(pl.col(column).is_not_null())
    return known.select((pl.col(column) * w).sum() / w.sum()).item()


@pytest.fixture(scope="module")
def history_orders():
    days = _history(HISTORY, DAYS[-10:])
    matched = [match_own_prints(s.market_trades, s.executions) for s in days]
    orders = [
        order_tca(s.orders, s.executions, quote_book(s.quotes), s.market_trades) for s in days
    ]
    return days, matched, pl.concat(orders)


def test_every_simulated_fill_is_found_on_the_tape(history_orders):
    days, matched, _ = history_orders
    for sim, tape in zip(days, matched, strict=True):
        own = tape.filter("is_own").join(
            sim.executions.select("exec_id", "ts", "price", "quantity"),
            left_on="own_exec_id",
            right_on="exec_id",
        )
        assert own.height == sim.executions.height
        assert (own["ts"] == own["ts_right"]).all() and (own["size"] == own["quantity"]).all()


def test_ex_own_vwap_cost_is_higher_above_20_percent_participation(history_orders):
    """Including our prints pulls the benchmark toward our own price: P̄ − VWAP = (1 − ρ)·
    (P̄ − VWAP_ex_own) for an order alone in its window, so the measured cost shrinks by the
    participation. Above 20 % participation the ex-own cost is the larger one."""
    _, _, orders = history_orders
    high = orders.filter(pl.col("participation_rate") > 0.20)
    incl, excl = _weighted(high, "vwap_cost_bps"), _weighted(high, "vwap_ex_own_cost_bps")
    print(f"\nabove 20% participation ({high.height} orders): incl {incl:.2f}, excl {excl:.2f}")
    assert high.height >= 50
    assert abs(excl) > abs(incl)
    magnitude = high.select(
        (pl.col("vwap_ex_own_cost_bps").abs() >= pl.col("vwap_cost_bps").abs()).mean()
    ).item()
    assert magnitude > 0.8


# ------------------------------------------------------------------ breakdowns


def test_breakdowns_by_hand_for_both_sides():
    orders = order_tca(ORDERS, FILLS, QUOTES, TAPE).with_columns(urgency=pl.lit("HIGH"))
    adv = pl.DataFrame({"symbol": ["AAA"], "adv": [100_000.0]})
    table = order_breakdowns(orders, adv, DAY, dimensions=("urgency", "size_adv", "order_type"))
    row = table.filter(pl.col("dimension") == "urgency").row(0, named=True)
    o = orders.sort("order_id").rows_by_key("order_id", named=True, unique=True)
    o1, o2, o3 = o["O1"], o["O2"], o["O3"]
    w1, w2 = 800 * o1["arrival_mid"], 500 * o2["arrival_mid"]
    assert row["n_orders"] == 3 and row["n_filled"] == 2
    assert row["cost_bps"] == pytest.approx(
        (o1["arrival_cost_bps"] * w1 + o2["arrival_cost_bps"] * w2) / (w1 + w2)
    )
    # Dollars: BUY 800 at 100.15 against P0, SELL 500 at 100.00 against P0.
    dollars = 800 * (100.15 - o1["arrival_mid"]) - 500 * (100.00 - o2["arrival_mid"])
    assert row["dollar_cost"] == pytest.approx(dollars)
    assert row["cost_ci_low"] <= row["cost_bps"] <= row["cost_ci_high"]
    # Opportunity: O1 leaves 200 shares, O3 all 100: s·(Q − X)·(Pn − P0).
    opportunity = 200 * (o1["end_mid"] - o1["arrival_mid"]) + 100 * (
        o3["end_mid"] - o3["arrival_mid"]
    )
    assert row["opportunity_dollars"] == pytest.approx(opportunity)
    assert row["unfilled_shares"] == 300
    sizes = table.filter(pl.col("dimension") == "size_adv").sort("bucket_order")
    # Q/ADV: 1000 → 1 % ([1%, 5%)), 500 → 0.5 % ([0.5%, 1%)), 100 → 0.1 % ([0.1%, 0.5%)).
    assert sizes["bucket"].to_list() == ["[0.1%, 0.5%)", "[0.5%, 1%)", "[1%, 5%)"]
    assert sizes["bucket_order"].to_list() == [1, 2, 3]


# ------------------------------------------------------------------ reversion


def test_markouts_before_and_after_the_fill_by_hand():
    markouts = fill_markouts(FILLS, QUOTES, horizons=("-5s", "0s", "5s"))
    by = {(r["exec_id"], r["horizon_s"]): r["markout_bps"] for r in markouts.iter_rows(named=True)}
    # E1 BUY 100.05 at 10 s: M(5) = M(10) = 100.00 (strictly before), M(15) = 100.10.
    assert by["E1", -5] == pytest.approx(1e4 * (100.00 - 100.05) / 100.05)
    assert by["E1", 0] == pytest.approx(1e4 * (100.00 - 100.05) / 100.05)
    assert by["E1", 5] == pytest.approx(1e4 * (100.10 - 100.05) / 100.05)
    # E3 SELL 100.00 at 12 s: M(7) = 100.00, M(12) = M(17) = 100.10.
    assert by["E3", -5] == pytest.approx(0.0)
    assert by["E3", 5] == pytest.approx(-1e4 * (100.10 - 100.00) / 100.00)
    assert [horizon_seconds(h) for h in ("-60s", "0s", "5m", "1h")] == [-60, 0, 300, 3600]


def test_horizons_and_buckets_sort_numerically():
    fills = fill_tca(FILLS, ORDERS, QUOTES, horizons=("10s", "1s", "30s", "5s"))
    curves = markout_curves(fills, DAY)
    assert curves["horizon"].to_list() == ["1s", "5s", "10s", "30s"]
    orders = order_tca(ORDERS, FILLS, QUOTES, TAPE)
    table = rule_605(fills, orders, DAY, cuts=(50_000.0, 200_000.0, 1_000_000.0))
    assert table["bucket_order"].to_list() == sorted(table["bucket_order"].to_list())


def _true_split(sim) -> pl.DataFrame:
    """Per order, from the generating model: permanent = the order's permanent increments plus
    its transient impact not yet decayed at end_ts + 300 s; arrival = the noise-free cost against
    P0 (fill cost against the quoted mid plus the order's own impact in that mid)."""
    fills = sim.ground_truth_fills.join(
        sim.executions.select("exec_id", "ts", "quantity"), on="exec_id"
    ).join(sim.orders.select("order_id", "end_ts"), on="order_id")
    elapsed = (pl.col("end_ts") - pl.col("ts")).dt.total_nanoseconds() / 1e9 + 300
    arrival = (
        pl.col("cost_vs_quoted_mid_bps")
        + pl.col("permanent_impact_bps")
        + pl.col("temporary_impact_bps")
        - pl.col("own_fill_impact_bps")
    )
    return fills.group_by("order_id").agg(
        true_permanent=pl.col("permanent_increment_bps").sum()
        + (pl.col("transient_jump_bps") * (-elapsed / TRANSIENT_DECAY_S).exp()).sum(),
        true_arrival=(arrival * pl.col("quantity")).sum() / pl.col("quantity").sum(),
    )


def test_pooled_impact_split_against_the_simulators_truth():
    """Identified where decisions carry no alpha (EVENT_DRIVEN: no skill) and fills are not
    selected by price (market orders): pooled over 20 days the split is near the truth; per
    order the measured split is barely correlated with the truth."""
    sims = _history(NO_ALPHA, DAYS)
    orders = pl.concat(
        order_tca(s.orders, s.executions, quote_book(s.quotes), s.market_trades)
        .filter(pl.col("order_type") == "MARKET")
        .join(_true_split(s), on="order_id", how="left")
        for s in sims
    ).with_columns(true_temporary=pl.col("true_arrival") - pl.col("true_permanent"))
    split = impact_split(orders, window_start=DAYS[0], window_end=DAYS[-1], trade_date=DAYS[-1])
    pooled = split.filter(pl.col("dimension") == "all").row(0, named=True)
    known = orders.filter(pl.col("permanent_impact_bps").is_not_null())
    w = pl.col("executed_quantity") * pl.col("arrival_mid")
    truth = known.select(
        permanent=(pl.col("true_permanent") * w).sum() / w.sum(),
        temporary=(pl.col("true_temporary") * w).sum() / w.sum(),
    ).row(0, named=True)
    corr_perm = np.corrcoef(known["permanent_impact_bps"], known["true_permanent"])[0, 1]
    corr_temp = np.corrcoef(known["temporary_impact_bps"], known["true_temporary"])[0, 1]
    print(
        f"\npooled permanent {pooled['permanent_bps']:.2f} ± {pooled['permanent_std_error']:.2f}"
        f" (true {truth['permanent']:.2f}), temporary {pooled['temporary_bps']:.2f}"
        f" ± {pooled['temporary_std_error']:.2f} (true {truth['temporary']:.2f});"
        f" per-order correlation permanent {corr_perm:.3f}, temporary {corr_temp:.3f}"
        f" ({known.height} orders)"
    )
    # Permanent: the truth lies in the 95 % interval. Temporary: within 3 standard errors
    # (measured about 2.8 below the truth on this history; docs/tca.md states the gap).
    assert pooled["permanent_ci_low"] <= truth["permanent"] <= pooled["permanent_ci_high"]
    gap = abs(pooled["temporary_bps"] - truth["temporary"])
    assert gap <= 3 * pooled["temporary_std_error"]
    assert abs(corr_perm) < 0.3 and abs(corr_temp) < 0.3


# ------------------------------------------------------------------ Rule 605 / 606


def test_rule_605_by_symbol_by_hand():
    quotes = QUOTES.with_columns(ask_sz=pl.lit(300), bid_sz=pl.lit(300))
    fills = fill_tca(FILLS.with_columns(price=pl.Series([100.01, 100.02, 99.98])), ORDERS, quotes)
    orders = order_tca(ORDERS, FILLS, quotes, TAPE)
    table = rule_605_by_symbol(fills, orders, DAY)
    assert table["size_category"].to_list() == ["[100, 500) shares", "[500, 2000) shares"]
    row = table.row(1, named=True)
    # O1 BUY 1000 and O2 SELL 500. E1 100.01 at 10 s against the 0 s ask 100.02: inside by
    # 0.01; E2 100.02 at 25 s against the 20 s ask 100.22: inside by 0.20; E3 SELL 99.98 at 12 s
    # against the 10 s bid 100.08: outside.
    assert (row["covered_orders"], row["shares"]) == (2, 1300)
    assert (row["shares_inside_quote"], row["shares_at_quote"], row["shares_outside_quote"]) == (
        800, 0, 500,
    )  # fmt: skip
    assert row["avg_price_improvement"] == pytest.approx((400 * 0.01 + 400 * 0.20) / 800)
    # 400 shares against 300 displayed, twice (the outside fill does not count).
    assert row["size_improved_shares"] == 200
    # From arrival (5 s): E1 5 s, E3 7 s, E2 20 s.
    assert (row["shares_exec_0_9s"], row["shares_exec_10_29s"]) == (900, 400)
    assert table.row(0, named=True)["covered_orders"] == 1  # O3, unfilled, still counts


def test_routing_shares_and_fees():
    fills = fill_tca(FILLS.with_columns(venue=pl.Series(["XNYS", "ARCX", "XNYS"])), ORDERS, QUOTES)
    orders = order_tca(ORDERS, FILLS, QUOTES, TAPE)
    table = routing(fills, orders, DAY).filter(pl.col("order_type") == "ALL")
    by = table.rows_by_key("venue", named=True, unique=True)
    assert by["XNYS"]["shares"] == 900 and by["ARCX"]["shares"] == 400
    assert by["XNYS"]["share_of_shares"] == pytest.approx(900 / 1300)
    assert by["XNYS"]["net_fees"] == pytest.approx(1.2 + 1.5)
    assert by["XNYS"]["net_fee_mils_per_share"] == pytest.approx(1e3 * 2.7 / 900)
    assert table["share_of_notional"].sum() == pytest.approx(1.0)


# ------------------------------------------------------------------ the daily report


def test_daily_report_adds_dollars_window_breakdowns_and_top_outliers():
    fills = fill_tca(FILLS, ORDERS, QUOTES)
    orders = order_tca(ORDERS, FILLS, QUOTES, TAPE)
    found = pl.DataFrame(
        {
            "kind": ["cost_beyond_expectation"] * 2 + ["fill_outside_nbbo"],
            "id": ["O1", "O2", "E1"],
            "order_id": ["O1", "O2", "O1"],
            "symbol": "AAA",
            "value_bps": [20.0, 30.0, 1.0],
            "expected_bps": [1.0, 2.0, None],
            "z_score": [3.5, -6.0, None],
            "detail": ["a", "b", "c"],
            "trade_date": DAY,
        }
    )
    report = daily_report(fills, orders, found, DAY).row(0, named=True)
    assert report["outliers"] == 2  # the existing columns stay
    o = orders.rows_by_key("order_id", named=True, unique=True)
    dollars = 800 * (100.15 - o["O1"]["arrival_mid"]) - 500 * (100.00 - o["O2"]["arrival_mid"])
    assert report["arrival_cost_dollars"] == pytest.approx(dollars)
    assert report["arrival_cost_ci_low"] <= report["arrival_cost_bps"]
    assert report["window_arrival_cost_bps"] == pytest.approx(report["arrival_cost_bps"])
    assert report["arrival_cost_vs_window_bps"] == pytest.approx(0.0)
    assert [r["order_id"] for r in report["top_outliers"]] == ["O2", "O1"]  # by |z|
    assert [r["bucket"] for r in report["by_algo"]] == ["VWAP"]
    assert {r["bucket"] for r in report["by_venue"]} == {"XNYS"}
    assert report["by_algo"][0]["dollar_cost"] == pytest.approx(dollars)
