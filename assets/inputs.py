"""An asset's lake inputs, declared once: each yields the asset's dependency (with its partition
mapping, so backfills are ordered by the graph and the UI shows the window) and is what the
asset's body reads. A window of earlier days (e.g. a 20-day trend reading its own previous 19
days) is a time-window mapping on the same trading-day partitions."""

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    AssetSpec,
    DataVersion,
    MaterializeResult,
    TimeWindowPartitionMapping,
    asset,
)
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from analytics_platform.contracts import TableContract
from analytics_platform.lake import Lake
from assets.metadata import DATA_VERSION_TAG, OWNERS, definition_metadata, lake_key
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


# Runs tagged with this (the Pulsar sensors' runs) skip a lake-table asset whose inputs have not
# changed since its last materialization of the day: a late event for another day, or one an
# earlier run already landed, does not recompute the day's whole graph.
SKIP_UNCHANGED_TAG = "analytics/skip_unchanged"
INPUTS_DIGEST = "inputs_digest"
OUTPUT_DIGEST = "output_digest"
SKIPPED_SINCE_RUN = "skipped_unchanged_since_run"


def _inputs_digest(
    partition_key: str,
    lake: Lake,
    deps: list[str | LakeInput],
    code_version: str,
    resources: dict[str, object],
) -> str:
    """What the asset's computation of a day depends on: its code version, the configuration of
    the resources it takes, and the data files of every input partition it reads."""
    parts = [code_version, *(f"{n}={r!r}" for n, r in sorted(resources.items()))]
    for dep in deps:
        if isinstance(dep, LakeInput):
            table, days = dep.contract.table, dep.days(partition_key)
        else:
            table, days = dep, [partition_date(partition_key)]
        parts.append(f"{table}:{lake.partition_digest(table, days)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _carried_forward(
    context: AssetExecutionContext, key: AssetKey, check_names: list[str]
) -> list[AssetCheckResult] | None:
    """The day's latest result of each check, repeated for a skipped materialization (None if
    any check has no result for the day yet: then the asset is computed)."""
    storage = context.instance.event_log_storage
    results = []
    for name in check_names:
        # This run has already planned the check: the latest executed one is what carries.
        executed = storage.get_asset_check_execution_history(
            AssetCheckKey(key, name),
            limit=1,
            status={
                AssetCheckExecutionRecordStatus.SUCCEEDED,
                AssetCheckExecutionRecordStatus.FAILED,
            },
            partition_filter=PartitionKeyFilter(key=context.partition_key),
        )
        evaluation = executed[0].evaluation if executed else None
        if evaluation is None:
            return None
        results.append(
            AssetCheckResult(
                asset_key=key,
                check_name=name,
                passed=evaluation.passed,
                severity=evaluation.severity,
                description=evaluation.description,
                metadata={**evaluation.metadata, "carried_from_run": executed[0].run_id},
            )
        )
    return results


def _repeated(
    context: AssetExecutionContext, lake: Lake, key: AssetKey, inputs: str, check_names: list[str]
) -> MaterializeResult | None:
    """The day's last materialization of `key` again, if it was computed from the same inputs
    and its partition has not been written since; else None."""
    last = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[context.partition_key]), limit=1
    ).records
    if not last or last[0].asset_materialization is None:
        return None
    recorded = last[0].asset_materialization.metadata
    output = lake.partition_digest(_table_of(key), [partition_date(context.partition_key)])
    digests = (getattr(recorded.get(d), "value", None) for d in (INPUTS_DIGEST, OUTPUT_DIGEST))
    if tuple(digests) != (inputs, output):
        return None
    checks = _carried_forward(context, key, check_names)
    if checks is None:
        return None
    version = last[0].asset_materialization.tags.get(DATA_VERSION_TAG)
    return MaterializeResult(
        asset_key=key,
        metadata={**recorded, SKIPPED_SINCE_RUN: last[0].run_id},
        check_results=checks,
        data_version=DataVersion(version) if version else None,
    )


def skip_unchanged(
    keys: Sequence[AssetKey],
    check_specs: Sequence[AssetCheckSpec],
    deps: list[str | LakeInput],
    code_version: str,
) -> Callable[[Callable[..., Any]], Callable[..., Iterator[MaterializeResult]]]:
    """Wraps the body of a lake-table asset (or of a multi-asset writing the tables of `keys`,
    with the asset's `check_specs`) so that every materialization records the digests of its
    inputs and of the partition it wrote. In a run tagged SKIP_UNCHANGED_TAG, when neither
    changed for any of its tables since the day's last materialization, the body is not called:
    each materialization repeats the last one's data version and check results. The body takes
    the `lake` resource."""
    checks = {key: [s.name for s in check_specs if s.asset_key == key] for key in keys}

    def decorate(fn: Callable[..., Any]) -> Callable[..., Iterator[MaterializeResult]]:
        @functools.wraps(fn)
        def compute(context: AssetExecutionContext, *args, **resources):
            lake = resources["lake"].lake()
            day = partition_date(context.partition_key)
            inputs = _inputs_digest(context.partition_key, lake, deps, code_version, resources)
            if context.run.tags.get(SKIP_UNCHANGED_TAG) == "true":
                repeated = [_repeated(context, lake, k, inputs, n) for k, n in checks.items()]
                if all(r is not None for r in repeated):
                    names = ", ".join(k.to_user_string() for k in checks)
                    context.log.info(f"{names} {day}: inputs unchanged, not recomputed")
                    yield from repeated
                    return
            produced = fn(context, *args, **resources)
            for result in [produced] if isinstance(produced, MaterializeResult) else produced:
                key = result.asset_key or keys[0]
                output = lake.partition_digest(_table_of(key), [day])
                yield MaterializeResult(
                    asset_key=result.asset_key,
                    metadata={
                        **(result.metadata or {}),
                        INPUTS_DIGEST: inputs,
                        OUTPUT_DIGEST: output,
                    },
                    check_results=result.check_results,
                    data_version=result.data_version,
                    tags=result.tags,
                )

        return compute

    return decorate


def _table_of(key: AssetKey) -> str:
    return "/".join(key.path)


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
    declare = asset(**fields, check_specs=list(check_specs))
    skipping = skip_unchanged([fields["key"]], check_specs, deps, code_version)
    return lambda fn: declare(skipping(fn))


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
