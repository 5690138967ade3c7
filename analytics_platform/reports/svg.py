"""Inline SVG charts: no JavaScript library, no external resource, the same picture in the
browser, in the PDF and offline.

Every chart is a `<figure class="chart" id=… data-marks=N>` holding one `<svg>` whose data
elements (bars, whiskers' bars, points, lines) carry the class `mark`; `data-marks` is how many
were drawn. A chart without data says so (`data-empty`) instead of drawing an empty frame. The
page's render check (html.py) and the browser test read these attributes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from analytics_platform.reports.format import missing

FONT = "font-family:Inter,Segoe UI,Helvetica,Arial,sans-serif"
TONES = {
    "good": "#2e7d32",
    "bad": "#c62828",
    "neutral": "#546e7a",
    "baseline": "#9e9e9e",
}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


@dataclass(frozen=True)
class Bar:
    """One horizontal bar from zero to `value`, with an optional interval [low, high]."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    tone: str = "neutral"
    note: str = ""


def nice_ticks(low: float, high: float, n: int = 5) -> list[float]:
    """About `n` round tick values covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high == low:
        high, low = high + 1.0, low - 1.0
    raw = (high - low) / max(n - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks, tick = [], start
    while tick <= high + step * 1e-9:
        ticks.append(round(tick, 10))
        tick += step
    if ticks[-1] < high:
        ticks.append(round(tick, 10))
    return ticks


def _tick_label(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value * 100:g}%"
    return f"{value:g}"


class _Scale:
    def __init__(self, low: float, high: float, start: float, end: float):
        self.low, self.high, self.start, self.end = low, high, start, end

    def __call__(self, value: float) -> float:
        span = self.high - self.low or 1.0
        return self.start + (value - self.low) / span * (self.end - self.start)


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if not missing(v) and math.isfinite(v)]


def _figure(chart_id: str, title: str, body: str, marks: int, caption: str = "") -> str:
    head = html.escape(title)
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (
        f'<figure class="chart" id="{chart_id}" data-chart="{chart_id}" data-marks="{marks}">'
        f'<div class="chart-title">{head}</div>{body}{cap}</figure>'
    )


def empty_chart(chart_id: str, title: str, reason: str = "no data for the day") -> str:
    return (
        f'<figure class="chart" id="{chart_id}" data-chart="{chart_id}" data-marks="0"'
        f' data-empty="{html.escape(reason)}"><div class="chart-title">{html.escape(title)}</div>'
        f'<p class="empty">{html.escape(reason)}</p></figure>'
    )


def _svg(width: int, height: int, title: str, inner: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}"'
        f' width="100%" style="max-width:{width}px;{FONT}" preserveAspectRatio="xMinYMin meet">'
        f"<title>{html.escape(title)}</title>{inner}</svg>"
    )


def interval_bars(
    chart_id: str,
    title: str,
    bars: Sequence[Bar],
    *,
    unit: str = "bps",
    width: int = 560,
    label_width: int = 120,
    caption: str = "",
) -> str:
    """Horizontal bars from zero with 95% interval whiskers; one row per bar."""
    rows = [b for b in bars if not missing(b.value)]
    if not rows:
        return empty_chart(chart_id, title)
    values = [*_finite([v for b in rows for v in (b.value, b.low, b.high)]), 0.0]
    ticks = nice_ticks(min(values), max(values))
    row_h, top, bottom, right = 22, 8, 26, 64
    height = top + row_h * len(rows) + bottom
    x = _Scale(ticks[0], ticks[-1], label_width, width - right)
    parts = []
    for tick in ticks:
        px = x(tick)
        parts.append(
            f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{height - bottom}"'
            ' stroke="#e0e0e0" stroke-width="1"/>'
            f'<text x="{px:.1f}" y="{height - bottom + 14}" font-size="10" text-anchor="middle"'
            f' fill="#616161">{_tick_label(tick, unit)}</text>'
        )
    zero = x(0.0)
    marks = 0
    for i, b in enumerate(rows):
        y = top + i * row_h
        color = TONES.get(b.tone, TONES["neutral"])
        x0, x1 = sorted((zero, x(b.value)))
        label = html.escape(b.label)
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 15}" font-size="11" text-anchor="end"'
            f' fill="#212121">{label}</text>'
            f'<rect class="mark bar" x="{x0:.1f}" y="{y + 5}" width="{max(x1 - x0, 1.5):.1f}"'
            f' height="{row_h - 10}" fill="{color}" fill-opacity="0.85">'
            f"<title>{label}: {b.value:+.2f} {unit}{(' ' + html.escape(b.note)) if b.note else ''}"
            "</title></rect>"
        )
        marks += 1
        if not missing(b.low) and not missing(b.high):
            lo, hi, mid = x(b.low), x(b.high), y + row_h / 2
            parts.append(
                f'<path class="whisker" d="M{lo:.1f},{mid:.1f}H{hi:.1f}M{lo:.1f},{mid - 5:.1f}'
                f'V{mid + 5:.1f}M{hi:.1f},{mid - 5:.1f}V{mid + 5:.1f}" stroke="#212121"'
                ' stroke-width="1.2" fill="none"/>'
            )
        value_text = f"{b.value:+.1f}" if unit != "$" else _short_usd(b.value)
        parts.append(
            f'<text x="{width - right + 6}" y="{y + 15}" font-size="11" fill="{color}">'
            f"{value_text}</text>"
        )
    parts.append(
        f'<line x1="{zero:.1f}" y1="{top}" x2="{zero:.1f}" y2="{height - bottom}"'
        ' stroke="#424242" stroke-width="1"/>'
    )
    unit_label = {"bps": "bps", "$": "USD", "%": ""}.get(unit, unit)
    if unit_label:
        parts.append(
            f'<text x="{width - right}" y="{height - 2}" font-size="10" text-anchor="end"'
            f' fill="#616161">{unit_label}</text>'
        )
    return _figure(chart_id, title, _svg(width, height, title, "".join(parts)), marks, caption)


def _short_usd(value: float) -> str:
    from analytics_platform.reports.format import usd  # noqa: PLC0415

    return usd(value)


def line_chart(
    chart_id: str,
    title: str,
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    unit: str = "bps",
    reference: Mapping[str, float | None] | None = None,
    width: int = 560,
    height: int = 220,
    caption: str = "",
) -> str:
    """One line per series over the x labels (days), a point per value; dashed reference
    lines (e.g. the 20-day average) labelled at the right."""
    drawn = {name: list(values) for name, values in series.items() if _finite(values)}
    if not drawn or not x_labels:
        return empty_chart(chart_id, title)
    references = {k: v for k, v in (reference or {}).items() if not missing(v)}
    values = _finite([v for vs in drawn.values() for v in vs]) + list(references.values())
    ticks = nice_ticks(min([*values, 0.0]), max([*values, 0.0]))
    left, right, top, bottom = 44, 16, 10, 44
    legend_h = 16 * math.ceil(len(drawn) / 3)
    full_height = height + legend_h
    x = _Scale(0, max(len(x_labels) - 1, 1), left + 8, width - right - 8)
    if len(x_labels) == 1:
        x = _Scale(-1, 1, left + 8, width - right - 8)
    y = _Scale(ticks[0], ticks[-1], height - bottom, top)
    parts = []
    for tick in ticks:
        py = y(tick)
        parts.append(
            f'<line x1="{left}" y1="{py:.1f}" x2="{width - right}" y2="{py:.1f}"'
            f' stroke="{"#9e9e9e" if tick == 0 else "#eeeeee"}" stroke-width="1"/>'
            f'<text x="{left - 4}" y="{py + 3:.1f}" font-size="10" text-anchor="end"'
            f' fill="#616161">{_tick_label(tick, unit)}</text>'
        )
    every = max(1, math.ceil(len(x_labels) / 7))
    for i, label in enumerate(x_labels):
        if i % every == 0 or i == len(x_labels) - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - bottom + 14}" font-size="10"'
                f' text-anchor="middle" fill="#616161">{html.escape(label)}</text>'
            )
    for j, (name, ref) in enumerate(references.items()):
        py = y(ref)
        parts.append(
            f'<line class="ref" x1="{left}" y1="{py:.1f}" x2="{width - right}" y2="{py:.1f}"'
            f' stroke="{PALETTE[j % len(PALETTE)]}" stroke-dasharray="5,4" stroke-width="1.2"/>'
            f'<text x="{width - right}" y="{py - 3:.1f}" font-size="10" text-anchor="end"'
            f' fill="{PALETTE[j % len(PALETTE)]}">{html.escape(name)}</text>'
        )
    marks = 0
    for j, (name, vs) in enumerate(drawn.items()):
        color = PALETTE[j % len(PALETTE)]
        points = [(x(i), y(v)) for i, v in enumerate(vs) if not missing(v)]
        if len(points) > 1:
            d = "M" + "L".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(
                f'<path class="mark line" d="{d}" stroke="{color}" stroke-width="2" fill="none"/>'
            )
            marks += 1
        for (px, py), v in zip(points, [v for v in vs if not missing(v)], strict=True):
            parts.append(
                f'<circle class="mark point" cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}">'
                f"<title>{html.escape(name)}: {v:+.2f}</title></circle>"
            )
            marks += 1
        lx = left + (j % 3) * ((width - left) / 3)
        ly = height + 4 + 16 * (j // 3)
        parts.append(
            f'<rect x="{lx:.1f}" y="{ly}" width="10" height="10" fill="{color}"/>'
            f'<text x="{lx + 14:.1f}" y="{ly + 9}" font-size="11" fill="#212121">'
            f"{html.escape(name)}</text>"
        )
    svg = _svg(width, full_height, title, "".join(parts))
    return _figure(chart_id, title, svg, marks, caption)


def scatter(
    chart_id: str,
    title: str,
    points: Sequence[tuple[str, float | None, float | None]],
    *,
    x_title: str,
    y_title: str,
    diagonal: bool = True,
    width: int = 560,
    height: int = 260,
    caption: str = "",
) -> str:
    """Labelled points (label, x, y), with the y = x line (pre-trade estimate = realised)."""
    kept = [(label, a, b) for label, a, b in points if not missing(a) and not missing(b)]
    if not kept:
        return empty_chart(chart_id, title)
    values = [v for _, a, b in kept for v in (a, b)] + [0.0]
    ticks = nice_ticks(min(values), max(values))
    left, right, top, bottom = 48, 16, 10, 34
    x = _Scale(ticks[0], ticks[-1], left, width - right)
    y = _Scale(ticks[0], ticks[-1], height - bottom, top)
    parts = []
    for tick in ticks:
        parts.append(
            f'<line x1="{left}" y1="{y(tick):.1f}" x2="{width - right}" y2="{y(tick):.1f}"'
            ' stroke="#eeeeee"/>'
            f'<text x="{left - 4}" y="{y(tick) + 3:.1f}" font-size="10" text-anchor="end"'
            f' fill="#616161">{tick:g}</text>'
            f'<text x="{x(tick):.1f}" y="{height - bottom + 13}" font-size="10"'
            f' text-anchor="middle" fill="#616161">{tick:g}</text>'
        )
    if diagonal:
        parts.append(
            f'<line class="ref" x1="{x(ticks[0]):.1f}" y1="{y(ticks[0]):.1f}"'
            f' x2="{x(ticks[-1]):.1f}" y2="{y(ticks[-1]):.1f}" stroke="#9e9e9e"'
            ' stroke-dasharray="4,4"/>'
        )
    for label, a, b in kept:
        color = TONES["bad"] if b > a else TONES["good"]
        parts.append(
            f'<circle class="mark point" cx="{x(a):.1f}" cy="{y(b):.1f}" r="4" fill="{color}"'
            f' fill-opacity="0.8"><title>{html.escape(label)}: expected {a:+.1f},'
            f" realised {b:+.1f}</title></circle>"
            f'<text x="{x(a) + 6:.1f}" y="{y(b) + 3:.1f}" font-size="10" fill="#424242">'
            f"{html.escape(label)}</text>"
        )
    parts.append(
        f'<text x="{(left + width - right) / 2:.1f}" y="{height - 4}" font-size="10"'
        f' text-anchor="middle" fill="#616161">{html.escape(x_title)}</text>'
        f'<text x="12" y="{(top + height - bottom) / 2:.1f}" font-size="10" text-anchor="middle"'
        f' fill="#616161" transform="rotate(-90 12 {(top + height - bottom) / 2:.1f})">'
        f"{html.escape(y_title)}</text>"
    )
    return _figure(chart_id, title, _svg(width, height, title, "".join(parts)), len(kept), caption)


def grouped_bars(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    unit: str = "%",
    width: int = 560,
    height: int = 240,
    caption: str = "",
) -> str:
    """Vertical bars, one group per category and one bar per series (e.g. Brinson allocation,
    selection, interaction per portfolio), with a legend."""
    values = _finite([v for vs in series.values() for v in vs])
    if not categories or not values:
        return empty_chart(chart_id, title)
    ticks = nice_ticks(min([*values, 0.0]), max([*values, 0.0]))
    left, right, top, bottom = 48, 10, 10, 40
    legend_h = 16
    y = _Scale(ticks[0], ticks[-1], height - bottom, top)
    group_w = (width - left - right) / len(categories)
    bar_w = min(28.0, group_w * 0.8 / max(len(series), 1))
    parts = []
    for tick in ticks:
        parts.append(
            f'<line x1="{left}" y1="{y(tick):.1f}" x2="{width - right}" y2="{y(tick):.1f}"'
            f' stroke="{"#616161" if tick == 0 else "#eeeeee"}"/>'
            f'<text x="{left - 4}" y="{y(tick) + 3:.1f}" font-size="10" text-anchor="end"'
            f' fill="#616161">{_tick_label(tick, unit)}</text>'
        )
    marks = 0
    names = list(series)
    for i, category in enumerate(categories):
        gx = left + i * group_w + (group_w - bar_w * len(names)) / 2
        for j, name in enumerate(names):
            v = series[name][i]
            if missing(v):
                continue
            y0, y1 = sorted((y(0.0), y(v)))
            shown = f"{v * 100:+.2f}%" if unit == "%" else f"{v:+.2f} {unit}"
            parts.append(
                f'<rect class="mark bar" x="{gx + j * bar_w:.1f}" y="{y0:.1f}"'
                f' width="{bar_w - 2:.1f}" height="{max(y1 - y0, 1.0):.1f}"'
                f' fill="{PALETTE[j % len(PALETTE)]}"><title>{html.escape(category)}'
                f" {html.escape(name)}: {shown}</title></rect>"
            )
            marks += 1
        parts.append(
            f'<text x="{left + (i + 0.5) * group_w:.1f}" y="{height - bottom + 14}"'
            f' font-size="10" text-anchor="middle" fill="#212121">{html.escape(category)}</text>'
        )
    for j, name in enumerate(names):
        lx = left + j * 120
        parts.append(
            f'<rect x="{lx}" y="{height - 12}" width="10" height="10"'
            f' fill="{PALETTE[j % len(PALETTE)]}"/><text x="{lx + 14}" y="{height - 3}"'
            f' font-size="11" fill="#212121">{html.escape(name)}</text>'
        )
    svg = _svg(width, height + legend_h - 16, title, "".join(parts))
    return _figure(chart_id, title, svg, marks, caption)
