"""Small rendering helpers for materialization metadata (markdown previews)."""

from __future__ import annotations

import polars as pl


class Markdown(str):
    """Text meant to be rendered as markdown (the UI shows it as such, not as plain text)."""


def markdown_table(frame: pl.DataFrame, max_rows: int = 10, float_digits: int = 4) -> Markdown:
    """A GitHub-flavoured markdown table of the first `max_rows` rows."""
    if frame.is_empty():
        return Markdown("(no rows)")
    head = frame.head(max_rows).with_columns(pl.col(pl.Float64, pl.Float32).round(float_digits))
    cols = head.columns
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += [
        "| " + " | ".join("" if v is None else str(v) for v in row) + " |"
        for row in head.iter_rows()
    ]
    if frame.height > max_rows:
        lines.append(f"\n… {frame.height - max_rows:,} more rows")
    return Markdown("\n".join(lines))
