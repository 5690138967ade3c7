"""A simulated history: continuity across days, portfolio identities, benchmark drift, impact in
the quotes, determinism, and the world store that chains the days."""

import datetime as dt
import itertools

import numpy as np
import polars as pl
import pytest

from analytics_platform.calendar import previous_trading_day, session, trading_days
from analytics_platform.marketdata.history import WorldStore, simulate
from analytics_platform.marketdata.simulator import (
    GARCH_ALPHA,
    GARCH_BETA,
    REGIME_TRANSITIONS,
    REGIME_VOL_MULT,
    TRANSIENT_DECAY_S,
    SimulationConfig,
    simulate_day,
)

CFG = SimulationConfig(n_symbols=8, n_quotes=40_000, n_orders=120, seed=5)
# Three days inside November, then one across the month end into December.
DAYS = [dt.date(2026, 11, 23), dt.date(2026, 11, 24), dt.date(2026, 11, 25)]


@pytest.fixture(scope="module")
def chain():
    days = []
    opening = None
    for d in DAYS:
        day = simulate_day(d, CFG, opening)
        days.append(day)
        opening = day.closing
    return days


def _side(col: str = "side") -> pl.Expr:
    return pl.when(pl.col(col) == "BUY").then(1).otherwise(-1)


def _closing_mids(day) -> pl.DataFrame:
    """The last non-glitch quote's mid per symbol: what the platform can see as the close."""
    return (
        day.quotes.filter(~pl.col("is_glitch"))
        .group_by("symbol")
        .agg(pl.col("bid_px", "ask_px").sort_by("ts").last())
        .select("symbol", close=(pl.col("bid_px") + pl.col("ask_px")) / 2)
    )


def test_each_day_opens_from_the_previous_close(chain):
    for before, after in itertools.pairwise(chain):
        assert after.opening.equals(before.closing)
        truth_before = before.ground_truth_market.select("symbol", prev="close_log_px")
        truth = after.ground_truth_market.join(truth_before, on="symbol")
        pending = before.closing.symbols.select("symbol", "pending_alpha_log")
        truth = truth.join(pending, on="symbol")
        # open = previous efficient close + overnight move + the alpha still pending at the close
        gap = truth["open_log_px"] - truth["prev"] - truth["overnight_return"]
        np.testing.assert_allclose(gap, truth["pending_alpha_log"], atol=1e-12)
        # Observable: the first quotes of the day sit near the previous close, not at a fresh draw.
        first = (
            after.quotes.filter(~pl.col("is_glitch"))
            .group_by("symbol")
            .agg(pl.col("bid_px", "ask_px").sort_by("ts").first())
            .join(_closing_mids(before), on="symbol")
            .with_columns(move=((pl.col("bid_px") + pl.col("ask_px")) / 2 / pl.col("close")).log())
        )
        assert first["move"].abs().max() < 0.05


def test_positions_carry_over_and_change_only_by_fills(chain):
    for day in chain:
        snap = day.positions
        opening = snap.filter(pl.col("snapshot") == "OPEN").select(
            "portfolio_id", "symbol", open="quantity"
        )
        closing = snap.filter(pl.col("snapshot") == "CLOSE").select(
            "portfolio_id", "symbol", close="quantity"
        )
        traded = (
            day.executions.join(day.orders.select("order_id", "portfolio_id"), on="order_id")
            .group_by("portfolio_id", "symbol")
            .agg(traded=(_side() * pl.col("quantity")).sum())
        )
        book = (
            opening.join(closing, on=["portfolio_id", "symbol"], how="full", coalesce=True)
            .join(traded, on=["portfolio_id", "symbol"], how="full", coalesce=True)
            .fill_null(0)
        )
        assert (book["open"] + book["traded"] == book["close"]).all()
    for before, after in itertools.pairwise(chain):
        carried = before.positions.filter(pl.col("snapshot") == "CLOSE").select(
            "portfolio_id", "symbol", "quantity", "price"
        )
        reopened = after.positions.filter(pl.col("snapshot") == "OPEN").select(
            "portfolio_id", "symbol", "quantity", "price"
        )
        assert carried.sort("portfolio_id", "symbol").equals(
            reopened.sort("portfolio_id", "symbol")
        )


