"""Observation sensors: what the UI shows of the sources it does not build (vendor landing files,
Pulsar topics). They report `AssetObservation`s only: they request no run, acknowledge nothing
and never write data.

- `observe_landing`: one observation per landing asset and trading day whose file appeared or
  changed since the last tick: path, rows (from the Parquet footer), size, modification time,
  and the footer's digest as the data version (a rewrite with the same content keeps it). The
  cursor is the position (change time, path) of the last file reported.
- `observe_topics`: per topic, the backlog (messages after the offset committed in the lake,
  counted up to `sensor_max_messages`) and that offset, reported when either moved since the
  last tick. A broker that is not there or does not answer skips the tick, saying so.
"""

import json

from dagster import (
    AssetObservation,
    MetadataValue,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from analytics_platform.events.contracts import INBOUND
from analytics_platform.events.landing import committed_offset
from analytics_platform.events.reading import encode_offset
from analytics_platform.landing import LandingFile, ParquetFooter, read_footer
from analytics_platform.marketdata.schemas import MARKET_DATA_CONTRACTS
from analytics_platform.observability import broker_backlog
from assets.metadata import DATA_VERSION_TAG
from assets.partitions import trading_day_partitions
from assets.raw_events import topic_key
from assets.raw_market_data import landing_spec
from resources.lake import IngestConfig, LakeResource, LandingZoneResource
from resources.pulsar import BrokerUnavailable, PulsarResource
from sensors import default_status

LANDING_KEYS = {table: landing_spec(c).key for table, c in MARKET_DATA_CONTRACTS.items()}
# Bounds the first tick over a long history (footers read, events written); the rest follow.
MAX_FILES_PER_TICK = 500


def landing_observation(file: LandingFile, footer: ParquetFooter) -> AssetObservation:
    return AssetObservation(
        asset_key=LANDING_KEYS[file.table],
        partition=file.trade_date.isoformat(),
        metadata={
            "path": MetadataValue.path(str(file.path)),
            "dagster/row_count": footer.rows,
            "size_bytes": file.size_bytes,
            "modified": MetadataValue.timestamp(file.modified_ns / 1e9),
        },
        tags={DATA_VERSION_TAG: footer.sha256},
    )


def observe_landing_sensor(interval_s: int, running: bool = True) -> SensorDefinition:
    @sensor(
        name="observe_landing",
        minimum_interval_seconds=interval_s,
        default_status=default_status(running),
        description="Observes the vendor's landing files per trading day: path, rows, size, "
        "modification time and data version of each new or rewritten file",
    )
    def observe_landing(context: SensorEvaluationContext, landing: LandingZoneResource):
        mark = tuple(json.loads(context.cursor)) if context.cursor else None
        files = landing.zone().changed_after(LANDING_KEYS, mark, MAX_FILES_PER_TICK)
        observations, passed = [], []
        for file in files:
            if not trading_day_partitions.has_partition_key(file.trade_date.isoformat()):
                passed.append(f"{file.path} (not a trading day)")
                continue
            try:
                footer = read_footer(file.path)
            except (OSError, ValueError) as exc:  # incomplete: seen again when it next changes
                passed.append(f"{file.path} ({exc})")
                continue
            observations.append(landing_observation(file, footer))
        if passed:
            context.log.warning(f"landing files not observed: {passed}")
        return SensorResult(
            asset_events=observations,
            cursor=json.dumps(files[-1].position) if files else context.cursor,
            skip_reason=f"{len(observations)} landing files observed, {len(passed)} passed over"
            if files
            else "no landing file appeared or changed",
        )

    return observe_landing


def observe_topics_sensor(interval_s: int, running: bool = True) -> SensorDefinition:
    @sensor(
        name="observe_topics",
        minimum_interval_seconds=interval_s,
        default_status=default_status(running),
        description="Observes each inbound Pulsar topic: its backlog (messages not yet landed) "
        "and the offset committed in the lake",
    )
    def observe_topics(
        context: SensorEvaluationContext,
        pulsar: PulsarResource,
        lake: LakeResource,
        ingest: IngestConfig,
    ):
        try:
            url = pulsar.resolve_url()
        except BrokerUnavailable as exc:
            return SkipReason(f"topics not observed: {exc}")
        stored = lake.lake()
        offsets = {c.spec.topic: committed_offset(stored, c) for c in INBOUND}
        backlog = broker_backlog(url, offsets, ingest.sensor_max_messages)
        if backlog is None:
            return SkipReason(f"topics not observed: the Pulsar broker at {url} did not answer")
        state = {
            topic: {
                "backlog": backlog[topic],
                "committed_offset": encode_offset(offset) if offset is not None else "(none)",
            }
            for topic, offset in offsets.items()
        }
        reported = json.loads(context.cursor) if context.cursor else {}
        observations = [
            AssetObservation(
                asset_key=topic_key(c),
                metadata={
                    "topic": c.spec.topic,
                    **state[c.spec.topic],
                    "backlog_limit": ingest.sensor_max_messages,
                },
            )
            for c in INBOUND
            if state[c.spec.topic] != reported.get(c.spec.topic)
        ]
        return SensorResult(
            asset_events=observations,
            cursor=json.dumps(state, sort_keys=True),
            skip_reason=f"{len(observations)} topics observed"
            if observations
            else "no topic's backlog or committed offset moved",
        )

    return observe_topics


def observe_sensors(interval_s: int, running: bool = True) -> list[SensorDefinition]:
    """The source observers, evaluated every `interval_s` seconds (ANALYTICS_OBSERVE_INTERVAL_S),
    started with the daemon unless `running` is false (ANALYTICS_SENSORS_RUNNING)."""
    return [observe_landing_sensor(interval_s, running), observe_topics_sensor(interval_s, running)]
