import datetime as dt

import polars as pl
import pytest

from analytics_platform.contracts import ContractError
from analytics_platform.lake import Lake
from analytics_platform.marketdata.schemas import QUOTES
from tests.conftest import TRADE_DATE

OTHER_DATE = dt.date(2026, 11, 19)


def _content(lake: Lake, day: dt.date) -> pl.DataFrame:
    return lake.scan(QUOTES, [day]).collect().sort("symbol", "seq")


def test_round_trip_keeps_the_contract_types(tmp_path, small_day):
    lake = Lake(str(tmp_path))
    lake.write_partition(QUOTES, small_day.quotes, TRADE_DATE)
    back = _content(lake, TRADE_DATE)
    assert back.schema == small_day.quotes.schema
    assert back.equals(small_day.quotes.sort("symbol", "seq"))


def test_rewriting_a_partition_is_idempotent_and_leaves_other_days(tmp_path, small_day):
    lake = Lake(str(tmp_path))
    other = small_day.quotes.head(100).with_columns(trade_date=pl.lit(OTHER_DATE))
    lake.write_partition(QUOTES, other, OTHER_DATE)
    first = lake.write_partition(QUOTES, small_day.quotes, TRADE_DATE)
    snapshot = _content(lake, TRADE_DATE)
    second = lake.write_partition(QUOTES, small_day.quotes, TRADE_DATE)
    assert second.version == first.version + 1  # a new commit ...
    assert _content(lake, TRADE_DATE).equals(snapshot)  # ... with the same content
    assert lake.scan(QUOTES).collect().height == small_day.quotes.height + 100  # no duplicates
    assert _content(lake, OTHER_DATE).height == 100
    # time travel: the first version still reads back
    assert (
        lake.scan(QUOTES, [TRADE_DATE], version=first.version).collect().height == snapshot.height
    )


def test_empty_frame_clears_the_partition(tmp_path, small_day):
    lake = Lake(str(tmp_path))
    lake.write_partition(QUOTES, small_day.quotes, TRADE_DATE)
    lake.write_partition(QUOTES, small_day.quotes.head(0), TRADE_DATE)
    assert _content(lake, TRADE_DATE).is_empty()


def test_rows_of_another_day_are_refused(tmp_path, small_day):
    lake = Lake(str(tmp_path))
    with pytest.raises(ContractError, match="do not belong to partition 2026-11-19"):
        lake.write_partition(QUOTES, small_day.quotes, OTHER_DATE)
    assert not lake.exists(QUOTES.table)


def test_missing_contract_column_is_named(tmp_path, small_day):
    with pytest.raises(ContractError, match=r"missing columns \['seq'\]"):
        Lake(str(tmp_path)).write_partition(QUOTES, small_day.quotes.drop("seq"), TRADE_DATE)


def test_commit_metadata_is_recorded(tmp_path, small_day):
    lake = Lake(str(tmp_path))
    lake.write_partition(
        QUOTES, small_day.quotes, TRADE_DATE, commit_metadata={"dagster_run_id": "r1"}
    )
    assert lake.history(QUOTES.table, 1)[0]["dagster_run_id"] == "r1"
