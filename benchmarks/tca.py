"""TCA speed: fill_tca + order_tca vs the same metrics in DuckDB SQL (ASOF + range joins).

Sizes (DESIGN §9): 10k orders / 1M quotes and 100k orders / 10M quotes, ~10 fills per order and
a proportional tape. Each implementation runs in its own process on the same data (a Parquet
drop written first), so peak memory is per implementation.
"""

import datetime as dt
import json
import subprocess
import tempfile
import time
from pathlib import Path

import polars as pl

from benchmarks.common import best_of, child_json, peak_rss_mb, print_table, write_results

SIZES = {
    "10k orders / 1M quotes": dict(n_symbols=100, n_quotes=1_000_000, n_orders=10_000),
    "100k orders / 10M quotes": dict(n_symbols=200, n_quotes=10_000_000, n_orders=100_000),
}
TABLES = ("executions", "orders", "quotes", "market_trades")


def _prepare(folder: Path, size: dict) -> dict:
    from analytics_platform.marketdata.simulator import (  # noqa: PLC0415
        SimulationConfig,
        simulate_day,
    )

    day = simulate_day(dt.date(2026, 11, 20), SimulationConfig(**size))
    for name in TABLES:
        getattr(day, name).write_parquet(folder / f"{name}.parquet")
    return {
        "fills": day.executions.height,
        "orders": day.orders.height,
        "quotes": day.quotes.height,
    }


def worker(folder: str, impl: str, repeat: int) -> None:
    """Runs in a child process: time one implementation, print JSON."""
    frames = {n: pl.read_parquet(Path(folder, f"{n}.parquet")) for n in TABLES}
    if impl == "polars":
        from analytics_platform.tca import fill_tca, order_tca, quote_book  # noqa: PLC0415

        def run() -> None:
            book = quote_book(frames["quotes"])  # timed: built from the raw quotes, then shared
            fill_tca(frames["executions"], frames["orders"], book)
            order_tca(frames["orders"], frames["executions"], book, frames["market_trades"])
    else:
        from benchmarks.tca_duckdb import connect, fill_tca_sql, order_tca_sql  # noqa: PLC0415

        def run() -> None:
            con = connect(
                frames["executions"], frames["orders"], frames["quotes"], frames["market_trades"]
            )
            fill_tca_sql(con, {"1s": 1, "5s": 5, "30s": 30, "60s": 60, "300s": 300})
            order_tca_sql(con)
            con.close()

    seconds = best_of(run, repeat)
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb()}))


def _child(folder: Path, impl: str, repeat: int, timeout_s: float) -> dict:
    """Run one implementation in its own process; a run past `timeout_s` is reported as such."""
    code = f"from benchmarks.tca import worker; worker({str(folder)!r}, {impl!r}, {repeat})"
    try:
        return child_json(code, timeout_s=timeout_s)
    except subprocess.TimeoutExpired:
        return {"seconds": float("inf"), "peak_rss_mb": float("nan")}


PEER_TIMEOUT_S = 900.0


def run(repeat: int = 2) -> list[dict]:
    rows = []
    for label, size in SIZES.items():
        reps = repeat if size["n_quotes"] <= 1_000_000 else 1
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            counts = _prepare(Path(tmp), size)
            print(f"{label}: simulated {counts} in {time.perf_counter() - started:.1f} s")
            ours = _child(Path(tmp), "polars", reps, PEER_TIMEOUT_S)
            print(f"  polars: {ours}", flush=True)
            peer = _child(Path(tmp), "duckdb", reps, PEER_TIMEOUT_S)
            print(f"  duckdb: {peer}", flush=True)
        rows.append(
            {
                "size": label,
                "fills": counts["fills"],
                "polars_s": ours["seconds"],
                "duckdb_sql_s": peer["seconds"],
                "speedup_vs_duckdb": peer["seconds"] / ours["seconds"],
                "polars_peak_mb": ours["peak_rss_mb"],
                "duckdb_peak_mb": peer["peak_rss_mb"],
            }
        )
    print_table(f"TCA: fill_tca + order_tca (best of {repeat} at 1M, 1 run at 10M)", rows)
    print(f"results: {write_results('tca', rows)}")
    print(f"(runner peak {int(peak_rss_mb())} MB)")
    return rows
