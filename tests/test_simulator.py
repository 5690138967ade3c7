"""Simulator invariants, determinism and recovery of its ground-truth cost model."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from analytics_platform.calendar import session
from analytics_platform.marketdata.schemas import MARKET_DATA_CONTRACTS
from analytics_platform.marketdata.simulator import (
    VENUE_EFFECT_BPS,
    SimulationConfig,
    simulate_day,
)
from tests.conftest import SMALL, TRADE_DATE


def _frames(day):
    return {k: v for k, v in vars(day).items() if isinstance(v, pl.DataFrame)}


def test_same_seed_and_date_give_identical_frames(small_day):
    again = simulate_day(TRADE_DATE, SMALL)
    for name, frame in _frames(small_day).items():
        assert frame.equals(_frames(again)[name]), name


def test_other_date_or_seed_differ(small_day):
    other_day = simulate_day(dt.date(2026, 11, 19), SMALL)
    other_seed = simulate_day(TRADE_DATE, SimulationConfig(**{**vars(SMALL), "seed": 12}))
    assert not other_day.quotes["bid_px"].equals(small_day.quotes["bid_px"])
    assert not other_seed.quotes["bid_px"].equals(small_day.quotes["bid_px"])
    assert other_day.instruments.equals(small_day.instruments)  # reference data is static


def test_market_data_matches_contracts(small_day):
    for table, frame in small_day.market_data.items():
        contract = MARKET_DATA_CONTRACTS[table]
        assert frame.select(contract.column_names).schema == contract.polars_schema, table
        assert frame.select(pl.col("trade_date").unique()).to_series().to_list() == [TRADE_DATE]


def test_scale_follows_config(small_day):
    assert small_day.quotes.height == SMALL.n_quotes
    assert small_day.quotes["symbol"].n_unique() == SMALL.n_symbols
    assert small_day.orders.height == SMALL.n_orders
    per_order = small_day.executions.height / SMALL.n_orders
    assert 3 < per_order < 2 * SMALL.fills_per_order


def test_quotes_never_crossed_except_flagged_glitches():
    day = simulate_day(
        TRADE_DATE, SimulationConfig(n_symbols=4, n_quotes=200_000, glitch_rate=1e-3)
    )
    q = day.quotes
    crossed = q.filter(pl.col("bid_px") > pl.col("ask_px"))
    assert crossed.height > 0
    assert crossed["is_glitch"].all()
    assert q.filter(pl.col("is_glitch"))["bid_px"].gt(q.filter(pl.col("is_glitch"))["ask_px"]).all()
    assert q.filter(
        ~pl.col("is_glitch") & (pl.col("ask_px") - pl.col("bid_px") < 0.0099)
    ).is_empty()


def test_sequences_contiguous_and_times_inside_session(small_day):
    sess = session(TRADE_DATE)
    for name in ("quotes", "market_trades"):
        frame = getattr(small_day, name)
        seqs = frame.group_by("symbol").agg(
            n=pl.len(),
            lo=pl.col("seq").min(),
            hi=pl.col("seq").max(),
            sorted=pl.col("ts").is_sorted(),
        )
        assert (seqs["lo"] == 1).all() and (seqs["hi"] == seqs["n"]).all(), name
        assert seqs["sorted"].all(), name
    for frame in [
        small_day.quotes,
        small_day.market_trades,
        small_day.book_snapshots,
        small_day.executions,
        small_day.orders.rename({"arrival_ts": "a"}).select(ts="a"),
    ]:
        assert frame["ts"].min() >= sess.open_utc and frame["ts"].max() <= sess.close_utc
    # Delta stores microseconds: the simulator emits nothing finer.
    assert (small_day.quotes["ts"].dt.nanosecond() % 1000 == 0).all()


def test_intraday_activity_is_u_shaped():
    q = simulate_day(TRADE_DATE, SimulationConfig(n_symbols=5, n_quotes=300_000)).quotes
    minute = (q["ts"] - session(TRADE_DATE).open_utc).dt.total_minutes()
    counts = np.bincount((minute // 30).to_numpy(), minlength=13)
    assert counts[0] > 2 * counts[6] and counts[12] > 2 * counts[6]


def test_orders_fills_and_limits_are_consistent(small_day):
    fills = small_day.executions.join(small_day.orders, on="order_id", suffix="_order")
    assert fills.height == small_day.executions.height  # every fill has its parent order
    assert (fills["side"] == fills["side_order"]).all() and (
        fills["symbol"] == fills["symbol_order"]
    ).all()
    assert ((fills["ts"] >= fills["arrival_ts"]) & (fills["ts"] <= fills["end_ts"])).all()
    assert (fills["quantity"] > 0).all()
    executed = fills.group_by("order_id").agg(
        x=pl.col("quantity").sum(), q=pl.col("quantity_order").first()
    )
    assert (executed["x"] <= executed["q"]).all()
    limits = fills.filter(pl.col("order_type") == "LIMIT")
    through = limits.filter(
        pl.when(pl.col("side") == "BUY")
        .then(pl.col("price") > pl.col("limit_px"))
        .otherwise(pl.col("price") < pl.col("limit_px"))
    )
    assert through.is_empty()
    orders = small_day.orders
    assert (orders.filter(pl.col("order_type") == "MARKET")["limit_px"].is_null()).all()
    assert (orders["decision_ts"] < orders["arrival_ts"]).all()


def test_partial_fills_and_cancels_exist():
    day = simulate_day(TRADE_DATE, SimulationConfig(n_symbols=10, n_quotes=100_000, n_orders=600))
    executed = day.executions.group_by("order_id").agg(x=pl.col("quantity").sum())
    orders = day.orders.join(executed, on="order_id", how="left").with_columns(
        pl.col("x").fill_null(0)
    )
    assert orders.filter(pl.col("x") == pl.col("quantity")).height > 0
    assert orders.filter(pl.col("x") < pl.col("quantity")).height > 0
    assert orders["is_cancelled"].sum() > 0


def test_market_prints_sit_at_the_prevailing_quote(small_day):
    quotes = small_day.quotes.filter(~pl.col("is_glitch")).sort("ts")
    own = set(small_day.executions["ts"].to_list())
    prints = small_day.market_trades.filter(~pl.col("ts").is_in(list(own))).sort("ts")
    joined = prints.join_asof(
        quotes, on="ts", by="symbol", allow_exact_matches=False, check_sortedness=False
    ).drop_nulls("bid_px")
    inside = joined.filter(
        (pl.col("price") >= pl.col("bid_px") - 1e-9) & (pl.col("price") <= pl.col("ask_px") + 1e-9)
    )
    assert inside.height / joined.height > 0.999


def test_effective_spreads_recover_the_generating_model():
    """TCA-style effective spreads reproduce 2x the model's per-fill cost against the prevailing
    quote, and the venue ranking of the ground-truth venue effects."""
    day = simulate_day(TRADE_DATE, SimulationConfig(n_symbols=30, n_quotes=600_000, n_orders=3000))
    mids = (
        day.quotes.filter(~pl.col("is_glitch"))
        .sort("ts")
        .select("ts", "symbol", mid=(pl.col("bid_px") + pl.col("ask_px")) / 2)
    )
    fills = (
        day.executions.sort("ts")
        .join_asof(mids, on="ts", by="symbol", allow_exact_matches=False, check_sortedness=False)
        .join(day.ground_truth_fills, on="exec_id")
        .with_columns(s=pl.when(pl.col("side") == "BUY").then(1.0).otherwise(-1.0))
        .with_columns(
            measured=2e4 * pl.col("s") * (pl.col("price") - pl.col("mid")) / pl.col("mid"),
            modelled=2 * pl.col("cost_vs_quoted_mid_bps"),
            # Remove the venue-independent parts to isolate the venue effect.
            residual=2e4 * pl.col("s") * (pl.col("price") - pl.col("mid")) / pl.col("mid")
            - 2 * (pl.col("cost_vs_quoted_mid_bps") - pl.col("venue_effect_bps")),
        )
    )
    # Fills are priced off the quote TCA sees: only the 1/100-cent price rounding separates them.
    # Rounding to $0.0001 moves 2e4*s*(p - mid)/mid by at most 1/mid bps.
    rounding = (fills["measured"] - fills["modelled"]).abs() - 1.0 / fills["mid"]
    assert rounding.max() < 1e-9
    by_venue = fills.group_by("venue").agg(pl.col("residual").mean() / 2).sort("residual")
    expected_order = sorted(VENUE_EFFECT_BPS, key=VENUE_EFFECT_BPS.get)
    assert by_venue["venue"].to_list() == expected_order
    for venue, est in by_venue.iter_rows():
        assert est == pytest.approx(VENUE_EFFECT_BPS[venue], abs=0.4)


def test_expected_alpha_relates_to_future_returns():
    day = simulate_day(TRADE_DATE, SimulationConfig(n_symbols=20, n_quotes=400_000, n_orders=3000))
    truth = day.decisions.join(day.ground_truth_decisions, on="decision_id")
    corr = np.corrcoef(truth["expected_alpha_bps"], truth["true_alpha_bps"])[0, 1]
    assert 0.2 < corr < 0.95  # genuine but noisy
    skill = truth.group_by("strategy_id").agg(
        ratio=pl.col("true_alpha_bps").mean() / pl.col("expected_alpha_bps").mean()
    )
    ranked = skill.sort("ratio")["strategy_id"].to_list()
    assert ranked[0] == "EVENT_DRIVEN" and ranked[-1] == "MOMENTUM"


def test_invalid_config_is_rejected_with_the_field_named():
    with pytest.raises(ValueError, match="n_symbols"):
        SimulationConfig(n_symbols=0)
    with pytest.raises(ValueError, match="strategies"):
        SimulationConfig(strategies=("MOMENTUM", "ASTROLOGY"))
