"""The one place that assembles the Dagster code location."""

import gc

# Every Dagster process imports this module (daemon, webserver, code server, each run): a few
# hundred thousand long-lived objects (Dagster, pydantic models, the domain's contracts) and ~1k of
# garbage. The cyclic collector's full passes over them cost ~0.35 s of the import and ~0.3 s at
# exit for nothing to free, so it is paused while they load and they are then frozen out of its
# later passes (`gc.freeze`, as a pre-fork server does). Issue #9: the import takes at most 2 s.
_collecting = gc.isenabled()
gc.disable()
try:
    from dagster import Definitions, ExecutorDefinition, in_process_executor, multiprocess_executor

    from analytics_platform.config import PlatformSettings, load_settings
    from assets.attribution import attribution_assets
    from assets.compliance import compliance_assets
    from assets.marts import marts_assets
    from assets.ml import ml_assets
    from assets.partitions import one_day_per_run
    from assets.raw_events import raw_event_assets, raw_quarantine, topic_specs
    from assets.raw_market_data import landing_specs, raw_market_data_assets
    from assets.reports import report_assets
    from assets.simulation import simulated_market
    from assets.tca import tca_assets
    from jobs.end_of_day import end_of_day_job, end_of_day_schedule
    from jobs.ingest import ingest_jobs
    from resources import build_resources
    from resources.loggers import build_loggers
    from sensors.observe import observe_sensors
    from sensors.pulsar import pulsar_sensors
finally:
    gc.freeze()
    if _collecting:
        gc.enable()


def step_executor(settings: PlatformSettings) -> ExecutorDefinition:
    """Where a run's steps execute: in the run's process (embedded default, small event runs),
    a process per step, or celery workers (`analytics-platform worker`) on RabbitMQ."""
    if settings.executor == "celery":
        from dagster_celery import celery_executor  # noqa: PLC0415 - only this profile needs celery

        return celery_executor.configured(
            {
                "broker": settings.celery_broker_url,
                "backend": "rpc://",
                "config_source": {"task_default_queue": settings.celery_queue},
            }
        )
    return in_process_executor if settings.executor == "in_process" else multiprocess_executor


settings = load_settings()

# The embedded default simulates its sources (vendor drops, Pulsar topics); in production they
# are external assets fed by the real vendor and trading systems. Either way the observe_*
# sensors report what the landing zone and the broker hold.
sources = [simulated_market] if settings.simulator else [*landing_specs, *topic_specs]

defs = Definitions(
    assets=one_day_per_run(
        [
            *sources,
            *raw_market_data_assets,
            *raw_event_assets,
            raw_quarantine,
            *tca_assets,
            *attribution_assets,
            *ml_assets,
            *compliance_assets,
            *marts_assets,
            *report_assets,
        ]
    ),
    jobs=[end_of_day_job, *ingest_jobs.values()],
    schedules=[end_of_day_schedule],
    sensors=[
        *pulsar_sensors(settings.sensor_interval_s, settings.sensors_running),
        *observe_sensors(settings.observe_interval_s, settings.sensors_running),
    ],
    resources=build_resources(settings),
    loggers=build_loggers(settings),
    executor=step_executor(settings),
)
