"""Platform settings from environment variables, with embedded defaults under ANALYTICS_HOME.

Invalid values fail at load with the variable named (`ConfigError`). The embedded default needs
no variable at all: everything lives under ./var (DESIGN §3).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from analytics_platform.attribution.brinson import INTERACTIONS
from analytics_platform.attribution.risk import DEFAULT_RISK_FREE_RATE
from analytics_platform.compliance import DEFAULT_COST_K_SIGMA
from analytics_platform.marketdata.simulator import SimulationConfig
from analytics_platform.reports.cache import REDIS_SCHEMES
from analytics_platform.tca.execution_quality import (
    DEFAULT_NOTIONAL_BUCKETS,
    DEFAULT_OUTLIER_K_SIGMA,
)
from analytics_platform.tca.fills import DEFAULT_MAX_QUOTE_AGE
from analytics_platform.tca.orders import DEFAULT_IMPACT_HORIZON

_SIM = SimulationConfig()  # the simulated world's defaults are declared once, there

# The dbt environment `make bootstrap` creates beside the code location's own (.venv): dbt-core
# is never imported by Dagster's processes, dagster-dbt runs this `dbt` as a subprocess.
PROJECT_DBT = Path(__file__).resolve().parents[1] / ".venv-dbt" / "bin" / "dbt"


def default_dbt_executable() -> str:
    """The project's dbt environment's `dbt` when it exists, else the `dbt` on PATH."""
    return str(PROJECT_DBT) if PROJECT_DBT.exists() else "dbt"


EXECUTORS = ("in_process", "multiprocess", "celery")
LOG_FORMATS = ("text", "json")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the variable."""


