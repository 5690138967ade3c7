"""Shared metadata builders for lake-table assets (schema, lineage, materialization stats)."""

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    TableColumn,
    TableColumnDep,
    TableColumnLineage,
    TableSchema,
)

from analytics_platform.contracts import ColumnSpec, TableContract
from analytics_platform.lake import PartitionWrite
from analytics_platform.quality.checks import CheckOutcome
from analytics_platform.reporting import Markdown, markdown_table
from analytics_platform.tca.schemas import COLUMN_LINEAGE

OWNERS = ["team:data-platform"]


def code_version(*packages: str) -> str:
    """A digest of the domain code an asset runs (its package sources): when it changes,
    Dagster marks the asset's materializations stale in the UI."""
    digest = hashlib.sha256()
    for package in packages:
        root = Path(importlib.util.find_spec(package).origin).parent
        for source in sorted(root.rglob("*.py")):
            digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


# The tag Dagster reads a materialization's or observation's data version from (what
# MaterializeResult/ObserveResult.data_version set); Dagster exports no public name for it.
DATA_VERSION_TAG = "dagster/data_version"


def lake_key(table: str) -> AssetKey:
    """Asset keys mirror lake table paths: raw/quotes -> AssetKey(["raw", "quotes"])."""
    return AssetKey(table.split("/"))


def column_schema(columns: Sequence[ColumnSpec]) -> TableSchema:
    """`dagster/column_schema` of contract columns (a table's, or a topic's messages')."""
    return TableSchema(
        columns=[
            TableColumn(
                name=c.name,
                type=str(c.dtype),
                description=c.description,
                constraints=None,
            )
            for c in columns
        ]
    )


def definition_metadata(contract: TableContract) -> dict[str, object]:
    """Static metadata shown on the asset in the lineage graph."""
    return {
        "dagster/column_schema": column_schema(contract.columns),
        "dagster/table_name": contract.table.replace("/", "."),
        "natural_key": ", ".join(contract.key),
        "partitioned_by": contract.partition_column,
    }


def column_lineage(table: str, columns: list[str]) -> dict[str, TableColumnLineage]:
    """`dagster/column_lineage` of a table whose columns' inputs are declared (the mapping next
    to its contract, e.g. tca/schemas.py), for the columns written; nothing for other tables."""
    declared = COLUMN_LINEAGE.get(table)
    if not declared:
        return {}
    return {
        "dagster/column_lineage": TableColumnLineage(
            deps_by_column={
                column: [TableColumnDep(lake_key(t), c) for t, c in dict.fromkeys(declared[column])]
                for column in columns
                if column in declared
            }
        )
    }


def write_metadata(write: PartitionWrite, frame: pl.DataFrame) -> dict[str, object]:
    """Per-materialization metadata: counts, Delta version (for time travel), preview, and the
    column lineage where the table declares it."""
    return {
        "dagster/row_count": write.rows,
        "dagster/uri": write.uri,
        "delta_version": write.version,
        "trade_date": write.trade_date.isoformat(),
        "preview": MetadataValue.md(markdown_table(frame)),
        **column_lineage(write.table, frame.columns),
    }


def check_result(
    outcome: CheckOutcome,
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
    check_name: str | None = None,
    asset_key: AssetKey | None = None,
) -> AssetCheckResult:
    """A domain `CheckOutcome` as a Dagster asset-check result (named as the outcome by default;
    `asset_key` names the asset when a multi-asset reports checks of several)."""
    return AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name or outcome.name,
        passed=outcome.passed,
        severity=severity,
        description=outcome.description,
        metadata={
            name: MetadataValue.md(value) if isinstance(value, Markdown) else value
            for name, value in outcome.metadata.items()
        },
    )
