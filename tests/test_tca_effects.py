"""Venue, algo and broker effects: the cost measure by hand (both sides, every fill type), the
regression's exact recovery on a known design, CR1 errors against a direct computation, Holm by
hand, and the simulator's ground truth over a 20-day history."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from analytics_platform.calendar import session, trading_days
from analytics_platform.marketdata.simulator import (
    ALGO_EFFECT_BPS,
    BROKER_EFFECT_BPS,
    INSIDE_OFFSET_BPS,
    VENUE_EFFECT_BPS,
    SimulationConfig,
    simulate_day,
)
from analytics_platform.regression import cr1_covariance, holm, ols
from analytics_platform.tca import fill_tca, order_tca, quote_book
from analytics_platform.tca.effects import (
    cost_vs_reference_bps,
    effects_sample,
    entity_effects,
    fill_type,
)
from analytics_platform.tca.pretrade import pretrade_vs_realised, symbol_day_market

DAY = dt.date(2026, 11, 20)


def test_cost_against_the_reference_quote_by_hand_for_both_sides():
    """Quote 99.98 / 100.02 (mid 100): aggressive fills against the far side, passive against
    the near side, dark against the mid; positive = paid more than the reference."""
    fills = pl.DataFrame(
        {
            "side": ["BUY", "SELL", "BUY", "SELL", "BUY", "SELL"],
            "venue": ["XNAS", "XNAS", "BATS", "BATS", "DARK", "DARK"],
            "liquidity": ["REMOVE", "REMOVE", "ADD", "ADD", "ADD", "ADD"],
            "price": [100.03, 99.97, 99.99, 100.01, 99.99, 99.99],
            "bid_at_fill": [99.98] * 6,
            "ask_at_fill": [100.02] * 6,
            "mid_at_fill": [100.0] * 6,
        }
    )
    out = fills.select(kind=fill_type(), cost=cost_vs_reference_bps())
    assert out["kind"].to_list() == ["lit_aggressive"] * 2 + ["lit_passive"] * 2 + ["dark"] * 2
    # BUY 1 cent above the ask, SELL 1 cent below the bid: both 1 bp worse than the far side.
    # Passive BUY 1 cent above the bid, SELL 1 cent below the ask: 1 bp given up.
    # Dark BUY 1 cent below the mid: 1 bp better; dark SELL 1 cent below the mid: 1 bp worse.
    assert out["cost"].to_list() == pytest.approx([1.0, 1.0, 1.0, 1.0, -1.0, 1.0])


# ------------------------------------------------------------------ a known design, by hand

VENUES = {"XNAS": 0.0, "BATS": -0.5, "XNYS": 0.75, "DARK": -2.0}
ALGOS = {"VWAP": 0.0, "IS": -1.0, "POV": 2.0}
BROKERS = {"BRKA": 0.0, "BRKB": 1.5}
AGGRESSIVE_LEVEL = -3.0  # against a resting lit fill


def _design(seed: int, noise_bps: float):
    """60 orders of 2–6 fills whose cost against the reference is exactly the entities' effects
    plus the aggressive level (plus noise), every other control varying freely."""
    rng = np.random.default_rng(seed)
    n_orders = 60
    order_ids = [f"O{i:03d}" for i in range(n_orders)]
    # Every algo, broker and urgency appears; the first of each is the most frequent.
    algos = np.array(["VWAP", "VWAP", "IS", "POV"])[np.arange(n_orders) % 4]
    brokers = np.array(["BRKA", "BRKA", "BRKB"])[np.arange(n_orders) % 3]
    urgency = np.array(["MEDIUM", "MEDIUM", "LOW", "HIGH"])[rng.permutation(n_orders) % 4]
    counts = 2 + rng.integers(0, 5, n_orders)
    order_of_fill = np.repeat(np.arange(n_orders), counts)
    n = len(order_of_fill)
    venue = np.array(["XNAS", "XNAS", "BATS", "XNYS", "DARK"])[rng.integers(0, 5, n)]
    aggressive = (venue != "DARK") & (rng.uniform(size=n) < 0.5)
    side = np.where(rng.uniform(size=n_orders) < 0.5, "BUY", "SELL")[order_of_fill]
    s = np.where(side == "BUY", 1.0, -1.0)
    mid = 50 + 10 * rng.uniform(size=n)
    half = mid * rng.uniform(1, 5, n) / 1e4
    bid, ask = mid - half, mid + half
    cost = (
        np.vectorize(VENUES.get)(venue)
        + np.vectorize(ALGOS.get)(algos[order_of_fill])
        + np.vectorize(BROKERS.get)(brokers[order_of_fill])
        + np.where(aggressive, AGGRESSIVE_LEVEL, 0.0)
        + rng.normal(0, noise_bps, n)
    )
    reference = np.where(venue == "DARK", mid, np.where(aggressive == (side == "BUY"), ask, bid))
    price = reference + s * cost * mid / 1e4
    sess = session(DAY)
    ts = pl.Series(
        [sess.open_utc + dt.timedelta(seconds=float(x)) for x in rng.uniform(0, 23_000, n)]
    ).cast(pl.Datetime("ns", "UTC"))
    fills = pl.DataFrame(
        {
            "exec_id": [f"E{i:04d}" for i in range(n)],
            "order_id": np.array(order_ids)[order_of_fill],
            "ts": ts,
            "side": side,
            "quantity": rng.integers(100, 5_000, n),
            "price": price,
            "venue": venue,
            "liquidity": np.where(aggressive, "REMOVE", "ADD"),
            "mid_at_fill": mid,
            "bid_at_fill": bid,
            "ask_at_fill": ask,
            "quoted_spread_bps": 2e4 * half / mid,
            "trade_date": [DAY] * n,
        }
    )
    orders = pl.DataFrame(
        {
            "order_id": order_ids,
            "algo": algos,
            "broker": brokers,
            "urgency": urgency,
            "quantity": rng.integers(10_000, 100_000, n_orders),
            "limit_px": [None] * n_orders,
        },
        schema_overrides={"limit_px": pl.Float64},
    )
    pretrade = pl.DataFrame(
        {
            "order_id": order_ids,
            "daily_volatility_bps": rng.uniform(80, 300, n_orders),
            "day_volume": rng.uniform(1e6, 5e6, n_orders),
        }
    )
    return fills, orders, pretrade


def _effects(noise_bps: float, seed: int = 1) -> dict[str, pl.DataFrame]:
    fills, orders, pretrade = _design(seed, noise_bps)
    return entity_effects(fills, orders, pretrade, window_start=DAY, window_end=DAY, trade_date=DAY)


def test_a_noiseless_design_is_recovered_exactly():
    tables = _effects(noise_bps=0.0)
    for entity, truth, baseline in (
        ("venue", VENUES, "XNAS"),
        ("algo", ALGOS, "VWAP"),
        ("broker", BROKERS, "BRKA"),
    ):
        table = tables[entity]
        assert set(table["baseline"]) == {baseline}
        got = dict(zip(table["entity"], table["effect_bps"], strict=True))
        assert got == pytest.approx(truth, abs=1e-9), entity
        base = table.filter(pl.col("entity") == baseline).row(0, named=True)
        assert base["verdict"] == "baseline" and base["std_error"] == 0.0


def test_counts_and_verdicts():
    fills, orders, _ = _design(1, 0.0)
    tables = _effects(noise_bps=0.5)
    venues = tables["venue"]
    assert venues["n_fills"].sum() == fills.height
    by_venue = fills.group_by("venue").agg(pl.col("order_id").n_unique()).sort("venue")
    assert venues.sort("entity")["n_orders"].to_list() == by_venue["order_id"].to_list()
    verdicts = dict(zip(venues["entity"], venues["verdict"], strict=True))
    assert verdicts == {"XNAS": "baseline", "BATS": "better", "XNYS": "worse", "DARK": "better"}
    brokers = tables["broker"]
    assert brokers["n_orders"].sum() == orders.height


def test_clustered_errors_match_a_direct_computation():
    """The table's std_error is CR1 of the within/between design: rebuilt here with numpy from
    the sample (order means by bincount), the cluster scores summed order by order."""
    fills, orders, pretrade = _design(2, 1.0)
    tables = entity_effects(
        fills, orders, pretrade, window_start=DAY, window_end=DAY, trade_date=DAY
    )
    sample = effects_sample(fills, orders, pretrade)
    _, order_index = np.unique(sample["order_id"].to_numpy(), return_inverse=True)
    fill_count = np.bincount(order_index)

    def order_mean(column: np.ndarray) -> np.ndarray:
        return (np.bincount(order_index, weights=column) / fill_count)[order_index]

    def dummy(column: str, level: str) -> np.ndarray:
        return (sample[column].to_numpy() == level).astype(float)

    fill_level = [dummy("venue", v) for v in ("BATS", "DARK", "XNYS")] + [
        sample[c].to_numpy()
        for c in ("lit_aggressive", "quoted_half_spread_bps", "own_impact_proxy_bps", "time_of_day")
    ]
    order_level = [
        dummy("algo", "IS"),
        dummy("algo", "POV"),
        dummy("broker", "BRKB"),
        dummy("urgency", "HIGH"),
        dummy("urgency", "LOW"),
        sample["log_volatility"].to_numpy(),
        sample["log_size_over_volume"].to_numpy(),
        np.ones(sample.height),
    ]
    x = np.column_stack(
        [c - order_mean(c) for c in fill_level] + [order_mean(c) for c in fill_level] + order_level
    )
    y = sample["cost_bps"].to_numpy()
    coef = np.linalg.solve(x.T @ x, x.T @ y)
    e = y - x @ coef
    n, k = x.shape
    g = len(fill_count)
    meat = sum(
        np.outer(
            x[order_index == i].T @ e[order_index == i], x[order_index == i].T @ e[order_index == i]
        )
        for i in range(g)
    )
    bread = np.linalg.inv(x.T @ x)
    se = np.sqrt(np.diag(g / (g - 1) * (n - 1) / (n - k) * bread @ meat @ bread))
    venues = tables["venue"].sort("entity").filter(pl.col("entity") != "XNAS")
    assert venues["effect_bps"].to_numpy() == pytest.approx(coef[:3], abs=1e-9)
    assert venues["std_error"].to_numpy() == pytest.approx(se[:3], rel=1e-9)
    algos = tables["algo"].sort("entity").filter(pl.col("entity") != "VWAP")
    assert algos["std_error"].to_numpy() == pytest.approx(se[14:16], rel=1e-9)
    brokers = tables["broker"].filter(pl.col("entity") == "BRKB")
    assert brokers["std_error"][0] == pytest.approx(se[16], rel=1e-9)


def test_cr1_by_hand_on_two_clusters_of_two():
    """y = 2, 3, 2, 4 on a constant, clusters {1, 2} and {3, 4}: mean 2.75, residuals −0.75,
    0.25, −0.75, 1.25, cluster score sums −0.5 and 0.5, bread 1/4; with G/(G − 1) = 2 and
    (n − 1)/(n − k) = 1: CR1 = 2·(1/4)²·(0.25 + 0.25) = 0.0625."""
    fit = ols(np.ones((4, 1)), np.array([2.0, 3.0, 2.0, 4.0]))
    assert fit.coef == pytest.approx([2.75])
    covariance = cr1_covariance(fit, np.array(["a", "a", "b", "b"]))
    assert covariance[0, 0] == pytest.approx(0.0625)


def test_holm_by_hand():
    """p = 0.01, 0.04, 0.03, 0.005 → ordered 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06,
    0.04·1 = 0.04 → running max 0.02, 0.03, 0.06, 0.06, back in the input order."""
    assert holm(np.array([0.01, 0.04, 0.03, 0.005])) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm(np.array([0.5, 0.6])) == pytest.approx([1.0, 1.0])  # capped at 1


# ------------------------------------------------------------------ the simulator's truth

HISTORY_CFG = SimulationConfig(n_symbols=20, n_quotes=100_000, n_orders=500, seed=5)


@pytest.fixture(scope="module")
def history_effects():
    days = trading_days(dt.date(2026, 10, 1), DAY)[-20:]
    opening, fills, orders, pretrade = None, [], [], []
    for day in days:
        sim = simulate_day(day, HISTORY_CFG, opening)
        opening = sim.closing
        book = quote_book(sim.quotes)
        fills.append(fill_tca(sim.executions, sim.orders, book, horizons=()))
        orders.append(order_tca(sim.orders, sim.executions, book, sim.market_trades))
        market = symbol_day_market(sim.technical_indicators, sim.market_trades)
        assessments = sim.derived["raw/market_impact_assessments"]
        pretrade.append(pretrade_vs_realised(orders[-1], assessments, market))
    return entity_effects(
        pl.concat(fills),
        pl.concat(orders),
        pl.concat(pretrade),
        window_start=days[0],
        window_end=days[-1],
        trade_date=days[-1],
    )


def true_differences(entity: str, baseline: str) -> dict[str, float]:
    """The simulator's effects against the baseline. The dark venue's fills are all dark and no
    other venue's are, so its estimate also carries the dark fill's level against a resting lit
    fill (the simulator's inside offsets: dark 0, lit ADD +1.0): that is what is identifiable."""
    truth = {"venue": VENUE_EFFECT_BPS, "algo": ALGO_EFFECT_BPS, "broker": BROKER_EFFECT_BPS}
    effects = truth[entity]
    out = {name: value - effects[baseline] for name, value in effects.items()}
    if entity == "venue":
        out["DARK"] += 0.0 - INSIDE_OFFSET_BPS["ADD"]
    return out


@pytest.mark.parametrize("entity", ["venue", "algo", "broker"])
def test_the_simulated_effects_are_recovered(history_effects, entity):
    """Every true difference to the baseline lies in its 95% interval, and the ranking is exact
    wherever two true effects differ by more than two standard errors of their estimates."""
    table = history_effects[entity]
    baseline = table["baseline"][0]
    truth = true_differences(entity, baseline)
    assert set(table["entity"]) == set(truth)
    for row in table.iter_rows(named=True):
        assert row["ci_low"] <= truth[row["entity"]] <= row["ci_high"], row
    rows = table.rows(named=True)
    for a in rows:
        for b in rows:
            gap = truth[a["entity"]] - truth[b["entity"]]
            if gap > 2 * max(a["std_error"], b["std_error"]):
                assert a["effect_bps"] > b["effect_bps"], (a["entity"], b["entity"])
