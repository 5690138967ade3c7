"""Best-execution compliance: automated rules over a day's TCA, risk events and entity effects.

Each rule is a pure function of polars frames that returns exceptions in one shape
(`EXCEPTIONS`): the rule, what it names (an order, or a venue / algo / broker), the measured
value against its threshold and a sentence of evidence. `daily_exceptions` runs them all; the
`compliance/exceptions` asset writes the result to the lake and reports one asset check per rule
(docs/marts.md). The rules:

* `trade_through`: a fill printed beyond the NBBO in force at the fill by more than the
  tolerance (TCA's own `outside_nbbo`, ANALYTICS_TCA_NBBO_TOLERANCE_BPS; unset: one tick).
* `cost_beyond_estimate`: an order whose realised arrival cost exceeded its pre-trade estimate
  by more than `k_sigma` of its timing risk (tca/pretrade's `scaled_surprise` > k).
* `trading_after_risk_violation`: an order that filled in a symbol after a RiskViolationEvent
  of a blocking severity (BREACH) on that symbol and portfolio, earlier the same day.
* `persistently_worse`: a venue, algo or broker whose cost effect vs the baseline over the
  trailing 20 days is significantly worse (tca/*_effects verdict "worse", Holm-corrected).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import polars as pl

from analytics_platform.contracts import ColumnSpec, TableContract
from analytics_platform.quality.checks import CheckOutcome
from analytics_platform.reporting import markdown_table
from analytics_platform.tca.execution_quality import ONE_TICK, outside_nbbo

DEFAULT_COST_K_SIGMA = 4.0
BLOCKING_SEVERITIES = ("BREACH",)
RULES = {
    "trade_through": "Fills beyond the NBBO at the fill by more than the tolerance",
    "cost_beyond_estimate": "Realised cost above the pre-trade estimate by over k timing risks",
    "trading_after_risk_violation": "Fills in a symbol after a BREACH risk violation on it",
    "persistently_worse": "Venues, algos, brokers significantly worse than the baseline (20d)",
}
SUBJECT_TYPES = ("order", "venue", "algo", "broker")

_SCHEMA = {
    "exception_id": pl.String,
    "rule": pl.String,
    "subject_type": pl.String,
    "subject": pl.String,
    "order_id": pl.String,
    "symbol": pl.String,
    "value": pl.Float64,
    "threshold": pl.Float64,
    "evidence": pl.String,
    "trade_date": pl.Date,
}
_DESCRIPTIONS = {
    "exception_id": "rule:subject (unique per day and table)",
    "rule": f"One of {', '.join(RULES)}",
    "subject_type": "What the exception names: order, venue, algo or broker",
    "subject": "The order id, or the venue / algo / broker name",
    "order_id": "The order (null for a venue / algo / broker)",
    "symbol": "The order's symbol (null for a venue / algo / broker)",
    "value": "The measure the rule tested (bps beyond the NBBO, z, shares after the violation,"
    " effect bps)",
    "threshold": "What the measure had to stay within",
    "evidence": "The facts, in words",
    "trade_date": "Exchange-local trading day",
}
EXCEPTIONS = TableContract(
    table="compliance/exceptions",
    description="Best-execution exceptions of the day: the rule, the order (or venue, algo,"
    " broker) it names, the value against its threshold, and the evidence.",
    columns=[
        ColumnSpec(name, dtype, _DESCRIPTIONS[name], nullable=name in ("order_id", "symbol"))
        for name, dtype in _SCHEMA.items()
    ],
    key=["exception_id"],
)


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=_SCHEMA)


def _fmt(value: pl.Expr, digits: int = 2) -> pl.Expr:
    return value.round(digits).cast(pl.String).fill_null("n/a")


def _exceptions(
    frame: pl.DataFrame,
    rule: str,
    *,
    key: pl.Expr,
    value: pl.Expr,
    threshold: pl.Expr,
    evidence: pl.Expr,
    subject_type: str = "order",
) -> pl.DataFrame:
    """One exception per row of `frame`, `<rule>:<key>` its id. An order's exception names the
    order (its subject) and its symbol; a venue's, algo's or broker's names the `entity`."""
    per_order = subject_type == "order"
    return frame.select(
        exception_id=pl.lit(f"{rule}:") + key,
        rule=pl.lit(rule),
        subject_type=pl.lit(subject_type),
        subject=pl.col("order_id" if per_order else "entity"),
        order_id=pl.col("order_id") if per_order else pl.lit(None, pl.String),
        symbol=pl.col("symbol") if per_order else pl.lit(None, pl.String),
        value=value.cast(pl.Float64),
        threshold=threshold.cast(pl.Float64),
        evidence=evidence,
        trade_date="trade_date",
    ).sort("exception_id")


