"""Training-dataset assets: the day's decision and order rows with point-in-time features and
labels (plus the rows quarantined), and a version over the trailing window with its card."""

import datetime as dt

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from analytics_platform.attribution.schemas import DECISION_OUTCOMES, SECURITY_RETURNS
from analytics_platform.calendar import session_close_ts
from analytics_platform.events.contracts import (
    MARKET_IMPACT_ASSESSMENT,
    NEWS_SENTIMENT_ANALYZED,
    PARENT_ORDER_SUBMITTED,
    PORTFOLIO_POSITION_SNAPSHOT,
    RISK_VIOLATION,
    TECHNICAL_INDICATOR_COMPUTED,
    TRADING_DECISION,
)
from analytics_platform.events.outbound import (
    EXECUTION_COST_PREDICTION,
    ML_INSIGHT,
    MODEL_PERFORMANCE_FEEDBACK,
    natural_id,
    publish_outbound,
)
from analytics_platform.events.outbound import TRAINING_DATASET as TRAINING_DATASET_EVENT
from analytics_platform.lake import Lake
from analytics_platform.marketdata.schemas import BOOK_SNAPSHOTS, MARKET_TRADES, QUOTES
from analytics_platform.ml.cost_model import fit_cost_model
from analytics_platform.ml.datasets import (
    MIN_CLEAN_RATE,
    Sources,
    clean_rate,
    cost_dataset,
    decision_dataset,
    quality_split,
)
from analytics_platform.ml.feedback import (
    COVERAGE_BAND,
    calibration_by_bucket,
    daily_feedback,
    model_insights,
    order_predictions,
    retrain_reason,
)
from analytics_platform.ml.registry import lineage_tags, model_card, register
from analytics_platform.ml.versions import (
    COST_DATASET,
    COST_PREDICTIONS,
    DATASET_QUARANTINE,
    DATASET_VERSIONS,
    ML_INSIGHTS,
    MODEL_FEEDBACK,
    TRAINING_DATASET,
    build_version,
    version_rows,
)
from analytics_platform.reporting import markdown_table
from analytics_platform.serving.bundle import Bundle, publish
from analytics_platform.tca.schemas import ORDER_TCA
from assets.inputs import LakeInput
from assets.metadata import OWNERS, code_version, definition_metadata, lake_key, write_metadata
from assets.partitions import end_of_day_freshness, partition_date, trading_day_partitions
from resources.lake import DatasetStoreResource, LakeResource, ModelStoreResource
from resources.mlflow import MlflowResource
from resources.pulsar import PulsarResource

GROUP = "ml"
ML_CODE_VERSION = code_version("analytics_platform.ml", "analytics_platform.timeseries")
WINDOW_DAYS = 20

SAME_DAY = [
    TRADING_DECISION.table,
    PARENT_ORDER_SUBMITTED.table,
    ORDER_TCA,
    DECISION_OUTCOMES,
    MARKET_IMPACT_ASSESSMENT.table,
    QUOTES,
    MARKET_TRADES,
    BOOK_SNAPSHOTS,
    NEWS_SENTIMENT_ANALYZED.table,
    TECHNICAL_INDICATOR_COMPUTED.table,
    PORTFOLIO_POSITION_SNAPSHOT.table,
    RISK_VIOLATION.table,
]
# The risk features read the previous days' returns; the trend label reads the day's own.
RETURNS_INPUT = LakeInput(SECURITY_RETURNS, days_before=WINDOW_DAYS, with_day=True)
DATASET_INPUTS = [*(LakeInput(c) for c in SAME_DAY), RETURNS_INPUT]


