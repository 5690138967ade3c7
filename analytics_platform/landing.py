"""Market-data landing zone: the vendor drops one Parquet file per table and trading day.

Layout: <root>/<table>/trade_date=YYYY-MM-DD/data.parquet. Files are written to a temporary name
and renamed, so a reader sees either the whole drop or none of it.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl


class LandingFileMissing(FileNotFoundError):
    """No vendor drop for this table and day."""


@dataclass(frozen=True)
class LandingZone:
    root: Path

    def path(self, table: str, trade_date: dt.date) -> Path:
        return Path(self.root, table, f"trade_date={trade_date.isoformat()}", "data.parquet")

    def write(self, table: str, trade_date: dt.date, frame: pl.DataFrame) -> Path:
        target = self.path(table, trade_date)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".parquet.tmp")
        frame.write_parquet(tmp, compression="zstd", statistics=True)
        os.replace(tmp, target)
        return target

    def scan(self, table: str, trade_date: dt.date) -> pl.LazyFrame:
        path = self.path(table, trade_date)
        if not path.exists():
            raise LandingFileMissing(f"no landing file for {table} on {trade_date}: {path}")
        return pl.scan_parquet(path)
