"""Dagster resources, built from the platform settings (env vars with embedded defaults)."""

from dagster_duckdb import DuckDBResource

from analytics_platform.config import PlatformSettings
from resources.compliance import ComplianceConfig
from resources.lake import (
    AttributionConfig,
    DatasetStoreResource,
    IngestConfig,
    LakeResource,
    LandingZoneResource,
    ModelStoreResource,
    QualityConfig,
    TcaConfig,
)
from resources.marts import marts_dbt_resource
from resources.mlflow import MlflowResource
from resources.pulsar import BrokerUnavailable, PulsarResource
from resources.reports import ReportsResource
from resources.simulator import SimulatorResource


def build_resources(settings: PlatformSettings) -> dict[str, object]:
    return {
        "lake": LakeResource(
            root_uri=str(settings.lake_uri), storage_options=dict(settings.lake_storage_options)
        ),
        "landing": LandingZoneResource(root=str(settings.landing_uri)),
        "quality": QualityConfig(
            max_crossed_quote_share=settings.max_crossed_quote_share,
            transient_cross=settings.transient_cross,
            max_quarantine_rate=settings.max_quarantine_rate,
            min_quote_coverage=settings.min_quote_coverage,
        ),
        "ingest": IngestConfig(
            batch_size=settings.ingest_batch_size,
            sensor_max_messages=settings.sensor_max_messages,
        ),
        "tca": TcaConfig(
            max_quote_age=settings.tca_max_quote_age,
            impact_horizon=settings.tca_impact_horizon,
            notional_buckets=list(settings.tca_notional_buckets),
            outlier_k_sigma=settings.tca_outlier_k_sigma,
            nbbo_tolerance_bps=settings.tca_nbbo_tolerance_bps,
        ),
        "attribution": AttributionConfig(
            brinson_interaction=settings.brinson_interaction,
            risk_free_rate=settings.risk_free_rate,
        ),
        "compliance": ComplianceConfig(
            cost_k_sigma=settings.compliance_cost_k_sigma,
            nbbo_tolerance_bps=settings.tca_nbbo_tolerance_bps,
        ),
        "datasets": DatasetStoreResource(root=str(settings.datasets_dir)),
        "models": ModelStoreResource(
            root=str(settings.models_dir), retrain_every_days=settings.retrain_every_days
        ),
        # The marts (dbt) and the cost model build on these two.
        "warehouse": DuckDBResource(database=str(settings.warehouse_path)),
        "dbt": marts_dbt_resource(settings),
        "reports": ReportsResource(root=str(settings.reports_dir), cache=settings.reports_cache),
        "mlflow": MlflowResource(tracking_uri=str(settings.mlflow_tracking_uri)),
        "pulsar": PulsarResource(
            service_url=settings.pulsar_service_url, embedded_dir=str(settings.pulsar_data_dir)
        ),
        "simulator": SimulatorResource(
            root=str(settings.simulator_dir),
            n_symbols=settings.sim_symbols,
            n_quotes=settings.sim_quotes,
            n_orders=settings.sim_orders,
            seed=settings.sim_seed,
            warmup_days=settings.sim_warmup_days,
        ),
    }


__all__ = [
    "AttributionConfig",
    "BrokerUnavailable",
    "ComplianceConfig",
    "DatasetStoreResource",
    "IngestConfig",
    "LakeResource",
    "LandingZoneResource",
    "MlflowResource",
    "ModelStoreResource",
    "PulsarResource",
    "QualityConfig",
    "ReportsResource",
    "SimulatorResource",
    "TcaConfig",
    "build_resources",
    "marts_dbt_resource",
]
