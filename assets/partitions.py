"""The one trading-day partitions definition shared by every partitioned asset, job and sensor."""

import datetime as dt

from dagster import TimeWindowPartitionsDefinition

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


def partition_date(partition_key: str) -> dt.date:
    return dt.date.fromisoformat(partition_key)
