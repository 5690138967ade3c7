"""Market data as vendors deliver it: loading never changes a value, optional columns have
defaults, naive timestamps are refused with the column named, same-timestamp updates are ordered
by seq, transient crossed states are told apart, a non-trading date fails its check."""

import datetime as dt
import hashlib

import polars as pl
import pytest
from dagster import materialize
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_platform.contracts import ContractError
from analytics_platform.lake import Lake
from analytics_platform.landing import LandingZone
from analytics_platform.marketdata.schemas import QUOTES
from analytics_platform.quality.checks import crossed_quotes_check, session_bounds_check
from analytics_platform.tca import fill_tca, order_tca
from assets.raw_market_data import raw_market_data_assets
from resources import LakeResource, LandingZoneResource
from tests.conftest import TRADE_DATE, tuning

UTC = dt.UTC


def _ts(ms: int) -> dt.datetime:
    return dt.datetime(2026, 11, 20, 15, 0, tzinfo=UTC) + dt.timedelta(milliseconds=ms)


def _quotes(**overrides) -> pl.DataFrame:
    """A vendor quote file written to the DESIGN §5 contract (no is_glitch column)."""
    frame = pl.DataFrame(
        {
            "ts": [_ts(0), _ts(1), _ts(2), _ts(3)],
            "symbol": ["ABC"] * 4,
            "bid_px": [10.00, 10.01, 10.02, 10.01],
            "bid_sz": [100.0, 200.0, 300.0, 400.0],
            "ask_px": [10.02, 10.03, 10.04, 10.03],
            "ask_sz": [100, 200, 300, 400],
            "seq": [1, 2, 3, 4],
            "trade_date": [TRADE_DATE] * 4,
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("ns", "UTC")))
    return frame.with_columns(**overrides)


def _load(tmp_path, quotes: pl.DataFrame):
    """Drop `quotes` (and a one-print tape, an empty book) and run the raw assets."""
    zone = LandingZone(tmp_path / "landing")
    zone.write("raw/quotes", TRADE_DATE, quotes)
    tape = pl.DataFrame(
        {"ts": [_ts(5)], "symbol": ["ABC"], "price": [10.02], "size": [100], "venue": ["XNYS"],
         "seq": [1], "trade_date": [TRADE_DATE]}
    ).with_columns(pl.col("ts").cast(pl.Datetime("ns", "UTC")))  # fmt: skip
    zone.write("raw/market_trades", TRADE_DATE, tape)
    book = pl.DataFrame(schema={**QUOTES.polars_schema, "level": pl.Int64}).drop("seq", "is_glitch")
    zone.write("raw/book_snapshots", TRADE_DATE, book)
    resources = {
        "lake": LakeResource(root_uri=str(tmp_path / "lake")),
        "landing": LandingZoneResource(root=str(tmp_path / "landing")),
        "quality": tuning()["quality"],
    }
    result = materialize(
        raw_market_data_assets,
        partition_key=TRADE_DATE.isoformat(),
        resources=resources,
        raise_on_error=False,
    )
    return result, zone.path("raw/quotes", TRADE_DATE), Lake(str(tmp_path / "lake"))


def _step_error(result, step: str) -> str:
    failures = [e for e in result.all_events if e.is_step_failure and e.step_key == step]
    assert failures, f"{step} did not fail"
    return str(failures[0].event_specific_data.error)


def test_a_fractional_size_stops_the_load_and_nothing_is_written(tmp_path):
    quotes = _quotes(bid_sz=pl.Series([100.0, 0.121, 300.0, 2.5]))
    result, landed, lake = _load(tmp_path, quotes)
    before = hashlib.sha256(landed.read_bytes()).hexdigest()
    assert not result.success
    error = _step_error(result, "raw__quotes")
    assert "raw/quotes: column bid_sz (Float64): 2 values" in error
    assert "row 1: 0.121" in error and "row 3: 2.5" in error
    assert not lake.exists("raw/quotes")  # nothing written
    assert hashlib.sha256(landed.read_bytes()).hexdigest() == before  # the drop is untouched
    # Whole numbers stored as floats are loaded exactly; the other tables loaded as usual.
    assert lake.exists("raw/market_trades")


def test_whole_floats_and_numeric_strings_load_without_change(tmp_path):
    result, _, lake = _load(tmp_path, _quotes(ask_sz=pl.Series(["100", "200", "300", "400"])))
    assert result.success
    stored = lake.scan(QUOTES, [TRADE_DATE]).collect().sort("seq")
    assert stored["bid_sz"].to_list() == [100, 200, 300, 400]
    assert stored["ask_sz"].to_list() == [100, 200, 300, 400]


@pytest.mark.parametrize(
    ("values", "count"),
    [
        ([1e30, 1.0, 2.0, 3.0], 1),  # beyond Int64
        ([float("nan"), 1.0, float("inf"), 3.0], 2),  # not numbers
    ],
)
def test_out_of_range_and_non_finite_quantities_are_refused(values, count):
    with pytest.raises(ContractError, match=rf"column bid_sz \(Float64\): {count} values"):
        QUOTES.conform(_quotes(bid_sz=pl.Series(values))).collect()
    with pytest.raises(ContractError, match=r"column ask_sz .* 1 values .*row 2: 'n/a'"):
        QUOTES.conform(_quotes(ask_sz=pl.Series(["1", "2", "n/a", "4"]))).collect()


