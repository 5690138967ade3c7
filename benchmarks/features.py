"""Point-in-time feature build for the training datasets.

Measured per trading day: `point_in_time_features` for every decision of a default-size day (50
symbols, 1M quotes, 2k decisions) and of a large one (200 symbols, 20M quotes, 50k decisions).
Peer, in the same run on the default day: a straightforward DuckDB-SQL as-of implementation of
the quote, volatility and flow groups (ASOF JOIN for the quote in force, range joins for the
5- and 30-minute windows), against the same groups in polars.
"""

import datetime as dt
import time

import duckdb
import polars as pl

from analytics_platform.marketdata.simulator import SimulationConfig, simulate_day
from analytics_platform.ml import features as f
from analytics_platform.ml.datasets import Sources, decision_rows, point_in_time_features
from analytics_platform.timeseries import quote_book
from benchmarks.common import best_of, peak_rss_mb, print_table, write_results

TRADE_DATE = dt.date(2026, 11, 20)
SIZES = {
    "default day: 1M quotes / 50 symbols / 2k decisions": SimulationConfig(),
    "large day: 20M quotes / 200 symbols / 50k decisions": SimulationConfig(
        n_symbols=200, n_quotes=20_000_000, n_orders=50_000
    ),
}

PEER_SQL = """
WITH q AS (
  SELECT symbol, ts, bid_px, ask_px, bid_sz, ask_sz, (bid_px + ask_px) / 2 AS mid,
         ln((bid_px + ask_px) / 2) - lag(ln((bid_px + ask_px) / 2))
           OVER (PARTITION BY symbol ORDER BY ts, seq) AS r
  FROM quotes WHERE NOT is_glitch AND bid_px > 0 AND ask_px > 0 AND bid_px <= ask_px
),
quote AS (
  SELECT r.row_id, q.ts AS quote_as_of_ts, 1e4 * (q.ask_px - q.bid_px) / q.mid AS spread_bps,
         (q.bid_sz - q.ask_sz) / (q.bid_sz + q.ask_sz) AS l1_imbalance
  FROM rows r ASOF LEFT JOIN q ON r.symbol = q.symbol AND r.at > q.ts
),
vol AS (
  SELECT r.row_id,
         1e4 * sqrt(sum(q.r * q.r) FILTER (WHERE q.ts >= r.at - INTERVAL 5 MINUTE)) AS rv_5m,
         1e4 * sqrt(sum(q.r * q.r)) AS rv_30m
  FROM rows r JOIN q ON q.symbol = r.symbol AND q.ts < r.at
                    AND q.ts >= r.at - INTERVAL 30 MINUTE
  GROUP BY r.row_id
),
flow AS (
  SELECT r.row_id, count(*) AS prints_5m, sum(t.size) AS volume_5m
  FROM rows r JOIN trades t ON t.symbol = r.symbol AND t.ts < r.at
                            AND t.ts >= r.at - INTERVAL 5 MINUTE
  GROUP BY r.row_id
)
SELECT * FROM rows LEFT JOIN quote USING (row_id) LEFT JOIN vol USING (row_id)
LEFT JOIN flow USING (row_id)
"""


def _polars_groups(rows: pl.DataFrame, day) -> pl.DataFrame:
    book = quote_book(day.quotes)
    return pl.concat(
        [
            rows,
            f.quote_features(rows, book),
            f.volatility_features(rows, book),
            f.flow_features(rows, day.market_trades, book),
        ],
        how="horizontal",
    )


def _duckdb_groups(rows: pl.DataFrame, day) -> pl.DataFrame:
    con = duckdb.connect()
    con.register("rows", rows)
    con.register("quotes", day.quotes)
    con.register("trades", day.market_trades)
    return con.execute(PEER_SQL).pl()


def run(repeat: int = 2) -> list[dict]:
    results = []
    for label, cfg in SIZES.items():
        day = simulate_day(TRADE_DATE, cfg)
        rows = decision_rows(day.decisions)
        sources = Sources(
            quotes=day.quotes,
            market_trades=day.market_trades,
            book_snapshots=day.book_snapshots,
            sentiment=day.sentiment,
            technical_indicators=day.technical_indicators,
            positions=day.positions,
            risk_violations=day.derived["raw/risk_violations"],
            security_history=pl.DataFrame(
                schema={
                    "trade_date": pl.Date,
                    "symbol": pl.String,
                    "security_return": pl.Float64,
                    "volume": pl.Int64,
                }
            ),
        )
        started = time.perf_counter()
        built = point_in_time_features(rows, sources)
        all_groups_s = time.perf_counter() - started
        row = {
            "size": label,
            "rows": built.height,
            "all_groups_s": all_groups_s,
            "quote_vol_flow_polars_s": best_of(lambda r=rows, d=day: _polars_groups(r, d), repeat),
        }
        row["quote_vol_flow_duckdb_s"] = row["duckdb_vs_polars"] = None
        if cfg.n_quotes <= 1_000_000:  # the SQL peer's range joins take minutes beyond this
            row["quote_vol_flow_duckdb_s"] = best_of(
                lambda r=rows, d=day: _duckdb_groups(r, d), repeat
            )
            row["duckdb_vs_polars"] = (
                row["quote_vol_flow_duckdb_s"] / row["quote_vol_flow_polars_s"]
            )
        row["peak_rss_mb"] = int(peak_rss_mb())
        results.append(row)
        print(row, flush=True)
        del day, sources, built
    print_table(f"Point-in-time features (best of {repeat})", results)
    print(f"results: {write_results('features', results)}")
    return results