def test_nav_moves_exactly_by_the_days_pnl(chain):
    """NAV(d) = NAV(d-1) + P&L(d), with P&L recomputed from the published events alone:
    the opening book's price change, each fill marked from its price to the close, minus fees."""
    for i, day in enumerate(chain):
        close = _closing_mids(day)
        opening = (
            day.positions.filter(pl.col("snapshot") == "OPEN")
            .join(close, on="symbol")
            .group_by("portfolio_id")
            .agg(carry=(pl.col("quantity") * (pl.col("close") - pl.col("price"))).sum())
        )
        trading = (
            day.executions.join(day.orders.select("order_id", "portfolio_id"), on="order_id")
            .join(close, on="symbol")
            .group_by("portfolio_id")
            .agg(
                trading=(_side() * pl.col("quantity") * (pl.col("close") - pl.col("price"))).sum(),
                fees=pl.col("fee").sum(),
            )
        )
        perf = (
            day.portfolio_performance.join(opening, on="portfolio_id", how="left")
            .join(trading, on="portfolio_id", how="left")
            .fill_null(0.0)
        )
        pnl = perf["carry"] + perf["trading"] - perf["fees_right"]
        np.testing.assert_allclose(perf["nav"] - perf["previous_nav"], pnl, rtol=0, atol=1e-4)
        np.testing.assert_allclose(perf["pnl"], pnl, rtol=0, atol=1e-4)
        np.testing.assert_allclose(perf["fees"], perf["fees_right"], atol=1e-9)
        if i:
            prev = chain[i - 1].portfolio_performance.select("portfolio_id", prev_nav="nav")
            linked = perf.join(prev, on="portfolio_id")
            assert (linked["previous_nav"] == linked["prev_nav"]).all()


def test_benchmark_weights_drift_with_prices_between_rebalances(chain):
    first, second, third = chain
    assert first.benchmark_weights["is_rebalance"].all()  # a world's first day sets targets
    assert not third.benchmark_weights["is_rebalance"].any()
    # Weights published for day 3 are day 2's weights grown by day 2's close-to-close returns.
    growth = (
        _closing_mids(second)
        .join(_closing_mids(first).rename({"close": "prev"}), on="symbol")
        .select("symbol", growth=pl.col("close") / pl.col("prev"))
    )
    drifted = (
        second.benchmark_weights.join(growth, on="symbol")
        .with_columns(w=pl.col("weight") * pl.col("growth"))
        .with_columns(w=pl.col("w") / pl.col("w").sum())
        .join(third.benchmark_weights.select("symbol", published="weight"), on="symbol")
    )
    np.testing.assert_allclose(drifted["w"], drifted["published"], rtol=1e-12)
    assert not np.allclose(drifted["w"], drifted["weight"])  # they did move
    for day in chain:
        assert day.benchmark_weights["weight"].sum() == pytest.approx(1.0, abs=1e-12)


def test_benchmark_rebalances_on_the_first_trading_day_of_a_month(chain):
    month_end = simulate_day(dt.date(2026, 11, 30), CFG, chain[-1].closing)
    december = simulate_day(dt.date(2026, 12, 1), CFG, month_end.closing)
    assert not month_end.benchmark_weights["is_rebalance"].any()
    assert december.benchmark_weights["is_rebalance"].all()


def test_regimes_and_variances_follow_their_processes():
    opening, regimes = None, []
    days = trading_days(dt.date(2026, 10, 1), dt.date(2026, 10, 30))
    small = SimulationConfig(n_symbols=4, n_quotes=8_000, n_orders=20, seed=3)
    for d in days:
        day = simulate_day(d, small, opening)
        market = day.ground_truth_market
        regime = market["regime"][0]
        if opening is not None:
            assert REGIME_TRANSITIONS[opening.regime][regime] > 0  # a possible transition
            # GARCH(1,1) on the standardised idiosyncratic return of the day
            e = market["idiosyncratic_return"].to_numpy() / REGIME_VOL_MULT[regime]
            h = opening.symbols["variance"].to_numpy()
            long_run = day.instruments["daily_vol"].to_numpy() ** 2
            expected = (
                (1 - GARCH_ALPHA - GARCH_BETA) * long_run + GARCH_ALPHA * e**2 + GARCH_BETA * h
            )
            np.testing.assert_allclose(day.closing.symbols["variance"], expected, rtol=1e-12)
        regimes.append(regime)
        opening = day.closing
    # Regimes persist: far fewer switches than independent daily draws would give.
    switches = sum(a != b for a, b in itertools.pairwise(regimes))
    assert switches <= len(regimes) // 3


