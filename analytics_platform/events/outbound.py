"""Outbound events: what the platform publishes back to Pulsar for other systems.

Every outbound event id is `<event_type>:<natural id>`, where the natural id is built from what
the event describes (e.g. `2026-11-20|VWAP` for a day's algo TCA report), never from time or a
counter. A re-run re-publishes the same ids, so consumers' idempotent upserts see nothing new.
"""

from __future__ import annotations

import polars as pl
import pulsar

from analytics_platform.events.catalog import EventSpec
from analytics_platform.events.publisher import publish_frame

WORKFLOW = "post-trade-analytics"


def _out(event_type: str, id_column: str, table: str, ts_column: str = "as_of_ts") -> EventSpec:
    return EventSpec(event_type, WORKFLOW, id_column, ts_column, table)


EXECUTION_COST_PREDICTION = _out(
    "ExecutionCostPredictionEvent", "prediction_id", "ml/cost_predictions"
)
DECISION_OUTCOME_ANALYSIS = _out(
    "DecisionOutcomeAnalysisEvent", "decision_id", "attribution/decision_outcomes"
)
PERFORMANCE_ATTRIBUTION = _out(
    "PerformanceAttributionEvent", "attribution_id", "attribution/brinson_daily"
)
STRATEGY_PERFORMANCE = _out(
    "StrategyPerformanceEvent", "strategy_day_id", "attribution/strategy_daily"
)
TCA_REPORT = _out("TCAReportEvent", "report_id", "tca/daily_report")
PERFORMANCE_REPORT = _out("PerformanceReportEvent", "report_id", "attribution/risk_metrics")
ML_INSIGHT = _out("MLInsightEvent", "insight_id", "ml/insights")
TRAINING_DATASET = _out("TrainingDatasetEvent", "dataset_version", "ml/training_datasets")
MODEL_PERFORMANCE_FEEDBACK = _out(
    "ModelPerformanceFeedbackEvent", "feedback_id", "ml/model_feedback"
)

OUTBOUND: tuple[EventSpec, ...] = (
    EXECUTION_COST_PREDICTION,
    DECISION_OUTCOME_ANALYSIS,
    PERFORMANCE_ATTRIBUTION,
    STRATEGY_PERFORMANCE,
    TCA_REPORT,
    PERFORMANCE_REPORT,
    ML_INSIGHT,
    TRAINING_DATASET,
    MODEL_PERFORMANCE_FEEDBACK,
)


def natural_id(*parts: str | pl.Expr) -> pl.Expr:
    """A deterministic natural id from the parts that identify what an event describes."""
    return pl.concat_str([p if isinstance(p, pl.Expr) else pl.lit(p) for p in parts], separator="|")


def publish_outbound(client: pulsar.Client, spec: EventSpec, frame: pl.DataFrame) -> int:
    """Publish one outbound event per row. The frame needs `spec.id_column`, `spec.ts_column`
    and `trade_date`; everything else is payload."""
    missing = {spec.id_column, spec.ts_column, "trade_date"} - set(frame.columns)
    if missing:
        raise ValueError(f"{spec.event_type}: frame lacks {sorted(missing)}")
    return publish_frame(client, spec, frame)
