"""Table contracts: one declaration per table yields its polars schema, pandera schema and docs.

DESIGN §5 fixes the column names; a contract may add columns. Timestamps are
`Datetime("ns", "UTC")`, prices f64, quantities i64, `trade_date` the exchange-local date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandera.polars as pa
import polars as pl

TS = pl.Datetime("ns", "UTC")
PRICE = pl.Float64
QTY = pl.Int64
SIDES = ("BUY", "SELL")


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: pl.DataType
    description: str
    nullable: bool = False
    checks: Sequence[pa.Check] = ()


@dataclass(frozen=True)
class TableContract:
    """A raw or analytics table: its path in the lake, columns, natural key and meaning."""

    table: str  # lake path, e.g. "raw/quotes"; also the Dagster asset key path
    description: str
    columns: Sequence[ColumnSpec]
    key: Sequence[str]
    partition_column: str = "trade_date"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def polars_schema(self) -> pl.Schema:
        return pl.Schema({c.name: c.dtype for c in self.columns})

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def pandera_schema(self, check_key: bool = True) -> pa.DataFrameSchema:
        """Strict on the contract's columns and types; extra columns are allowed."""
        return pa.DataFrameSchema(
            {
                c.name: pa.Column(
                    c.dtype, nullable=c.nullable, checks=list(c.checks), description=c.description
                )
                for c in self.columns
            },
            name=self.table,
            description=self.description,
            unique=list(self.key) if check_key else None,
            strict=False,
        )

    def conform(self, frame: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
        """Select the contract's columns in order, cast to contract types; unknown columns follow.

        A missing contract column raises `ContractError` naming it, not a polars error.
        """
        lazy = frame.lazy()
        present = lazy.collect_schema().names()
        missing = [c for c in self.column_names if c not in present]
        if missing:
            raise ContractError(f"{self.table}: missing columns {missing}")
        extras = [c for c in present if c not in self.column_names]
        return lazy.select(
            *[pl.col(c.name).cast(c.dtype, strict=True) for c in self.columns], *extras
        )


class ContractError(ValueError):
    """Data does not satisfy its table contract."""


def side_column(description: str = "BUY or SELL") -> ColumnSpec:
    return ColumnSpec("side", pl.String, description, checks=[pa.Check.isin(SIDES)])


def trade_date_column() -> ColumnSpec:
    return ColumnSpec("trade_date", pl.Date, "Exchange-local trading date (partition column)")
