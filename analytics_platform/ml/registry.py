"""The cost model in MLflow: each fit is a run (parameters, metrics, the bundle as artifacts) and a
registered model version with a signature and an input example; the alias `champion` moves to a
candidate only when it beats the champion on the same test days.

The gate: both models predict the candidate's test orders (the last days of its window); the
candidate becomes champion when its MAE there is lower, or when there is no champion yet. The
bundle the prediction service serves is always the champion's.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analytics_platform.serving.bundle import Bundle
from analytics_platform.serving.model import Order, predict

EXPERIMENT = "execution-cost"
MODEL_NAME = "execution-cost"
CHAMPION = "champion"


class _BundleModel:
    """An MLflow pyfunc over a bundle directory (the same numpy inference as the service)."""

    def load_context(self, context) -> None:
        self.bundle = Bundle.load(Path(context.artifacts["bundle"]))

    def predict(self, context, model_input, params=None):
        orders = [
            Order(r["symbol"], r["side"], int(r["quantity"]), r.get("algo") or None)
            for r in model_input.to_dict("records")
        ]
        return [a["cost_bps"] for a in predict(self.bundle, orders)]


def _pyfunc_class():
    import mlflow.pyfunc  # noqa: PLC0415

    return type("BundleModel", (_BundleModel, mlflow.pyfunc.PythonModel), {})


def artifact_root(tracking_uri: str) -> str | None:
    """Beside a SQLite store, its artifacts (MLflow's default, ./mlruns, is the current
    directory); a tracking server keeps its own."""
    if tracking_uri.startswith("sqlite:///"):
        return (Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri()
    return None


@dataclass(frozen=True)
class Registration:
    version: str  # the registered model version
    run_id: str
    champion: bool
    candidate_mae: float | None
    champion_mae: float | None


def test_mae(bundle: Bundle, orders: list[Order], realised: np.ndarray) -> float | None:
    known = [i for i, o in enumerate(orders) if o.symbol in bundle.symbols]
    if not known:
        return None
    answers = predict(bundle, [orders[i] for i in known])
    predicted = np.array([a["cost_bps"] for a in answers])
    return float(np.abs(realised[known] - predicted).mean())


def register(
    tracking_uri: str,
    bundle: Bundle,
    bundle_dir: Path,
    *,
    test_orders: list[Order],
    test_realised: np.ndarray,
    champion_bundle: Bundle | None,
    tags: Mapping[str, str] | None = None,
) -> Registration:
    """Log the fit as a run, register it, and move `champion` if it beats the champion.
    `tags` (e.g. `lineage_tags`: what it was trained on, which Dagster run) go on both the run
    and the registered version."""
    import mlflow  # noqa: PLC0415  (seconds to import: only where a model is registered)
    import pandas as pd  # noqa: PLC0415
    from mlflow.models import infer_signature  # noqa: PLC0415
    from mlflow.tracking import MlflowClient  # noqa: PLC0415

    # MLflow narrates every step at INFO; a platform run's console keeps warnings only.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri)
    if client.get_experiment_by_name(EXPERIMENT) is None:
        client.create_experiment(EXPERIMENT, artifact_location=artifact_root(tracking_uri))
    mlflow.set_experiment(EXPERIMENT)
    candidate_mae = test_mae(bundle, test_orders, test_realised)
    champion_mae = (
        test_mae(champion_bundle, test_orders, test_realised) if champion_bundle else None
    )
    example = pd.DataFrame(
        [{"symbol": next(iter(bundle.symbols)), "side": "BUY", "quantity": 1000, "algo": ""}]
    )
    with mlflow.start_run(run_name=bundle.version, tags=dict(tags or {})) as run:
        mlflow.log_params({k: v for k, v in bundle.metadata.items() if isinstance(v, str | int)})
        mlflow.log_metrics(
            {k: float(v) for k, v in bundle.metadata.items() if isinstance(v, float)}
        )
        mlflow.log_text(model_card(bundle), "model_card.md")
        if bundle.metadata.get("calibration"):
            mlflow.log_dict(bundle.metadata["calibration"], "calibration_by_bucket.json")
            mlflow.log_figure(calibration_figure(bundle.metadata["calibration"]), "calibration.png")
        if candidate_mae is not None:
            mlflow.log_metric("gate_candidate_mae_bps", candidate_mae)
        if champion_mae is not None:
            mlflow.log_metric("gate_champion_mae_bps", champion_mae)
        with warnings.catch_warnings():
            # The example's quantity is an integer on purpose (the service's contract).
            warnings.filterwarnings("ignore", message=".*integer column.*")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=_pyfunc_class()(),
                artifacts={"bundle": str(bundle_dir)},
                signature=infer_signature(example, [0.0]),
                input_example=example,
                registered_model_name=MODEL_NAME,
            )
    version = str(info.registered_model_version)
    wins = champion_mae is None or (candidate_mae is not None and candidate_mae < champion_mae)
    if wins:
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    client.set_model_version_tag(MODEL_NAME, version, "bundle_version", bundle.version)
    for key, value in (tags or {}).items():
        client.set_model_version_tag(MODEL_NAME, version, key, value)
    return Registration(version, run.info.run_id, wins, candidate_mae, champion_mae)


def model_card(bundle: Bundle) -> str:
    """The model card (markdown): what the model is, what it was fitted and scored on, how it
    scores against its baselines, its calibration by bucket, its impact parameters and limits."""
    m = bundle.metadata

    def score(prefix: str) -> str:
        mae, rmse = m.get(f"{prefix}mae_bps"), m.get(f"{prefix}rmse_bps")
        coverage = m.get(f"{prefix}interval_coverage")
        cells = [f"{v:.2f}" if v is not None else "—" for v in (mae, rmse)]
        return " | ".join([*cells, f"{coverage:.1%}" if coverage is not None else "—"])

    calibration = "\n".join(
        f"| {c['dimension']} | {c['bucket']} | {c['orders']} | {c['predicted_bps']:.2f} |"
        f" {c['realised_bps']:.2f} | {c['coverage']:.1%} |"
        for c in m.get("calibration", [])
    )
    impact = bundle.impact
    return f"""# Execution-cost model {bundle.version}

