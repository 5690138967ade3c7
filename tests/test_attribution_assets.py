"""The attribution assets materialised for real (Delta, Pulsar): a day without any input writes
empty, typed partitions and passes its checks; the tables' contracts hold."""

import polars as pl
from dagster import materialize

from analytics_platform.attribution.schemas import TABLES
from analytics_platform.lake import Lake
from assets.attribution import attribution_assets
from resources import LakeResource, PulsarResource
from tests.conftest import TRADE_DATE, tuning


def test_a_day_without_inputs_materialises_empty_tables(tmp_path, pulsar_broker):
    resources = {
        "lake": LakeResource(root_uri=str(tmp_path / "lake")),
        "pulsar": PulsarResource(service_url=pulsar_broker.service_url, embedded_dir=str(tmp_path)),
        **{k: v for k, v in tuning().items() if k in ("tca", "attribution")},
    }
    result = materialize(
        attribution_assets, partition_key=TRADE_DATE.isoformat(), resources=resources
    )
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    lake = Lake(str(tmp_path / "lake"))
    for contract in TABLES:
        stored = lake.scan(contract, [TRADE_DATE]).collect()
        assert stored.is_empty(), contract.table
        assert stored.select(contract.column_names).schema == pl.Schema(contract.polars_schema), (
            contract.table
        )
