"""Build a report of a day: read its marts (DuckDB, read-only), fingerprint what was read,
serve it from the cache when that fingerprint was built before, else render the HTML, print
the PDF and cache both; write the files under `<reports_dir>/<day>/`.

The cache key is the report kind, the day and a digest of (the renderer's code, whether a PDF
is made, the exact rows the report read from the marts). The rows, not the lake's Delta
versions: the marts live in DuckDB (no versions), and a rebuild of the lake or of the marts
that writes the same rows is the same report; a changed row anywhere the report reads (a late
fill, a re-run of TCA with other settings) is a different one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from analytics_platform.reports import performance, tca
from analytics_platform.reports.cache import ReportCache
from analytics_platform.reports.pdf import PdfError, html_to_pdf

Frames = Mapping[str, pl.DataFrame]


@dataclass(frozen=True)
class ReportKind:
    name: str
    title: str
    marts: tuple[str, ...]
    queries: Mapping[str, str]
    render: Callable[..., str]
    headline: Callable[[Frames, dt.date], dict[str, Any]]


REPORTS: dict[str, ReportKind] = {
    "tca": ReportKind(
        "tca",
        "Daily TCA",
        tca.MARTS,
        tca.QUERIES,
        tca.render,
        tca.headline,
    ),
    "performance": ReportKind(
        "performance",
        "Performance (strategies and portfolios)",
        performance.MARTS,
        performance.QUERIES,
        performance.render,
        performance.headline,
    ),
}


def renderer_version() -> str:
    """A digest of this package's sources: a change of the rendering invalidates the cache."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def load_frames(warehouse_path: str, kind: ReportKind, day: dt.date) -> dict[str, pl.DataFrame]:
    """The report's inputs, read from the warehouse opened read-only."""
    with duckdb.connect(str(warehouse_path), read_only=True) as db:
        return {name: db.execute(sql, {"day": day}).pl() for name, sql in kind.queries.items()}


# Floats enter the fingerprint to this many significant digits: a re-run of the graph on the same
# inputs sums in another order (parallel aggregation in polars and DuckDB) and moves the last
# bits, which no report shows (at most 4 decimals of a bps or a percentage).
FINGERPRINT_DIGITS = 10


def fingerprint(kind: ReportKind, frames: Frames, *, pdf: bool) -> str:
    """A digest of everything the report's bytes depend on."""
    digest = hashlib.sha256()
    digest.update(f"{kind.name}|{renderer_version()}|pdf={pdf}".encode())
    for name in sorted(frames):
        frame = frames[name].with_columns(
            pl.col(pl.Float32, pl.Float64).round_sig_figs(FINGERPRINT_DIGITS)
        )
        digest.update(f"|{name}|{frames[name].schema}|".encode())
        digest.update(frame.write_csv().encode())
    return digest.hexdigest()[:20]


@dataclass
class BuiltReport:
    kind: str
    day: dt.date
    html_path: Path
    pdf_path: Path | None
    cache: str  # hit, miss or off
    cache_backend: str | None
    cache_key: str
    fingerprint: str
    headline: dict[str, Any] = field(default_factory=dict)
    pdf_note: str | None = None


def _write(path: Path, content: bytes) -> None:
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    staging.write_bytes(content)
    os.replace(staging, path)


def build_report(
    kind: ReportKind,
    day: dt.date,
    *,
    warehouse_path: str,
    reports_dir: str | Path,
    cache: ReportCache | None,
    chromium: str | None,
) -> BuiltReport:
    frames = load_frames(warehouse_path, kind, day)
    digest = fingerprint(kind, frames, pdf=chromium is not None)
    key = f"{kind.name}/{day.isoformat()}/{digest}"
    html_name, pdf_name = f"{kind.name}.html", f"{kind.name}.pdf"
    files = cache.get(key) if cache is not None else None
    status = "off" if cache is None else ("hit" if files else "miss")
    pdf_note = None
    if not files:
        footer = (
            f"Built from the DuckDB marts ({', '.join(kind.marts)}) for {day.isoformat()};"
            f" inputs {digest}, renderer {renderer_version()}."
        )
        html = kind.render(frames, day, footer=footer)
        files = {html_name: html.encode("utf-8")}
        if chromium is None:
            pdf_note = "no PDF: chromium not found on PATH (docs/reports.md)"
        else:
            try:
                files[pdf_name] = html_to_pdf(html, chromium)
            except (PdfError, OSError, TimeoutError) as exc:
                pdf_note = f"no PDF: {exc}"
        if cache is not None and pdf_note is None:
            cache.put(key, files)
    out = Path(reports_dir) / day.isoformat()
    out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        _write(out / name, content)
    pdf_path = out / pdf_name if pdf_name in files else None
    if pdf_path is None and (out / pdf_name).exists():
        (out / pdf_name).unlink()  # never leave a PDF of other inputs beside the HTML
    return BuiltReport(
        kind=kind.name,
        day=day,
        html_path=out / html_name,
        pdf_path=pdf_path,
        cache=status,
        cache_backend=None if cache is None else cache.backend,
        cache_key=key,
        fingerprint=digest,
        headline=kind.headline(frames, day),
        pdf_note=pdf_note,
    )
