"""Raw trading events: Pulsar topics -> Delta tables partitioned by trade_date, exactly once.

Each asset ingests everything new on its topic (resuming after the offset committed with the
rows), then reports its own trade_date partition. Events of other days land too (they are in
the same backlog) and are reported by those days' runs, which the sensors request.
"""

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from analytics_platform.events.contracts import INBOUND, QUARANTINE, EventContract
from analytics_platform.events.landing import ingest_topic
from analytics_platform.events.reading import BrokerConnectionLost
from analytics_platform.quality.checks import unique_key_check
from analytics_platform.reporting import markdown_table
from assets.metadata import (
    OWNERS,
    check_result,
    code_version,
    column_schema,
    definition_metadata,
    lake_key,
)
from assets.partitions import partition_date, trading_day_partitions
from resources.lake import IngestConfig, LakeResource, QualityConfig
from resources.pulsar import PulsarResource

INGEST_CODE_VERSION = code_version("analytics_platform.events")


def topic_key(contract: EventContract) -> AssetKey:
    """pulsar/<workflow>/<event>: mirrors persistent://analytics/<workflow>/<event>."""
    return AssetKey(["pulsar", *contract.spec.topic.split("/")[-2:]])


def group_of(contract: EventContract) -> str:
    return "raw_" + contract.spec.workflow.replace("-", "_")


def topic_spec(contract: EventContract) -> AssetSpec:
    """The Pulsar topic as an external asset, so lineage starts at the broker; its column schema
    is the messages' fields (the `observe_topics` sensor reports its backlog)."""
    return AssetSpec(
        key=topic_key(contract),
        description=f"Pulsar topic {contract.spec.topic} ({contract.spec.event_type})",
        group_name="pulsar_topics",
        owners=OWNERS,
        kinds={"pulsar"},
        metadata={
            "dagster/column_schema": column_schema(contract.message_columns),
            "topic": contract.spec.topic,
            "event_type": contract.spec.event_type,
        },
    )


def raw_event_asset(contract: EventContract) -> AssetsDefinition:
    key = lake_key(contract.spec.table)

    @asset(
        key=key,
        deps=[topic_key(contract)],
        partitions_def=trading_day_partitions,
        group_name=group_of(contract),
        owners=OWNERS,
        kinds={"deltalake", "pulsar", "polars"},
        description=contract.description,
        metadata={
            **definition_metadata(contract.table),
            "topic": contract.spec.topic,
            "event_type": contract.spec.event_type,
            "schema_versions": ", ".join(map(str, contract.supported_versions)),
        },
        check_specs=[
            AssetCheckSpec(
                "unique_event_id",
                asset=key,
                blocking=True,
                description="No event landed twice in the partition",
                partitions_def=trading_day_partitions,
            ),
            AssetCheckSpec(
                "quarantine_rate",
                asset=key,
                description="Share of this run's messages rejected to raw/quarantine (warns)",
                partitions_def=trading_day_partitions,
            ),
        ],
        pool="pulsar_ingest",
        code_version=INGEST_CODE_VERSION,
    )
    def _raw_events(
        context: AssetExecutionContext,
        lake: LakeResource,
        pulsar: PulsarResource,
        ingest: IngestConfig,
        quality: QualityConfig,
    ) -> MaterializeResult:
        trade_date = partition_date(context.partition_key)
        with pulsar.client() as client:
            try:
                report = ingest_topic(client, lake.lake(), contract, batch_size=ingest.batch_size)
            except BrokerConnectionLost as lost:
                # Fail like the steps that find no broker at all, saying what did land.
                landed = lost.report
                context.log.warning(f"{lost}: {landed.inserted} new rows landed first")
                raise Failure(
                    description=str(lost),
                    metadata={
                        "messages_read": landed.messages,
                        "rows_inserted": landed.inserted,
                        "quarantined": landed.quarantined,
                        "last_message_id": landed.last_message_id or "(none new)",
                    },
                ) from lost
        partition = lake.lake().scan(contract.table, [trade_date]).collect()
        context.log.info(
            f"{contract.spec.topic}: {report.messages} messages, {report.inserted} new rows, "
            f"{report.duplicates} duplicates, {report.quarantined} quarantined; "
            f"{partition.height} rows in {trade_date}"
        )
        unique = unique_key_check(partition, ["event_id"])
        rate_ok = report.quarantine_rate <= quality.max_quarantine_rate
        return MaterializeResult(
            metadata={
                "dagster/row_count": partition.height,
                "delta_version": lake.lake().version(contract.spec.table),
                "trade_date": trade_date.isoformat(),
                "messages_read": report.messages,
                "rows_inserted": report.inserted,
                "duplicates_dropped": report.duplicates,
                "quarantined": report.quarantined,
                "last_message_id": report.last_message_id or "(none new)",
                "dates_landed": ", ".join(sorted(d.isoformat() for d in report.trade_dates)),
                "preview": MetadataValue.md(markdown_table(partition.drop("message_id"))),
            },
            check_results=[
                check_result(unique, check_name="unique_event_id"),
                AssetCheckResult(
                    check_name="quarantine_rate",
                    passed=rate_ok,
                    severity=AssetCheckSeverity.WARN,
                    description=f"{report.quarantined} of {report.messages} messages quarantined "
                    f"({report.quarantine_rate:.2%}, limit {quality.max_quarantine_rate:.2%})",
                    metadata={"quarantine_rate": report.quarantine_rate},
                ),
            ],
        )

    return _raw_events


topic_specs = [topic_spec(c) for c in INBOUND]
raw_event_assets = [raw_event_asset(c) for c in INBOUND]


@asset(
    key=lake_key(QUARANTINE.table),
    deps=[lake_key(c.spec.table) for c in INBOUND],
    partitions_def=trading_day_partitions,
    group_name="raw_quarantine",
    owners=OWNERS,
    kinds={"deltalake", "polars"},
    description=QUARANTINE.description
    + " Each raw event asset writes its rejects in the same commit as its rows; this asset"
    " reports the day: counts by topic and by reason, and examples.",
    metadata=definition_metadata(QUARANTINE),
    code_version=INGEST_CODE_VERSION,
)
def raw_quarantine(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    trade_date = partition_date(context.partition_key)
    day = lake.lake().scan(QUARANTINE, [trade_date]).collect()
    by_topic = day.group_by("topic").len("messages").sort("messages", descending=True)
    by_reason = (
        day.with_columns(reason=pl.col("error").str.slice(0, 80))
        .group_by("reason")
        .len("messages")
        .sort("messages", descending=True)
    )
    context.log.info(f"raw/quarantine {trade_date}: {day.height} rejected messages")
    return MaterializeResult(
        metadata={
            "dagster/row_count": day.height,
            "delta_version": lake.lake().version(QUARANTINE.table),
            "trade_date": trade_date.isoformat(),
            "by_topic": MetadataValue.md(markdown_table(by_topic, 20)),
            "by_reason": MetadataValue.md(markdown_table(by_reason, 20)),
            "examples": MetadataValue.md(
                markdown_table(day.select("topic", "message_id", "error", "payload"), 5)
            ),
        }
    )
