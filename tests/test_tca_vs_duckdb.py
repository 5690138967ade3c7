"""The polars TCA agrees with an independent DuckDB-SQL implementation on a simulated day."""

import polars as pl
import pytest

from analytics_platform.marketdata.simulator import SimulationConfig, simulate_day
from analytics_platform.tca import fill_tca, order_tca
from benchmarks.tca_duckdb import connect, fill_tca_sql, order_tca_sql
from tests.conftest import TRADE_DATE

HORIZONS = {"1s": 1, "60s": 60}


@pytest.fixture(scope="module")
def day():
    return simulate_day(TRADE_DATE, SimulationConfig(n_symbols=8, n_quotes=80_000, n_orders=200))


def _compare(ours: pl.DataFrame, theirs: pl.DataFrame, key: str, columns: list[str]) -> None:
    joined = ours.join(theirs, on=key, suffix="_sql")
    assert joined.height == ours.height == theirs.height
    for c in columns:
        a, b = joined[c], joined[f"{c}_sql"]
        assert (a.is_null() == b.is_null()).all(), c
        gap = (a - b).abs().max()
        assert gap is None or gap < 1e-6, (c, gap)


def test_fill_level_matches_sql(day):
    ours = fill_tca(day.executions, day.orders, day.quotes, horizons=tuple(HORIZONS))
    con = connect(day.executions, day.orders, day.quotes, day.market_trades)
    theirs = fill_tca_sql(con, HORIZONS)
    _compare(ours, theirs, "exec_id", [c for c in theirs.columns if c != "exec_id"])


def test_order_level_matches_sql(day):
    ours = order_tca(day.orders, day.executions, day.quotes, day.market_trades)
    con = connect(day.executions, day.orders, day.quotes, day.market_trades)
    theirs = order_tca_sql(con)
    _compare(ours, theirs, "order_id", [c for c in theirs.columns if c != "order_id"])
