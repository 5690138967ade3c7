"""Event-triggered jobs: one per Pulsar workflow, its raw event assets and everything downstream
but the end-of-day marts and reports."""

from dagster import AssetSelection, define_asset_job

from analytics_platform.events.contracts import INBOUND, WORKFLOWS
from assets.metadata import lake_key
from assets.partitions import trading_day_partitions
from resources.loggers import default_run_config

# The warehouse's marts and the reports built from them are the end-of-day run's products: an
# event run keeps its seconds for landing the events and refreshing the tables behind them.
END_OF_DAY_ONLY = AssetSelection.groups("marts", "reports")


def ingest_job_name(workflow: str) -> str:
    return "ingest_" + workflow.replace("-", "_")


def ingest_job(workflow: str):
    keys = [lake_key(c.spec.table) for c in INBOUND if c.spec.workflow == workflow]
    return define_asset_job(
        ingest_job_name(workflow),
        selection=AssetSelection.assets(*keys).downstream().materializable() - END_OF_DAY_ONLY,
        partitions_def=trading_day_partitions,
        description=f"Land new {workflow} events for one trading day, refresh what depends on them",
        config=default_run_config(),
    )


ingest_jobs = {workflow: ingest_job(workflow) for workflow in WORKFLOWS}