def test_returns_load_on_market_and_sector_factors(chain):
    market = pl.concat(d.ground_truth_market for d in chain)
    assert (market["close_log_px"] - market["open_log_px"]).is_finite().all()
    # The factor parts are shared: one market return per day, one per sector and day.
    per_day = market.group_by("trade_date").agg(pl.col("market_factor_return").n_unique())
    assert (per_day["market_factor_return"] == 1).all()
    per_sector = market.group_by("trade_date", "sector").agg(
        pl.col("sector_factor_return").n_unique()
    )
    assert (per_sector["sector_factor_return"] == 1).all()


def _impact_free(cfg: SimulationConfig) -> SimulationConfig:
    return SimulationConfig(**{**vars(cfg), "impact_scale": 0.0})


def test_impact_shows_in_the_quotes_and_decays_with_the_kernel():
    """Against the same day without the firm's impact (same random draws), the quoted mids move
    by exactly the permanent increments plus the exponentially decaying jumps of earlier fills."""
    cfg = SimulationConfig(
        n_symbols=3,
        n_quotes=60_000,
        n_orders=60,
        fills_per_order=8,
        limit_order_share=0.0,
        glitch_rate=0.0,
        seed=21,
    )
    d = dt.date(2026, 11, 24)
    with_impact, without = simulate_day(d, cfg), simulate_day(d, _impact_free(cfg))
    assert with_impact.executions["exec_id"].equals(without.executions["exec_id"])
    mid = (pl.col("bid_px") + pl.col("ask_px")) / 2
    quotes = with_impact.quotes.select("ts", "symbol", m1=mid).with_columns(
        m0=without.quotes.select(mid).to_series()
    )
    # Truth terms are costs (positive = against us); the price moves by side * cost.
    fills = (
        with_impact.executions.select("exec_id", "symbol", s=_side(), t_f="ts")
        .join(with_impact.ground_truth_fills, on="exec_id")
        .select(
            "symbol",
            "t_f",
            jump=pl.col("s") * pl.col("transient_jump_bps"),
            perm=pl.col("s") * pl.col("permanent_increment_bps"),
        )
    )
    tau_ns = TRANSIENT_DECAY_S * 1e9
    # Independent evaluation of the propagator: every (quote, earlier fill) pair of a symbol.
    predicted = (
        quotes.join(fills, on="symbol")
        .filter(pl.col("t_f") < pl.col("ts"))
        .with_columns(age=(pl.col("ts") - pl.col("t_f")).dt.total_nanoseconds())
        .group_by("ts", "symbol")
        .agg(
            perm=pl.col("perm").sum(),
            trans=(pl.col("jump") * (-pl.col("age") / tau_ns).exp()).sum(),
        )
    )
    frame = (
        quotes.join(predicted, on=["ts", "symbol"], how="left")
        .fill_null(0.0)
        .with_columns(measured=1e4 * (pl.col("m1") / pl.col("m0")).log())
    )
    x = (frame["perm"] + frame["trans"]).to_numpy()
    y = frame["measured"].to_numpy()
    slope = float(np.dot(x, y) / np.dot(x, x))
    assert slope == pytest.approx(1.0, abs=0.05)
    # Tick snapping is the only other difference: well under a tick on average.
    assert np.mean(np.abs(y - x)) < 1.0
    # Without the decay the same jumps would explain the quotes far worse.
    no_decay = (
        quotes.join(fills, on="symbol")
        .filter(pl.col("t_f") < pl.col("ts"))
        .group_by("ts", "symbol")
        .agg(z=(pl.col("perm") + pl.col("jump")).sum())
    )
    z = frame.join(no_decay, on=["ts", "symbol"], how="left").fill_null(0.0)["z"].to_numpy()
    assert np.mean(np.abs(y - z)) > 3 * np.mean(np.abs(y - x))