{m.get("model", bundle.kind)}. Predicts an order's arrival cost (bps, positive = cost) with an 85%
interval, for each algo ({", ".join(bundle.algos)}); serves `analytics-platform serve`.

- Fitted on: the filled orders of {m.get("window", "?")} ({m.get("train_orders", "?")} orders),
  the window's last {m.get("test_days", "?")} day(s) held out ({m.get("test_orders", "?")} orders).
- Inputs: symbol context (quoted spread, daily volatility, ADV) as of the window's last day,
  quantity, side, algo, urgency, order type.

## Held-out scores

| model | MAE bps | RMSE bps | 85% interval coverage |
|---|---|---|---|
| mean of the training costs | {m.get("mean_baseline_mae_bps", 0):.2f} | \
{m.get("mean_baseline_rmse_bps", 0):.2f} | — |
| square-root law | {score("sqrt_law_")} |
| this model | {score("")} |

## Calibration on the held-out days

| dimension | bucket | orders | predicted bps | realised bps | coverage |
|---|---|---|---|---|---|
{calibration}

## Impact and horizon

Temporary impact η = {impact.get("eta_bps", float("nan")):.2f} bps per unit of participation
(ADV per day), risk aversion λ = {impact.get("risk_aversion", float("nan"))} per bps: the
Almgren–Chriss horizon T* = √(3·η·x/(λ·σ²)).

## Limits

A single order's cost is mostly the market's move over its life: read accuracy from the interval
coverage and the bucket means, not from one order's error. Symbols outside the bundle get 404.
"""


def calibration_figure(calibration: list[dict]):
    """Predicted vs realised mean cost per bucket (one panel per dimension), for the run."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    dimensions = sorted({c["dimension"] for c in calibration})
    figure, axes = plt.subplots(1, len(dimensions), figsize=(5 * len(dimensions), 4))
    for ax, dimension in zip(np.atleast_1d(axes), dimensions, strict=True):
        rows = sorted(
            (c for c in calibration if c["dimension"] == dimension),
            key=lambda c: c["bucket_order"],
        )
        x = np.arange(len(rows))
        ax.bar(x - 0.2, [c["predicted_bps"] for c in rows], 0.4, label="predicted")
        ax.bar(x + 0.2, [c["realised_bps"] for c in rows], 0.4, label="realised")
        ax.set_xticks(x, [f"{c['bucket']}\n{c['coverage']:.0%}" for c in rows])
        ax.set_title(f"by {dimension} (coverage under each bucket)")
        ax.set_ylabel("mean arrival cost, bps")
        ax.legend()
    figure.tight_layout()
    return figure


# Lineage tags of a registered version (run and model version): an audit goes from a model to
# the exact rows it was trained on (time travel to the dataset table's Delta version).
TRAINING_TABLE = "training.table"
TRAINING_DELTA_VERSION = "training.delta_version"
TRAINING_WINDOW = "training.window"
DAGSTER_RUN_ID = "dagster_run_id"


def lineage_tags(
    table: str, delta_version: int | None, bundle: Bundle, run_id: str | None
) -> dict[str, str]:
    """What a fit was trained on: the dataset table, its Delta version when read, the window of
    days (as the bundle states it) and the Dagster run that fitted it."""
    tags = {
        TRAINING_TABLE: table,
        TRAINING_DELTA_VERSION: "" if delta_version is None else str(delta_version),
        TRAINING_WINDOW: str(bundle.metadata.get("window", "")),
        DAGSTER_RUN_ID: run_id or "",
    }
    return {k: v for k, v in tags.items() if v}


def model_versions(tracking_uri: str) -> list[dict]:
    """Every registered version of the cost model with its run's parameters and tags (the audit's
    view of the registry; empty when the store has none)."""
    from mlflow.exceptions import MlflowException  # noqa: PLC0415
    from mlflow.tracking import MlflowClient  # noqa: PLC0415

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        found = client.search_model_versions(f"name = '{MODEL_NAME}'")
        aliases = client.get_registered_model(MODEL_NAME).aliases if found else {}
    except MlflowException:
        return []
    out = []
    for mv in sorted(found, key=lambda m: int(m.version)):
        run = client.get_run(mv.run_id) if mv.run_id else None
        out.append(
            {
                "name": mv.name,
                "registered_version": str(mv.version),
                "bundle_version": mv.tags.get("bundle_version"),
                "aliases": sorted(a for a, v in aliases.items() if str(v) == str(mv.version)),
                "mlflow_run_id": mv.run_id,
                "created_ms": mv.creation_timestamp,
                "tags": dict(mv.tags),
                "run_tags": {
                    k: v
                    for k, v in (run.data.tags if run else {}).items()
                    if not k.startswith("mlflow.")
                },
                "params": dict(run.data.params) if run else {},
                "metrics": dict(run.data.metrics) if run else {},
            }
        )
    return out
