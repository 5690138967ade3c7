"""Pulsar sensors: one per workflow. They probe topics and request partition runs; they never
acknowledge, never decode payloads and never write data.

Each tick, per topic, the sensor reads message properties after the later of its cursor and the
offset already committed in the lake (so events the end-of-day run has landed are not requested
again), up to `sensor_max_messages`, and emits one RunRequest per trade_date seen. Run keys are
deterministic: the same new messages always give the same key, so a re-evaluated tick cannot
launch a second run. A day with a run already queued or in progress (a backfill, the CLI, the
schedule) is not requested again: that run lands what is new, and the topic's cursor stays put so
anything it misses is requested on a later tick. Its runs skip the assets whose inputs did not
change (assets/inputs.py `skip_unchanged`): the run's own day may have nothing new.
"""

import hashlib
import json

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from analytics_platform.events.contracts import INBOUND, WORKFLOWS
from analytics_platform.events.landing import committed_offset
from analytics_platform.events.probing import probe_topic
from analytics_platform.events.reading import decode_offset, encode_offset, later
from assets.inputs import SKIP_UNCHANGED_TAG
from assets.partitions import trading_day_partitions
from jobs.ingest import ingest_jobs
from resources.lake import IngestConfig, LakeResource
from resources.pulsar import BrokerUnavailable, PulsarResource
from sensors import default_status

IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


def partitions_in_flight(instance: DagsterInstance) -> set[str]:
    """Partition keys of runs queued or in progress on this instance."""
    runs = instance.get_runs(filters=RunsFilter(statuses=IN_FLIGHT))
    return {r.tags["dagster/partition"] for r in runs if "dagster/partition" in r.tags}


def pulsar_sensor(workflow: str, interval_s: int, running: bool = True) -> SensorDefinition:
    contracts = [c for c in INBOUND if c.spec.workflow == workflow]

    @sensor(
        name=f"pulsar_{workflow.replace('-', '_')}",
        job=ingest_jobs[workflow],
        minimum_interval_seconds=interval_s,
        default_status=default_status(running),
        description=f"Requests {workflow} partition runs for trade dates with new events",
    )
    def _sensor(
        context: SensorEvaluationContext,
        pulsar: PulsarResource,
        lake: LakeResource,
        ingest: IngestConfig,
    ):
        cursor: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        try:
            with pulsar.client() as client:
                probes = [
                    probe_topic(
                        client,
                        c.spec.topic,
                        later(
                            decode_offset(cursor[c.spec.topic]) if c.spec.topic in cursor else None,
                            committed_offset(lake.lake(), c),
                        ),
                        ingest.sensor_max_messages,
                    )
                    for c in contracts
                ]
        except BrokerUnavailable as exc:
            return SkipReason(str(exc))
        busy = partitions_in_flight(context.instance)
        dates: dict[str, dict[str, str]] = {}
        waiting: set[str] = set()
        for probe in probes:
            if probe.last_id is None:
                continue
            blocked = busy.intersection(probe.trade_dates)
            waiting |= blocked
            if not blocked:
                cursor[probe.topic] = encode_offset(probe.last_id)
            for date in set(probe.trade_dates) - blocked:
                dates.setdefault(date, {})[probe.topic] = encode_offset(probe.last_id)
        if waiting:
            context.log.info(f"runs already in flight for {sorted(waiting)}: not requested again")
        requests, skipped = [], []
        for date, topics in sorted(dates.items()):
            if not trading_day_partitions.has_partition_key(date):
                skipped.append(date)
                continue
            digest = hashlib.sha1(json.dumps(topics, sort_keys=True).encode()).hexdigest()[:16]
            requests.append(
                RunRequest(
                    run_key=f"{workflow}:{date}:{digest}",
                    partition_key=date,
                    tags={
                        "trigger": "sensor",
                        "pulsar/workflow": workflow,
                        SKIP_UNCHANGED_TAG: "true",
                    },
                )
            )
        if skipped:
            context.log.warning(f"events for dates that are not trading days: {skipped}")
        if not requests:
            return SensorResult(skip_reason="no new events", cursor=json.dumps(cursor))
        return SensorResult(run_requests=requests, cursor=json.dumps(cursor))

    return _sensor


def pulsar_sensors(interval_s: int, running: bool = True) -> list[SensorDefinition]:
    """One sensor per workflow, evaluated every `interval_s` seconds (ANALYTICS_SENSOR_INTERVAL_S):
    the wait between a publish and its run request; started with the daemon unless `running` is
    false (ANALYTICS_SENSORS_RUNNING: then the UI starts them)."""
    return [pulsar_sensor(w, interval_s, running) for w in WORKFLOWS]