class PlatformSettings(BaseModel):
    """Every setting, declared once: its name, type, default, environment variable (the alias)
    and meaning (the description, which the README's table repeats; a test keeps them in step).
    Defaults that are domain constants come from the domain module that owns them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    home: Path = Field(
        Path("var"), alias="ANALYTICS_HOME", description="root of the embedded runtime"
    )
    lake_uri: str | None = Field(
        None, alias="ANALYTICS_LAKE_URI", description="Delta lake root (s3://… in production)"
    )
    lake_storage_options: dict[str, str] = Field(
        default_factory=dict,
        alias="ANALYTICS_LAKE_STORAGE_OPTIONS",
        description="JSON object of delta-rs storage options",
    )
    landing_uri: str | None = Field(
        None, alias="ANALYTICS_LANDING_URI", description="vendor market-data drops (Parquet)"
    )
    warehouse_path: str | None = Field(
        None, alias="ANALYTICS_WAREHOUSE_PATH", description="DuckDB warehouse (dbt marts)"
    )
    dbt_executable: str | None = Field(
        None,
        alias="ANALYTICS_DBT_EXECUTABLE",
        description="the dbt that builds the marts, in its own environment (not Dagster's)",
    )
    datasets_dir: str | None = Field(
        None,
        alias="ANALYTICS_DATASETS_DIR",
        description="where dataset versions are exported (Arrow IPC + cards)",
    )
    models_dir: str | None = Field(
        None,
        alias="ANALYTICS_MODELS_DIR",
        description="where model bundles are exported for the prediction service",
    )
    retrain_every_days: int = Field(
        5,
        ge=1,
        alias="ANALYTICS_RETRAIN_EVERY_DAYS",
        description="the cost model is refitted when drift is flagged, else after this many days",
    )
    serve_token: SecretStr | None = Field(
        None,
        alias="ANALYTICS_SERVE_TOKEN",
        description=(
            "bearer token the prediction service requires (required off loopback and with"
            " ANALYTICS_SIMULATOR=false)"
        ),
    )
    mlflow_tracking_uri: str | None = Field(
        None, alias="MLFLOW_TRACKING_URI", description="MLflow tracking store"
    )
    pulsar_service_url: str | None = Field(
        None, alias="PULSAR_SERVICE_URL", description="pulsar://… or pulsar+ssl://…"
    )
    pulsar_data_dir: str | None = Field(
        None, alias="ANALYTICS_PULSAR_DATA_DIR", description="data directory of the embedded broker"
    )
    max_crossed_quote_share: float = Field(
        1e-4,
        ge=0.0,
        le=1.0,
        alias="ANALYTICS_MAX_CROSSED_QUOTE_SHARE",
        description="bid_le_ask check threshold",
    )
    transient_cross: str = Field(
        "1ms",
        alias="ANALYTICS_TRANSIENT_CROSS",
        description="bid_le_ask: a locked/crossed state replaced within this is transient",
    )
    min_quote_coverage: float = Field(
        0.95,
        ge=0.0,
        le=1.0,
        alias="ANALYTICS_MIN_QUOTE_COVERAGE",
        description="quote_coverage check (warns): share of fills with a mid at fill time",
    )
    max_quarantine_rate: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        alias="ANALYTICS_MAX_QUARANTINE_RATE",
        description="quarantine_rate check (warns) threshold",
    )
    ingest_batch_size: int = Field(
        50_000,
        gt=0,
        alias="ANALYTICS_INGEST_BATCH_SIZE",
        description="messages per decode/commit batch",
    )
    tca_notional_buckets: list[float] = Field(
        default_factory=lambda: list(DEFAULT_NOTIONAL_BUCKETS),
        alias="ANALYTICS_TCA_NOTIONAL_BUCKETS",
        description="Rule-605 order-notional cut points",
    )
    tca_outlier_k_sigma: float = Field(
        DEFAULT_OUTLIER_K_SIGMA,
        gt=0,
        alias="ANALYTICS_TCA_OUTLIER_K_SIGMA",
        description="cost outlier threshold on z = (realised − expected) / timing risk",
    )
    tca_nbbo_tolerance_bps: float | None = Field(
        None,
        ge=0,
        alias="ANALYTICS_TCA_NBBO_TOLERANCE_BPS",
        description="fills outside the NBBO by more than this (bps of the mid); unset: one tick",
    )
    compliance_cost_k_sigma: float = Field(
        DEFAULT_COST_K_SIGMA,
        gt=0,
        alias="ANALYTICS_COMPLIANCE_COST_K_SIGMA",
        description=(
            "compliance exception when an order's realised cost exceeds its pre-trade estimate"
            " by more than this many timing risks"
        ),
    )
    tca_max_quote_age: str = Field(
        DEFAULT_MAX_QUOTE_AGE,
        alias="ANALYTICS_TCA_MAX_QUOTE_AGE",
        description="oldest quote M(t) may use (a duration: 500ms, 60s, 5m)",
    )
    tca_impact_horizon: str = Field(
        DEFAULT_IMPACT_HORIZON,
        alias="ANALYTICS_TCA_IMPACT_HORIZON",
        description="H of the permanent/temporary impact split, after end_ts (a duration)",
    )
    brinson_interaction: str = Field(
        "separate",
        alias="ANALYTICS_BRINSON_INTERACTION",
        description="Brinson interaction: separate, top_down (into selection), bottom_up",
    )
    risk_free_rate: float = Field(
        DEFAULT_RISK_FREE_RATE,
        ge=-0.05,
        le=0.5,
        alias="ANALYTICS_RISK_FREE_RATE",
        description="annual risk-free rate of the flat-forward curve (continuous)",
    )
    sensor_max_messages: int = Field(
        200_000,
        gt=0,
        alias="ANALYTICS_SENSOR_MAX_MESSAGES",
        description="messages a sensor probes per topic and tick",
    )
    sensor_interval_s: int = Field(
        2,
        gt=0,
        alias="ANALYTICS_SENSOR_INTERVAL_S",
        description="seconds between two ticks of each Pulsar sensor",
    )
    observe_interval_s: int = Field(
        60,
        gt=0,
        alias="ANALYTICS_OBSERVE_INTERVAL_S",
        description="seconds between two ticks of the observe_landing and observe_topics sensors",
    )
    sensors_running: bool = Field(
        True,
        alias="ANALYTICS_SENSORS_RUNNING",
        description="the sensors start with the daemon (false: started from the UI)",
    )
    # The embedded default's source of data: a simulated market and firm (docs/simulator.md).
    simulator: bool = Field(
        True,
        alias="ANALYTICS_SIMULATOR",
        description="the simulated market and firm produce the sources; false in production",
    )
    sim_symbols: int = Field(
        _SIM.n_symbols, gt=0, alias="ANALYTICS_SIM_SYMBOLS", description="simulated symbols"
    )
    sim_quotes: int = Field(
        _SIM.n_quotes, gt=0, alias="ANALYTICS_SIM_QUOTES", description="simulated quotes a day"
    )
    sim_orders: int = Field(
        _SIM.n_orders, gt=0, alias="ANALYTICS_SIM_ORDERS", description="simulated orders a day"
    )
    sim_seed: int = Field(
        _SIM.seed, alias="ANALYTICS_SIM_SEED", description="seed of the simulated world"
    )
    sim_warmup_days: int = Field(
        19,
        ge=0,
        alias="ANALYTICS_SIM_WARMUP_DAYS",
        description="days a new world simulates (state only) before its first requested day",
    )
    # Runs of the embedded instance: steps in one process; at most this many runs at once.
    executor: str = Field(
        "in_process",
        alias="ANALYTICS_EXECUTOR",
        description=(
            "step executor: in_process, multiprocess (a process per step) or celery"
            " (steps on `analytics-platform worker` processes)"
        ),
    )
    celery_broker_url: str = Field(
        "pyamqp://guest:guest@127.0.0.1:5672//",
        alias="ANALYTICS_CELERY_BROKER",
        description="message broker of the celery executor and its workers (RabbitMQ)",
    )
    celery_queue: str = Field(
        "dagster",
        min_length=1,
        alias="ANALYTICS_CELERY_QUEUE",
        description="queue the celery executor submits steps to and its workers consume",
    )
    log_format: str = Field(
        "text",
        alias="ANALYTICS_LOG_FORMAT",
        description=(
            "run logs on the console: text (for humans) or json (one object per line with"
            " run_id, job, step_key, partition: production)"
        ),
    )
    reports_cache: str = Field(
        "disk",
        alias="ANALYTICS_REPORTS_CACHE",
        description=(
            "where built reports are cached: disk ($ANALYTICS_HOME/reports/.cache), off, or a"
            " Redis URL (redis://127.0.0.1:6379/0, the production profile)"
        ),
    )
    max_concurrent_runs: int = Field(
        2,
        gt=0,
        alias="ANALYTICS_MAX_CONCURRENT_RUNS",
        description="runs the embedded instance launches at once",
    )

    @field_validator("tca_max_quote_age", "tca_impact_horizon", "transient_cross")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not re.fullmatch(r"\d+(ns|us|ms|s|m|h)", value.strip()):
            raise ValueError("must be a duration such as 500ms, 60s, 5m or 1h")
        return value.strip()

    @field_validator("lake_storage_options", mode="before")
    @classmethod
    def _json_object(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"must be a JSON object: {exc}") from exc
        return value

    @field_validator("tca_notional_buckets", mode="before")
    @classmethod
    def _cut_points(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = [float(v) for v in value.split(",") if v.strip()]
            except ValueError as exc:
                raise ValueError(f"must be comma-separated numbers: {exc}") from exc
        if isinstance(value, list) and value != sorted(value):
            raise ValueError("cut points must be increasing")
        return value

    @field_validator("brinson_interaction")
    @classmethod
    def _interaction(cls, value: str) -> str:
        if value not in INTERACTIONS:
            raise ValueError(f"must be one of {', '.join(INTERACTIONS)}")
        return value

    @field_validator("executor")
    @classmethod
    def _executor(cls, value: str) -> str:
        if value not in EXECUTORS:
            raise ValueError(f"must be one of {', '.join(EXECUTORS)}")
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value.strip().lower() not in LOG_FORMATS:
            raise ValueError(f"must be one of {', '.join(LOG_FORMATS)}")
        return value.strip().lower()

    @field_validator("reports_cache")
    @classmethod
    def _reports_cache(cls, value: str) -> str:
        value = value.strip()
        if value not in ("disk", "off") and not value.startswith(REDIS_SCHEMES):
            raise ValueError("must be disk, off or a Redis URL (redis://, rediss://, unix://)")
        return value

    @field_validator("pulsar_service_url")
    @classmethod
    def _pulsar_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("pulsar://", "pulsar+ssl://")):
            raise ValueError("must start with pulsar:// or pulsar+ssl://")
        return value or None

    @model_validator(mode="after")
    def _embedded_defaults(self) -> PlatformSettings:
        home = self.home.absolute()
        defaults = {
            "home": home,
            "lake_uri": self.lake_uri or str(home / "lake"),
            "landing_uri": self.landing_uri or str(home / "landing"),
            "warehouse_path": self.warehouse_path or str(home / "warehouse.duckdb"),
            "dbt_executable": self.dbt_executable or default_dbt_executable(),
            "datasets_dir": self.datasets_dir or str(home / "datasets"),
            "models_dir": self.models_dir or str(home / "models"),
            "mlflow_tracking_uri": self.mlflow_tracking_uri or f"sqlite:///{home / 'mlflow.db'}",
            "pulsar_data_dir": self.pulsar_data_dir or str(home / "pulsar"),
        }
        for name, value in defaults.items():
            object.__setattr__(self, name, value)
        return self

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster")

    @property
    def simulator_dir(self) -> Path:
        """Where the simulated world keeps its chain of states and its ground truth."""
        return Path(self.home, "simulator")

    @property
    def reports_dir(self) -> Path:
        """Where the daily reports are written: `<reports_dir>/<day>/tca.html`, …"""
        return Path(self.home, "reports")

    @property
    def embedded_pulsar(self) -> bool:
        return self.pulsar_service_url is None


def load_settings(environ: Mapping[str, str] | None = None) -> PlatformSettings:
    env = os.environ if environ is None else environ
    aliases = {f.alias for f in PlatformSettings.model_fields.values() if f.alias}
    try:
        return PlatformSettings.model_validate({k: v for k, v in env.items() if k in aliases})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
