"""The one place that assembles the Dagster code location."""

from __future__ import annotations

from dagster import Definitions

from analytics_platform.config import load_settings
from assets.raw_market_data import landing_specs, raw_market_data_assets
from jobs.end_of_day import end_of_day_job, end_of_day_schedule
from resources import build_resources

settings = load_settings()

defs = Definitions(
    assets=[*landing_specs, *raw_market_data_assets],
    jobs=[end_of_day_job],
    schedules=[end_of_day_schedule],
    resources=build_resources(settings),
)
