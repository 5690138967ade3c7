"""The one trading-day partitions definition shared by every partitioned asset, job and sensor."""

import datetime as dt
import warnings

from dagster import PreviewWarning, TimeWindowPartitionsDefinition

from analytics_platform.calendar import CALENDAR_START, EXCHANGE_TZ, nyse_holidays

# Weekdays minus NYSE holidays (QuantLib), keyed by the exchange-local date. end_offset=1 makes
# today's partition available during the day, so the after-close schedule can run it.
trading_day_partitions = TimeWindowPartitionsDefinition(
    cron_schedule="0 0 * * 1-5",
    start=dt.datetime.combine(CALENDAR_START, dt.time()),
    timezone=EXCHANGE_TZ,
    fmt="%Y-%m-%d",
    end_offset=1,
    exclusions=[dt.datetime.combine(d, dt.time()) for d in nyse_holidays()],
)


# Asset checks are partitioned like their assets: one result per day, shown on that day in the
# UI. Dagster 1.13 marks partitioned checks as preview; tests pin the behaviour relied on.
warnings.filterwarnings(
    "ignore", category=PreviewWarning, message=".*partitions_def on an AssetCheckSpec"
)


def partition_date(partition_key: str) -> dt.date:
    return dt.date.fromisoformat(partition_key)
