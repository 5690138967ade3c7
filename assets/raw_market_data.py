"""Raw market data: vendor Parquet drops -> Delta tables partitioned by trade_date.

One factory builds the three assets (quotes, market_trades, book_snapshots); each carries
blocking quality checks computed on the data it has just loaded.
"""

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    asset,
)

from analytics_platform.contracts import TableContract
from analytics_platform.marketdata.schemas import MARKET_DATA_CONTRACTS
from analytics_platform.quality.checks import (
    CHECK_DESCRIPTIONS,
    MARKET_DATA_CHECKS,
    run_market_data_checks,
)
from assets.metadata import (
    OWNERS,
    check_result,
    code_version,
    definition_metadata,
    lake_key,
    write_metadata,
)
from assets.partitions import end_of_day_freshness, partition_date, trading_day_partitions
from resources.lake import LakeResource, LandingZoneResource, QualityConfig


def landing_spec(contract: TableContract) -> AssetSpec:
    """The vendor's daily file drop: an external asset, so lineage starts at the source."""
    name = contract.table.split("/")[-1]
    return AssetSpec(
        key=AssetKey(["landing", name]),
        description=f"Vendor drop of {name} (Parquet, one file per trading day)",
        group_name="landing",
        owners=OWNERS,
        kinds={"parquet"},
        partitions_def=trading_day_partitions,
    )


def raw_market_data_asset(contract: TableContract) -> AssetsDefinition:
    key = lake_key(contract.table)
    check_names = MARKET_DATA_CHECKS[contract.table]

    @asset(
        key=key,
        deps=[landing_spec(contract).key],
        partitions_def=trading_day_partitions,
        group_name="raw_market_data",
        owners=OWNERS,
        kinds={"deltalake", "polars"},
        description=contract.description,
        metadata=definition_metadata(contract),
        code_version=code_version("analytics_platform.quality"),
        freshness_policy=end_of_day_freshness,
        check_specs=[
            AssetCheckSpec(
                name,
                asset=key,
                description=CHECK_DESCRIPTIONS[name],
                blocking=True,
                partitions_def=trading_day_partitions,
            )
            for name in check_names
        ],
    )
    def _raw_table(
        context: AssetExecutionContext,
        lake: LakeResource,
        landing: LandingZoneResource,
        quality: QualityConfig,
    ) -> MaterializeResult:
        trade_date = partition_date(context.partition_key)
        frame = contract.conform(landing.zone().scan(contract.table, trade_date)).collect()
        outcomes = run_market_data_checks(
            contract, frame, trade_date, quality.max_crossed_quote_share, quality.transient_cross
        )
        written = lake.lake().write_partition(
            contract, frame, trade_date, commit_metadata={"dagster_run_id": context.run_id}
        )
        context.log.info(
            f"{contract.table} {trade_date}: {written.rows} rows, delta v{written.version}"
        )
        return MaterializeResult(
            metadata={
                **write_metadata(written, frame),
                "symbols": frame["symbol"].n_unique(),
            },
            check_results=[check_result(o) for o in outcomes],
        )

    return _raw_table


raw_market_data_assets = [raw_market_data_asset(c) for c in MARKET_DATA_CONTRACTS.values()]
landing_specs = [landing_spec(c) for c in MARKET_DATA_CONTRACTS.values()]
