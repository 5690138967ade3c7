"""Hand-computed TCA: every column of fill_tca and order_tca on a tiny market, both sides."""

import datetime as dt

import polars as pl
import pytest

from analytics_platform.tca import fill_tca, order_tca, quote_book

DAY = dt.date(2026, 11, 20)
T0 = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
TS = pl.Datetime("ns", "UTC")


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def quotes(rows, day=DAY) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "ts": at(t),
                "symbol": "AAA",
                "bid_px": b,
                "bid_sz": 100,
                "ask_px": a,
                "ask_sz": 100,
                "seq": i + 1,
                "trade_date": day,
                "is_glitch": g,
            }
            for i, (t, b, a, g) in enumerate(rows)
        ]
    ).with_columns(pl.col("ts").cast(TS))


QUOTES = quotes(
    [
        (0, 99.98, 100.02, False),  # mid 100.00
        (10, 100.08, 100.12, False),  # mid 100.10
        (20, 100.18, 100.22, False),  # mid 100.20
        (40, 99.98, 100.02, False),  # mid 100.00
        (100, 100.48, 100.52, False),  # mid 100.50
    ]
)


def orders(rows) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "order_id": oid,
                "strategy_id": "S",
                "portfolio_id": "P",
                "symbol": "AAA",
                "side": side,
                "algo": "VWAP",
                "broker": "B",
                "order_type": "MARKET",
                "quantity": q,
                "decision_px": pd_,
                "arrival_ts": at(a),
                "end_ts": at(e),
                "trade_date": DAY,
            }
            for oid, side, q, pd_, a, e in rows
        ]
    ).with_columns(pl.col("arrival_ts", "end_ts").cast(TS))


def fills(rows) -> pl.DataFrame:
    schema = {
        "exec_id": pl.String,
        "order_id": pl.String,
        "ts": TS,
        "symbol": pl.String,
        "side": pl.String,
        "quantity": pl.Int64,
        "price": pl.Float64,
        "venue": pl.String,
        "liquidity": pl.String,
        "fee": pl.Float64,
        "trade_date": pl.Date,
    }
    return pl.DataFrame(
        [
            {
                "exec_id": eid,
                "order_id": oid,
                "ts": at(t),
                "symbol": "AAA",
                "side": side,
                "quantity": q,
                "price": p,
                "venue": "XNYS",
                "liquidity": "REMOVE",
                "fee": fee,
                "trade_date": DAY,
            }
            for eid, oid, side, t, q, p, fee in rows
        ],
        schema=schema,
    )


ORDERS = orders(
    [
        ("O1", "BUY", 1000, 99.90, 5, 30),
        ("O2", "SELL", 500, 100.10, 5, 30),
        ("O3", "BUY", 100, 100.00, 50, 60),  # never filled
    ]
)
FILLS = fills(
    [
        ("E1", "O1", "BUY", 10, 400, 100.05, 1.2),  # same instant as quote 2: M uses quote 1
        ("E2", "O1", "BUY", 25, 400, 100.25, 1.2),
        ("E3", "O2", "SELL", 12, 500, 100.00, 1.5),
    ]
)
TAPE = pl.DataFrame(
    {
        "ts": [at(4), at(5), at(15), at(30), at(35)],
        "symbol": "AAA",
        "price": [99.99, 100.00, 100.10, 100.20, 100.30],
        "size": [100, 200, 300, 500, 1000],
        "venue": "XNYS",
        "seq": [1, 2, 3, 4, 5],
        "trade_date": DAY,
    }
).with_columns(pl.col("ts").cast(TS))


def _row(frame: pl.DataFrame, key: str, value: str) -> dict:
    return frame.filter(pl.col(key) == value).row(0, named=True)


@pytest.fixture(scope="module")
def by_fill():
    return fill_tca(FILLS, ORDERS, QUOTES, horizons=("5s", "60s"))


@pytest.fixture(scope="module")
def by_order():
    return order_tca(ORDERS, FILLS, QUOTES, TAPE, impact_horizon="60s")


def test_buy_fill_at_a_quote_timestamp_uses_the_quote_strictly_before(by_fill):
    e1 = _row(by_fill, "exec_id", "E1")
    assert e1["mid_at_fill"] == pytest.approx(100.00)
    assert e1["arrival_mid"] == pytest.approx(100.00)
    assert e1["arrival_cost_bps"] == pytest.approx(5.0)
    assert e1["effective_spread_bps"] == pytest.approx(10.0)
    assert e1["price_improvement"] == pytest.approx(100.02 - 100.05)
    # h = 5s: M(15s) = 100.10
    assert e1["realized_spread_bps_5s"] == pytest.approx(-10.0)
    assert e1["price_impact_bps_5s"] == pytest.approx(20.0)
    assert e1["markout_bps_5s"] == pytest.approx(1e4 * (100.10 - 100.05) / 100.05)
    # h = 60s: M(70s) = 100.00 (quote at 40s, 30 s old)
    assert e1["markout_bps_60s"] == pytest.approx(1e4 * (100.00 - 100.05) / 100.05)


