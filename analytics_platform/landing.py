"""Market-data landing zone: the vendor drops one Parquet file per table and trading day.

Layout: <root>/<table>/trade_date=YYYY-MM-DD/data.parquet. Files are written to a temporary name
and renamed, so a reader sees either the whole drop or none of it.

Observing the zone (what the UI shows of the sources) reads no data: `LandingZone.changed_after`
lists the drops new or rewritten since a position, from file-system metadata only, and
`read_footer` reads a drop's row count and a digest of its Parquet footer from the end of the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

PARQUET_MAGIC = b"PAR1"


class LandingFileMissing(FileNotFoundError):
    """No vendor drop for this table and day."""


@dataclass(frozen=True)
class LandingFile:
    """A vendor drop as the file system lists it (nothing read). `modified_ns` is the vendor's
    modification time; `changed_ns` (st_ctime) is when the file last changed *here*: set by every
    write, rename or copy, even a copy that keeps an older modification time (rsync -t)."""

    table: str
    trade_date: dt.date
    path: Path
    size_bytes: int
    modified_ns: int
    changed_ns: int

    @property
    def position(self) -> tuple[int, str]:
        """Its place in the order of change (ties by path): what an observer keeps as its mark."""
        return (self.changed_ns, str(self.path))


@dataclass(frozen=True)
class ParquetFooter:
    """What a Parquet file's footer says: its rows, and a digest of the footer's bytes (schema,
    row groups, byte sizes and column statistics), equal for files of identical content."""

    rows: int
    sha256: str


def read_footer(path: Path) -> ParquetFooter:
    """The footer of a Parquet file, read from the file's end (no data page is read). Raises
    ValueError when the file does not end like a Parquet file (e.g. still being written)."""
    import pyarrow.parquet as pq  # noqa: PLC0415 - only observers read footers

    with path.open("rb") as file:
        file.seek(-8, os.SEEK_END)
        trailer = file.read(8)
        if trailer[4:] != PARQUET_MAGIC:
            raise ValueError(f"not a complete Parquet file: {path}")
        length = int.from_bytes(trailer[:4], "little")
        file.seek(-8 - length, os.SEEK_END)
        footer = file.read(length)
        rows = pq.ParquetFile(file).metadata.num_rows
    return ParquetFooter(rows=rows, sha256=hashlib.sha256(footer).hexdigest())


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

    def files(self, table: str) -> list[LandingFile]:
        """Every drop of `table`, by trade date (temporary files of a write in progress are not
        drops: they are not named data.parquet)."""
        found = []
        for path in sorted(Path(self.root, table).glob("trade_date=*/data.parquet")):
            try:
                trade_date = dt.date.fromisoformat(path.parent.name.removeprefix("trade_date="))
                stat = path.stat()
            except (ValueError, FileNotFoundError):  # not a day's folder, or removed since listed
                continue
            found.append(
                LandingFile(
                    table, trade_date, path, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns
                )
            )
        return found

    def changed_after(
        self, tables: Iterable[str], mark: tuple[int, str] | None, limit: int
    ) -> list[LandingFile]:
        """The drops of `tables` that changed after `mark` (the `position` of the last one an
        observer saw; None: all), in the order they changed, at most `limit`. An observer that
        keeps the position of the last file it handled sees every new or rewritten drop once."""
        files = sorted((f for t in tables for f in self.files(t)), key=lambda f: f.position)
        return [f for f in files if mark is None or f.position > mark][:limit]

    def scan(self, table: str, trade_date: dt.date) -> pl.LazyFrame:
        path = self.path(table, trade_date)
        if not path.exists():
            raise LandingFileMissing(f"no landing file for {table} on {trade_date}: {path}")
        return pl.scan_parquet(path)
