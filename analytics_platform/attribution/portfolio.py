"""Portfolio against benchmark: security returns, sector segments for Brinson, linked windows.

Returns are close to close. A security's reference price is the previous close the benchmark
provider publishes with its weights; its close is M(session close), the mid of the day's last
valid quote. The portfolio segment weights are the opening book (previous close prices) over the
previous NAV, with cash as its own segment (return 0), so wp sums to 1; a segment's return is its
buy-and-hold return over the day. The NAV return also contains the day's trading and fees:
`trading_effect` = NAV return − holdings return, reported next to the Brinson effects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from analytics_platform.attribution.brinson import brinson, link
from analytics_platform.calendar import session_bounds
from analytics_platform.timeseries import Frame, QuoteBook, quote_book, quotes_at

CASH = "CASH"
UNCLASSIFIED = "UNCLASSIFIED"
_ANY_QUOTE_IN_SESSION = "390m"


def security_returns(
    quotes: Frame | QuoteBook, benchmark_weights: Frame, market_trades: Frame
) -> pl.DataFrame:
    """Per benchmark constituent and day: sector, benchmark weight, reference (previous close)
    and closing price, the close-to-close return, and the day's traded volume."""
    weights = benchmark_weights.lazy().collect()
    volume = (
        market_trades.lazy()
        .group_by("trade_date", "symbol")
        .agg(volume=pl.col("size").sum())
        .collect()
    )
    closes = session_bounds(weights["trade_date"]).select("trade_date", "close_ts")
    base = weights.join(closes, on="trade_date", how="left").sort("trade_date", "symbol")
    close = quotes_at(
        base, {"close": pl.col("close_ts")}, quote_book(quotes), _ANY_QUOTE_IN_SESSION
    ).select(close_px="mid_close")
    return (
        pl.concat([base, close], how="horizontal")
        .join(volume, on=["trade_date", "symbol"], how="left", maintain_order="left")
        .select(
            "trade_date",
            "benchmark_id",
            "symbol",
            "sector",
            benchmark_weight="weight",
            reference_px="reference_px",
            close_px="close_px",
            security_return=pl.col("close_px") / pl.col("reference_px") - 1,
            volume=pl.col("volume").fill_null(0),
        )
    )


def sector_segments(positions: Frame, performance: Frame, returns: pl.DataFrame) -> pl.DataFrame:
    """Brinson input per portfolio and day: segment, wp, wb, rp, rb, plus the portfolio's NAV
    return and benchmark. Sectors the portfolio does not hold take rp = rb (no selection there);
    sectors outside the benchmark take rb = Rb (no allocation there); cash has rp = rb = 0."""
    perf = (
        performance.lazy()
        .select("trade_date", "portfolio_id", "benchmark_id", "previous_nav", "nav")
        .collect()
    )
    sectors = returns.select("trade_date", "symbol", "sector", "close_px", "security_return")
    holdings = (
        positions.lazy()
        .filter(pl.col("snapshot") == "OPEN")
        .select("trade_date", "portfolio_id", "symbol", "quantity", "price")
        .collect()
        .join(sectors, on=["trade_date", "symbol"], how="left")
        .join(perf, on=["trade_date", "portfolio_id"])
        .with_columns(
            pl.col("sector").fill_null(UNCLASSIFIED),
            _weight=pl.col("quantity") * pl.col("price") / pl.col("previous_nav"),
            _contribution=pl.col("quantity")
            * (pl.col("close_px") - pl.col("price"))
            / pl.col("previous_nav"),
        )
    )
    key = ["trade_date", "portfolio_id", "benchmark_id"]
    portfolio_side = holdings.group_by(*key, segment="sector").agg(
        wp=pl.col("_weight").sum(), _contribution=pl.col("_contribution").sum()
    )
    cash = (
        portfolio_side.group_by(key)
        .agg(wp=1 - pl.col("wp").sum())
        .with_columns(segment=pl.lit(CASH), _contribution=pl.lit(0.0))
    )
    portfolio_side = pl.concat([portfolio_side, cash.select(portfolio_side.columns)])
    benchmark_side = (
        returns.group_by("trade_date", "benchmark_id", segment="sector")
        .agg(
            wb=pl.col("benchmark_weight").sum(),
            rb=(pl.col("benchmark_weight") * pl.col("security_return")).sum()
            / pl.col("benchmark_weight").sum(),
        )
        .with_columns(
            _rb_total=(pl.col("wb") * pl.col("rb")).sum().over("trade_date", "benchmark_id")
        )
    )
    portfolios = perf.select(*key, nav_return=pl.col("nav") / pl.col("previous_nav") - 1)
    benchmark_totals = benchmark_side.group_by("trade_date", "benchmark_id").agg(
        pl.col("_rb_total").first()
    )
    all_segments = (
        pl.concat(
            [
                portfolio_side.select(*key, "segment"),
                portfolios.join(
                    benchmark_side.select("trade_date", "benchmark_id", "segment"),
                    on=["trade_date", "benchmark_id"],
                ).select(*key, "segment"),
            ]
        )
        .unique()
        .join(portfolios, on=key)
        .join(benchmark_totals, on=["trade_date", "benchmark_id"], how="left")
    )
    return (
        all_segments.join(portfolio_side, on=[*key, "segment"], how="left")
        .join(
            benchmark_side.drop("_rb_total"),
            on=["trade_date", "benchmark_id", "segment"],
            how="left",
        )
        .with_columns(pl.col("wp", "wb", "_contribution").fill_null(0.0))
        .with_columns(
            rb=pl.when(pl.col("segment") == CASH)
            .then(0.0)
            .otherwise(pl.col("rb").fill_null(pl.col("_rb_total"))),
        )
        .with_columns(
            rp=pl.when(pl.col("wp").abs() > 1e-12)
            .then(pl.col("_contribution") / pl.col("wp"))
            .otherwise(pl.col("rb")),
        )
        .drop("_contribution", "_rb_total")
        .sort(*key, "segment")
    )