def build_datasets(lake: Lake, partition_key: str) -> dict[str, pl.DataFrame]:
    """The day's decision and cost datasets (clean rows) and the rows quarantined."""
    day = partition_date(partition_key)
    scans = {c.table: lake.scan(c, [day]) for c in SAME_DAY}
    returns = RETURNS_INPUT.read(lake, partition_key)
    sources = Sources(
        quotes=scans[QUOTES.table],
        market_trades=scans[MARKET_TRADES.table],
        book_snapshots=scans[BOOK_SNAPSHOTS.table],
        sentiment=scans[NEWS_SENTIMENT_ANALYZED.spec.table],
        technical_indicators=scans[TECHNICAL_INDICATOR_COMPUTED.spec.table],
        positions=scans[PORTFOLIO_POSITION_SNAPSHOT.spec.table],
        risk_violations=scans[RISK_VIOLATION.spec.table],
        security_history=returns.filter(pl.col("trade_date") < day),
    )
    today = returns.filter(pl.col("trade_date") == day)
    built = {
        "decision": decision_dataset(
            scans[TRADING_DECISION.spec.table], scans[DECISION_OUTCOMES.table], sources, today
        ),
        "cost": cost_dataset(
            scans[PARENT_ORDER_SUBMITTED.spec.table],
            scans[ORDER_TCA.table],
            scans[MARKET_IMPACT_ASSESSMENT.spec.table],
            sources,
            today,
        ),
    }
    out, rejected = {}, []
    for name, frame in built.items():
        clean, bad = quality_split(frame, name)
        out[name] = clean
        rejected.append(bad.select(dataset=pl.lit(name), row_id="row_id", reason="reason",
                                   trade_date="trade_date"))  # fmt: skip
    out["quarantine"] = pl.concat(rejected)
    return out


def _check(key, name: str, description: str) -> AssetCheckSpec:
    return AssetCheckSpec(
        name, asset=key, description=description, partitions_def=trading_day_partitions
    )


DATASET_KEYS = {
    "decision": lake_key(TRAINING_DATASET.table),
    "cost": lake_key(COST_DATASET.table),
}


@multi_asset(
    specs=[
        AssetSpec(
            lake_key(contract.table),
            deps=[i.dep for i in DATASET_INPUTS],
            description=contract.description,
            group_name=GROUP,
            owners=OWNERS,
            kinds={"deltalake", "polars"},
            metadata=definition_metadata(contract),
            partitions_def=trading_day_partitions,
            code_version=ML_CODE_VERSION,
            freshness_policy=end_of_day_freshness,
        )
        for contract in (TRAINING_DATASET, COST_DATASET, DATASET_QUARANTINE)
    ],
    check_specs=[
        _check(key, "clean_rate", f"At least {MIN_CLEAN_RATE:.0%} of the day's rows are clean")
        for key in DATASET_KEYS.values()
    ],
    partitions_def=trading_day_partitions,
    name="ml_datasets",
)
def ml_datasets(context: AssetExecutionContext, lake: LakeResource):
    day = partition_date(context.partition_key)
    store = lake.lake()
    built = build_datasets(store, context.partition_key)
    quarantine = built["quarantine"]
    written = store.write_partition(DATASET_QUARANTINE, quarantine, day)
    yield MaterializeResult(
        asset_key=lake_key(DATASET_QUARANTINE.table),
        metadata={
            **write_metadata(written, quarantine),
            "by_reason": MetadataValue.md(
                markdown_table(quarantine.group_by("dataset", "reason").len().sort("len"))
            ),
        },
    )
    for name, key in DATASET_KEYS.items():
        frame = built[name]
        contract = TRAINING_DATASET if name == "decision" else COST_DATASET
        label = "outcome_label" if name == "decision" else "execution_label"
        written = store.write_partition(contract, frame, day)
        rejected = quarantine.filter(pl.col("dataset") == name)
        rate = clean_rate(frame, rejected)
        yield MaterializeResult(
            asset_key=key,
            metadata={
                **write_metadata(written, frame.select(pl.exclude(pl.Datetime))),
                "label_balance": MetadataValue.md(
                    markdown_table(frame.group_by(label).len().sort(label))
                ),
                "clean_rate": rate,
            },
            check_results=[
                AssetCheckResult(
                    asset_key=key,
                    check_name="clean_rate",
                    passed=rate >= MIN_CLEAN_RATE,
                    description=f"{rate:.2%} of {frame.height + rejected.height} rows clean"
                    f" (minimum {MIN_CLEAN_RATE:.0%}); {rejected.height} quarantined",
                    metadata={"clean_rate": rate, "quarantined": rejected.height},
                )
            ],
        )


