"""The page around a report: one self-contained HTML document (inline CSS, inline SVG, one
inline script), laid out for a screen and for A4 print (the PDF).

The script is a render check, not a dependency: once the page has loaded it verifies that every
chart drew the marks it announced (`data-marks`) at a non-zero size and sets
`<html data-render="ok">`, or `data-render="missing:<ids>"`; a script error sets
`data-render="error:…"`. Headless Chromium's DOM dump shows the verdict (tests/test_reports.py).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

CSS = """
*{box-sizing:border-box}
body{margin:0;padding:20px 28px;color:#212121;background:#fafafa;
  font:13px/1.45 Inter,Segoe UI,Helvetica,Arial,sans-serif}
header{display:flex;justify-content:space-between;align-items:baseline;
  border-bottom:3px solid #263238;margin-bottom:14px}
h1{font-size:22px;margin:0 0 6px}
h2{font-size:15px;margin:0 0 8px;color:#263238;border-bottom:1px solid #cfd8dc;padding-bottom:3px}
.sub{color:#607d8b;font-size:12px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:10px;
  margin-bottom:14px}
.kpi{background:#fff;border:1px solid #e0e0e0;border-left:4px solid #546e7a;padding:8px 10px;
  border-radius:3px}
.kpi.good{border-left-color:#2e7d32}.kpi.bad{border-left-color:#c62828}
.kpi .label{font-size:11px;color:#607d8b;text-transform:uppercase;letter-spacing:.03em}
.kpi .value{font-size:20px;font-weight:600}
.kpi .detail{font-size:11px;color:#455a64}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:14px}
section{background:#fff;border:1px solid #e0e0e0;border-radius:3px;padding:10px 12px;
  break-inside:avoid;page-break-inside:avoid}
section.wide{grid-column:1/-1}
.charts3{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:8px 16px}
figure.chart{margin:4px 0 8px}
.chart-title{font-size:12px;font-weight:600;color:#37474f;margin-bottom:2px}
figcaption,.note{font-size:11px;color:#607d8b}
p.empty{color:#9e9e9e;font-style:italic;margin:6px 0}
table{border-collapse:collapse;width:100%;font-size:12px;margin:4px 0 6px}
th{text-align:left;font-weight:600;color:#455a64;border-bottom:1px solid #b0bec5;padding:3px 6px}
td{border-bottom:1px solid #eceff1;padding:3px 6px;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.good{color:#2e7d32}.bad{color:#c62828}.muted{color:#90a4ae}
ul.findings{margin:4px 0 6px 18px;padding:0}ul.findings li{margin:2px 0}
footer{margin-top:14px;color:#90a4ae;font-size:11px}
@page{size:A4 landscape;margin:10mm}
@media print{body{background:#fff;padding:0;zoom:.72}.grid{grid-template-columns:1fr 1fr}
  section.wide{break-inside:auto;page-break-inside:auto}
  .kpis{grid-template-columns:repeat(4,1fr)}}
"""

# In <head>, before anything else runs: a script error anywhere marks the page.
ERROR_HOOK = """
window.addEventListener('error',function(e){
  document.documentElement.setAttribute('data-render','error:'+e.message);});
"""

RENDER_CHECK = """
(function(){
  var root=document.documentElement;
  function check(){
    var bad=[];
    document.querySelectorAll('figure.chart').forEach(function(f){
      if(f.hasAttribute('data-empty'))return;
      var svg=f.querySelector('svg');var want=parseInt(f.getAttribute('data-marks')||'0',10);
      var got=svg?svg.querySelectorAll('.mark').length:0;
      var box=svg?svg.getBoundingClientRect():{width:0,height:0};
      if(!svg||want<1||got!==want||box.width<1||box.height<1)bad.push(f.id);
    });
    if((root.getAttribute('data-render')||'').indexOf('error:')===0)return;
    root.setAttribute('data-render',bad.length?'missing:'+bad.join(','):'ok');
    root.setAttribute('data-charts',String(document.querySelectorAll('figure.chart').length));
  }
  if(document.readyState==='complete')check();else window.addEventListener('load',check);
})();
"""


@dataclass(frozen=True)
class Kpi:
    label: str
    value: str
    detail: str = ""
    tone: str = ""


def kpis(items: Sequence[Kpi]) -> str:
    cells = "".join(
        f'<div class="kpi {k.tone}"><div class="label">{html.escape(k.label)}</div>'
        f'<div class="value">{html.escape(k.value)}</div>'
        f'<div class="detail">{html.escape(k.detail)}</div></div>'
        for k in items
    )
    return f'<div class="kpis">{cells}</div>'


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Sequence[int] = (),
    classes: Sequence[Sequence[str]] | None = None,
    empty: str = "none",
) -> str:
    """An HTML table of already formatted (and escaped) cells; `numeric` columns align right;
    `classes` gives a CSS class per cell (e.g. good / bad)."""
    if not rows:
        return f'<p class="empty">{html.escape(empty)}</p>'
    num = set(numeric)
    head = "".join(
        f'<th class="{"num" if i in num else ""}">{html.escape(h)}</th>'
        for i, h in enumerate(headers)
    )
    body = []
    for r, row in enumerate(rows):
        cells = []
        for i, cell in enumerate(row):
            cls = " ".join(
                c for c in ("num" if i in num else "", classes[r][i] if classes else "") if c
            )
            cells.append(f'<td class="{cls}">{cell}</td>' if cls else f"<td>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def section(title: str, *parts: str, wide: bool = False, section_id: str = "") -> str:
    attrs = (' class="wide"' if wide else "") + (f' id="{section_id}"' if section_id else "")
    return f"<section{attrs}><h2>{html.escape(title)}</h2>{''.join(parts)}</section>"


def document(title: str, subtitle: str, body: str, footer: str) -> str:
    """The whole report page."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><script>{ERROR_HOOK}</script>"
        f"<style>{CSS}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1>"
        f'<div class="sub">{html.escape(subtitle)}</div></header>'
        f"<main>{body}</main><footer>{html.escape(footer)}</footer>"
        f"<script>{RENDER_CHECK}</script></body></html>\n"
    )
