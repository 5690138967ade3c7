"""The daily performance report, per strategy and portfolio: decision alpha, execution cost and
net alpha per strategy (with intervals and the 20-day trend), Brinson-Fachler attribution per
portfolio (the day and linked over 20 days), and risk-adjusted metrics. Data in (the marts'
frames, `QUERIES`), HTML out (`render`).

Alpha in bps of traded notional, positive = good; IS positive = cost; Brinson effects and
returns as fractions (shown in %).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import polars as pl

from analytics_platform.reports import format as f
from analytics_platform.reports.page import Kpi, document, kpis, section, table
from analytics_platform.reports.svg import Bar, grouped_bars, interval_bars, line_chart

TREND_DAYS = 20
BRINSON_METHOD = "BF"  # Brinson-Fachler; the marts also carry BHB
LINKING_METHOD = "carino"  # of the four linked in the mart, the one the report shows
# Annualised growth (CAGR) of fewer days is noise blown up by 252 / n: shown from this many on.
MIN_ANNUALISE_DAYS = 5

MARTS = (
    "attribution_strategy",
    "attribution_brinson_daily",
    "attribution_brinson_linked",
    "attribution_risk_metrics",
)
QUERIES = {
    "strategy": """
        select * from marts.attribution_strategy where trade_date = $day order by strategy_id""",
    "strategy_trend": f"""
        select strategy_id, trade_date, net_alpha_bps, notional from marts.attribution_strategy
        where trade_date in (
            select distinct trade_date from marts.attribution_strategy where trade_date <= $day
            order by trade_date desc limit {TREND_DAYS})
        order by trade_date, strategy_id""",
    "brinson": f"""
        select * from marts.attribution_brinson_daily
        where trade_date = $day and method = '{BRINSON_METHOD}' order by portfolio_id, segment""",
    "linked": f"""
        select * from marts.attribution_brinson_linked
        where trade_date = $day and method = '{BRINSON_METHOD}'
          and linking_method = '{LINKING_METHOD}'
        order by portfolio_id, segment""",
    "risk": """
        select * from marts.attribution_risk_metrics where trade_date = $day
        order by entity_type, entity_id""",
}


def _per_portfolio(effects: pl.DataFrame, *constant: str) -> pl.DataFrame:
    """Brinson rows summed over the sectors per portfolio: its returns (and `constant` columns,
    the same on every sector row) once, the effects summed (Σ effects = excess return)."""
    firsts = (*constant, "portfolio_return", "benchmark_return", "excess_return")
    return (
        effects.group_by("portfolio_id")
        .agg(
            *[pl.col(c).first() for c in firsts],
            *[pl.col(c).sum() for c in ("allocation", "selection", "interaction")],
        )
        .sort("portfolio_id")
    )


def _rows(frame: pl.DataFrame | None) -> list[dict[str, Any]]:
    return [] if frame is None else list(frame.iter_rows(named=True))


def _num(value: Any) -> float:
    return 0.0 if f.missing(value) else float(value)


def _ret(value: Any) -> str:
    return f.pct(value, digits=2, signed=True)


def strategy_dollars(row: Mapping[str, Any]) -> dict[str, float]:
    """A strategy's decision alpha, IS and net alpha in dollars of its traded notional."""
    scale = _num(row["notional"]) / 1e4
    return {
        "decision_alpha": _num(row["decision_alpha_bps"]) * scale,
        "is_total": _num(row["is_total_bps"]) * scale,
        "net_alpha": _num(row["net_alpha_bps"]) * scale,
    }


def significance(row: Mapping[str, Any]) -> str:
    """good when the net alpha's 95% interval is above zero, bad when below, else neutral."""
    low, high = row["net_alpha_ci_low_bps"], row["net_alpha_ci_high_bps"]
    if not f.missing(low) and low > 0:
        return "good"
    if not f.missing(high) and high < 0:
        return "bad"
    return "neutral"


def portfolio_summary(brinson: pl.DataFrame) -> list[dict[str, Any]]:
    """Per portfolio: its returns and the Brinson effects summed over the sectors (Σ effects
    = excess return), and the trading effect (NAV return − holdings return)."""
    if brinson.is_empty():
        return []
    grouped = _per_portfolio(brinson, "benchmark_id", "nav_return", "trading_effect")
    return _rows(grouped)