VERSION_INPUTS = [
    LakeInput(TRAINING_DATASET, days_before=WINDOW_DAYS - 1, with_day=True),
    LakeInput(COST_DATASET, days_before=WINDOW_DAYS - 1, with_day=True),
]


def build_dataset_versions(
    lake: Lake, days: list[dt.date], out_dir, as_of: dt.datetime
) -> pl.DataFrame:
    """Both datasets' versions over `days` (Arrow IPC + cards), as `ml/dataset_versions` rows."""
    built = [
        build_version(
            lake,
            name,
            days,
            code_version=ML_CODE_VERSION,
            sources=[c.table for c in SAME_DAY],
            out_dir=out_dir,
        )
        for name in ("decision", "cost")
    ]
    return version_rows(built, as_of)


@asset(
    key=lake_key(DATASET_VERSIONS.table),
    deps=[i.dep for i in VERSION_INPUTS],
    partitions_def=trading_day_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"deltalake", "arrow", "pulsar"},
    description=DATASET_VERSIONS.description
    + f" Window: the {WINDOW_DAYS} trading days ending on the partition."
    + f" Topic: {TRAINING_DATASET_EVENT.topic}.",
    metadata=definition_metadata(DATASET_VERSIONS),
    code_version=ML_CODE_VERSION,
)
def ml_dataset_versions(
    context: AssetExecutionContext,
    lake: LakeResource,
    datasets: DatasetStoreResource,
    pulsar: PulsarResource,
) -> MaterializeResult:
    store = lake.lake()
    days = VERSION_INPUTS[0].days(context.partition_key)
    rows = build_dataset_versions(store, days, datasets.path(), dt.datetime.now(dt.UTC))
    written = store.upsert(DATASET_VERSIONS, rows)  # keyed by version: rebuilding changes nothing
    with pulsar.client() as client:
        publish_outbound(client, TRAINING_DATASET_EVENT, rows.drop("card"))
    return MaterializeResult(
        metadata={
            "dagster/row_count": rows.height,
            "delta_version": written.version,
            "versions": MetadataValue.md(markdown_table(rows.drop("card", "as_of_ts"))),
            "published_to": TRAINING_DATASET_EVENT.topic,
            "load_with": f"pl.read_ipc('{rows['path'][0]}')",
        }
    )


@asset(
    key=lake_key(COST_PREDICTIONS.table),
    deps=[LakeInput(COST_DATASET).dep],
    partitions_def=trading_day_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"deltalake", "numpy", "pulsar"},
    description=COST_PREDICTIONS.description + f" Topic: {EXECUTION_COST_PREDICTION.topic}.",
    metadata=definition_metadata(COST_PREDICTIONS),
    code_version=ML_CODE_VERSION,
)
def ml_cost_predictions(
    context: AssetExecutionContext,
    lake: LakeResource,
    models: ModelStoreResource,
    pulsar: PulsarResource,
) -> MaterializeResult:
    """The bundle that served the day (current before today's refit) predicts the day's filled
    orders; an ExecutionCostPredictionEvent each."""
    day = partition_date(context.partition_key)
    store = lake.lake()
    root = models.path() / "cost"
    rows = store.scan(COST_DATASET, [day]).collect()
    predictions = pl.DataFrame(schema=COST_PREDICTIONS.polars_schema)
    if (root / "CURRENT").exists() and rows.height:
        found = order_predictions(Bundle.load(root), rows)
        if found.height:
            predictions = found.with_columns(as_of_ts="at").drop("at")
    written = store.write_partition(COST_PREDICTIONS, predictions, day)
    with pulsar.client() as client:
        publish_outbound(client, EXECUTION_COST_PREDICTION, predictions)
    return MaterializeResult(
        metadata={
            **write_metadata(written, predictions),
            "published_to": EXECUTION_COST_PREDICTION.topic,
        }
    )


