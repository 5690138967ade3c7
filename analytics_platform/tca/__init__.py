"""Transaction cost analysis (DESIGN §6): fill- and order-level metrics, pure polars."""

from analytics_platform.tca.fills import DEFAULT_HORIZONS, fill_tca
from analytics_platform.tca.orders import order_tca
from analytics_platform.timeseries import QuoteBook, quote_book

__all__ = ["DEFAULT_HORIZONS", "QuoteBook", "fill_tca", "order_tca", "quote_book"]
