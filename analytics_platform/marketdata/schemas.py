"""Contracts of the raw market-data tables (DESIGN §5)."""

from __future__ import annotations

import polars as pl

from analytics_platform.contracts import (
    PRICE,
    QTY,
    TS,
    Check,
    ColumnSpec,
    TableContract,
    trade_date_column,
)

_POSITIVE = [Check.gt(0)]
_NON_NEGATIVE = [Check.ge(0)]

QUOTES = TableContract(
    table="raw/quotes",
    description="Consolidated NBBO quote updates, one row per update, sequenced per symbol.",
    columns=[
        ColumnSpec("ts", TS, "Quote time (UTC, ns)"),
        ColumnSpec("symbol", pl.String, "Instrument symbol"),
        ColumnSpec("bid_px", PRICE, "National best bid", checks=_POSITIVE),
        ColumnSpec("bid_sz", QTY, "Shares at the best bid", checks=_NON_NEGATIVE),
        ColumnSpec("ask_px", PRICE, "National best offer", checks=_POSITIVE),
        ColumnSpec("ask_sz", QTY, "Shares at the best offer", checks=_NON_NEGATIVE),
        ColumnSpec(
            "seq", QTY, "Per-symbol feed sequence number, contiguous from 1", checks=_POSITIVE
        ),
        trade_date_column(),
        ColumnSpec(
            "is_glitch",
            pl.Boolean,
            "Feed flags this update as erroneous (optional, beyond DESIGN §5; default false)",
            default=False,
        ),
    ],
    key=["symbol", "seq"],
)

MARKET_TRADES = TableContract(
    table="raw/market_trades",
    description="Consolidated tape: every print in the market, including the firm's own fills.",
    columns=[
        ColumnSpec("ts", TS, "Print time (UTC, ns)"),
        ColumnSpec("symbol", pl.String, "Instrument symbol"),
        ColumnSpec("price", PRICE, "Print price", checks=_POSITIVE),
        ColumnSpec("size", QTY, "Shares printed", checks=_POSITIVE),
        ColumnSpec("venue", pl.String, "Reporting venue (MIC-like code)"),
        ColumnSpec(
            "seq", QTY, "Per-symbol tape sequence number, contiguous from 1", checks=_POSITIVE
        ),
        trade_date_column(),
    ],
    key=["symbol", "seq"],
)

BOOK_SNAPSHOTS = TableContract(
    table="raw/book_snapshots",
    description="Depth-of-book snapshots: N price levels per side at a fixed cadence.",
    columns=[
        ColumnSpec("ts", TS, "Snapshot time (UTC, ns)"),
        ColumnSpec("symbol", pl.String, "Instrument symbol"),
        ColumnSpec("level", QTY, "Book level, 1 = best", checks=[Check.in_range(1, 50)]),
        ColumnSpec("bid_px", PRICE, "Bid price at this level", checks=_POSITIVE),
        ColumnSpec("bid_sz", QTY, "Shares bid at this level", checks=_NON_NEGATIVE),
        ColumnSpec("ask_px", PRICE, "Ask price at this level", checks=_POSITIVE),
        ColumnSpec("ask_sz", QTY, "Shares offered at this level", checks=_NON_NEGATIVE),
        trade_date_column(),
    ],
    key=["symbol", "ts", "level"],
)

MARKET_DATA_CONTRACTS: dict[str, TableContract] = {
    c.table: c for c in (QUOTES, MARKET_TRADES, BOOK_SNAPSHOTS)
}