# Today's predictions, and yesterday's as the reference the drift is measured against.
PREDICTIONS_INPUT = LakeInput(COST_PREDICTIONS, days_before=1, with_day=True)


@asset(
    key=lake_key(MODEL_FEEDBACK.table),
    deps=[PREDICTIONS_INPUT.dep],
    partitions_def=trading_day_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"deltalake", "pulsar"},
    description=MODEL_FEEDBACK.description + f" Topic: {MODEL_PERFORMANCE_FEEDBACK.topic}.",
    metadata=definition_metadata(MODEL_FEEDBACK),
    code_version=ML_CODE_VERSION,
    check_specs=[
        AssetCheckSpec(
            "coverage_in_band",
            asset=lake_key(MODEL_FEEDBACK.table),
            description=f"The 85% interval covered {COVERAGE_BAND[0]:.0%}–{COVERAGE_BAND[1]:.0%}"
            " of the day's realised costs (warns)",
            partitions_def=trading_day_partitions,
            blocking=False,
        )
    ],
)
def ml_model_feedback(
    context: AssetExecutionContext, lake: LakeResource, pulsar: PulsarResource
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    both = PREDICTIONS_INPUT.read(store, context.partition_key)
    feedback = daily_feedback(
        both.filter(pl.col("trade_date") == day), both.filter(pl.col("trade_date") < day)
    )
    if feedback.height:
        feedback = feedback.with_columns(as_of_ts=session_close_ts(day))
    else:
        feedback = pl.DataFrame(schema=MODEL_FEEDBACK.polars_schema)
    written = store.write_partition(MODEL_FEEDBACK, feedback, day)
    with pulsar.client() as client:
        publish_outbound(client, MODEL_PERFORMANCE_FEEDBACK, feedback)
    coverage = feedback["coverage"][0] if feedback.height else None
    return MaterializeResult(
        metadata={**write_metadata(written, feedback), "coverage": coverage},
        check_results=[
            AssetCheckResult(
                check_name="coverage_in_band",
                passed=bool(feedback["coverage_in_band"][0]) if feedback.height else True,
                severity=AssetCheckSeverity.WARN,
                description=f"coverage {coverage}" if feedback.height else "no model served yet",
            )
        ],
    )


INSIGHT_INPUT = LakeInput(COST_PREDICTIONS, days_before=WINDOW_DAYS - 1, with_day=True)


@asset(
    key=lake_key(ML_INSIGHTS.table),
    deps=[INSIGHT_INPUT.dep],
    partitions_def=trading_day_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"deltalake", "pulsar"},
    description=ML_INSIGHTS.description + f" Topic: {ML_INSIGHT.topic}.",
    metadata=definition_metadata(ML_INSIGHTS),
    code_version=ML_CODE_VERSION,
)
def ml_insights(
    context: AssetExecutionContext, lake: LakeResource, pulsar: PulsarResource
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    window = INSIGHT_INPUT.read(store, context.partition_key)
    found = model_insights(window)
    if found.height:
        found = found.with_columns(
            window_start=window["trade_date"].min(),
            window_end=window["trade_date"].max(),
            as_of_ts=session_close_ts(day),
            trade_date=pl.lit(day),
            insight_id=natural_id(pl.col("kind"), pl.col("subject"), context.partition_key),
        )
    else:
        found = pl.DataFrame(schema=ML_INSIGHTS.polars_schema)
    written = store.write_partition(ML_INSIGHTS, found, day)
    with pulsar.client() as client:
        publish_outbound(client, ML_INSIGHT, found)
    return MaterializeResult(
        metadata={
            **write_metadata(written, found),
            "calibration_by_bucket": markdown_table(calibration_by_bucket(window), max_rows=20),
        }
    )


MODEL_INPUTS = [
    LakeInput(COST_DATASET, days_before=WINDOW_DAYS - 1, with_day=True),
    LakeInput(SECURITY_RETURNS, days_before=WINDOW_DAYS - 1, with_day=True),
]
FEEDBACK_INPUT = LakeInput(MODEL_FEEDBACK)


def _trained_through(bundle: Bundle | None) -> dt.date | None:
    window = bundle.metadata.get("window", "") if bundle else ""
    return dt.date.fromisoformat(window.split("..")[-1]) if window else None


@asset(
    key=["ml", "cost_model_bundle"],
    # After the feedback: the day is graded by the model that served it, then (maybe) the refit.
    deps=[*[i.dep for i in MODEL_INPUTS], FEEDBACK_INPUT.dep],
    pool="mlflow",  # one registration at a time (the embedded store is SQLite)
    partitions_def=trading_day_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"numpy", "mlflow"},
    description="The execution-cost model refitted on the trailing window's filled orders when the"
    " day's feedback flags drift or coverage out of band, or on schedule (ANALYTICS_RETRAIN_EVERY"
    "_DAYS), registered in MLflow, gated against the champion, and exported as the prediction"
    " service's bundle (weights as arrays, per-symbol market context, interval quantiles, impact"
    " parameters): `analytics-platform serve` swaps it in.",
    code_version=ML_CODE_VERSION,
)
def ml_cost_model_bundle(
    context: AssetExecutionContext,
    lake: LakeResource,
    models: ModelStoreResource,
    mlflow: MlflowResource,
) -> MaterializeResult:
    store = lake.lake()
    day = partition_date(context.partition_key)
    root = models.path() / "cost"
    champion = Bundle.load(root) if (root / "CURRENT").exists() else None
    feedback = FEEDBACK_INPUT.read(store, context.partition_key)
    reason = retrain_reason(
        feedback.row(0, named=True) if feedback.height else None,
        _trained_through(champion),
        day,
        models.retrain_every_days,
    )
    if reason is None:
        context.log.info(f"champion {champion.version} kept: no drift, trained recently")
        return MaterializeResult(
            metadata={"retrained": False, "serving": str(root / champion.version)}
        )
    context.log.info(f"refitting the cost model: {reason}")
    rows, returns = (i.read(store, context.partition_key) for i in MODEL_INPUTS)
    try:
        bundle, held_out = fit_cost_model(rows, returns)
    except ValueError as exc:  # too few orders yet: the current bundle stays
        context.log.warning(f"no new bundle: {exc}")
        return MaterializeResult(metadata={"retrained": False, "reason": str(exc)})
    candidate_dir = bundle.save(root / bundle.version)
    (candidate_dir / "model_card.md").write_text(model_card(bundle))
    registered = register(
        mlflow.tracking_uri,
        bundle,
        candidate_dir,
        test_orders=held_out.orders,
        test_realised=held_out.realised_bps,
        champion_bundle=champion,
        tags=lineage_tags(
            COST_DATASET.table, store.version(COST_DATASET.table), bundle, context.run_id
        ),
    )
    if registered.champion:
        publish(bundle, root)  # the service swaps it in
    scores = {k: v for k, v in bundle.metadata.items() if isinstance(v, int | float)}
    return MaterializeResult(
        metadata={
            "retrained": True,
            "retrain_reason": reason,
            "model_version": bundle.version,
            "registered_version": registered.version,
            "mlflow_run_id": registered.run_id,
            "champion": registered.champion,
            "gate": f"candidate MAE {registered.candidate_mae} vs champion"
            f" {registered.champion_mae} on the candidate's test days",
            # The champion serves: the candidate if it won, else the bundle current before.
            "serving": str(root / (bundle.version if registered.champion else champion.version)),
            "symbols": len(bundle.symbols),
            **scores,
            "coefficients": MetadataValue.json(bundle.metadata["coefficients"]),
            "model_card": MetadataValue.md(model_card(bundle)),
        }
    )


ml_assets = [
    ml_datasets,
    ml_dataset_versions,
    ml_cost_predictions,
    ml_model_feedback,
    ml_insights,
    ml_cost_model_bundle,
]
