"""Delta Lake helpers: the only place that reads and writes lake tables.

Every table is partitioned by `trade_date`. Writing a partition replaces exactly that partition
in one Delta commit (overwrite with a predicate), so re-materialising is idempotent and readers
never see a half-written day. Delta stores timestamps in microseconds; reads cast back to the
contract's `Datetime("ns", "UTC")`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from analytics_platform.contracts import ContractError, TableContract

COMMIT_ATTEMPTS = 5
HISTORY_WINDOWS = (8, 256)
RUN_ID_KEY = "dagster_run_id"  # commit metadata: the Dagster run that made the commit
PARTITION_KEY = "partition"  # commit metadata of a partition write: the trade_date it replaced


@dataclass(frozen=True)
class PartitionWrite:
    table: str
    trade_date: dt.date
    rows: int
    version: int
    uri: str


@dataclass(frozen=True)
class Upsert:
    inserted: int
    already_present: int
    version: int


@dataclass(frozen=True)
class Lake:
    """A Delta lake rooted at a local path or an object-store URI (s3://, gs://, az://).

    `commit_metadata` is written into every commit this handle makes (the lake resource sets the
    Dagster run id there), merged with each write's own: an audit reads who wrote a version.
    """

    root: str
    storage_options: Mapping[str, str] = field(default_factory=dict)
    commit_metadata: Mapping[str, str] = field(default_factory=dict)

    def uri(self, table: str) -> str:
        if "://" in self.root:
            return f"{self.root.rstrip('/')}/{table}"
        return str(Path(self.root, table))

    def _options(self) -> dict[str, str] | None:
        return dict(self.storage_options) or None

    def _commit(self, metadata: Mapping[str, str] | None, **more: str) -> CommitProperties:
        return CommitProperties(
            custom_metadata={**self.commit_metadata, **more, **(metadata or {})}
        )

    def exists(self, table: str) -> bool:
        return self.version(table) is not None

    def version(self, table: str) -> int | None:
        try:
            return DeltaTable(self.uri(table), storage_options=self._options()).version()
        except TableNotFoundError:
            return None

    def write_partition(
        self,
        contract: TableContract,
        frame: pl.DataFrame | pl.LazyFrame,
        trade_date: dt.date,
        commit_metadata: Mapping[str, str] | None = None,
    ) -> PartitionWrite:
        """Replace the `trade_date` partition of the table with `frame`, in one commit.

        Rows must all belong to `trade_date`: a frame spilling into other days is a bug upstream
        and is refused rather than silently written.
        """
        data = contract.conform(frame).collect()
        stray = data.filter(pl.col(contract.partition_column) != trade_date).height
        if stray:
            raise ContractError(
                f"{contract.table}: {stray} rows do not belong to partition {trade_date}"
            )
        uri = self.uri(contract.table)
        if "://" not in uri:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        # Two writers replacing the same partition at once conflict (serializable isolation);
        # replacing a whole partition is idempotent, so the loser simply replaces it again.
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                write_deltalake(
                    uri,
                    data.to_arrow(),
                    mode="overwrite",
                    predicate=f"{contract.partition_column} = '{trade_date.isoformat()}'",
                    partition_by=[contract.partition_column],
                    schema_mode="merge",
                    storage_options=self._options(),
                    commit_properties=self._commit(
                        commit_metadata, **{PARTITION_KEY: trade_date.isoformat()}
                    ),
                )
                break
            except CommitFailedError:
                if attempt == COMMIT_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        version = DeltaTable(uri, storage_options=self._options()).version()
        return PartitionWrite(contract.table, trade_date, data.height, version, uri)

    def upsert(
        self,
        contract: TableContract,
        frame: pl.DataFrame,
        commit_metadata: Mapping[str, str] | None = None,
    ) -> Upsert:
        """Insert the rows whose natural key is not in the table yet, in one commit.

        Rows already present are left as they are (re-delivered events are no-ops). The commit
        always happens when `commit_metadata` is given, even with nothing new to insert, so the
        metadata (e.g. an ingestion offset) is recorded atomically with whatever rows it covers.
        """
        data = (
            contract.conform(frame)
            .collect()
            .unique(list(contract.key), keep="first", maintain_order=True)
        )
        uri = self.uri(contract.table)
        props = self._commit(commit_metadata)
        if not self.exists(contract.table):
            if "://" not in uri:
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
            try:
                write_deltalake(
                    uri,
                    data.to_arrow(),
                    partition_by=[contract.partition_column],
                    storage_options=self._options(),
                    commit_properties=props,
                )
                return Upsert(data.height, 0, self.version(contract.table) or 0)
            except DeltaError:
                if not self.exists(contract.table):
                    raise  # not a writer that created it first: a real error
        # A concurrent writer's commit makes the merge conflict; merging again (it inserts only
        # the keys still missing) is safe, so the loser retries.
        attempt = 0
        while True:
            try:
                return self._merge(contract, data, uri, props, commit_metadata)
            except CommitFailedError:
                attempt += 1
                if attempt == COMMIT_ATTEMPTS:
                    raise
                time.sleep(0.05 * 2**attempt)

    def _merge(self, contract, data, uri, props, commit_metadata) -> Upsert:
        table = DeltaTable(uri, storage_options=self._options())
        before = table.version()
        inserted = 0
        if data.height:
            dates = ", ".join(
                f"'{d.isoformat()}'" for d in data[contract.partition_column].unique()
            )
            on_key = " AND ".join(
                f"t.{k} = s.{k}" for k in [*contract.key, contract.partition_column]
            )
            metrics = (
                table.merge(
                    data.to_arrow(),
                    predicate=f"{on_key} AND t.{contract.partition_column} IN ({dates})",
                    source_alias="s",
                    target_alias="t",
                    commit_properties=props,
                )
                .when_not_matched_insert_all()
                .execute()
            )
            inserted = int(metrics["num_target_rows_inserted"])
        version = DeltaTable(uri, storage_options=self._options()).version()
        if version == before and commit_metadata:
            # Nothing new: delta-rs skips the commit, so record the metadata in an empty append.
            write_deltalake(
                uri,
                data.head(0).to_arrow(),
                mode="append",
                partition_by=[contract.partition_column],
                storage_options=self._options(),
                commit_properties=props,
            )
            version = DeltaTable(uri, storage_options=self._options()).version()
        return Upsert(inserted, data.height - inserted, version)

    def latest_commit_metadata(self, table: str, key: str, value: str) -> dict | None:
        """Newest commit whose custom metadata has `key == value` (None if none, or no table).

        Reads the log newest first in growing windows: the commit wanted is nearly always among
        the last few (ingestion is the tables' only writer), so the cost does not grow with the
        table's history; only a table that never had such a commit is read to its start.
        """
        if not self.exists(table):
            return None
        dt_table = DeltaTable(self.uri(table), storage_options=self._options())
        for limit in (*HISTORY_WINDOWS, None):
            commits = dt_table.history(limit)  # newest first
            for commit in commits:
                if commit.get(key) == value:
                    return commit
            if limit is not None and len(commits) < limit:
                return None  # the whole log was read
        return None

    def scan(
        self,
        contract: TableContract,
        trade_dates: Iterable[dt.date] | None = None,
        version: int | None = None,
    ) -> pl.LazyFrame:
        """Lazy scan of a table (optionally some partitions, optionally time-travelled)."""
        if not self.exists(contract.table):
            return pl.LazyFrame(schema=contract.polars_schema)  # nothing landed yet
        frame = pl.scan_delta(
            self.uri(contract.table), version=version, storage_options=self._options()
        )
        if trade_dates is not None:
            dates = list(trade_dates)
            frame = frame.filter(pl.col(contract.partition_column).is_in(dates))
        return contract.conform(frame)

    def history(self, table: str, limit: int | None = None) -> list[dict]:
        return DeltaTable(self.uri(table), storage_options=self._options()).history(limit)

    def commit(self, table: str, version: int) -> dict:
        """The log entry (commit info, custom metadata included) of one version of a table."""
        dt_table = DeltaTable(self.uri(table), storage_options=self._options())
        newest = dt_table.version()
        if not 0 <= version <= newest:
            raise ValueError(f"{table} has no version {version} (newest: {newest})")
        for commit in dt_table.history(newest - version + 1):  # newest first
            if commit.get("version") == version:
                return commit
        raise ValueError(f"{table}: version {version} is not in the log (vacuumed?)")

    def row_commits(
        self, contract: TableContract, trade_date: dt.date, where: pl.Expr
    ) -> list[dict]:
        """The commits that wrote the rows of partition `trade_date` matching `where` as they
        stand now (`where` must not use the partition column): the data files holding them,
        then for each file the version that added it (the first version whose snapshot lists
        it: a file, once removed, never comes back, so a binary search over versions finds it).
        A partition write's commit, an ingestion batch's merge, or a compaction."""
        if not self.exists(contract.table):
            return []
        uri = self.uri(contract.table)
        current = DeltaTable(uri, storage_options=self._options())
        files = pl.DataFrame(current.get_add_actions(flatten=True)).filter(
            pl.col(f"partition.{contract.partition_column}") == trade_date
        )["path"]
        if files.is_empty():
            return []
        base = uri.rstrip("/")
        holding = (
            pl.scan_parquet(
                [f"{base}/{path}" for path in files],
                storage_options=self._options(),
                include_file_paths="_file",
                hive_partitioning=False,
                missing_columns="insert",
                extra_columns="ignore",
            )
            .filter(where)
            .select(pl.col("_file").str.strip_prefix(f"{base}/"))
            .unique()
            .collect()["_file"]
            .to_list()
        )
        snapshots: dict[int, set[str]] = {}

        def listed(version: int) -> set[str]:
            if version not in snapshots:
                table = DeltaTable(uri, version=version, storage_options=self._options())
                snapshots[version] = set(table.get_add_actions().column("path").to_pylist())
            return snapshots[version]

        versions = set()
        for path in holding:
            low, high = 0, current.version()
            while low < high:
                middle = (low + high) // 2
                if path in listed(middle):
                    high = middle
                else:
                    low = middle + 1
            versions.add(low)
        return [self.commit(contract.table, v) for v in sorted(versions)]

    def files(self, table: str) -> pl.DataFrame:
        """The table's current data files from the Delta log, one row each: path, size_bytes,
        num_records, `partition.<column>`, and `min.<column>` / `max.<column>` statistics (no
        data file is read). Empty when the table does not exist."""
        try:  # one read of the log (not `exists` first: partition digests call this per input)
            dt_table = DeltaTable(self.uri(table), storage_options=self._options())
        except TableNotFoundError:
            return pl.DataFrame()
        return pl.DataFrame(dt_table.get_add_actions(flatten=True))

    def partition_digest(
        self, table: str, trade_dates: Iterable[dt.date], partition_column: str = "trade_date"
    ) -> str:
        """A digest of the data files that make up the given partitions of `table`, from the
        Delta log alone. Files are immutable and uniquely named, so any write that touches those
        partitions (an insert, a replacement, a compaction) changes it; partitions with no files
        (or no table yet) digest alike."""
        files = self.files(table)
        paths = (
            []
            if files.is_empty()
            else files.filter(pl.col(f"partition.{partition_column}").is_in(list(trade_dates)))[
                "path"
            ]
            .sort()
            .to_list()
        )
        return hashlib.sha256("\n".join(paths).encode()).hexdigest()[:16]
