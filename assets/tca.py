"""TCA assets: fill- and order-level TCA and the daily tables built on them (Delta, per day)."""

import polars as pl
from dagster import (
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from analytics_platform.events.contracts import (
    MARKET_IMPACT_ASSESSMENT,
    PARENT_ORDER_SUBMITTED,
    TECHNICAL_INDICATOR_COMPUTED,
    TRADE_EXECUTED,
)
from analytics_platform.events.outbound import TCA_REPORT, publish_outbound
from analytics_platform.marketdata.schemas import MARKET_TRADES, QUOTES
from analytics_platform.quality.checks import CheckOutcome, unique_key_check
from analytics_platform.reporting import markdown_table
from analytics_platform.tca import fill_tca, order_tca
from analytics_platform.tca.aggregates import TCA_WINDOW_DAYS, cost_summary
from analytics_platform.tca.breakdowns import average_daily_volume, order_breakdowns
from analytics_platform.tca.checks import (
    fill_identity_check,
    order_identity_check,
    quote_coverage_check,
)
from analytics_platform.tca.daily import (
    SUMMARIES,
    DailySummary,
    daily_report,
    daily_summary,
    markout_curves,
    with_notional,
)
from analytics_platform.tca.effects import ENTITIES, entity_effects
from analytics_platform.tca.execution_quality import (
    outliers,
    outside_nbbo_share,
    routing,
    rule_605,
    rule_605_by_symbol,
)
from analytics_platform.tca.own_prints import match_own_prints, own_print_match_rate
from analytics_platform.tca.pretrade import (
    pretrade_calibration,
    pretrade_vs_realised,
    symbol_day_market,
)
from analytics_platform.tca.reversion import fill_markouts, impact_split, reversion_curves
from analytics_platform.tca.schemas import (
    BREAKDOWNS,
    DAILY_REPORT,
    EFFECTS,
    ENTITY_SCORES,
    FILL_TCA,
    IMPACT_SPLIT,
    MARKOUT_CURVES,
    ORDER_SCORES,
    ORDER_TCA,
    OUTLIERS,
    PRETRADE,
    PRETRADE_CALIBRATION,
    REVERSION_CURVES,
    ROUTING,
    RULE_605,
    RULE_605_SYMBOL,
    SUMMARY_CONTRACTS,
)
from analytics_platform.tca.score import (
    TREND_DAYS,
    entity_scores,
    order_components,
    order_scores,
    with_trend,
)
from assets.inputs import LakeInput, lake_table_asset, lake_table_spec, skip_unchanged
from assets.metadata import (
    check_result,
    code_version,
    lake_key,
    write_metadata,
)
from assets.partitions import partition_date, trading_day_partitions
from resources.lake import LakeResource, QualityConfig, TcaConfig
from resources.pulsar import PulsarResource

GROUP = "tca"
KINDS = {"deltalake", "polars"}
TCA_CODE_VERSION = code_version("analytics_platform.tca", "analytics_platform.timeseries")


def tca_table_asset(
    contract, deps: list[str | LakeInput], *, kinds=KINDS, description=None, check_specs=()
):
    """The decorator every TCA asset shares (`lake_table_asset` in the TCA group)."""
    return lake_table_asset(
        contract,
        deps,
        group=GROUP,
        code_version=TCA_CODE_VERSION,
        kinds=kinds,
        description=description,
        check_specs=check_specs,
    )


def _cost_metadata(frame, source: str, metric: str, by: str) -> dict[str, object]:
    """The day's notional-weighted `metric`, and its ranking by `by` with 95% intervals."""
    weighted = with_notional(source, frame).with_columns(day=pl.lit(True))
    total = cost_summary(weighted, ["day"], metric, "notional")
    ranking = (
        cost_summary(weighted, [by], metric, "notional")
        .sort("weighted_bps")
        .select(by, "count", "weighted_bps", "ci95_low_bps", "ci95_high_bps")
    )
    return {
        f"{metric}_weighted": float(total["weighted_bps"][0]) if total.height else None,
        f"{metric}_by_{by}": MetadataValue.md(markdown_table(ranking)),
    }


def _check_spec(key, name: str, description: str, blocking: bool = True) -> AssetCheckSpec:
    return AssetCheckSpec(
        name,
        asset=key,
        description=description,
        blocking=blocking,
        partitions_def=trading_day_partitions,
    )


@tca_table_asset(
    FILL_TCA,
    [TRADE_EXECUTED.spec.table, PARENT_ORDER_SUBMITTED.spec.table, QUOTES.table],
    check_specs=[
        _check_spec(lake_key(FILL_TCA.table), "spread_identity", "effective = realized + impact"),
        _check_spec(lake_key(FILL_TCA.table), "unique_key", "One row per exec_id"),
        _check_spec(
            lake_key(FILL_TCA.table),
            "quote_coverage",
            "Share of fills with a valid quote (warns)",
            blocking=False,
        ),
    ],
)
def tca_fills(
    context: AssetExecutionContext, lake: LakeResource, quality: QualityConfig, tca: TcaConfig
):
    day = partition_date(context.partition_key)
    store = lake.lake()
    result = fill_tca(
        store.scan(TRADE_EXECUTED.table, [day]),
        store.scan(PARENT_ORDER_SUBMITTED.table, [day]),
        store.scan(QUOTES, [day]),
        max_quote_age=tca.max_quote_age,
    )
    written = store.write_partition(FILL_TCA, result, day)
    return MaterializeResult(
        metadata={
            **write_metadata(written, result),
            **_cost_metadata(result, "fills", "effective_spread_bps", "venue"),
        },
        check_results=[
            check_result(fill_identity_check(result)),
            check_result(unique_key_check(result, ["exec_id"])),
            check_result(
                quote_coverage_check(result, quality.min_quote_coverage), AssetCheckSeverity.WARN
            ),
        ],
    )


@tca_table_asset(
    ORDER_TCA,
    [
        TRADE_EXECUTED.spec.table,
        PARENT_ORDER_SUBMITTED.spec.table,
        QUOTES.table,
        MARKET_TRADES.table,
    ],
    check_specs=[
        _check_spec(
            lake_key(ORDER_TCA.table),
            "cost_identities",
            "IS components sum to total; temporary + permanent = arrival cost",
        ),
        _check_spec(lake_key(ORDER_TCA.table), "unique_key", "One row per order_id"),
    ],
)
def tca_orders(context: AssetExecutionContext, lake: LakeResource, tca: TcaConfig):
    day = partition_date(context.partition_key)
    store = lake.lake()
    result = order_tca(
        store.scan(PARENT_ORDER_SUBMITTED.table, [day]),
        store.scan(TRADE_EXECUTED.table, [day]),
        store.scan(QUOTES, [day]),
        store.scan(MARKET_TRADES, [day]),
        impact_horizon=tca.impact_horizon,
        max_quote_age=tca.max_quote_age,
    )
    written = store.write_partition(ORDER_TCA, result, day)
    return MaterializeResult(
        metadata={
            **write_metadata(written, result),
            **_cost_metadata(result, "orders", "is_total_bps", "algo"),
            "own_print_match_rate": own_print_match_rate(
                match_own_prints(
                    store.scan(MARKET_TRADES, [day]), store.scan(TRADE_EXECUTED.table, [day])
                ),
                store.scan(TRADE_EXECUTED.table, [day]),
            ),
        },
        check_results=[
            check_result(order_identity_check(result)),
            check_result(unique_key_check(result, ["order_id"])),
        ],
    )


def _summary_asset(spec: DailySummary) -> AssetsDefinition:
    contract = SUMMARY_CONTRACTS[spec.table]
    source = FILL_TCA if spec.source == "fills" else ORDER_TCA

    @tca_table_asset(contract, [source.table])
    def _summary(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
        day = partition_date(context.partition_key)
        store = lake.lake()
        table = daily_summary(spec, store.scan(source, [day]).collect(), day)
        written = store.write_partition(contract, table, day)
        return MaterializeResult(metadata=write_metadata(written, table))

    return _summary


@tca_table_asset(
    MARKOUT_CURVES,
    [FILL_TCA.table],
)
def tca_markout_curves(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    curves = markout_curves(store.scan(FILL_TCA, [day]).collect(), day)
    written = store.write_partition(MARKOUT_CURVES, curves, day)
    return MaterializeResult(metadata=write_metadata(written, curves))


@tca_table_asset(
    RULE_605,
    [FILL_TCA.table, ORDER_TCA.table],
)
def tca_rule_605(
    context: AssetExecutionContext, lake: LakeResource, tca: TcaConfig
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    table = rule_605(
        store.scan(FILL_TCA, [day]).collect(),
        store.scan(ORDER_TCA, [day]).collect(),
        day,
        cuts=tca.notional_buckets,
    )
    written = store.write_partition(RULE_605, table, day)
    return MaterializeResult(metadata=write_metadata(written, table))


@tca_table_asset(
    PRETRADE,
    [
        ORDER_TCA.table,
        MARKET_IMPACT_ASSESSMENT.spec.table,
        TECHNICAL_INDICATOR_COMPUTED.spec.table,
        MARKET_TRADES.table,
    ],
    check_specs=[_check_spec(lake_key(PRETRADE.table), "unique_key", "One row per order_id")],
)
def tca_pretrade(
    context: AssetExecutionContext, lake: LakeResource, tca: TcaConfig
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    market = symbol_day_market(
        store.scan(TECHNICAL_INDICATOR_COMPUTED.table, [day]).collect(),
        store.scan(MARKET_TRADES, [day]).select("symbol", "size", "trade_date").collect(),
    )
    table = pretrade_vs_realised(
        store.scan(ORDER_TCA, [day]).collect(),
        store.scan(MARKET_IMPACT_ASSESSMENT.table, [day]).collect(),
        market,
        cuts=tca.notional_buckets,
    )
    written = store.write_partition(PRETRADE, table, day)
    return MaterializeResult(
        metadata={
            **write_metadata(written, table),
            "share_abs_z_le_1_96": table.select(
                (pl.col("scaled_surprise").abs() <= 1.96).mean()
            ).item(),
        },
        check_results=[check_result(unique_key_check(table, ["order_id"]))],
    )


def _window(contract) -> LakeInput:
    """The trailing `TCA_WINDOW_DAYS` trading days ending on the asset's day."""
    return LakeInput(contract, days_before=TCA_WINDOW_DAYS - 1, with_day=True)


def _interval_check(frame: pl.DataFrame, estimate: str, low: str, high: str) -> CheckOutcome:
    """Every interval is finite and holds its estimate."""
    bad = frame.filter(
        ~(pl.col(low) <= pl.col(estimate)) | ~(pl.col(estimate) <= pl.col(high))
    ).height
    return CheckOutcome(
        "interval_bounds",
        bad == 0,
        f"{bad} rows whose 95% interval does not hold the estimate",
        {"bad_rows": bad},
    )


CALIBRATION_INPUT = _window(PRETRADE)


@tca_table_asset(
    PRETRADE_CALIBRATION,
    [CALIBRATION_INPUT],
    check_specs=[
        _check_spec(
            lake_key(PRETRADE_CALIBRATION.table),
            "interval_bounds",
            "bias_ci_low ≤ bias ≤ bias_ci_high on every row",
        )
    ],
)
def tca_pretrade_calibration(
    context: AssetExecutionContext, lake: LakeResource
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    window = CALIBRATION_INPUT.days(context.partition_key)
    table = pretrade_calibration(
        CALIBRATION_INPUT.read(lake.lake(), context.partition_key),
        window_start=window[0],
        window_end=window[-1],
        trade_date=day,
    )
    written = lake.lake().write_partition(PRETRADE_CALIBRATION, table, day)
    preview = table.select(
        "dimension", "group", "n_orders", "mean_expected_bps", "mean_realised_bps", "bias_bps",
        "bias_ci_low", "bias_ci_high", "mean_z", "share_within_1_96",
    )  # fmt: skip
    return MaterializeResult(
        metadata={
            **write_metadata(written, table),
            "calibration": MetadataValue.md(markdown_table(preview, 40)),
        },
        check_results=[
            check_result(_interval_check(table, "bias_bps", "bias_ci_low", "bias_ci_high"))
        ],
    )


EFFECT_INPUTS = (_window(FILL_TCA), _window(ORDER_TCA), _window(PRETRADE))
EFFECT_KEYS = {entity: lake_key(EFFECTS[entity].table) for entity in ENTITIES}


def _coverage_check(table: pl.DataFrame, seen: pl.Series, entity: str) -> CheckOutcome:
    """Every entity of the window's fills has a row (the baseline included)."""
    missing = sorted(set(seen.drop_nulls().unique()) - set(table["entity"]))
    return CheckOutcome(
        "covers_entities",
        not missing,
        f"{entity}s without an effect: {missing}" if missing else f"every {entity} has a row",
        {"missing": ", ".join(missing)},
    )


EFFECT_CHECKS = [
    spec
    for key in EFFECT_KEYS.values()
    for spec in (
        _check_spec(
            key,
            "covers_entities",
            "Every entity of the window's fills has an effect (warns)",
            blocking=False,
        ),
        _check_spec(key, "interval_bounds", "ci_low ≤ effect ≤ ci_high on every row"),
    )
]


@multi_asset(
    specs=[
        lake_table_spec(
            EFFECTS[entity],
            list(EFFECT_INPUTS),
            group=GROUP,
            code_version=TCA_CODE_VERSION,
            kinds=KINDS,
        )
        for entity in ENTITIES
    ],
    check_specs=EFFECT_CHECKS,
    partitions_def=trading_day_partitions,
    name="tca_effects",
)
@skip_unchanged(list(EFFECT_KEYS.values()), EFFECT_CHECKS, list(EFFECT_INPUTS), TCA_CODE_VERSION)
def tca_effects(context: AssetExecutionContext, lake: LakeResource):
    """Venue, algo and broker effects: one regression, three tables."""
    day = partition_date(context.partition_key)
    store = lake.lake()
    fills, orders, pretrade = (i.read(store, context.partition_key) for i in EFFECT_INPUTS)
    window = EFFECT_INPUTS[0].days(context.partition_key)
    tables = entity_effects(
        fills, orders, pretrade, window_start=window[0], window_end=window[-1], trade_date=day
    )
    seen = {"venue": fills["venue"], "algo": orders["algo"], "broker": orders["broker"]}
    for entity, key in EFFECT_KEYS.items():
        table = tables[entity]
        written = store.write_partition(EFFECTS[entity], table, day)
        ranking = table.select(
            "entity", "effect_bps", "ci_low", "ci_high", "n_fills", "p_value_holm", "verdict"
        )
        yield MaterializeResult(
            asset_key=key,
            metadata={
                **write_metadata(written, table),
                "baseline": table["baseline"][0] if table.height else None,
                "ranking": MetadataValue.md(markdown_table(ranking)),
            },
            check_results=[
                check_result(
                    _coverage_check(table, seen[entity], entity),
                    AssetCheckSeverity.WARN,
                    asset_key=key,
                ),
                check_result(
                    _interval_check(table, "effect_bps", "ci_low", "ci_high"), asset_key=key
                ),
            ],
        )


@tca_table_asset(
    OUTLIERS,
    [FILL_TCA.table, PRETRADE.table],
)
def tca_outliers(
    context: AssetExecutionContext, lake: LakeResource, tca: TcaConfig
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    fills = store.scan(FILL_TCA, [day]).collect()
    found = outliers(
        fills,
        store.scan(PRETRADE, [day]).collect(),
        k_sigma=tca.outlier_k_sigma,
        nbbo_tolerance_bps=tca.nbbo_tolerance_bps,
    )
    written = store.write_partition(OUTLIERS, found, day)
    counts = found.group_by("kind").len().sort("kind")
    return MaterializeResult(
        metadata={
            **write_metadata(written, found),
            "by_kind": MetadataValue.md(markdown_table(counts)),
            "fills_outside_nbbo_share": outside_nbbo_share(fills, found),
        }
    )


REPORT_INPUTS = (
    LakeInput(FILL_TCA),
    LakeInput(OUTLIERS),
    LakeInput(PRETRADE),
    LakeInput(PRETRADE_CALIBRATION),
)
REPORT_WINDOW = LakeInput(ORDER_TCA, days_before=TCA_WINDOW_DAYS - 1, with_day=True)


def _nested_preview(report: pl.DataFrame, column: str, fields: list[str]) -> MetadataValue:
    rows = report.select(pl.col(column).explode()).unnest(column).select(fields)
    return MetadataValue.md(markdown_table(rows, 30))


@tca_table_asset(
    DAILY_REPORT,
    [*REPORT_INPUTS, REPORT_WINDOW],
    kinds={*KINDS, "pulsar"},
    description=DAILY_REPORT.description + f" Topic: {TCA_REPORT.topic}.",
)
def tca_daily_report(
    context: AssetExecutionContext, lake: LakeResource, pulsar: PulsarResource
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    fills, found, pretrade, calibration = (
        i.read(store, context.partition_key) for i in REPORT_INPUTS
    )
    window = REPORT_WINDOW.read(store, context.partition_key)
    report = daily_report(
        fills,
        window.filter(pl.col("trade_date") == day),
        found,
        day,
        window_orders=window,
        pretrade=pretrade,
        calibration=calibration,
    )
    written = store.write_partition(DAILY_REPORT, report, day)
    with pulsar.client() as client:  # same event id on a re-run: consumers see nothing new
        publish_outbound(client, TCA_REPORT, report)
    row = report.row(0, named=True)
    costs = ["bucket", "n_orders", "cost_bps", "cost_ci_low", "cost_ci_high", "dollar_cost"]
    headline = pl.DataFrame(
        {
            "measure": ["arrival cost", "implementation shortfall", "window arrival cost"],
            "bps": [row["arrival_cost_bps"], row["is_total_bps"], row["window_arrival_cost_bps"]],
            "ci_low": [
                row["arrival_cost_ci_low"],
                row["is_total_ci_low"],
                row["window_arrival_cost_ci_low"],
            ],
            "ci_high": [
                row["arrival_cost_ci_high"],
                row["is_total_ci_high"],
                row["window_arrival_cost_ci_high"],
            ],
            "dollars": [row["arrival_cost_dollars"], row["is_total_dollars"], None],
        },
        schema_overrides={"dollars": pl.Float64},
    )
    return MaterializeResult(
        metadata={
            **write_metadata(written, report),
            "published_to": TCA_REPORT.topic,
            "headline": MetadataValue.md(markdown_table(headline)),
            "arrival_cost_vs_window_bps": row["arrival_cost_vs_window_bps"],
            "pretrade_bias_bps": row["pretrade_bias_bps"],
            **{
                f"by_{d}": _nested_preview(report, f"by_{d}", costs)
                for d in ("algo", "broker", "venue", "urgency")
            },
            "top_outliers": _nested_preview(
                report, "top_outliers", ["order_id", "symbol", "z_score", "detail"]
            ),
        }
    )


@tca_table_asset(
    ORDER_SCORES,
    [FILL_TCA.table, ORDER_TCA.table, MARKET_IMPACT_ASSESSMENT.spec.table],
    kinds={*KINDS, "jax"},
)
def tca_order_scores(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    scored = order_scores(
        order_components(
            store.scan(ORDER_TCA, [day]).collect(),
            store.scan(FILL_TCA, [day]).collect(),
            store.scan(MARKET_IMPACT_ASSESSMENT.table, [day]).collect(),
        )
    )
    written = store.write_partition(ORDER_SCORES, scored, day)
    return MaterializeResult(metadata=write_metadata(written, scored))


ENTITY_SCORE_INPUTS = (
    LakeInput(ORDER_SCORES),
    LakeInput(FILL_TCA),
    # The trend reads this table's own previous days: declared, so the UI shows the window and
    # a backfill materialises days in order.
    LakeInput(ENTITY_SCORES, days_before=TREND_DAYS - 1),
)


@tca_table_asset(ENTITY_SCORES, list(ENTITY_SCORE_INPUTS), kinds={*KINDS, "jax"})
def tca_entity_scores(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    scores, fills, history = (i.read(store, context.partition_key) for i in ENTITY_SCORE_INPUTS)
    today = entity_scores(scores, fills, day)
    calendar = [*ENTITY_SCORE_INPUTS[2].days(context.partition_key), day]
    scored = with_trend(today, history.drop("trend_20d"), calendar)
    written = store.write_partition(ENTITY_SCORES, scored, day)
    return MaterializeResult(
        metadata={
            **write_metadata(written, scored),
            "ranking": MetadataValue.md(
                markdown_table(scored.sort("entity", "score", descending=[False, True]), 30)
            ),
        }
    )


BREAKDOWN_INPUTS = (LakeInput(ORDER_TCA), _window(PRETRADE))


@tca_table_asset(
    BREAKDOWNS,
    list(BREAKDOWN_INPUTS),
    check_specs=[
        _check_spec(
            lake_key(BREAKDOWNS.table),
            "interval_bounds",
            "cost_ci_low ≤ cost_bps ≤ cost_ci_high wherever the cost is known",
        )
    ],
)
def tca_breakdowns(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    """ADV: the symbol's mean tape volume over the window's earlier days (tca/pretrade)."""
    day = partition_date(context.partition_key)
    store = lake.lake()
    orders, pretrade = (i.read(store, context.partition_key) for i in BREAKDOWN_INPUTS)
    table = order_breakdowns(orders, average_daily_volume(pretrade, day), day)
    written = store.write_partition(BREAKDOWNS, table, day)
    preview = table.select(
        "dimension", "bucket", "n_orders", "cost_bps", "cost_ci_low", "cost_ci_high",
        "dollar_cost", "opportunity_dollars",
    )  # fmt: skip
    known = table.filter(pl.col("cost_std_error").is_not_null())
    return MaterializeResult(
        metadata={
            **write_metadata(written, table),
            "breakdowns": MetadataValue.md(markdown_table(preview, 60)),
        },
        check_results=[
            check_result(_interval_check(known, "cost_bps", "cost_ci_low", "cost_ci_high"))
        ],
    )


@tca_table_asset(REVERSION_CURVES, [FILL_TCA.table, ORDER_TCA.table, QUOTES.table])
def tca_reversion_curves(
    context: AssetExecutionContext, lake: LakeResource, tca: TcaConfig
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    fills = store.scan(FILL_TCA, [day]).collect()
    markouts = fill_markouts(fills, store.scan(QUOTES, [day]), max_quote_age=tca.max_quote_age)
    table = reversion_curves(markouts, store.scan(ORDER_TCA, [day]).collect(), day)
    written = store.write_partition(REVERSION_CURVES, table, day)
    curve = (
        table.filter(pl.col("algo") == "ALL")
        .pivot("fill_type", index=["horizon_s", "horizon"], values="markout_bps")
        .sort("horizon_s")
    )
    return MaterializeResult(
        metadata={
            **write_metadata(written, table),
            "curve_all_algos": MetadataValue.md(markdown_table(curve, 20)),
        }
    )


SPLIT_INPUT = _window(ORDER_TCA)


@tca_table_asset(
    IMPACT_SPLIT,
    [SPLIT_INPUT],
    check_specs=[
        _check_spec(
            lake_key(IMPACT_SPLIT.table),
            "split_identity",
            "pooled permanent + temporary = pooled arrival cost on every row (1e-9 bps)",
        )
    ],
)
def tca_impact_split(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    day = partition_date(context.partition_key)
    window = SPLIT_INPUT.days(context.partition_key)
    table = impact_split(
        SPLIT_INPUT.read(lake.lake(), context.partition_key),
        window_start=window[0],
        window_end=window[-1],
        trade_date=day,
    )
    written = lake.lake().write_partition(IMPACT_SPLIT, table, day)
    gap = table.select(
        (pl.col("permanent_bps") + pl.col("temporary_bps") - pl.col("arrival_cost_bps")).abs().max()
    ).item()
    gap = float(gap or 0.0)
    preview = table.select(
        "dimension", "bucket", "n_orders", "arrival_cost_bps", "permanent_bps",
        "permanent_ci_low", "permanent_ci_high", "temporary_bps", "temporary_ci_low",
        "temporary_ci_high",
    )  # fmt: skip
    return MaterializeResult(
        metadata={
            **write_metadata(written, table),
            "split": MetadataValue.md(markdown_table(preview, 20)),
        },
        check_results=[
            check_result(
                CheckOutcome(
                    "split_identity", gap <= 1e-9, f"max gap {gap:.2e} bps", {"max_gap_bps": gap}
                )
            )
        ],
    )


@tca_table_asset(
    RULE_605_SYMBOL,
    [FILL_TCA.table, ORDER_TCA.table],
    check_specs=[
        _check_spec(
            lake_key(RULE_605_SYMBOL.table),
            "quote_positions",
            "shares inside + at + outside the quote ≤ shares executed (equal when every fill has a"
            " quote)",
        )
    ],
)
def tca_rule_605_symbol(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    table = rule_605_by_symbol(
        store.scan(FILL_TCA, [day]).collect(), store.scan(ORDER_TCA, [day]).collect(), day
    )
    written = store.write_partition(RULE_605_SYMBOL, table, day)
    positioned = (
        pl.col("shares_inside_quote") + pl.col("shares_at_quote") + pl.col("shares_outside_quote")
    )
    bad = table.filter(positioned > pl.col("shares")).height
    totals = table.select(
        pl.col("shares", "shares_inside_quote", "shares_at_quote", "shares_outside_quote",
               "size_improved_shares").sum()
    )  # fmt: skip
    return MaterializeResult(
        metadata={
            **write_metadata(written, table),
            "totals": MetadataValue.md(markdown_table(totals)),
        },
        check_results=[
            check_result(
                CheckOutcome(
                    "quote_positions", bad == 0, f"{bad} rows over their shares", {"bad_rows": bad}
                )
            )
        ],
    )


@tca_table_asset(
    ROUTING,
    [FILL_TCA.table, ORDER_TCA.table],
    check_specs=[
        _check_spec(
            lake_key(ROUTING.table),
            "shares_sum_to_one",
            "Venue shares of shares and notional sum to 1 per order type",
        )
    ],
)
def tca_routing(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    table = routing(
        store.scan(FILL_TCA, [day]).collect(), store.scan(ORDER_TCA, [day]).collect(), day
    )
    written = store.write_partition(ROUTING, table, day)
    sums = table.group_by("order_type").agg(pl.col("share_of_shares", "share_of_notional").sum())
    gap = sums.select(
        pl.max_horizontal(
            (pl.col("share_of_shares") - 1).abs(), (pl.col("share_of_notional") - 1).abs()
        ).max()
    ).item()
    gap = float(gap or 0.0)
    preview = table.filter(pl.col("order_type") == "ALL").select(
        "venue", "shares", "share_of_shares", "share_of_notional", "passive_share", "net_fees",
        "net_fee_mils_per_share",
    )  # fmt: skip
    return MaterializeResult(
        metadata={
            **write_metadata(written, table),
            "routing": MetadataValue.md(markdown_table(preview)),
        },
        check_results=[
            check_result(
                CheckOutcome(
                    "shares_sum_to_one", gap <= 1e-9, f"max gap {gap:.2e}", {"max_gap": gap}
                )
            )
        ],
    )


tca_assets = [
    tca_breakdowns,
    tca_reversion_curves,
    tca_impact_split,
    tca_rule_605_symbol,
    tca_routing,
    tca_order_scores,
    tca_entity_scores,
    tca_daily_report,
    tca_fills,
    tca_orders,
    tca_markout_curves,
    tca_rule_605,
    tca_outliers,
    tca_pretrade,
    tca_pretrade_calibration,
    tca_effects,
    *[_summary_asset(s) for s in SUMMARIES],
]
