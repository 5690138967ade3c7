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
    # An optional column (one the platform adds beyond DESIGN §5): filled with this value when
    # a frame lacks it. None: the column is required.
    default: Any = None


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

        Loading never changes a value: a missing required column, a value the contract type
        cannot hold exactly (100.5 or "abc" into an integer, 1e30 into Int64) and a timestamp
        without a time zone raise `ContractError` naming the table, the column, the count and
        the first offending rows. Lossless conversions are made: integers to floats, numeric
        strings to numbers, another time unit or zone to ns UTC. Optional columns missing from
        `frame` take their default.
        """
        lazy = frame.lazy()
        schema = lazy.collect_schema()
        missing = [c.name for c in self.columns if c.name not in schema and c.default is None]
        if missing:
            raise ContractError(f"{self.table}: missing columns {missing}")
        extras = [c for c in schema.names() if c not in self.column_names]
        casts = []
        offenders: dict[str, pl.Expr] = {}
        for c in self.columns:
            if c.name not in schema:
                casts.append(pl.lit(c.default, dtype=c.dtype).alias(c.name))
                continue
            source = schema[c.name]
            cast, bad = _lossless_cast(pl.col(c.name), source, c.dtype, f"{self.table}.{c.name}")
            casts.append(cast.alias(c.name))
            if bad is not None:
                offenders[c.name] = bad
        if offenders:
            _raise_on_offenders(self.table, lazy, offenders, schema)
        return lazy.select(*casts, *extras)


def _lossless_cast(
    col: pl.Expr, source: pl.DataType, target: pl.DataType, where: str
) -> tuple[pl.Expr, pl.Expr | None]:
    """The cast of `col` from `source` to `target`, and an expression flagging the rows whose
    value would change (None when the cast cannot change any)."""
    if source == target:
        return col, None
    if isinstance(target, pl.Datetime):
        if not isinstance(source, pl.Datetime):
            raise ContractError(f"{where}: expected {target}, got {source}")
        if source.time_zone is None:
            raise ContractError(
                f"{where}: timestamps without a time zone; expected {target} (declare the zone,"
                " e.g. .dt.replace_time_zone('UTC'), so the instant is unambiguous)"
            )
        return col.dt.convert_time_zone(target.time_zone).dt.cast_time_unit(target.time_unit), None
    if target.is_integer():
        as_float = col.cast(pl.Float64, strict=False)
        exact = col.cast(target, strict=False)
        if source.is_float():
            # Not whole, not finite, or beyond the target's range: the cast would change it.
            bad = col.is_not_null() & (exact.is_null() | (exact.cast(pl.Float64) != col))
        elif source.is_integer():
            bad = col.is_not_null() & exact.is_null()
        else:  # strings and the rest: must parse to the same whole number
            bad = col.is_not_null() & (exact.is_null() | (exact.cast(pl.Float64) != as_float))
        return exact, bad
    # Floats, dates, strings, booleans: a value that does not convert is flagged.
    converted = col.cast(target, strict=False)
    return converted, col.is_not_null() & converted.is_null()


def _raise_on_offenders(
    table: str, lazy: pl.LazyFrame, offenders: dict[str, pl.Expr], schema: pl.Schema
) -> None:
    counts = lazy.select(**{n: e.sum() for n, e in offenders.items()}).collect().row(0, named=True)
    bad = {n: count for n, count in counts.items() if count}
    if not bad:
        return
    name, count = next(iter(bad.items()))
    rows = lazy.with_row_index("row").filter(offenders[name]).select("row", name).head(5).collect()
    shown = ", ".join(f"row {r}: {v!r}" for r, v in rows.iter_rows())
    others = (
        f"; also {', '.join(f'{n} ({c})' for n, c in list(bad.items())[1:])}"
        if len(bad) > 1
        else ""
    )
    raise ContractError(
        f"{table}: column {name} ({schema[name]}): {count} values cannot be stored as the"
        f" contract's type without changing them ({shown}){others}"
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
