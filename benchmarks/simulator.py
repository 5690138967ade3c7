"""Simulator speed: a full trading day at 1M and 10M quotes.

Peer, measured in the same run: the numpy floor for the same number of quotes (draw the times,
sort the packed keys, one normal per quote and a cumulative sum), i.e. the least any vectorised
simulator of this model must do. The ratio says how close the full simulator is to that floor.
"""

import datetime as dt

import numpy as np

from analytics_platform.marketdata.simulator import SimulationConfig, simulate_day
from benchmarks.common import best_of, peak_rss_mb, print_table, write_results

SIZES = {
    "1M quotes / 50 symbols / 2k orders": SimulationConfig(
        n_symbols=50, n_quotes=1_000_000, n_orders=2_000
    ),
    "10M quotes / 200 symbols / 50k orders": SimulationConfig(
        n_symbols=200, n_quotes=10_000_000, n_orders=50_000
    ),
}
TRADE_DATE = dt.date(2026, 11, 20)


def _numpy_floor(n: int) -> None:
    rng = np.random.default_rng(0)
    keys = np.sort(rng.integers(0, 1 << 52, n))
    np.cumsum(rng.standard_normal(n) * np.diff(keys, prepend=0))


def run(repeat: int = 2) -> list[dict]:
    rows = []
    for label, cfg in SIZES.items():
        sim_s = best_of(lambda cfg=cfg: simulate_day(TRADE_DATE, cfg), repeat)
        floor_s = best_of(lambda cfg=cfg: _numpy_floor(cfg.n_quotes), repeat)
        rows.append(
            {
                "size": label,
                "simulate_s": sim_s,
                "quotes_per_s": int(cfg.n_quotes / sim_s),
                "numpy_floor_s": floor_s,
                "ratio_vs_floor": sim_s / floor_s,
                "peak_rss_mb": int(peak_rss_mb()),
            }
        )
    print_table(f"Simulator (best of {repeat})", rows)
    print(f"results: {write_results('simulator', rows)}")
    return rows