def test_second_buy_fill(by_fill):
    e2 = _row(by_fill, "exec_id", "E2")
    assert e2["mid_at_fill"] == pytest.approx(100.20)
    assert e2["arrival_cost_bps"] == pytest.approx(25.0)
    assert e2["effective_spread_bps"] == pytest.approx(2e4 * 0.05 / 100.20)
    assert e2["price_improvement"] == pytest.approx(100.22 - 100.25)


def test_sell_fill_signs(by_fill):
    e3 = _row(by_fill, "exec_id", "E3")
    assert e3["mid_at_fill"] == pytest.approx(100.10)
    assert e3["arrival_cost_bps"] == pytest.approx(0.0)
    assert e3["effective_spread_bps"] == pytest.approx(2e4 * 0.10 / 100.10)  # sold below mid: cost
    assert e3["price_improvement"] == pytest.approx(100.00 - 100.08)
    # M(17s) = 100.10: the price did not move
    assert e3["price_impact_bps_5s"] == pytest.approx(0.0)
    assert e3["markout_bps_5s"] == pytest.approx(-1e4 * (100.10 - 100.00) / 100.00)


def test_effective_equals_realized_plus_impact(by_fill):
    for h in ("5s", "60s"):
        gap = (
            by_fill["effective_spread_bps"]
            - by_fill[f"realized_spread_bps_{h}"]
            - by_fill[f"price_impact_bps_{h}"]
        )
        assert gap.abs().max() < 1e-9


def test_buy_order(by_order):
    o1 = _row(by_order, "order_id", "O1")
    assert o1["executed_quantity"] == 800
    assert o1["fill_rate"] == pytest.approx(0.8)
    assert o1["avg_fill_px"] == pytest.approx(100.15)
    assert o1["arrival_mid"] == pytest.approx(100.00)
    assert o1["arrival_cost_bps"] == pytest.approx(15.0)
    # prints at 5s (arrival, included), 15s, 30s (end, included); 4s and 35s outside
    assert o1["interval_vwap"] == pytest.approx(100.13)
    assert o1["vwap_cost_bps"] == pytest.approx(1e4 * (100.15 - 100.13) / 100.13)
    day_vwap = (100 * 99.99 + 200 * 100.00 + 300 * 100.10 + 500 * 100.20 + 1000 * 100.30) / 2100
    assert o1["day_vwap_cost_bps"] == pytest.approx(1e4 * (100.15 - day_vwap) / day_vwap)
    # TWAP over [5s, 30s]: 100.00 for 5 s, 100.10 for 10 s, 100.20 for 10 s
    assert o1["twap"] == pytest.approx(100.12)
    assert o1["twap_cost_bps"] == pytest.approx(1e4 * (100.15 - 100.12) / 100.12)
    assert o1["participation_rate"] == pytest.approx(800 / 1000)
    budget = 1000 * 99.90 / 1e4
    assert o1["is_delay_bps"] == pytest.approx(1000 * (100.00 - 99.90) / budget)
    assert o1["is_trading_bps"] == pytest.approx(800 * (100.15 - 100.00) / budget)
    assert o1["is_opportunity_bps"] == pytest.approx(200 * (100.20 - 100.00) / budget)
    assert o1["is_fees_bps"] == pytest.approx(2.4 / budget)
    closed_form = (800 * (100.15 - 99.90) + 200 * (100.20 - 99.90) + 2.4) / (1000 * 99.90) * 1e4
    assert o1["is_total_bps"] == pytest.approx(closed_form, abs=1e-9)
    # H = 60s: M(90s) = 100.00 (quote at 40s)
    assert o1["permanent_impact_bps"] == pytest.approx(0.0)
    assert o1["temporary_impact_bps"] == pytest.approx(15.0)
    assert o1["time_to_first_fill_s"] == pytest.approx(5.0)
    assert o1["time_to_complete_s"] == pytest.approx(20.0)


