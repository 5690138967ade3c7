"""Lake and landing-zone resources: thin, env-configured handles on the domain helpers."""

from pathlib import Path

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from analytics_platform.lake import RUN_ID_KEY, Lake
from analytics_platform.landing import LandingZone


class LakeResource(ConfigurableResource):
    """Delta lake root (local path or s3://...) and object-store options."""

    root_uri: str
    storage_options: dict[str, str] = Field(default_factory=dict)
    _run_id: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._run_id = context.run_id

    def lake(self) -> Lake:
        """The lake; inside a run, every commit it makes records the run id (lineage audits)."""
        stamp = {RUN_ID_KEY: self._run_id} if self._run_id else {}
        return Lake(self.root_uri, self.storage_options, commit_metadata=stamp)


class LandingZoneResource(ConfigurableResource):
    """Where the market-data vendor drops its daily Parquet files."""

    root: str

    def zone(self) -> LandingZone:
        return LandingZone(Path(self.root))


class QualityConfig(ConfigurableResource):
    """Thresholds of the data-quality checks (from the platform settings; no defaults here)."""

    max_crossed_quote_share: float
    transient_cross: str
    max_quarantine_rate: float
    min_quote_coverage: float


class IngestConfig(ConfigurableResource):
    """Batch sizes of Pulsar ingestion and of the sensors' probes."""

    batch_size: int
    sensor_max_messages: int


class TcaConfig(ConfigurableResource):
    """TCA parameters: M(t)'s quote age, the impact horizon, Rule-605 cut points, outliers."""

    max_quote_age: str
    impact_horizon: str
    notional_buckets: list[float]
    outlier_k_sigma: float
    nbbo_tolerance_bps: float | None = None


class AttributionConfig(ConfigurableResource):
    """Attribution parameters: Brinson's interaction treatment, the risk-free rate."""

    brinson_interaction: str
    risk_free_rate: float


class DatasetStoreResource(ConfigurableResource):
    """Where dataset versions are exported (one folder per dataset and version)."""

    root: str

    def path(self) -> Path:
        return Path(self.root)


class ModelStoreResource(ConfigurableResource):
    """Where model bundles are published for the prediction service, and how often the cost
    model is refitted without drift (trading days)."""

    root: str
    retrain_every_days: int = 5

    def path(self) -> Path:
        return Path(self.root)