def sector_leaders(brinson: pl.DataFrame, n: int = 1) -> dict[str, tuple[list, list]]:
    """Per portfolio: the `n` sectors that added most and the `n` that cost most (by total)."""
    out = {}
    for (portfolio,), part in brinson.group_by("portfolio_id", maintain_order=True):
        ranked = part.sort(["total", "segment"], descending=[True, False])
        out[portfolio] = (_rows(ranked.head(n)), _rows(ranked.tail(n).reverse()))
    return out


def headline(frames: Mapping[str, pl.DataFrame], day: dt.date) -> dict[str, Any]:
    strategies = _rows(frames.get("strategy"))
    out: dict[str, Any] = {}
    if strategies:
        out["net_alpha_usd"] = sum(strategy_dollars(r)["net_alpha"] for r in strategies)
        best = max(strategies, key=lambda r: (_num(r["net_alpha_bps"]), r["strategy_id"]))
        worst = min(strategies, key=lambda r: (_num(r["net_alpha_bps"]), r["strategy_id"]))
        out["best_strategy"], out["worst_strategy"] = best["strategy_id"], worst["strategy_id"]
    for p in portfolio_summary(frames.get("brinson", pl.DataFrame())):
        out[f"excess_return_{p['portfolio_id']}"] = p["excess_return"]
    return out


def _kpis(frames: Mapping[str, pl.DataFrame]) -> str:
    strategies = _rows(frames.get("strategy"))
    portfolios = portfolio_summary(frames.get("brinson", pl.DataFrame()))
    items = []
    if strategies:
        dollars = [strategy_dollars(r) for r in strategies]
        notional = sum(_num(r["notional"]) for r in strategies)
        net = sum(d["net_alpha"] for d in dollars)
        items += [
            Kpi(
                "Net alpha",
                f.usd(net, signed=True),
                f"{f.bps(net / notional * 1e4 if notional else None)} on {f.usd(notional)} traded",
                "good" if net > 0 else "bad",
            ),
            Kpi(
                "Decision alpha",
                f.usd(sum(d["decision_alpha"] for d in dollars), signed=True),
                "what the decisions earned at their horizon",
            ),
            Kpi(
                "Execution cost (IS)",
                f.usd(sum(d["is_total"] for d in dollars)),
                "implementation shortfall, fees included",
            ),
            Kpi(
                "Strategies net positive",
                f"{sum(_num(r['net_alpha_bps']) > 0 for r in strategies)} / {len(strategies)}",
                f"{sum(significance(r) == 'good' for r in strategies)} significantly (95%)",
            ),
        ]
    if portfolios:
        best = max(portfolios, key=lambda p: p["excess_return"])
        worst = min(portfolios, key=lambda p: p["excess_return"])
        items += [
            Kpi(
                "Best portfolio",
                f.pct(best["excess_return"], digits=2, signed=True),
                f"{best['portfolio_id']} vs {best['benchmark_id']}",
                "good" if best["excess_return"] > 0 else "bad",
            ),
            Kpi(
                "Worst portfolio",
                f.pct(worst["excess_return"], digits=2, signed=True),
                f"{worst['portfolio_id']} vs {worst['benchmark_id']}",
                "good" if worst["excess_return"] > 0 else "bad",
            ),
        ]
    return kpis(items)


