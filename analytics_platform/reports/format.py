"""Number formatting of the reports: dollars, bps with their sign, intervals, percentages.

A missing value (None or NaN: DuckDB hands back both) prints as an en dash, never as "nan".
"""

from __future__ import annotations

import html
import math

MISSING = "–"


def missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def usd(value: float | None, *, signed: bool = False) -> str:
    """Dollars, compact: $950, $71.5k, -$1.23M, $2.05B (signed: +$71.5k)."""
    if missing(value):
        return MISSING
    sign = "-" if value < 0 else ("+" if signed and value > 0 else "")
    size = abs(value)
    for scale, suffix, digits in ((1e9, "B", 2), (1e6, "M", 2), (1e3, "k", 1)):
        if size >= scale * 0.9995:
            return f"{sign}${size / scale:.{digits}f}{suffix}"
    return f"{sign}${size:,.0f}"


def bps(value: float | None, *, digits: int = 1, unit: bool = True) -> str:
    """Basis points with their sign: +15.9 bps, -3.1 bps, 0.0 bps."""
    if missing(value):
        return MISSING
    text = f"{value:+.{digits}f}" if round(value, digits) != 0 else f"{0:.{digits}f}"
    return f"{text} bps" if unit else text


def interval(low: float | None, high: float | None, *, digits: int = 1) -> str:
    """A 95% interval: [-3.9, +35.6]."""
    if missing(low) or missing(high):
        return MISSING
    return f"[{low:+.{digits}f}, {high:+.{digits}f}]"


def pct(value: float | None, *, digits: int = 1, signed: bool = False) -> str:
    """A share or a return as a percentage: 92.2%, +0.43%."""
    if missing(value):
        return MISSING
    return f"{value * 100:{'+' if signed else ''}.{digits}f}%"


def number(value: float | None, *, digits: int = 2) -> str:
    if missing(value):
        return MISSING
    return f"{value:,.{digits}f}"


def count(value: int | None) -> str:
    return MISSING if missing(value) else f"{int(value):,}"


def text(value: object) -> str:
    """Any value as escaped HTML text."""
    return MISSING if value is None else html.escape(str(value))
