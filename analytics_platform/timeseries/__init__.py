"""Time-series tools every domain shares: the as-of index, M(t) and the side sign."""

import polars as pl

from analytics_platform.timeseries.asof import GROUP, TIE, AsOfIndex, Frame
from analytics_platform.timeseries.mid import QuoteBook, quote_book, quotes_at


def side_sign() -> pl.Expr:
    """s = +1 for BUY, -1 for SELL."""
    return pl.when(pl.col("side") == "BUY").then(1.0).otherwise(-1.0)


__all__ = [
    "GROUP",
    "TIE",
    "AsOfIndex",
    "Frame",
    "QuoteBook",
    "quote_book",
    "quotes_at",
    "side_sign",
]
