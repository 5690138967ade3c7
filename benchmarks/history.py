"""20-day history at the default size through `analytics-platform backfill` (`make history`).

Each mode builds the same 20 trading days in a fresh ANALYTICS_HOME with the real CLI: the world
chain, a job backfill of the end-of-day graph, runs launched by a dagster-daemon. The peer is the
same history with one run at a time (ANALYTICS_MAX_CONCURRENT_RUNS=1) against independent days
in parallel (2 runs, the embedded default). Peak RSS is the largest sum over the CLI's process
tree (daemon, code server, runs), sampled every 0.5 s.
"""

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import platform_env, print_table, write_results

PROJECT = Path(__file__).resolve().parents[1]
DAYS = 20
END = "2026-11-25"


def _tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "statm").read_text().split()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat[1])
        rss[int(entry.name)] = int(status[1]) * os.sysconf("SC_PAGE_SIZE")
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [c for c, p in parents.items() if p == pid and c not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(rss.get(p, 0) for p in tree) / 2**20


def build_history(max_runs: int) -> dict:
    home = tempfile.mkdtemp(prefix="bench-history-")
    env = platform_env(home, ANALYTICS_MAX_CONCURRENT_RUNS=str(max_runs))
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "analytics_platform.cli",
            "backfill",
            "--end",
            END,
            "--days",
            str(DAYS),
        ],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    peak = [0.0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    sampler.join()
    wall = time.perf_counter() - started
    if proc.returncode:
        raise RuntimeError(f"backfill failed:\n{out[-4000:]}")
    chain = next(line for line in out.splitlines() if "world chain" in line)
    return {
        "mode": "one run at a time" if max_runs == 1 else f"{max_runs} runs in parallel",
        "days": DAYS,
        "wall_s": round(wall, 1),
        "world_chain_s": float(chain.split()[-2]),
        "peak_rss_gb": round(peak[0] / 1024, 2),
    }


def run() -> None:
    rows = [build_history(1), build_history(2)]
    rows[1]["speedup_vs_sequential"] = round(rows[0]["wall_s"] / rows[1]["wall_s"], 2)
    rows[0]["speedup_vs_sequential"] = 1.0
    print_table(f"History: {DAYS} trading days at the default size (make history)", rows)
    print(f"  results: {write_results('history', rows)}")