def test_the_documented_contract_loads_with_is_glitch_defaulting_to_false(tmp_path):
    quotes = _quotes(bid_sz=pl.col("bid_sz").cast(pl.Int64))
    assert "is_glitch" not in quotes.columns
    result, _, lake = _load(tmp_path, quotes)
    assert result.success
    assert lake.scan(QUOTES, [TRADE_DATE]).collect()["is_glitch"].to_list() == [False] * 4


def test_naive_timestamps_are_refused_naming_the_column(tmp_path):
    quotes = _quotes(ts=pl.col("ts").dt.replace_time_zone(None))
    result, _, lake = _load(tmp_path, quotes)
    error = _step_error(result, "raw__quotes")
    assert "raw/quotes.ts: timestamps without a time zone" in error
    assert "Datetime(time_unit='ns', time_zone='UTC')" in error
    assert not lake.exists("raw/quotes")


def test_other_time_units_and_zones_are_converted_to_the_same_instants():
    quotes = _quotes(bid_sz=pl.col("bid_sz").cast(pl.Int64))
    local_ms = quotes.with_columns(
        ts=pl.col("ts").dt.cast_time_unit("ms").dt.convert_time_zone("America/New_York")
    )
    assert QUOTES.conform(local_ms).collect()["ts"].equals(QUOTES.conform(quotes).collect()["ts"])


def test_a_non_trading_date_fails_the_session_check_with_the_reason():
    outcome = session_bounds_check(_quotes(), dt.date(2026, 11, 26))  # Thanksgiving
    assert not outcome.passed
    assert outcome.description == (
        "2026-11-26 is not an NYSE trading day: no session to check against"
    )


def test_sub_millisecond_crossed_states_are_transient_not_violations():
    # ABC is crossed for 300 µs between two updates; XYZ stays crossed for a second.
    base = dt.datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "ts": [base, base + dt.timedelta(microseconds=300),
                   base + dt.timedelta(microseconds=600),
                   base, base + dt.timedelta(seconds=1), base + dt.timedelta(seconds=2)],
            "symbol": ["ABC"] * 3 + ["XYZ"] * 3,
            "bid_px": [10.00, 10.05, 10.00, 20.00, 20.05, 20.00],
            "ask_px": [10.02, 10.03, 10.02, 20.02, 20.03, 20.02],
            "seq": [1, 2, 3, 1, 2, 3],
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("ns", "UTC")))  # fmt: skip
    outcome = crossed_quotes_check(frame, max_crossed_share=0.2, transient="1ms")
    assert outcome.metadata["crossed"] == 1 and outcome.metadata["crossed_transient"] == 1
    assert outcome.passed  # 1 persistent of 6 rows < 0.2
    strict = crossed_quotes_check(frame, max_crossed_share=0.1, transient="1ms")
    assert not strict.passed
    # With no tolerance for transients, both count.
    assert crossed_quotes_check(frame, 0.2, transient="0ns").metadata["crossed"] == 2


# ------------------------------------------------------------- ties ordered by seq


@pytest.fixture(scope="module")
def tied_day(small_day):
    """The small day with timestamps truncated to the second (a coarse vendor clock; the small
    day has too few updates per millisecond for ties): many quotes and prints now share a
    timestamp, and only seq orders them."""
    quotes = small_day.quotes.with_columns(pl.col("ts").dt.truncate("1s"))
    tape = small_day.market_trades.with_columns(pl.col("ts").dt.truncate("1s"))
    return small_day, quotes, tape


def _tca(day, quotes, tape):
    fills = fill_tca(day.executions, day.orders, quotes).sort("exec_id")
    orders = order_tca(day.orders, day.executions, quotes, tape).sort("order_id")
    return fills, orders


def _shuffled(frame: pl.DataFrame, seed: int, within_ties: bool) -> pl.DataFrame:
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    if within_ties:  # the original order, except that rows sharing a timestamp are permuted
        shuffled = shuffled.sort("symbol", "trade_date", "ts", maintain_order=True)
    return shuffled


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), within_ties=st.booleans())
def test_tca_does_not_depend_on_the_row_order_of_tied_updates(tied_day, seed, within_ties):
    day, quotes, tape = tied_day
    ties = quotes.group_by("symbol", "ts").len().filter(pl.col("len") > 1).height
    assert ties > 100  # the property is about ties: there are many
    expected = _tca(day, quotes, tape)
    got = _tca(day, _shuffled(quotes, seed, within_ties), _shuffled(tape, seed + 1, within_ties))
    for want, have in zip(expected, got, strict=True):
        # The quote each lookup picks is the same row: its prices are equal exactly.
        lookups = [c for c in want.columns if c.startswith(("mid_", "bid_", "ask_", "arrival_mid"))]
        assert lookups and have.select(lookups).equals(want.select(lookups))
        # Everything else equal up to the order of floating-point sums (polars sums groups in
        # parallel, so the last bits vary between runs even on the same input).
        floats = [c for c, t in want.schema.items() if t.is_float()]
        assert have.drop(floats).equals(want.drop(floats))
        gaps = have.select(floats) - want.select(floats)
        assert gaps.select(pl.all().abs().max()).max_horizontal().item() < 1e-9
