"""Finding the ingestion resume point in a raw table with a long history.

A raw event table takes one Delta commit per ingested batch; a year of event-driven runs is tens
of thousands of commits. The resume point (the last message id, committed with its rows) is read
from the newest commit that has it. Measured at 1,000 and 10,000 commits: the platform's lookup
(`Lake.latest_commit_metadata`, newest commits first in growing windows) against its peer, the
walk over the whole log it replaced (`DeltaTable.history()`).
"""

import datetime as dt
import tempfile

import polars as pl
from deltalake import CommitProperties, DeltaTable, write_deltalake

from analytics_platform.lake import Lake
from benchmarks.common import best_of, print_table, write_results

KEY, TOPIC = "ingest.topic", "persistent://analytics/bench/resume"


def _table(root: str, commits: int) -> str:
    """A table with `commits` commits, each carrying an offset; after the first, empty appends
    (what an ingestion batch of nothing but duplicates commits), so building it stays fast."""
    uri = f"{root}/raw/bench"
    row = pl.DataFrame({"event_id": ["e"], "trade_date": [dt.date(2026, 11, 20)]}).to_arrow()
    for i in range(commits):
        write_deltalake(
            uri,
            row if i == 0 else row.slice(0, 0),
            mode="append",
            partition_by=["trade_date"],
            commit_properties=CommitProperties(
                custom_metadata={KEY: TOPIC, "ingest.last_message_id": str(i)}
            ),
        )
    return uri


def _full_walk(uri: str) -> dict:
    return next(c for c in DeltaTable(uri).history() if c.get(KEY) == TOPIC)


def run(repeat: int = 3, sizes: tuple[int, ...] = (1_000, 10_000)) -> list[dict]:
    rows = []
    for commits in sizes:
        with tempfile.TemporaryDirectory() as root:
            uri = _table(root, commits)
            lake = Lake(root)
            found = lake.latest_commit_metadata("raw/bench", KEY, TOPIC)
            assert found["ingest.last_message_id"] == str(commits - 1)
            lookup_s = best_of(
                lambda lake=lake: lake.latest_commit_metadata("raw/bench", KEY, TOPIC), repeat
            )
            walk_s = best_of(lambda uri=uri: _full_walk(uri), repeat)
            rows.append(
                {
                    "commits": commits,
                    "lookup_s": lookup_s,
                    "full_log_walk_s": walk_s,
                    "speedup": walk_s / lookup_s,
                }
            )
    print_table(f"Resume point lookup (best of {repeat})", rows)
    print(f"results: {write_results('resume', rows)}")
    return rows