def _findings(frames: Mapping[str, pl.DataFrame]) -> str:
    items = []
    for r in _rows(frames.get("strategy")):
        d = strategy_dollars(r)
        items.append(
            f"<b>{f.text(r['strategy_id'])}</b>: net alpha {f.bps(r['net_alpha_bps'])}"
            f" {f.interval(r['net_alpha_ci_low_bps'], r['net_alpha_ci_high_bps'])}"
            f" ({f.usd(d['net_alpha'], signed=True)}) = decision alpha"
            f" {f.bps(r['decision_alpha_bps'])} − execution {f.bps(r['is_total_bps'])};"
            f" 20-day {f.bps(r['net_alpha_bps_20d'])}."
        )
    leaders = sector_leaders(frames.get("brinson", pl.DataFrame()))
    for p in portfolio_summary(frames.get("brinson", pl.DataFrame())):
        top, bottom = leaders.get(p["portfolio_id"], ([], []))
        sectors = ""
        if top and bottom:
            sectors = (
                f"; most added {f.text(top[0]['segment'])} ({_ret(top[0]['total'])}),"
                f" most cost {f.text(bottom[0]['segment'])} ({_ret(bottom[0]['total'])})"
            )
        items.append(
            f"<b>{f.text(p['portfolio_id'])}</b>: {_ret(p['portfolio_return'])}"
            f" vs {_ret(p['benchmark_return'])}, excess {_ret(p['excess_return'])}"
            f" = allocation {_ret(p['allocation'])} + selection {_ret(p['selection'])}"
            f" + interaction {_ret(p['interaction'])}{sectors}."
        )
    if not items:
        items.append("No attribution for the day.")
    return '<ul class="findings">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _strategies(frames: Mapping[str, pl.DataFrame]) -> str:
    rows = _rows(frames.get("strategy"))
    chart = interval_bars(
        "chart-net-alpha",
        "Net alpha per strategy (bps, 95%)",
        [
            Bar(
                r["strategy_id"],
                r["net_alpha_bps"],
                r["net_alpha_ci_low_bps"],
                r["net_alpha_ci_high_bps"],
                significance(r),
            )
            for r in rows
        ],
        caption="Green / red: the interval excludes zero.",
    )
    decomposition = grouped_bars(
        "chart-alpha-decomposition",
        "Decision alpha − execution cost = net alpha (bps)",
        [r["strategy_id"] for r in rows],
        {
            "decision alpha": [r["decision_alpha_bps"] for r in rows],
            "execution cost (IS)": [r["is_total_bps"] for r in rows],
            "net alpha": [r["net_alpha_bps"] for r in rows],
        },
        unit="bps",
    )
    body = table(
        [
            "strategy",
            "decisions",
            "notional",
            "decision α",
            "IS",
            "net α",
            "95%",
            "net $",
            "hit rate",
            "20d net α",
        ],
        [
            [
                f.text(r["strategy_id"]),
                f.count(r["n_decisions"]),
                f.usd(r["notional"]),
                f.bps(r["decision_alpha_bps"], unit=False),
                f.bps(r["is_total_bps"], unit=False),
                f.bps(r["net_alpha_bps"], unit=False),
                f.interval(r["net_alpha_ci_low_bps"], r["net_alpha_ci_high_bps"]),
                f.usd(strategy_dollars(r)["net_alpha"], signed=True),
                f.pct(r["hit_rate"], digits=0),
                f.bps(r["net_alpha_bps_20d"], unit=False),
            ]
            for r in rows
        ],
        numeric=(1, 2, 3, 4, 5, 6, 7, 8, 9),
        classes=[["", "", "", "", "", significance(r), "", significance(r), "", ""] for r in rows],
        empty="no strategy attribution for the day",
    )
    return f'<div class="charts3">{chart}{decomposition}{_trend(frames)}</div>' + body


def _trend(frames: Mapping[str, pl.DataFrame]) -> str:
    trend = frames.get("strategy_trend", pl.DataFrame())
    days = sorted({r["trade_date"] for r in _rows(trend)})
    series: dict[str, list[float | None]] = {}
    lookup = {(r["strategy_id"], r["trade_date"]): r["net_alpha_bps"] for r in _rows(trend)}
    for strategy in sorted({r["strategy_id"] for r in _rows(trend)}):
        series[strategy] = [lookup.get((strategy, d)) for d in days]
    return line_chart(
        "chart-net-alpha-trend",
        f"Net alpha per day and strategy, last {len(days)} day(s) (bps)",
        [d.strftime("%m-%d") for d in days],
        series,
    )