def brinson_daily(
    segments: pl.DataFrame, *, methods: Sequence[str] = ("BF", "BHB"), interaction: str
) -> pl.DataFrame:
    """Brinson effects per portfolio, day, segment and method, with the period's returns:
    portfolio_return (holdings), benchmark_return, nav_return and trading_effect."""
    by = ["trade_date", "portfolio_id", "benchmark_id"]
    inputs = segments.select(*by, "segment", "wp", "wb", "rp", "rb")
    totals = segments.group_by(by).agg(
        portfolio_return=(pl.col("wp") * pl.col("rp")).sum(),
        benchmark_return=(pl.col("wb") * pl.col("rb")).sum(),
        nav_return=pl.col("nav_return").first(),
    )
    parts = [
        brinson(inputs, method=m, interaction=interaction, by=by)
        .join(inputs, on=[*by, "segment"])
        .with_columns(method=pl.lit(m), interaction_mode=pl.lit(interaction))
        for m in methods
    ]
    return (
        pl.concat(parts)
        .join(totals, on=by)
        .with_columns(
            trading_effect=pl.col("nav_return") - pl.col("portfolio_return"),
            excess_return=pl.col("portfolio_return") - pl.col("benchmark_return"),
        )
        .sort(*by, "method", "segment")
    )


def brinson_linked(
    daily: pl.DataFrame, *, linking_methods: Sequence[str], window_end: dt.date
) -> pl.DataFrame:
    """Per portfolio and Brinson method, the window's effects linked by each method; with the
    compounded portfolio and benchmark returns (Σ linked total = their difference exactly)."""
    parts = []
    for (portfolio, benchmark, method), rows in daily.group_by(
        "portfolio_id", "benchmark_id", "method", maintain_order=True
    ):
        effects = rows.select(
            period="trade_date",
            segment="segment",
            allocation="allocation",
            selection="selection",
            interaction="interaction",
        )
        returns = rows.group_by(period="trade_date").agg(
            rp=pl.col("portfolio_return").first(), rb=pl.col("benchmark_return").first()
        )
        compounded = returns.select(
            portfolio_return=(1 + pl.col("rp")).product() - 1,
            benchmark_return=(1 + pl.col("rb")).product() - 1,
            window_start=pl.col("period").min(),
            n_days=pl.len(),
        )
        for linking in linking_methods:
            parts.append(
                link(effects, returns, method=linking)
                .with_columns(
                    portfolio_id=pl.lit(portfolio),
                    benchmark_id=pl.lit(benchmark),
                    method=pl.lit(method),
                    linking_method=pl.lit(linking),
                )
                .join(compounded, how="cross")
            )
    if not parts:
        return pl.DataFrame()
    return (
        pl.concat(parts)
        .with_columns(
            window_end=pl.lit(window_end),
            trade_date=pl.lit(window_end),
            excess_return=pl.col("portfolio_return") - pl.col("benchmark_return"),
        )
        .sort("portfolio_id", "method", "linking_method", "segment")
    )
