"""An asset's lake inputs, declared once: each yields the asset's dependency (with its partition
mapping, so backfills are ordered by the graph and the UI shows the window) and is what the
asset's body reads. A window of earlier days (e.g. a 20-day trend reading its own previous 19
days) is a time-window mapping on the same trading-day partitions."""

import datetime as dt
from dataclasses import dataclass

import polars as pl
from dagster import AssetCheckSpec, AssetDep, AssetSpec, TimeWindowPartitionMapping, asset

from analytics_platform.contracts import TableContract
from analytics_platform.lake import Lake
from assets.metadata import OWNERS, definition_metadata, lake_key
from assets.partitions import end_of_day_freshness, partition_date, trading_day_partitions


@dataclass(frozen=True)
class LakeInput:
    """`contract`'s table, on the asset's own day, or on the `days_before` trading days before
    it when that is set (and the day itself too with `with_day`: a trailing window)."""

    contract: TableContract
    days_before: int = 0
    with_day: bool = False

    @property
    def mapping(self) -> TimeWindowPartitionMapping | None:
        if not self.days_before:
            return None  # the same day: Dagster's identity mapping
        end = 0 if self.with_day else -1
        return TimeWindowPartitionMapping(start_offset=-self.days_before, end_offset=end)

    @property
    def dep(self) -> AssetDep:
        return AssetDep(lake_key(self.contract.table), partition_mapping=self.mapping)

    def days(self, partition_key: str) -> list[dt.date]:
        """The trading days this input covers for the asset's partition `partition_key`."""
        if self.mapping is None:
            return [partition_date(partition_key)]
        upstream = self.mapping.get_upstream_mapped_partitions_result_for_partitions(
            trading_day_partitions.subset_with_partition_keys([partition_key]),
            trading_day_partitions,
            trading_day_partitions,
        )
        return sorted(partition_date(k) for k in upstream.partitions_subset.get_partition_keys())

    def read(self, lake: Lake, partition_key: str) -> pl.DataFrame:
        return lake.scan(self.contract, self.days(partition_key)).collect()


def _table_fields(
    contract: TableContract,
    deps: list[str | LakeInput],
    *,
    group: str,
    code_version: str,
    kinds: set[str],
    description: str | None,
) -> dict:
    """What every lake-table asset declares: keyed by its table, partitioned by trading day,
    owned, documented from its contract, fresh by the end of day."""
    return dict(
        key=lake_key(contract.table),
        deps=[d.dep if isinstance(d, LakeInput) else lake_key(d) for d in deps],
        partitions_def=trading_day_partitions,
        group_name=group,
        owners=OWNERS,
        kinds=kinds,
        description=description or contract.description,
        metadata=definition_metadata(contract),
        code_version=code_version,
        freshness_policy=end_of_day_freshness,
    )


def lake_table_asset(
    contract: TableContract,
    deps: list[str | LakeInput],
    *,
    group: str,
    code_version: str,
    kinds: set[str],
    description: str | None = None,
    check_specs: list[AssetCheckSpec] | tuple = (),
):
    """The decorator a lake-table asset of the end-of-day graph is made with (`_table_fields`).
    `deps`: input tables on the same day, or `LakeInput`s (windows of days)."""
    fields = _table_fields(
        contract,
        deps,
        group=group,
        code_version=code_version,
        kinds=kinds,
        description=description,
    )
    return asset(**fields, check_specs=list(check_specs))


def lake_table_spec(
    contract: TableContract,
    deps: list[str | LakeInput],
    *,
    group: str,
    code_version: str,
    kinds: set[str],
    description: str | None = None,
) -> AssetSpec:
    """The same declaration as an `AssetSpec`, for a multi-asset writing several tables."""
    fields = _table_fields(
        contract,
        deps,
        group=group,
        code_version=code_version,
        kinds=kinds,
        description=description,
    )
    return AssetSpec(**fields)
