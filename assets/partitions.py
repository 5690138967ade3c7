"""The one trading-day partitions definition shared by every partitioned asset, job and sensor."""

import datetime as dt
import warnings

from dagster import (
    AssetsDefinition,
    BackfillPolicy,
    FreshnessPolicy,
    PreviewWarning,
    TimeWindowPartitionsDefinition,
)

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

# A backfill runs one trading day per run, every asset alike: mixed policies split an asset
# backfill into a run per asset, and dagster-dbt would default its marts to one run per range.
ONE_DAY_PER_RUN = BackfillPolicy.multi_run(1)


def one_day_per_run(assets: list) -> list:
    """`assets` with every partitioned definition on ONE_DAY_PER_RUN."""
    return [
        a.with_attributes(backfill_policy=ONE_DAY_PER_RUN)
        if isinstance(a, AssetsDefinition) and a.partitions_def is not None
        else a
        for a in assets
    ]


# Asset checks are partitioned like their assets: one result per day, shown on that day in the
# UI. Dagster 1.13 marks partitioned checks as preview; tests pin the behaviour relied on.
warnings.filterwarnings(
    "ignore", category=PreviewWarning, message=".*partitions_def on an AssetCheckSpec"
)


# End-of-day tables are due by 18:00 New York on weekdays, from a run after the 16:00 close (the
# schedule starts at 17:30). Exchange holidays show as overdue: the cron cannot skip them.
end_of_day_freshness = FreshnessPolicy.cron(
    deadline_cron="0 18 * * 1-5",
    lower_bound_delta=dt.timedelta(hours=2),
    timezone=EXCHANGE_TZ,
)


def partition_date(partition_key: str) -> dt.date:
    return dt.date.fromisoformat(partition_key)
