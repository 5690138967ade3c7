"""Each market-data check passes on clean data and fails, clearly, on planted faults."""

import polars as pl
import pytest

from analytics_platform.marketdata.schemas import BOOK_SNAPSHOTS, MARKET_TRADES, QUOTES
from analytics_platform.quality import checks
from tests.conftest import TRADE_DATE


@pytest.mark.parametrize("contract", [QUOTES, MARKET_TRADES, BOOK_SNAPSHOTS])
def test_all_checks_pass_on_simulated_data(small_day, contract):
    frame = small_day.market_data[contract.table]
    outcomes = checks.run_market_data_checks(contract, frame, TRADE_DATE, 1e-3)
    assert [o.name for o in outcomes] == list(checks.MARKET_DATA_CHECKS[contract.table])
    assert all(o.passed for o in outcomes), [o.description for o in outcomes if not o.passed]


def test_sequence_gap_names_symbol_and_range(small_day):
    q = small_day.quotes
    symbol = q["symbol"][0]
    holed = q.filter(~((pl.col("symbol") == symbol) & pl.col("seq").is_between(100, 104)))
    outcome = checks.sequence_gap_check(holed)
    assert not outcome.passed
    assert f"{symbol} seq 100-104" in outcome.description
    assert outcome.metadata["missing_messages"] == 5


def test_missing_first_messages_is_a_gap(small_day):
    q = small_day.quotes
    symbol = q["symbol"][0]
    outcome = checks.sequence_gap_check(
        q.filter(~((pl.col("symbol") == symbol) & (pl.col("seq") <= 3)))
    )
    assert not outcome.passed and f"{symbol} seq 1-3" in outcome.description


def test_crossed_quotes_are_counted_and_fail_above_threshold(small_day):
    q = small_day.quotes.with_columns(
        bid_px=pl.when(pl.col("seq") <= 10)
        .then(pl.col("ask_px") + 0.05)
        .otherwise(pl.col("bid_px")),
    )
    n_crossed = q.filter(pl.col("bid_px") > pl.col("ask_px")).height
    tolerant = checks.crossed_quotes_check(q, max_crossed_share=0.01)
    strict = checks.crossed_quotes_check(q, max_crossed_share=1e-6)
    assert tolerant.passed and not strict.passed
    assert strict.metadata["crossed"] == n_crossed
    assert f"{n_crossed} crossed" in strict.description


def test_locked_quotes_are_reported_not_failed(small_day):
    q = small_day.quotes.with_columns(
        ask_px=pl.when(pl.col("seq") == 1).then(pl.col("bid_px")).otherwise(pl.col("ask_px"))
    )
    outcome = checks.crossed_quotes_check(q, 1e-3)
    assert outcome.passed and outcome.metadata["locked"] == q["symbol"].n_unique()


def test_duplicate_keys_fail(small_day):
    q = pl.concat([small_day.quotes, small_day.quotes.head(3)])
    outcome = checks.unique_key_check(q, ["symbol", "seq"])
    assert not outcome.passed and outcome.metadata["duplicated_keys"] == 3


def test_timestamps_outside_the_session_fail(small_day):
    late = small_day.quotes.with_columns(
        ts=pl.when(pl.col("seq") == 2)
        .then(pl.col("ts") + pl.duration(hours=8))
        .otherwise(pl.col("ts"))
    )
    outcome = checks.session_bounds_check(late, TRADE_DATE)
    assert not outcome.passed and outcome.metadata["outside_session"] == late["symbol"].n_unique()


def test_schema_violations_are_listed(small_day):
    bad = small_day.quotes.with_columns(
        bid_sz=pl.when(pl.col("seq") == 5).then(-100).otherwise(pl.col("bid_sz")),
        ask_px=pl.when(pl.col("seq") == 6).then(0.0).otherwise(pl.col("ask_px")),
    )
    outcome = checks.schema_check(bad, QUOTES)
    assert not outcome.passed
    assert "bid_sz" in outcome.metadata["failure_cases"]
    assert "ask_px" in outcome.metadata["failure_cases"]