def test_markouts_revert_after_the_firms_fills():
    """With no alpha (EVENT_DRIVEN only: zero skill), markouts after our fills peak within
    seconds (the jump) and revert toward the permanent part, as the kernel says."""
    cfg = SimulationConfig(
        n_symbols=20, n_quotes=400_000, n_orders=1500, strategies=("EVENT_DRIVEN",), seed=8
    )
    day = simulate_day(dt.date(2026, 11, 24), cfg)
    mids = (
        day.quotes.filter(~pl.col("is_glitch"))
        .select("ts", "symbol", mid=(pl.col("bid_px") + pl.col("ask_px")) / 2)
        .sort("ts")
    )

    fills = day.executions.with_row_index().select(
        "index", "symbol", s=_side(), t=pl.col("ts").cast(pl.Datetime("ns", "UTC"))
    )
    mids = mids.with_columns(pl.col("ts").cast(pl.Datetime("ns", "UTC")))

    def mid_before(times: pl.DataFrame) -> pl.Series:
        return (
            times.sort("t")
            .join_asof(mids.rename({"ts": "t"}), on="t", by="symbol", allow_exact_matches=False)
            .sort("index")["mid"]
        )

    m0 = mid_before(fills)

    def impact_after(h: int) -> float:
        later = (pl.col("t") + pl.duration(seconds=h)).cast(pl.Datetime("ns", "UTC"))
        mh = mid_before(fills.with_columns(later))
        return float((fills["s"] * 1e4 * (mh / m0).log()).drop_nulls().mean())

    early, late = impact_after(5), impact_after(900)
    assert early > 1.0  # the jump shows in the quotes
    assert late < early  # and decays


def test_world_store_chains_days_and_replays_them_bit_for_bit(tmp_path):
    store = WorldStore(tmp_path, CFG)
    d = DAYS[-1]
    first = simulate(store, d, warmup_days=3)
    stored = store.days()
    assert stored["trade_date"].to_list() == trading_days(DAYS[0] - dt.timedelta(days=3), d)[-4:]
    assert store.chain_breaks() == []
    assert store.closing_state(d).equals(first.closing)
    again = simulate(store, d)
    for name in ("quotes", "executions", "positions", "portfolio_performance"):
        assert getattr(again, name).equals(getattr(first, name)), name
    assert store.days().equals(stored)  # nothing new, nothing duplicated
    # The next day continues from the stored close; the truth is kept per day.
    nxt = dt.date(2026, 11, 27)
    following = simulate(store, nxt)
    assert following.opening.equals(first.closing)
    assert store.truth("orders", [nxt]).height == CFG.n_orders
    assert previous_trading_day(nxt) == d


def test_a_day_simulated_before_its_predecessor_is_a_reported_break(tmp_path):
    store = WorldStore(tmp_path, CFG)
    simulate(store, DAYS[1])  # nothing stored: genesis
    simulate(store, DAYS[0])  # earlier day: also genesis, and DAYS[1] no longer continues it
    assert store.chain_breaks() == [DAYS[1]]


def test_fills_sit_mostly_inside_the_nbbo(small_day):
    quotes = small_day.quotes.filter(~pl.col("is_glitch")).sort("ts")
    fills = (
        small_day.executions.sort("ts")
        .join_asof(quotes, on="ts", by="symbol", allow_exact_matches=False)
        .drop_nulls("bid_px")
    )
    outside = fills.filter(
        (pl.col("price") > pl.col("ask_px") + 1e-9) | (pl.col("price") < pl.col("bid_px") - 1e-9)
    )
    assert outside.height / fills.height < 0.25


def test_order_truth_adds_up():
    day = simulate_day(DAYS[0], CFG)
    terms = [
        "spread",
        "inside_offset",
        "own_fill_impact",
        "venue_effect",
        "algo_effect",
        "broker_effect",
        "noise",
        "limit_clip",
    ]
    fills = day.ground_truth_fills
    total = sum(fills[f"{t}_bps"] for t in terms)
    np.testing.assert_allclose(total, fills["cost_vs_quoted_mid_bps"], atol=1e-9)
    assert session(DAYS[0]).open_utc <= day.executions["ts"].min()
