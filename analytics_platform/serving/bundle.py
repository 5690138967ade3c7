"""The prediction bundle: everything the prediction service needs, in plain files (no pickle).

A bundle directory holds `bundle.json` (version, feature layout, per-symbol market context, the
algos and their order, interval quantiles) and `weights.npz` (the model's arrays). A models root
holds one directory per version and a `CURRENT` file naming the one to serve; writers replace
`CURRENT` atomically, so a reader never sees half a bundle.

This module and `model.py` import numpy only: the request path loads no dagster, mlflow or jax.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

URGENCIES = ("LOW", "MEDIUM", "HIGH")
ORDER_TYPES = ("MARKET", "LIMIT")
SIDES = ("BUY", "SELL")


@dataclass(frozen=True)
class SymbolContext:
    """The market context of a symbol the features need, as of the bundle's day."""

    spread_bps: float
    daily_vol_bps: float
    adv: float
    mid: float
    # Median 30-minute realised volatility (bps) of the symbol's orders on the bundle's day.
    realized_vol_bps: float | None = None


@dataclass(frozen=True)
class Bundle:
    version: str
    algos: tuple[str, ...]
    coefficients: np.ndarray  # the linear model over `feature_names`
    feature_names: tuple[str, ...]
    interval: tuple[float, float]  # quantiles of the standardised residual (the 85% interval)
    symbols: dict[str, SymbolContext]
    metadata: dict = field(default_factory=dict)
    # "linear": the interval scales with the symbol's daily volatility; "network": a residual
    # network and a volatility head (their arrays in `arrays`) give the mean and its scale.
    kind: str = "linear"
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    # Almgren–Chriss: eta_bps (linear temporary impact per unit of participation, ADV per day)
    # and risk_aversion (per bps); with them each answer carries an optimal horizon.
    impact: dict[str, float] = field(default_factory=dict)

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / "weights.npz", coefficients=self.coefficients, **self.arrays)
        spec = {
            "kind": self.kind,
            "version": self.version,
            "algos": list(self.algos),
            "feature_names": list(self.feature_names),
            "interval": list(self.interval),
            "symbols": {s: vars(c) for s, c in sorted(self.symbols.items())},
            "metadata": self.metadata,
            "impact": self.impact,
        }
        (directory / "bundle.json").write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
        return directory

    @classmethod
    def load(cls, path: Path) -> Bundle:
        """A bundle directory, or a models root (the version its CURRENT file names)."""
        path = resolve(path)
        spec = json.loads((path / "bundle.json").read_text())
        with np.load(path / "weights.npz", allow_pickle=False) as weights:
            arrays = {name: weights[name] for name in weights.files}
        coefficients = arrays.pop("coefficients")
        return cls(
            kind=spec.get("kind", "linear"),
            arrays=arrays,
            version=spec["version"],
            algos=tuple(spec["algos"]),
            coefficients=coefficients,
            feature_names=tuple(spec["feature_names"]),
            interval=tuple(spec["interval"]),
            symbols={s: SymbolContext(**c) for s, c in spec["symbols"].items()},
            metadata=spec.get("metadata", {}),
            impact=spec.get("impact", {}),
        )


def resolve(path: Path) -> Path:
    current = path / "CURRENT"
    if current.exists():
        return path / current.read_text().strip()
    return path


def publish(bundle: Bundle, root: Path) -> Path:
    """Save `bundle` under `root/<version>` and make it current (atomic rename)."""
    target = bundle.save(root / bundle.version)
    tmp = root / f".CURRENT.{os.getpid()}"
    tmp.write_text(bundle.version + "\n")
    os.replace(tmp, root / "CURRENT")
    return target
