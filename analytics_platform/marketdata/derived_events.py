"""Events the firm's other systems publish about the simulated day (settlement, risk, brokers,
pre-trade analytics, portfolio management, correlations), derived from the core simulation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from analytics_platform.calendar import next_trading_day, session_close_ts

_SIDE = pl.when(pl.col("side") == "BUY").then(1.0).otherwise(-1.0)


def derived_events(
    *,
    rng: np.random.Generator,
    trade_date: dt.date,
    pretrade_inputs: pl.DataFrame,
    orders: pl.DataFrame,
    executions: pl.DataFrame,
    decisions: pl.DataFrame,
    opening_nav: pl.DataFrame,
    indicators: pl.DataFrame,
    impact_coefficient: float,
    estimation_error: float,
) -> dict[str, pl.DataFrame]:
    """`pretrade_inputs`: symbol, spread_bps, est_vol, est_adv (the firm's own estimates);
    `opening_nav`: portfolio_id, nav at the previous close (what risk sizing knows)."""
    td = pl.lit(trade_date, dtype=pl.Date)
    close = session_close_ts(trade_date)

    settlements = executions.select(
        settlement_id="STL-" + pl.col("exec_id"),
        exec_id="exec_id",
        ts=pl.col("ts") + pl.duration(seconds=30),
        symbol="symbol",
        side="side",
        quantity="quantity",
        settle_date=pl.lit(next_trading_day(trade_date)),
        # Cash paid (+) or received (-): s * price * quantity + fee.
        settlement_amount=(_SIDE * pl.col("price") * pl.col("quantity") + pl.col("fee")).round(4),
        trade_date=td,
    )

    fills = executions.group_by("order_id").agg(
        executed=pl.col("quantity").sum(),
        avg_px=(pl.col("price") * pl.col("quantity")).sum() / pl.col("quantity").sum(),
    )
    quality = (
        orders.join(fills, on="order_id", how="left")
        .with_columns(pl.col("executed").fill_null(0))
        .select(
            quality_id="EQ-" + pl.col("order_id"),
            order_id="order_id",
            ts="end_ts",
            symbol="symbol",
            broker="broker",
            reported_fill_rate=(pl.col("executed") / pl.col("quantity")).round(6),
            reported_avg_px=pl.col("avg_px").round(6),
            reported_slippage_bps=(
                1e4 * _SIDE * (pl.col("avg_px") - pl.col("decision_px")) / pl.col("decision_px")
            ).round(4),
            trade_date=td,
        )
    )

    sized = decisions.join(opening_nav, on="portfolio_id").select(
        sizing_id="PS-" + pl.col("decision_id"),
        decision_id="decision_id",
        ts=pl.col("ts") + pl.duration(milliseconds=5),
        portfolio_id="portfolio_id",
        symbol="symbol",
        side="side",
        sized_quantity="target_quantity",
        risk_budget_bps=(
            1e4 * pl.col("target_quantity") * pl.col("decision_px") / pl.col("nav")
        ).round(4),
        trade_date=td,
    )

    flagged = rng.uniform(size=decisions.height) < 0.02
    rules = np.array(["MAX_POSITION", "MAX_ADV_PARTICIPATION", "SECTOR_EXPOSURE"])
    limit = rng.uniform(0.01, 0.1, decisions.height)
    violations = decisions.filter(pl.Series(flagged)).select(
        violation_id="RV-" + pl.col("decision_id"),
        ts="ts",
        portfolio_id="portfolio_id",
        symbol="symbol",
        rule=pl.Series(rules[rng.integers(0, 3, decisions.height)][flagged]),
        limit_value=pl.Series(limit[flagged]).round(4),
        observed_value=pl.Series(limit[flagged] * rng.uniform(1.01, 1.5, int(flagged.sum()))).round(
            4
        ),
        severity=pl.Series(
            np.where(rng.uniform(size=int(flagged.sum())) < 0.8, "WARNING", "BREACH")
        ),
        trade_date=td,
    )

    # The firm's pre-trade model: half the quoted spread plus a square-root impact on its own
    # trailing vol and ADV estimates, with a miscalibrated coefficient and per-order error.
    error = pl.Series(rng.lognormal(0, estimation_error, orders.height))
    impact = (
        impact_coefficient
        * pl.col("est_vol")
        * 1e4
        * (pl.col("quantity") / pl.col("est_adv")).sqrt()
        * error
    )
    assessments = orders.join(pretrade_inputs, on="symbol", maintain_order="left").select(
        assessment_id="MI-" + pl.col("order_id"),
        order_id="order_id",
        ts="decision_ts",
        symbol="symbol",
        side="side",
        quantity="quantity",
        expected_cost_bps=(pl.col("spread_bps") / 2 + impact).round(4),
        expected_impact_bps=impact.round(4),
        trade_date=td,
    )

    returns = (
        indicators.filter(pl.col("indicator") == "return_bps")
        .pivot(on="symbol", index="ts", values="value")
        .sort("ts")
        .drop("ts")
        .fill_null(0.0)
    )
    names = returns.columns
    corr = np.nan_to_num(np.corrcoef(returns.to_numpy().T)) if len(names) > 1 else np.zeros((1, 1))
    ia, ib = np.triu_indices(len(names), k=1)
    name_arr = np.array(names)
    correlations = pl.DataFrame(
        {
            "symbol_a": name_arr[ia],
            "symbol_b": name_arr[ib],
            "correlation": np.clip(corr[ia, ib], -1.0, 1.0).round(6),
        }
    ).select(
        correlation_id=pl.col("symbol_a") + "|" + pl.col("symbol_b") + f"|{trade_date.isoformat()}",
        ts=close,
        symbol_a="symbol_a",
        symbol_b="symbol_b",
        correlation="correlation",
        window=pl.lit("1D-5m"),
        trade_date=td,
    )
    return {
        "raw/settlements": settlements,
        "raw/execution_quality_events": quality,
        "raw/risk_violations": violations,
        "raw/positions_sized": sized,
        "raw/market_impact_assessments": assessments,
        "raw/correlation_matrices": correlations,
    }
