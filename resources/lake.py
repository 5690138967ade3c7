"""Lake and landing-zone resources: thin, env-configured handles on the domain helpers."""

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from analytics_platform.lake import Lake
from analytics_platform.landing import LandingZone


class LakeResource(ConfigurableResource):
    """Delta lake root (local path or s3://...) and object-store options."""

    root_uri: str
    storage_options: dict[str, str] = Field(default_factory=dict)

    def lake(self) -> Lake:
        return Lake(self.root_uri, self.storage_options)


class LandingZoneResource(ConfigurableResource):
    """Where the market-data vendor drops its daily Parquet files."""

    root: str

    def zone(self) -> LandingZone:
        return LandingZone(Path(self.root))


class QualityConfig(ConfigurableResource):
    """Thresholds of the data-quality checks."""

    max_crossed_quote_share: float = 1e-4
    max_quarantine_rate: float = 0.01
    min_quote_coverage: float = 0.95


class IngestConfig(ConfigurableResource):
    """Batch sizes of Pulsar ingestion and of the sensors' probes."""

    batch_size: int = 50_000
    sensor_max_messages: int = 200_000


class TcaConfig(ConfigurableResource):
    """TCA parameters: Rule-605 notional bucket cut points, outlier threshold."""

    notional_buckets: list[float] = Field(
        default_factory=lambda: [50_000.0, 200_000.0, 1_000_000.0]
    )
    outlier_k_sigma: float = 3.0
