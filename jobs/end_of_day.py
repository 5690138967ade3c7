"""End-of-day job and its after-close schedule (trading days only)."""

from dagster import (
    AssetSelection,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)

from analytics_platform.calendar import EXCHANGE_TZ, is_trading_day
from assets.partitions import trading_day_partitions
from resources.loggers import default_run_config

end_of_day_job = define_asset_job(
    "end_of_day",
    selection=AssetSelection.all().materializable(),
    partitions_def=trading_day_partitions,
    description="Materialise the whole lineage graph for one trading day",
    config=default_run_config(),
)


@schedule(
    job=end_of_day_job,
    cron_schedule="30 17 * * 1-5",
    execution_timezone=EXCHANGE_TZ,
    description="After the close (17:30 New York) on NYSE trading days",
)
def end_of_day_schedule(context: ScheduleEvaluationContext):
    trade_date = context.scheduled_execution_time.date()
    if not is_trading_day(trade_date):
        return SkipReason(f"{trade_date} is not an NYSE trading day")
    key = trade_date.isoformat()
    return RunRequest(run_key=f"end_of_day:{key}", partition_key=key, tags={"trigger": "schedule"})
