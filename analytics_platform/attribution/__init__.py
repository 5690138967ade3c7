"""Performance attribution (DESIGN §7): decisions to P&L, portfolios against benchmarks.

Pure functions over polars frames: `brinson` and `link` (sector attribution and its multi-period
linking), `risk_metrics` (empyrical's conventions), decision outcomes and strategy skill, and the
portfolio segments the daily tables are built from.
"""

from analytics_platform.attribution.brinson import brinson, link
from analytics_platform.attribution.risk import risk_metrics

__all__ = ["brinson", "link", "risk_metrics"]