def test_sell_order(by_order):
    o2 = _row(by_order, "order_id", "O2")
    assert o2["fill_rate"] == 1.0
    assert o2["arrival_cost_bps"] == pytest.approx(0.0)
    assert o2["vwap_cost_bps"] == pytest.approx(-1e4 * (100.00 - 100.13) / 100.13)  # sold below
    budget = 500 * 100.10 / 1e4
    assert o2["is_delay_bps"] == pytest.approx(
        -500 * (100.00 - 100.10) / budget
    )  # helped a seller? no
    assert o2["is_trading_bps"] == pytest.approx(0.0)
    assert o2["is_fees_bps"] == pytest.approx(1.5 / budget)
    assert o2["permanent_impact_bps"] == pytest.approx(0.0)


def test_unfilled_order_has_nulls_not_errors(by_order):
    o3 = _row(by_order, "order_id", "O3")
    assert o3["executed_quantity"] == 0 and o3["fill_rate"] == 0.0
    for column in (
        "avg_fill_px",
        "arrival_cost_bps",
        "vwap_cost_bps",
        "twap_cost_bps",
        "permanent_impact_bps",
        "temporary_impact_bps",
        "time_to_first_fill_s",
    ):
        assert o3[column] is None, column
    assert o3["interval_vwap"] is None  # no prints in [50s, 60s]
    assert o3["participation_rate"] is None
    assert o3["is_trading_bps"] == 0.0
    assert o3["is_opportunity_bps"] == pytest.approx(0.0)  # M stayed at 100.00


def test_stale_quotes_beyond_max_age_give_null():
    late = fills([("E9", "O1", "BUY", 200, 100, 100.5, 0.0)])  # last quote 100 s before
    row = fill_tca(late, ORDERS, QUOTES, horizons=("5s",)).row(0, named=True)
    assert row["mid_at_fill"] is None and row["effective_spread_bps"] is None
    assert row["arrival_mid"] == pytest.approx(100.00)  # arrival 5s: fresh quote
    relaxed = fill_tca(late, ORDERS, QUOTES, horizons=("5s",), max_quote_age="120s")
    assert relaxed["mid_at_fill"][0] == pytest.approx(100.50)


def test_crossed_and_glitch_quotes_are_skipped_locked_are_used():
    book = quotes(
        [
            (0, 99.98, 100.02, False),
            (1, 100.04, 100.04, False),  # locked: valid
            (2, 100.30, 100.00, False),  # crossed: skipped
            (3, 90.00, 110.00, True),  # flagged glitch: skipped
        ]
    )
    row = fill_tca(fills([("E1", "O1", "BUY", 4, 10, 100.05, 0.0)]), ORDERS, book, horizons=()).row(
        0, named=True
    )
    assert row["mid_at_fill"] == pytest.approx(100.04)


def test_quotes_of_another_day_are_never_used():
    yesterday = quotes([(0, 99.98, 100.02, False)], day=dt.date(2026, 11, 19)).with_columns(
        (pl.col("ts") - pl.duration(days=1)).cast(TS)
    )
    row = fill_tca(FILLS.head(1), ORDERS, yesterday, horizons=()).row(0, named=True)
    assert row["mid_at_fill"] is None and row["arrival_mid"] is None


def test_zero_length_window_and_empty_tape():
    instant = orders([("O4", "BUY", 100, 100.0, 20, 20)])
    row = order_tca(instant, fills([]), QUOTES, TAPE.head(0)).row(0, named=True)
    assert row["twap"] is None and row["twap_cost_bps"] is None
    assert row["interval_vwap"] is None and row["participation_rate"] is None


def test_order_straddling_the_last_quote_uses_quotes_in_force():
    # Window [90s, 130s]: quote at 40s in force until 100s, then 100.50 from 100s.
    late = orders([("O5", "BUY", 100, 100.0, 90, 130)])
    row = order_tca(late, fills([]), QUOTES, TAPE).row(0, named=True)
    assert row["twap"] == pytest.approx((10 * 100.00 + 30 * 100.50) / 40)


def test_window_before_the_days_first_quote_has_no_twap():
    early = orders([("O6", "BUY", 100, 100.0, -50, -10)])
    row = order_tca(early, fills([]), QUOTES, TAPE).row(0, named=True)
    assert row["twap"] is None and row["twap_cost_bps"] is None
    assert row["arrival_mid"] is None


def test_a_shared_quote_book_gives_the_same_tables():
    book = quote_book(QUOTES)
    assert fill_tca(FILLS, ORDERS, book).equals(fill_tca(FILLS, ORDERS, QUOTES))
    assert order_tca(ORDERS, FILLS, book, TAPE).equals(order_tca(ORDERS, FILLS, QUOTES, TAPE))