def _portfolios(frames: Mapping[str, pl.DataFrame]) -> str:
    portfolios = portfolio_summary(frames.get("brinson", pl.DataFrame()))
    chart = grouped_bars(
        "chart-brinson",
        "Brinson-Fachler effects per portfolio, the day (sum over sectors = excess return)",
        [p["portfolio_id"].removeprefix("PF_") for p in portfolios],
        {
            "allocation": [p["allocation"] for p in portfolios],
            "selection": [p["selection"] for p in portfolios],
            "interaction": [p["interaction"] for p in portfolios],
            "trading": [p["trading_effect"] for p in portfolios],
        },
        caption="Trading: NAV return − holdings return (intraday trading and fees).",
    )
    day_table = table(
        [
            "portfolio",
            "return",
            "benchmark",
            "excess",
            "allocation",
            "selection",
            "interaction",
            "trading",
        ],
        [
            [
                f.text(p["portfolio_id"]),
                f.pct(p["portfolio_return"], digits=2, signed=True),
                f.pct(p["benchmark_return"], digits=2, signed=True),
                f.pct(p["excess_return"], digits=2, signed=True),
                f.pct(p["allocation"], digits=2, signed=True),
                f.pct(p["selection"], digits=2, signed=True),
                f.pct(p["interaction"], digits=2, signed=True),
                f.pct(p["trading_effect"], digits=2, signed=True),
            ]
            for p in portfolios
        ],
        numeric=range(1, 8),
        classes=[
            ["", "", "", "good" if p["excess_return"] > 0 else "bad", "", "", "", ""]
            for p in portfolios
        ],
        empty="no Brinson attribution for the day",
    )
    linked = frames.get("linked", pl.DataFrame())
    linked_rows = []
    if not linked.is_empty():
        summary = _per_portfolio(linked, "n_days")
        linked_rows = [
            [
                f.text(p["portfolio_id"]),
                f.count(p["n_days"]),
                f.pct(p["portfolio_return"], digits=2, signed=True),
                f.pct(p["benchmark_return"], digits=2, signed=True),
                f.pct(p["excess_return"], digits=2, signed=True),
                f.pct(p["allocation"], digits=2, signed=True),
                f.pct(p["selection"], digits=2, signed=True),
                f.pct(p["interaction"], digits=2, signed=True),
            ]
            for p in _rows(summary)
        ]
    linked_table = table(
        [
            "portfolio",
            "days",
            "return",
            "benchmark",
            "excess",
            "allocation",
            "selection",
            "interaction",
        ],
        linked_rows,
        numeric=range(1, 8),
        empty="no linked attribution",
    )
    return (
        chart
        + '<div class="chart-title">The day</div>'
        + day_table
        + f'<div class="chart-title">Linked over 20 days ({LINKING_METHOD.capitalize()})</div>'
        + linked_table
    )


def _risk(frames: Mapping[str, pl.DataFrame]) -> str:
    rows = _rows(frames.get("risk"))
    body = table(
        [
            "entity",
            "days",
            "Sharpe",
            "Sortino",
            "info ratio",
            "tracking err",
            "volatility",
            "max DD",
            "CAGR",
        ],
        [
            [
                f"{f.text(r['entity_type'].lower())} {f.text(r['entity_id'])}",
                f.count(r["observations"]),
                f.number(r["sharpe"]),
                f.number(r["sortino"]),
                f.number(r["information_ratio"]),
                f.pct(r["tracking_error"]),
                f.pct(r["annual_volatility"]),
                f.pct(r["max_drawdown"], digits=2),
                f.pct(r["cagr"]) if _num(r["observations"]) >= MIN_ANNUALISE_DAYS else f.MISSING,
            ]
            for r in rows
        ],
        numeric=range(1, 9),
        empty="no risk metrics for the day",
    )
    note = ""
    if rows and min(_num(r["observations"]) for r in rows) < MIN_ANNUALISE_DAYS:
        note = (
            '<p class="note">– : ratios need at least two days of returns, CAGR at least'
            f" {MIN_ANNUALISE_DAYS} (annualising fewer days is noise).</p>"
        )
    return body + note


def render(frames: Mapping[str, pl.DataFrame], day: dt.date, *, footer: str = "") -> str:
    """The performance report of `day` as one self-contained HTML page."""
    body = (
        _kpis(frames)
        + section("The day in brief", _findings(frames), wide=True, section_id="findings")
        + '<div class="grid">'
        + section(
            "Strategies: decision alpha − execution cost = net alpha",
            _strategies(frames),
            wide=True,
            section_id="strategies",
        )
        + section(
            "Portfolios: Brinson attribution",
            _portfolios(frames),
            wide=True,
            section_id="portfolios",
        )
        + section("Risk-adjusted metrics (20 days)", _risk(frames), wide=True, section_id="risk")
        + "</div>"
    )
    return document(
        f"Performance — {day.isoformat()}",
        "Per strategy and portfolio; alpha in bps of traded notional; intervals 95%",
        body,
        footer or f"Built from the DuckDB marts for {day.isoformat()}.",
    )
