"""A sensor's run for a day with nothing new: the trade-execution ingest job on the newest day of
the history under ANALYTICS_HOME (build it with `make history`), in process against that home's
Dagster instance and embedded broker. The peer is the same job without the sensors' skip tag
(the end-of-day behaviour: every asset computes), in the same run. Best of `REPEAT` each; the
first untagged run also records the digests the tagged runs compare against.
"""

import time

from benchmarks.common import print_table, write_results

REPEAT = 2


def run() -> list[dict]:
    from dagster import DagsterInstance  # noqa: PLC0415

    from analytics_platform.cli import prepare_dagster_home, pulsar_service  # noqa: PLC0415
    from analytics_platform.config import load_settings  # noqa: PLC0415
    from analytics_platform.lake import Lake  # noqa: PLC0415
    from analytics_platform.tca.schemas import FILL_TCA  # noqa: PLC0415
    from assets.inputs import SKIP_UNCHANGED_TAG, SKIPPED_SINCE_RUN  # noqa: PLC0415

    settings = load_settings()
    lake = Lake(str(settings.lake_uri), settings.lake_storage_options)
    if not lake.exists(FILL_TCA.table):
        print(f"unchanged_day: no history under {settings.home}; skipped (run `make history`)")
        return []
    day = lake.files(FILL_TCA.table)["partition.trade_date"].max().isoformat()
    from analytics_platform.definitions import defs  # noqa: PLC0415

    job = defs.get_job_def("ingest_trade_execution")
    rows = []
    prepare_dagster_home(settings)
    with pulsar_service(settings), DagsterInstance.get() as instance:
        for label, tags in (
            ("without the skip tag (every asset computes)", {}),
            ("sensor run (skips assets whose inputs did not change)", {SKIP_UNCHANGED_TAG: "true"}),
        ):
            seconds, skipped, total = [], 0, 0
            for _ in range(REPEAT):
                started = time.perf_counter()
                result = job.execute_in_process(partition_key=day, instance=instance, tags=tags)
                seconds.append(time.perf_counter() - started)
                events = result.get_asset_materialization_events()
                total = len(events)
                skipped = sum(
                    SKIPPED_SINCE_RUN in e.event_specific_data.materialization.metadata
                    for e in events
                )
            rows.append(
                {"run": label, "day": day, "seconds": min(seconds), "materializations": total,
                 "skipped": skipped}
            )  # fmt: skip
    for row in rows:
        row["speedup_vs_computing_all"] = rows[0]["seconds"] / row["seconds"]
    print_table("A day with nothing new (ingest_trade_execution, in process)", rows)
    print(f"results: {write_results('unchanged_day', rows)}")
    return rows
