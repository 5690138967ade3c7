"""Dataset versions: a window of days + code version + source Delta versions, exported as one
Arrow IPC file per dataset with a JSON and a markdown card (same version → same bytes)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from analytics_platform.contracts import ColumnSpec, TableContract, trade_date_column
from analytics_platform.lake import Lake
from analytics_platform.ml.datasets import (
    assign_splits,
    card_markdown,
    content_hash,
    dataset_card,
    to_ipc,
    version_id,
)

TS = pl.Datetime("ns", "UTC")


def _dataset_contract(table: str, description: str, label: str) -> TableContract:
    """The fixed columns of a dataset table; feature columns follow (they may grow)."""
    return TableContract(
        table,
        description,
        [
            ColumnSpec("row_id", pl.String, "decision_id or order_id"),
            ColumnSpec("symbol", pl.String, "Instrument symbol"),
            ColumnSpec("portfolio_id", pl.String, "Portfolio"),
            ColumnSpec("at", TS, "The row's time: features use only data strictly before it"),
            ColumnSpec("label_end_ts", TS, "When the label is known (purging uses it)"),
            ColumnSpec(label, pl.String, "The row's label", nullable=True),
            trade_date_column(),
        ],
        ["row_id"],
    )


TRAINING_DATASET = _dataset_contract(
    "ml/training_dataset",
    "One row per decision: context, point-in-time features, outcome labels (DESIGN §7).",
    "outcome_label",
)
COST_DATASET = _dataset_contract(
    "ml/cost_dataset",
    "One row per filled parent order: execution context and point-in-time features at arrival,"
    " realised cost against the pre-trade estimate.",
    "execution_label",
)
DATASET_QUARANTINE = TableContract(
    "ml/dataset_quarantine",
    "Dataset rows that broke the dataset contract, with the reason.",
    [
        ColumnSpec("dataset", pl.String, "decision or cost"),
        ColumnSpec("row_id", pl.String, "decision_id or order_id"),
        ColumnSpec("reason", pl.String, "What is wrong"),
        trade_date_column(),
    ],
    ["dataset", "row_id"],
)
DATASET_VERSIONS = TableContract(
    "ml/dataset_versions",
    "Every dataset version built: window, sources, rows, content hash and where its files are.",
    [
        ColumnSpec("dataset", pl.String, "decision or cost"),
        ColumnSpec("dataset_version", pl.String, "Hash of window, code version and sources"),
        ColumnSpec("window_start", pl.Date, "First day"),
        ColumnSpec("window_end", pl.Date, "Last day"),
        ColumnSpec("rows", pl.Int64, "Rows in the version"),
        ColumnSpec("content_hash", pl.String, "sha256 of the Arrow IPC file"),
        ColumnSpec("path", pl.String, "The Arrow IPC file"),
        ColumnSpec("card", pl.String, "The dataset card (JSON)"),
        ColumnSpec("as_of_ts", TS, "When the version was built"),
        trade_date_column(),
    ],
    ["dataset", "dataset_version"],
)
BY_DATASET = {"decision": TRAINING_DATASET, "cost": COST_DATASET}


def _columns(*specs: tuple) -> list[ColumnSpec]:
    return [ColumnSpec(n, t, d, nullable=nullable) for n, t, d, nullable in specs]


COST_PREDICTIONS = TableContract(
    "ml/cost_predictions",
    "The served champion's prediction for each filled order of the day, and how it went.",
    [
        *_columns(
            ("prediction_id", pl.String, "order_id|model_version", False),
            ("order_id", pl.String, "Parent order", False),
            ("symbol", pl.String, "Instrument symbol", False),
            ("as_of_ts", TS, "The order's arrival (what was known when predicted)", False),
            ("cost_bps", pl.Float64, "Predicted arrival cost", False),
            ("lower_bps", pl.Float64, "85% interval, low", False),
            ("upper_bps", pl.Float64, "85% interval, high", False),
            ("algo", pl.String, "The algo the order used (what the prediction is for)", True),
            ("urgency", pl.String, "The order's urgency", True),
            ("recommended_algo", pl.String, "Cheapest algo by the model", False),
            ("model_version", pl.String, "Bundle version that served the day", False),
            ("arrival_cost_bps", pl.Float64, "Realised arrival cost", False),
            ("error_bps", pl.Float64, "Realised − predicted", False),
            ("in_interval", pl.Boolean, "Realised inside the 85% interval", False),
        ),
        trade_date_column(),
    ],
    ["prediction_id"],
)
ML_INSIGHTS = TableContract(
    "ml/insights",
    "Notable findings about the served cost model over the trailing window of predictions: algos"
    " whose realised cost beats or exceeds their predictions across days, and size or urgency"
    " buckets whose intervals are miscalibrated (each one an MLInsightEvent).",
    [
        *_columns(
            ("insight_id", pl.String, "kind|subject|trade_date", False),
            (
                "kind",
                pl.String,
                "algo_beats_prediction, algo_exceeds_prediction or bucket_miscalibrated",
                False,
            ),
            ("subject", pl.String, "The algo, or dimension=bucket", False),
            ("finding", pl.String, "The finding in words", False),
            ("value", pl.Float64, "Mean daily error (bps) or the bucket's coverage", False),
            ("std_error", pl.Float64, "Its standard error", True),
            ("n_orders", pl.Int64, "Orders behind it", False),
            ("n_days", pl.Int64, "Days behind it", False),
            ("window_start", pl.Date, "First day of the window", False),
            ("window_end", pl.Date, "Last day of the window", False),
            ("as_of_ts", TS, "The close of the day the insight was drawn", False),
        ),
        trade_date_column(),
    ],
    ["insight_id"],
)
MODEL_FEEDBACK = TableContract(
    "ml/model_feedback",
    "Per day and served model: accuracy, interval coverage and drift (PSI) of inputs and errors.",
    [
        *_columns(
            ("feedback_id", pl.String, "model_version|date", False),
            ("model_version", pl.String, "Bundle version that served the day", False),
            ("orders", pl.Int64, "Filled orders predicted", False),
            ("mae_bps", pl.Float64, "Mean absolute error", False),
            ("bias_bps", pl.Float64, "Mean error (realised − predicted)", False),
            ("coverage", pl.Float64, "Share of realised costs inside the 85% interval", False),
            ("coverage_in_band", pl.Boolean, "Coverage within [0.83, 0.87]", False),
            ("psi_spread_bps", pl.Float64, "PSI of quoted spreads vs the day before", True),
            ("psi_size_vs_adv", pl.Float64, "PSI of order sizes vs ADV vs the day before", True),
            ("psi_error_bps", pl.Float64, "PSI of the errors vs the day before", True),
            ("drift_flagged", pl.Boolean, "Any PSI above 0.25", False),
            ("as_of_ts", TS, "When the feedback was computed (the session close)", False),
        ),
        trade_date_column(),
    ],
    ["feedback_id"],
)


@dataclass(frozen=True)
class BuiltVersion:
    dataset: str
    version: str
    rows: int
    path: Path
    card: dict


def build_version(
    lake: Lake,
    dataset: str,
    days: list[dt.date],
    *,
    code_version: str,
    sources: list[str],
    out_dir: Path,
) -> BuiltVersion:
    """Export the dataset's rows over `days` as a version: splits assigned, one Arrow IPC file
    and its cards under `out_dir/<dataset>/<version>/`. Rebuilding the same version rewrites the
    same bytes."""
    contract = BY_DATASET[dataset]
    frame = assign_splits(lake.scan(contract, days).collect())
    spec = {
        "dataset": dataset,
        "window_start": min(days).isoformat(),
        "window_end": max(days).isoformat(),
        "code_version": code_version,
        "sources": {t: lake.version(t) for t in sorted({contract.table, *sources})},
    }
    version = version_id(spec)
    data = to_ipc(frame)
    card = dataset_card(frame, spec, content_hash(data), dataset)
    target = out_dir / dataset / version
    target.mkdir(parents=True, exist_ok=True)
    (target / "dataset.arrow").write_bytes(data)
    (target / "card.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    (target / "card.md").write_text(card_markdown(card))
    return BuiltVersion(dataset, version, frame.height, target / "dataset.arrow", card)


def version_rows(built: list[BuiltVersion], as_of: dt.datetime) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "dataset": b.dataset,
                "dataset_version": b.version,
                "window_start": dt.date.fromisoformat(b.card["spec"]["window_start"]),
                "window_end": dt.date.fromisoformat(b.card["spec"]["window_end"]),
                "rows": b.rows,
                "content_hash": b.card["content_hash"],
                "path": str(b.path),
                "card": json.dumps(b.card, sort_keys=True),
                "as_of_ts": as_of,
                "trade_date": dt.date.fromisoformat(b.card["spec"]["window_end"]),
            }
            for b in built
        ]
    ).with_columns(pl.col("as_of_ts").cast(TS))