def trade_throughs(fills: pl.DataFrame, *, tolerance_bps: float | None = None) -> pl.DataFrame:
    """One exception per fill printed beyond the NBBO by more than the tolerance (bps of the
    mid; None: one tick). `fills` is tca/fills (bid/ask/mid at the fill)."""
    if fills.is_empty():
        return _empty()
    s = pl.when(pl.col("side") == "BUY").then(1.0).otherwise(-1.0)
    far = (
        pl.when(pl.col("side") == "BUY")
        .then(pl.col("ask_at_fill"))
        .otherwise(pl.col("bid_at_fill"))
    )
    tolerance = (
        ONE_TICK / pl.col("mid_at_fill") * 1e4 if tolerance_bps is None else pl.lit(tolerance_bps)
    )
    beyond = fills.filter(outside_nbbo(tolerance_bps).fill_null(False)).with_columns(
        value=1e4 * s * (pl.col("price") - far) / pl.col("mid_at_fill"),
        threshold=tolerance.cast(pl.Float64),
    )
    return _exceptions(
        beyond,
        "trade_through",
        key=pl.col("exec_id"),
        value=pl.col("value"),
        threshold=pl.col("threshold"),
        evidence=pl.format(
            "fill {} {} {} {} @ {} on {} at {}: NBBO {} x {}, {} bps beyond the quote"
            " (tolerance {} bps)",
            "exec_id",
            "side",
            "quantity",
            "symbol",
            "price",
            "venue",
            pl.col("ts").dt.strftime("%H:%M:%S%.3f"),
            "bid_at_fill",
            "ask_at_fill",
            _fmt(pl.col("value")),
            _fmt(pl.col("threshold")),
        ),
    )


def costs_beyond_estimate(
    pretrade: pl.DataFrame, *, k_sigma: float = DEFAULT_COST_K_SIGMA
) -> pl.DataFrame:
    """One exception per order whose realised cost exceeded its pre-trade estimate by more than
    `k_sigma` timing risks: tca/pretrade's scaled_surprise = (realised − expected) / timing
    risk > k. Orders that did better than expected are never exceptions."""
    if pretrade.is_empty():
        return _empty()
    return _exceptions(
        pretrade.filter(pl.col("scaled_surprise") > k_sigma),
        "cost_beyond_estimate",
        key=pl.col("order_id"),
        value=pl.col("scaled_surprise"),
        threshold=pl.lit(float(k_sigma)),
        evidence=pl.format(
            "{} {} via {}/{}: realised {} bps vs expected {} bps, timing risk {} bps: z = {} > {}",
            "side",
            "symbol",
            "algo",
            "broker",
            _fmt(pl.col("arrival_cost_bps")),
            _fmt(pl.col("expected_cost_bps")),
            _fmt(pl.col("timing_risk_bps")),
            _fmt(pl.col("scaled_surprise")),
            pl.lit(f"{k_sigma:g}"),
        ),
    )


def trading_after_risk_violations(
    fills: pl.DataFrame,
    orders: pl.DataFrame,
    violations: pl.DataFrame,
    *,
    severities: Sequence[str] = BLOCKING_SEVERITIES,
) -> pl.DataFrame:
    """One exception per order that filled in a symbol after a risk violation (of one of
    `severities`) on that symbol and the order's portfolio, earlier the same day. The evidence
    names the first such violation and the shares filled after it. `fills`: tca/fills,
    `orders`: tca/orders (portfolio_id), `violations`: raw/risk_violations."""
    blocking = violations.filter(pl.col("severity").is_in(list(severities)))
    if fills.is_empty() or blocking.is_empty():
        return _empty()
    fills = fills.join(
        orders.select("order_id", "portfolio_id"), on="order_id", how="inner"
    ).select("order_id", "portfolio_id", "symbol", "side", "ts", "quantity", "trade_date")
    after = (
        fills.join(
            blocking.select(
                "portfolio_id",
                "symbol",
                "trade_date",
                "violation_id",
                "rule",
                "severity",
                "limit_value",
                "observed_value",
                violation_ts="ts",
            ),
            on=["portfolio_id", "symbol", "trade_date"],
        )
        .filter(pl.col("ts") > pl.col("violation_ts"))
        .sort("order_id", "violation_ts", "ts")
    )
    if after.is_empty():
        return _empty()
    first = after.group_by("order_id", maintain_order=True).first()
    # Shares filled after the order's first violation (each fill counted once).
    shares = (
        after.join(first.select("order_id", first_ts="violation_ts"), on="order_id")
        .filter(pl.col("violation_ts") == pl.col("first_ts"))
        .group_by("order_id")
        .agg(shares=pl.col("quantity").sum(), fills=pl.len(), first_fill=pl.col("ts").min())
    )
    return _exceptions(
        first.join(shares, on="order_id"),
        "trading_after_risk_violation",
        key=pl.col("order_id"),
        value=pl.col("shares"),
        threshold=pl.lit(0.0),
        evidence=pl.format(
            "{} {} ({}): {} shares in {} fills from {} after {} {} {} at {}"
            " (observed {} vs limit {})",
            "side",
            "symbol",
            "portfolio_id",
            "shares",
            "fills",
            pl.col("first_fill").dt.strftime("%H:%M:%S%.3f"),
            "severity",
            "rule",
            "violation_id",
            pl.col("violation_ts").dt.strftime("%H:%M:%S%.3f"),
            "observed_value",
            "limit_value",
        ),
    )


