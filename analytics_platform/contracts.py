"""Table contracts: one declaration per table yields its polars schema, pandera schema and docs.

DESIGN §5 fixes the column names; a contract may add columns. Timestamps are
`Datetime("ns", "UTC")`, prices f64, quantities i64, `trade_date` the exchange-local date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    import pandera.polars as pa

TS = pl.Datetime("ns", "UTC")
PRICE = pl.Float64
QTY = pl.Int64
SIDES = ("BUY", "SELL")


@dataclass(frozen=True)
class Check:
    """A value constraint of a column, declared as data: pandera (with pandas, ~0.5 s) is only
    imported when a frame is validated, never when the code location loads."""

    kind: str  # a pandera.Check constructor: gt, ge, isin, in_range
    args: tuple[Any, ...]

    @classmethod
    def gt(cls, value: float) -> Check:
        return cls("gt", (value,))

    @classmethod
    def ge(cls, value: float) -> Check:
        return cls("ge", (value,))

    @classmethod
    def isin(cls, values: Sequence[str]) -> Check:
        return cls("isin", (tuple(values),))

    @classmethod
    def in_range(cls, low: float, high: float) -> Check:
        return cls("in_range", (low, high))

    def to_pandera(self) -> pa.Check:
        import pandera.polars as pa  # noqa: PLC0415

        args = [list(a) if isinstance(a, tuple) else a for a in self.args]
        return getattr(pa.Check, self.kind)(*args)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: pl.DataType
    description: str
    nullable: bool = False
    checks: Sequence[Check] = ()


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
        import pandera.polars as pa  # noqa: PLC0415

        return pa.DataFrameSchema(
            {
                c.name: pa.Column(
                    c.dtype,
                    nullable=c.nullable,
                    checks=[check.to_pandera() for check in c.checks],
                    description=c.description,
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


def schema_errors() -> type[Exception]:
    """pandera's SchemaErrors (what `pandera_schema().validate(lazy=True)` raises), loaded late."""
    import pandera.errors  # noqa: PLC0415

    return pandera.errors.SchemaErrors


class ContractError(ValueError):
    """Data does not satisfy its table contract."""


def side_column(description: str = "BUY or SELL") -> ColumnSpec:
    return ColumnSpec("side", pl.String, description, checks=[Check.isin(SIDES)])


def trade_date_column() -> ColumnSpec:
    return ColumnSpec("trade_date", pl.Date, "Exchange-local trading date (partition column)")
