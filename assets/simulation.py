"""The embedded default's sources: a simulated market and firm materialise the vendor drops and
the Pulsar topics of each trading day (in production these are external sources).

One multi-asset writes the day's landing files and publishes the day's trading events, so a
partition run or a backfill (CLI or UI) of the end-of-day job simulates, lands, publishes and
materialises every day in its range. The day comes from the world store: it continues the
previous day's close and replays bit-for-bit when re-run (docs/simulator.md).
"""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, multi_asset

from analytics_platform.events.contracts import INBOUND
from analytics_platform.events.publisher import publish_all
from analytics_platform.marketdata.history import simulate
from analytics_platform.marketdata.schemas import MARKET_DATA_CONTRACTS
from assets.partitions import partition_date, trading_day_partitions
from assets.raw_events import topic_spec
from assets.raw_market_data import landing_spec
from resources.lake import LandingZoneResource
from resources.pulsar import PulsarResource
from resources.simulator import SimulatorResource

_landing = {table: landing_spec(c) for table, c in MARKET_DATA_CONTRACTS.items()}
_topics = {c.spec.topic: topic_spec(c) for c in INBOUND}


@multi_asset(
    name="simulated_market",
    specs=[
        *_landing.values(),
        *(
            spec.replace_attributes(partitions_def=trading_day_partitions)
            for spec in _topics.values()
        ),
    ],
    partitions_def=trading_day_partitions,
    description="Simulated trading day: vendor market-data drops and the firm's Pulsar events",
    pool="simulator",
)
def simulated_market(
    context: AssetExecutionContext,
    simulator: SimulatorResource,
    landing: LandingZoneResource,
    pulsar: PulsarResource,
):
    trade_date = partition_date(context.partition_key)
    store = simulator.store()
    day = simulate(store, trade_date, warmup_days=simulator.warmup_days)
    opened_from = day.opening.trade_date  # None: the world's genesis
    context.log.info(
        f"simulated {trade_date} ({store.path.name}): regime {day.closing.regime}, opened from "
        f"{opened_from or 'genesis'}"
    )
    common = {
        "world": store.path.name,
        "opened_from": str(opened_from or "genesis"),
        "regime": day.closing.regime,
    }
    for table, frame in day.market_data.items():
        path = landing.zone().write(table, trade_date, frame)
        yield MaterializeResult(
            asset_key=_landing[table].key,
            metadata={
                **common,
                "dagster/row_count": frame.height,
                "path": MetadataValue.path(str(path)),
                "size_bytes": path.stat().st_size,
            },
        )
    with pulsar.client() as client:
        published = publish_all(client, day.trading_events)
    for topic, spec in _topics.items():
        yield MaterializeResult(
            asset_key=spec.key,
            metadata={**common, "topic": topic, "published": published.get(topic, 0)},
        )