def persistently_worse(effects: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """One exception per venue, algo or broker (the keys of `effects`: tca/<entity>_effects)
    whose effect vs the baseline over the trailing window is significantly worse (verdict
    "worse": positive effect, Holm-corrected p < 5%)."""
    frames = [
        _exceptions(
            table.filter(pl.col("verdict") == "worse"),
            "persistently_worse",
            key=pl.lit(f"{entity}:") + pl.col("entity"),
            value=pl.col("effect_bps"),
            threshold=pl.lit(0.0),
            evidence=pl.format(
                "{} {}: {} bps vs baseline {} (95% CI {} .. {}), Holm p = {}, {} orders /"
                " {} fills over {} .. {}",
                pl.lit(entity),
                "entity",
                _fmt(pl.col("effect_bps")),
                "baseline",
                _fmt(pl.col("ci_low")),
                _fmt(pl.col("ci_high")),
                _fmt(pl.col("p_value_holm"), 4),
                "n_orders",
                "n_fills",
                "window_start",
                "window_end",
            ),
            subject_type=entity,
        )
        for entity, table in effects.items()
        if not table.is_empty()
    ]
    return pl.concat(frames).sort("exception_id") if frames else _empty()


def daily_exceptions(
    *,
    fills: pl.DataFrame,
    orders: pl.DataFrame,
    pretrade: pl.DataFrame,
    violations: pl.DataFrame,
    effects: Mapping[str, pl.DataFrame],
    trade_date: dt.date,
    nbbo_tolerance_bps: float | None = None,
    cost_k_sigma: float = DEFAULT_COST_K_SIGMA,
) -> pl.DataFrame:
    """Every rule over one day's tables, in one frame (`EXCEPTIONS`), sorted by rule."""
    found = pl.concat(
        [
            trade_throughs(fills, tolerance_bps=nbbo_tolerance_bps),
            costs_beyond_estimate(pretrade, k_sigma=cost_k_sigma),
            trading_after_risk_violations(fills, orders, violations),
            persistently_worse(effects),
        ]
    )
    return found.filter(pl.col("trade_date") == trade_date).sort("rule", "exception_id")


def rule_outcomes(exceptions: pl.DataFrame) -> list[CheckOutcome]:
    """One outcome per rule: passed when the day has no exception of that rule; the metadata
    carries the count and the exceptions as a markdown table."""
    outcomes = []
    for rule, meaning in RULES.items():
        found = exceptions.filter(pl.col("rule") == rule)
        outcomes.append(
            CheckOutcome(
                rule,
                found.is_empty(),
                f"{found.height} exception(s): {meaning.lower()}",
                {
                    "exceptions": found.height,
                    "report": markdown_table(found.select("subject", "value", "evidence"), 25),
                },
            )
        )
    return outcomes


def exceptions_report(exceptions: pl.DataFrame, trade_date: dt.date) -> str:
    """The day's exceptions report (markdown): counts per rule, then the exceptions."""
    counts = (
        pl.DataFrame({"rule": list(RULES), "meaning": list(RULES.values())})
        .join(exceptions.group_by("rule").len("exceptions"), on="rule", how="left")
        .with_columns(pl.col("exceptions").fill_null(0))
    )
    lines = [
        f"# Best-execution exceptions, {trade_date.isoformat()}",
        "",
        markdown_table(counts, len(RULES)),
        "",
    ]
    for rule in RULES:
        found = exceptions.filter(pl.col("rule") == rule)
        if found.height:
            lines += [
                f"## {rule} ({found.height})",
                "",
                markdown_table(
                    found.select("subject_type", "subject", "value", "threshold", "evidence"), 50
                ),
                "",
            ]
    return "\n".join(lines)
