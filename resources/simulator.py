"""The simulated world of the embedded default: where its history lives and how large it is."""

from pathlib import Path

from dagster import ConfigurableResource

from analytics_platform.marketdata.history import WorldStore
from analytics_platform.marketdata.simulator import SimulationConfig


class SimulatorResource(ConfigurableResource):
    """Size and seed of the simulated market and firm (ANALYTICS_SIM_*), and its world store."""

    root: str
    n_symbols: int
    n_quotes: int
    n_orders: int
    seed: int
    warmup_days: int

    def config(self) -> SimulationConfig:
        return SimulationConfig(
            n_symbols=self.n_symbols, n_quotes=self.n_quotes, n_orders=self.n_orders, seed=self.seed
        )

    def store(self) -> WorldStore:
        return WorldStore(Path(self.root), self.config())
