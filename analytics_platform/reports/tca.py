"""The daily TCA report: what a head of trading reads in two minutes.

Dollar costs with their 95% intervals, the day against its 20-day trend, the best and worst
venues / algos / brokers with the reason (effect against the baseline, interval, Holm-corrected
verdict from the effects marts), pre-trade estimates against realised costs, and the day's
best-execution exceptions. Data in (the marts' frames, `QUERIES`), HTML out (`render`).

Costs are in bps, positive = bad for us (DESIGN §6); dollars = bps · notional / 1e4.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import polars as pl

from analytics_platform.reports import format as f
from analytics_platform.reports.page import Kpi, document, kpis, section, table
from analytics_platform.reports.svg import Bar, interval_bars, line_chart, scatter

Z95 = 1.959963984540054
TREND_DAYS = 20
ENTITIES = ("venue", "algo", "broker")
# The breakdown whose buckets partition every order of the day (each order has one algo).
TOTAL_BY = "algo"

# The marts each query reads (the Dagster asset's deps) and the queries ($day: the report's day).
MARTS = (
    "execution_quality_trends",
    "tca_breakdowns",
    "tca_effects",
    "tca_daily",
    "tca_window_20d",
    "tca_pretrade_calibration",
    "tca_order_costs",
    "compliance_exceptions",
)
QUERIES = {
    "trend": f"""
        select * from marts.execution_quality_trends where trade_date <= $day
        order by trade_date desc limit {TREND_DAYS}""",
    "breakdowns": """
        select * from marts.tca_breakdowns where trade_date = $day
        order by dimension, bucket_order""",
    "effects": """
        select * from marts.tca_effects where trade_date = $day
        order by dimension, effect_bps, entity""",
    "daily": """
        select dimension, entity, n, notional, weighted_bps, ci95_low_bps, ci95_high_bps
        from marts.tca_daily
        where trade_date = $day and metric = 'arrival_cost_bps'
          and dimension in ('venue', 'algo', 'broker')
        order by dimension, entity""",
    "window": """
        select dimension, entity, n_days, n, notional, weighted_bps from marts.tca_window_20d
        where trade_date = $day and metric = 'arrival_cost_bps'
          and dimension in ('venue', 'algo', 'broker')
        order by dimension, entity""",
    "calibration": """
        select * from marts.tca_pretrade_calibration where trade_date = $day
        order by dimension, group_order""",
    "pretrade_day": """
        select
            count(*) as n_orders,
            sum(expected_cost_bps * notional) / nullif(sum(notional), 0) as expected_bps,
            sum(arrival_cost_bps * notional) / nullif(sum(notional), 0) as realised_bps,
            sum(expected_cost_bps * notional) / 1e4 as expected_dollars,
            sum(arrival_cost_bps * notional) / 1e4 as realised_dollars,
            avg(case when abs(scaled_surprise) <= 1.96 then 1.0 else 0.0 end) as within_share
        from marts.tca_order_costs
        where trade_date = $day and expected_cost_bps is not null
          and arrival_cost_bps is not null and scaled_surprise is not null""",
    "costliest": """
        select order_id, strategy_id, symbol, side, algo, broker, urgency, notional, fill_rate,
            arrival_cost_bps, is_total_bps, is_total_bps * notional / 1e4 as is_total_dollars,
            expected_cost_bps, scaled_surprise
        from marts.tca_order_costs where trade_date = $day and is_total_bps is not null
        order by is_total_dollars desc, order_id limit 5""",
    "exceptions": """
        select rule, subject_type, subject, order_id, symbol, value, threshold, evidence
        from marts.compliance_exceptions where trade_date = $day
        order by rule, exception_id""",
}


def _rows(frame: pl.DataFrame | None) -> list[dict[str, Any]]:
    return [] if frame is None else list(frame.iter_rows(named=True))


def _num(value: Any) -> float:
    return 0.0 if f.missing(value) else float(value)


def day_totals(breakdowns: pl.DataFrame) -> dict[str, float] | None:
    """The day's dollar costs with a 95% interval, from the cost breakdown whose buckets
    partition the orders (`TOTAL_BY`): arrival cost dollars = Σ dollar_cost, its standard error
    the buckets' (independent strata) in quadrature, bps = dollars / executed notional;
    implementation shortfall and opportunity dollars summed. None when the day has no orders."""
    rows = [r for r in _rows(breakdowns) if r["dimension"] == TOTAL_BY]
    if not rows:
        return None
    executed = sum(_num(r["executed_notional"]) for r in rows)
    dollars = sum(_num(r["dollar_cost"]) for r in rows)
    se_dollars = math.sqrt(
        sum((_num(r["cost_std_error"]) * _num(r["executed_notional"]) / 1e4) ** 2 for r in rows)
    )
    cost_bps = dollars / executed * 1e4 if executed else math.nan
    return {
        "n_orders": sum(int(_num(r["n_orders"])) for r in rows),
        "notional": sum(_num(r["notional"]) for r in rows),
        "executed_notional": executed,
        "dollar_cost": dollars,
        "dollar_low": dollars - Z95 * se_dollars,
        "dollar_high": dollars + Z95 * se_dollars,
        "cost_bps": cost_bps,
        "cost_low_bps": (dollars - Z95 * se_dollars) / executed * 1e4 if executed else math.nan,
        "cost_high_bps": (dollars + Z95 * se_dollars) / executed * 1e4 if executed else math.nan,
        "is_total_dollars": sum(_num(r["is_total_dollars"]) for r in rows),
        "opportunity_dollars": sum(_num(r["opportunity_dollars"]) for r in rows),
    }


def best_and_worst(effects: pl.DataFrame) -> dict[str, tuple[dict, dict]]:
    """Per dimension (venue, algo, broker): the entity with the lowest effect on cost against
    the baseline (best: cheapest) and the one with the highest (worst), baseline included at 0,
    ties broken by name. The verdict (better / worse / not significant) says whether it is
    distinguishable from the baseline."""
    out = {}
    for dimension in ENTITIES:
        rows = [
            r
            for r in _rows(effects)
            if r["dimension"] == dimension and not f.missing(r["effect_bps"])
        ]
        if not rows:
            continue
        ranked = sorted(rows, key=lambda r: (r["effect_bps"], r["entity"]))
        out[dimension] = (ranked[0], ranked[-1])
    return out


def verdict_tone(verdict: str | None) -> str:
    return {"better": "good", "worse": "bad", "baseline": "baseline"}.get(verdict or "", "neutral")


def why(row: Mapping[str, Any]) -> str:
    """The reason in one line: effect against the baseline with its interval and verdict."""
    if row["verdict"] == "baseline":
        return (
            f"{row['entity']} is the baseline (most frequent {row['dimension']}):"
            " 0 bps by definition"
        )
    base = (
        f"{row['entity']}: {f.bps(row['effect_bps'], digits=2)} vs {row['baseline']}"
        f" {f.interval(row['ci_low'], row['ci_high'], digits=2)}"
    )
    if row["verdict"] == "not significant":
        verdict = "not distinguishable from the baseline"
    else:
        verdict = f"significantly {row['verdict']} (Holm p {_p(row['p_value_holm'])})"
    return f"{base}, {verdict}; {f.count(row['n_orders'])} orders over 20 days"


def _p(value: Any) -> str:
    if f.missing(value):
        return f.MISSING
    return f"{value:.3f}" if value >= 1e-3 else f"{value:.0e}"


def _headline(trend: pl.DataFrame, day: dt.date) -> dict[str, Any] | None:
    rows = [r for r in _rows(trend) if r["trade_date"] == day]
    return rows[0] if rows else None


def headline(frames: Mapping[str, pl.DataFrame], day: dt.date) -> dict[str, Any]:
    """A few numbers for the asset's metadata (and `make run`'s summary)."""
    totals = day_totals(frames.get("breakdowns", pl.DataFrame())) or {}
    head = _headline(frames.get("trend", pl.DataFrame()), day) or {}
    picks = best_and_worst(frames.get("effects", pl.DataFrame()))
    out: dict[str, Any] = {
        "arrival_cost_bps": totals.get("cost_bps"),
        "arrival_cost_usd": totals.get("dollar_cost"),
        "is_total_usd": totals.get("is_total_dollars"),
        "arrival_cost_bps_20d": head.get("arrival_cost_bps_20d"),
        "exceptions": frames.get("exceptions", pl.DataFrame()).height,
    }
    for dimension, (best, worst) in picks.items():
        out[f"best_{dimension}"] = best["entity"]
        out[f"worst_{dimension}"] = worst["entity"]
    return {k: v for k, v in out.items() if not f.missing(v)}


def _kpis(frames: Mapping[str, pl.DataFrame], day: dt.date) -> str:
    totals = day_totals(frames.get("breakdowns", pl.DataFrame()))
    head = _headline(frames.get("trend", pl.DataFrame()), day)
    pre = _rows(frames.get("pretrade_day"))
    exceptions = frames.get("exceptions", pl.DataFrame())
    items = []
    if head:
        items.append(
            Kpi(
                "Traded",
                f.usd(head["notional"]),
                f"{f.count(head['orders'])} orders, {f.count(head['fills'])} fills,"
                f" fill rate {f.pct(head['fill_rate'])}",
            )
        )
    if totals:
        items.append(
            Kpi(
                "Arrival cost",
                f.usd(totals["dollar_cost"]),
                f"{f.bps(totals['cost_bps'])}; 95% {f.usd(totals['dollar_low'])}"
                f" .. {f.usd(totals['dollar_high'])}",
                "bad" if totals["dollar_cost"] > 0 else "good",
            )
        )
        items.append(
            Kpi(
                "Implementation shortfall",
                f.usd(totals["is_total_dollars"]),
                f"of which opportunity {f.usd(totals['opportunity_dollars'])}",
                "bad" if totals["is_total_dollars"] > 0 else "good",
            )
        )
    if head:
        delta = head["arrival_cost_vs_20d_bps"]
        items.append(
            Kpi(
                "Headline vs 20-day",
                f.bps(delta),
                f"today {f.bps(head['arrival_cost_bps'])}, 20-day"
                f" {f.bps(head['arrival_cost_bps_20d'])} over {head['n_days']} day(s)",
                "" if f.missing(delta) else ("bad" if delta > 0 else "good"),
            )
        )
    if pre and pre[0]["n_orders"]:
        p = pre[0]
        items.append(
            Kpi(
                "Pre-trade vs realised",
                f"{f.bps(p['realised_bps'], unit=False)} / {f.bps(p['expected_bps'], unit=False)}",
                f"bps realised / expected; {f.pct(p['within_share'])} within ±1.96σ",
            )
        )
    items.append(
        Kpi(
            "Compliance exceptions",
            f.count(exceptions.height),
            ", ".join(
                f"{rule} {n}"
                for rule, n in exceptions.group_by("rule").len().sort("rule").iter_rows()
            )
            if exceptions.height
            else "none",
            "bad" if exceptions.height else "good",
        )
    )
    return kpis(items)


def _findings(frames: Mapping[str, pl.DataFrame], day: dt.date) -> str:
    totals = day_totals(frames.get("breakdowns", pl.DataFrame()))
    head = _headline(frames.get("trend", pl.DataFrame()), day)
    items = []
    if totals:
        items.append(
            f"Arrival cost {f.bps(totals['cost_bps'])} on {f.usd(totals['executed_notional'])}"
            f" executed: {f.usd(totals['dollar_cost'])} (95% {f.usd(totals['dollar_low'])}"
            f" .. {f.usd(totals['dollar_high'])})"
            + (
                f". Headline (order-notional weighted, tca/daily_report)"
                f" {f.bps(head['arrival_cost_bps'])}: {f.bps(head['arrival_cost_vs_20d_bps'])}"
                f" against its 20-day {f.bps(head['arrival_cost_bps_20d'])}."
                if head
                else "."
            )
        )
    for dimension, (best, worst) in best_and_worst(frames.get("effects", pl.DataFrame())).items():
        items.append(
            f"<b>{dimension.capitalize()}</b>: best {f.text(why(best))}."
            if best is worst
            else f"<b>{dimension.capitalize()}</b>: best {f.text(why(best))}; worst"
            f" {f.text(why(worst))}."
        )
    pre = _rows(frames.get("pretrade_day"))
    if pre and pre[0]["n_orders"]:
        p = pre[0]
        items.append(
            f"Pre-trade: realised {f.bps(p['realised_bps'])} against {f.bps(p['expected_bps'])}"
            f" expected ({f.usd(p['realised_dollars'])} vs {f.usd(p['expected_dollars'])});"
            f" {f.pct(p['within_share'])} of orders within ±1.96 timing risks."
        )
    exceptions = frames.get("exceptions", pl.DataFrame())
    items.append(
        f"{exceptions.height} best-execution exception(s)."
        if exceptions.height
        else "No best-execution exceptions."
    )
    return '<ul class="findings">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _trend(frames: Mapping[str, pl.DataFrame]) -> str:
    trend = frames.get("trend", pl.DataFrame())
    rows = sorted(_rows(trend), key=lambda r: r["trade_date"])
    last = rows[-1] if rows else {}
    return line_chart(
        "chart-trend",
        f"Cost per day, last {len(rows)} day(s) (bps, notional-weighted)",
        [r["trade_date"].strftime("%m-%d") for r in rows],
        {
            "arrival cost": [r["arrival_cost_bps"] for r in rows],
            "implementation shortfall": [r["is_total_bps"] for r in rows],
        },
        reference={"arrival 20-day": last.get("arrival_cost_bps_20d")},
        caption="tca/daily_report headline (order-notional weighted); dashed: its 20-day level.",
    )


def _entities(frames: Mapping[str, pl.DataFrame]) -> str:
    effects = frames.get("effects", pl.DataFrame())
    today = {(r["dimension"], r["entity"]): r for r in _rows(frames.get("daily"))}
    window = {(r["dimension"], r["entity"]): r for r in _rows(frames.get("window"))}
    picks = best_and_worst(effects)
    parts = []
    for dimension in ENTITIES:
        rows = [r for r in _rows(effects) if r["dimension"] == dimension]
        baseline = next((r["baseline"] for r in rows), "the baseline")
        parts.append(
            interval_bars(
                f"chart-effects-{dimension}",
                f"{dimension.capitalize()} effect on cost vs {baseline} (bps, 20 days, 95%)",
                [
                    Bar(
                        r["entity"],
                        r["effect_bps"],
                        r["ci_low"],
                        r["ci_high"],
                        verdict_tone(r["verdict"]),
                        r["verdict"],
                    )
                    for r in rows
                ],
            )
        )
        best, worst = picks.get(dimension, ({}, {}))
        table_rows, classes = [], []
        for r in rows:
            d, w = today.get((dimension, r["entity"]), {}), window.get((dimension, r["entity"]), {})
            tag = (
                "best"
                if r["entity"] == best.get("entity")
                else ("worst" if r["entity"] == worst.get("entity") else "")
            )
            table_rows.append(
                [
                    f.text(r["entity"]) + (f' <span class="muted">({tag})</span>' if tag else ""),
                    f.bps(d.get("weighted_bps"), unit=False),
                    f.interval(d.get("ci95_low_bps"), d.get("ci95_high_bps")),
                    f.bps(w.get("weighted_bps"), unit=False),
                    f.bps(r["effect_bps"], digits=2, unit=False),
                    f.interval(r["ci_low"], r["ci_high"], digits=2),
                    f.text(r["verdict"]),
                    _p(r["p_value_holm"]),
                    f.count(r["n_orders"]),
                ]
            )
            tone = verdict_tone(r["verdict"])
            classes.append(["", "", "", "", tone, "", tone, "", ""])
        parts.append(
            table(
                [
                    dimension,
                    "today bps",
                    "95%",
                    "20d bps",
                    "effect",
                    "95%",
                    "verdict",
                    "Holm p",
                    "orders",
                ],
                table_rows,
                numeric=(1, 2, 3, 4, 5, 7, 8),
                classes=classes,
                empty=f"no {dimension} effects for the day",
            )
        )
    return "".join(parts)


def _breakdowns(frames: Mapping[str, pl.DataFrame]) -> str:
    rows = _rows(frames.get("breakdowns"))
    parts = []
    for dimension, title in (("algo", "by algo"), ("size_adv", "by order size (% of ADV)")):
        bars = []
        for r in (r for r in rows if r["dimension"] == dimension):
            scale = _num(r["executed_notional"]) / 1e4
            low = None if f.missing(r["cost_ci_low"]) else r["cost_ci_low"] * scale
            high = None if f.missing(r["cost_ci_high"]) else r["cost_ci_high"] * scale
            tone = "bad" if _num(r["dollar_cost"]) > 0 else "good"
            bars.append(Bar(r["bucket"], r["dollar_cost"], low, high, tone))
        parts.append(
            interval_bars(
                f"chart-dollars-{dimension}",
                f"Arrival cost in dollars {title} (95%)",
                bars,
                unit="$",
            )
        )
    costliest = _rows(frames.get("costliest"))
    parts.append('<div class="chart-title">Costliest orders (implementation shortfall)</div>')
    parts.append(
        table(
            [
                "order",
                "strategy",
                "symbol",
                "algo/broker",
                "notional",
                "fill",
                "arrival bps",
                "IS",
                "z",
            ],
            [
                [
                    f.text(r["order_id"]),
                    f.text(r["strategy_id"]),
                    f"{f.text(r['side'])} {f.text(r['symbol'])}",
                    f"{f.text(r['algo'])}/{f.text(r['broker'])}",
                    f.usd(r["notional"]),
                    f.pct(r["fill_rate"], digits=0),
                    f.bps(r["arrival_cost_bps"], unit=False),
                    f.usd(r["is_total_dollars"]),
                    f.number(r["scaled_surprise"], digits=1),
                ]
                for r in costliest
            ],
            numeric=(4, 5, 6, 7, 8),
        )
    )
    return "".join(parts)


def _pretrade(frames: Mapping[str, pl.DataFrame]) -> str:
    rows = _rows(frames.get("calibration"))
    chart = scatter(
        "chart-pretrade",
        "Pre-trade estimate vs realised cost by group (bps, 20 days)",
        [
            (f"{r['dimension']}:{r['group']}", r["mean_expected_bps"], r["mean_realised_bps"])
            for r in rows
            if r["dimension"] in ("algo", "urgency")
        ],
        x_title="expected (bps)",
        y_title="realised (bps)",
        caption="Above the dashed line: costlier than estimated (red).",
    )
    body = table(
        ["group", "orders", "expected", "realised", "bias", "95%", "within ±1.96σ"],
        [
            [
                f"{f.text(r['dimension'])}: {f.text(r['group'])}",
                f.count(r["n_orders"]),
                f.bps(r["mean_expected_bps"], unit=False),
                f.bps(r["mean_realised_bps"], unit=False),
                f.bps(r["bias_bps"], unit=False),
                f.interval(r["bias_ci_low"], r["bias_ci_high"]),
                f.pct(r["share_within_1_96"], digits=0),
            ]
            for r in rows
        ],
        numeric=(1, 2, 3, 4, 5, 6),
        classes=[
            [
                "",
                "",
                "",
                "",
                "bad"
                if _num(r["bias_ci_low"]) > 0
                else ("good" if _num(r["bias_ci_high"]) < 0 else ""),
                "",
                "",
            ]
            for r in rows
        ],
        empty="no pre-trade estimates for the window",
    )
    return chart + body


def _exceptions(frames: Mapping[str, pl.DataFrame], limit: int = 12) -> str:
    frame = frames.get("exceptions", pl.DataFrame())
    rows = _rows(frame)
    counts = (
        ", ".join(
            f"{rule}: {n}" for rule, n in frame.group_by("rule").len().sort("rule").iter_rows()
        )
        if frame.height
        else ""
    )
    body = table(
        ["rule", "subject", "value", "threshold", "evidence"],
        [
            [
                f.text(r["rule"]),
                f"{f.text(r['subject_type'])} {f.text(r['subject'])}",
                f.number(r["value"]),
                f.number(r["threshold"]),
                f.text(r["evidence"]),
            ]
            for r in rows[:limit]
        ],
        numeric=(2, 3),
        empty="no exceptions on the day",
    )
    more = f'<p class="note">… {len(rows) - limit} more in marts.compliance_exceptions</p>'
    return (
        (f'<p class="note">{counts}</p>' if counts else "")
        + body
        + (more if len(rows) > limit else "")
    )


def render(frames: Mapping[str, pl.DataFrame], day: dt.date, *, footer: str = "") -> str:
    """The TCA report of `day` as one self-contained HTML page."""
    body = (
        _kpis(frames, day)
        + section("The day in brief", _findings(frames, day), wide=True, section_id="findings")
        + '<div class="grid">'
        + section("20-day trend", _trend(frames), section_id="trend")
        + section("Where the dollars went", _breakdowns(frames), section_id="dollars")
        + section(
            "Best and worst venues, algos, brokers (why: effect vs baseline, 20 days)",
            _entities(frames),
            wide=True,
            section_id="entities",
        )
        + section("Pre-trade vs realised", _pretrade(frames), section_id="pretrade")
        + section("Compliance exceptions", _exceptions(frames), section_id="exceptions")
        + "</div>"
    )
    return document(
        f"Daily TCA — {day.isoformat()}",
        "Costs in bps of notional, positive = cost to us; dollars = bps × notional; intervals 95%",
        body,
        footer or f"Built from the DuckDB marts for {day.isoformat()}.",
    )
