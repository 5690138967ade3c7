"""Fill-level TCA: one row per execution (DESIGN §6, "Per fill"). Costs in bps, positive = bad."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from analytics_platform.tca.quotes import Frame, quote_before, side_sign, valid_quotes

DEFAULT_HORIZONS = ("1s", "5s", "30s", "60s", "300s")

FILL_COLUMNS = [
    "exec_id",
    "order_id",
    "symbol",
    "side",
    "ts",
    "quantity",
    "price",
    "venue",
    "liquidity",
    "fee",
    "trade_date",
]


def fill_tca(
    fills: Frame,
    orders: Frame,
    quotes: Frame,
    *,
    horizons: Sequence[str] = DEFAULT_HORIZONS,
    max_quote_age: str = "60s",
) -> pl.DataFrame:
    """Per fill: mid_at_fill (with bid/ask_at_fill), arrival_mid, arrival_cost_bps,
    effective_spread_bps, quoted_spread_bps, price_improvement, and per horizon h
    realized_spread_bps_h, price_impact_bps_h, markout_bps_h.
    """
    book = valid_quotes(quotes)
    base = (
        fills.lazy()
        .select(FILL_COLUMNS)
        .join(orders.lazy().select("order_id", "arrival_ts"), on="order_id", how="left")
    )
    at_fill = quote_before(base, book, "ts", max_quote_age).rename(
        {"bid": "bid_at_fill", "ask": "ask_at_fill", "mid": "mid_at_fill"}
    )
    keyed = base.select("exec_id", "symbol", "trade_date", "arrival_ts")
    arrival = quote_before(keyed, book, "arrival_ts", max_quote_age).select(
        "exec_id", arrival_mid="mid"
    )
    frame = at_fill.join(arrival, on="exec_id", how="left")
    for h in horizons:
        later = base.select("exec_id", "symbol", "trade_date", at=pl.col("ts").dt.offset_by(h))
        frame = frame.join(
            quote_before(later, book, "at", max_quote_age).select(
                "exec_id", **{f"_mid_{h}": "mid"}
            ),
            on="exec_id",
            how="left",
        )
    s, p, m, m0 = side_sign(), pl.col("price"), pl.col("mid_at_fill"), pl.col("arrival_mid")
    per_horizon = []
    for h in horizons:
        mh = pl.col(f"_mid_{h}")
        per_horizon += [
            (2e4 * s * (p - mh) / m).alias(f"realized_spread_bps_{h}"),
            (2e4 * s * (mh - m) / m).alias(f"price_impact_bps_{h}"),
            (1e4 * s * (mh - p) / p).alias(f"markout_bps_{h}"),
        ]
    return (
        frame.with_columns(
            (1e4 * s * (p - m0) / m0).alias("arrival_cost_bps"),
            (2e4 * s * (p - m) / m).alias("effective_spread_bps"),
            pl.when(pl.col("side") == "BUY")
            .then(pl.col("ask_at_fill") - p)
            .otherwise(p - pl.col("bid_at_fill"))
            .alias("price_improvement"),
            (1e4 * (pl.col("ask_at_fill") - pl.col("bid_at_fill")) / m).alias("quoted_spread_bps"),
            *per_horizon,
        )
        .drop("arrival_ts", *[f"_mid_{h}" for h in horizons])
        .sort("ts", "exec_id")
        .collect()
    )
