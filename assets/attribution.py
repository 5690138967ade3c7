"""Attribution assets: decision outcomes, strategies, Brinson by sector, risk metrics (per day,
and over the trailing window of days each declares)."""

import polars as pl
from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
)

from analytics_platform.attribution.brinson import LINKING_METHODS
from analytics_platform.attribution.decisions import decision_outcomes, net_alpha_identity_check
from analytics_platform.attribution.factor import VOLATILITY_DAYS, factor_decomposition
from analytics_platform.attribution.portfolio import (
    brinson_daily,
    brinson_linked,
    sector_segments,
    security_returns,
)
from analytics_platform.attribution.risk import window_risk_metrics
from analytics_platform.attribution.schemas import (
    BRINSON_DAILY,
    BRINSON_LINKED,
    DECISION_OUTCOMES,
    FACTOR,
    RISK_METRICS,
    SECURITY_RETURNS,
    STRATEGY_DAILY,
    STRATEGY_WINDOW,
)
from analytics_platform.attribution.strategy import (
    DEFAULT_WINDOW_DAYS,
    strategy_skill,
    strategy_summary,
)
from analytics_platform.calendar import session_close_ts
from analytics_platform.events.contracts import (
    BENCHMARK_WEIGHTS,
    MARKET_IMPACT_ASSESSMENT,
    PORTFOLIO_PERFORMANCE,
    PORTFOLIO_POSITION_SNAPSHOT,
    TRADING_DECISION,
)
from analytics_platform.events.outbound import (
    DECISION_OUTCOME_ANALYSIS,
    PERFORMANCE_ATTRIBUTION,
    PERFORMANCE_REPORT,
    STRATEGY_PERFORMANCE,
    natural_id,
    publish_outbound,
)
from analytics_platform.marketdata.schemas import MARKET_TRADES, QUOTES
from analytics_platform.quality.checks import CheckOutcome, unique_key_check
from analytics_platform.reporting import markdown_table
from analytics_platform.tca.schemas import ORDER_TCA
from assets.inputs import LakeInput, lake_table_asset
from assets.metadata import (
    check_result,
    code_version,
    lake_key,
    write_metadata,
)
from assets.partitions import partition_date, trading_day_partitions
from resources.lake import AttributionConfig, LakeResource, TcaConfig
from resources.pulsar import PulsarResource

GROUP = "attribution"
KINDS = {"deltalake", "polars"}
ATTRIBUTION_CODE_VERSION = code_version("analytics_platform.attribution")
IDENTITY_TOLERANCE = 1e-9


def _window(contract) -> LakeInput:
    """The trailing window of `DEFAULT_WINDOW_DAYS` trading days ending on the asset's day."""
    return LakeInput(contract, days_before=DEFAULT_WINDOW_DAYS - 1, with_day=True)


def attribution_asset(contract, inputs: list[LakeInput], *, checks=(), kinds=KINDS, publishes=None):
    """`lake_table_asset` in the attribution group; `checks` as (name, description) pairs, and
    the topic named when the asset publishes events."""
    key = lake_key(contract.table)
    return lake_table_asset(
        contract,
        list(inputs),
        group=GROUP,
        code_version=ATTRIBUTION_CODE_VERSION,
        kinds={*kinds, "pulsar"} if publishes else kinds,
        description=contract.description + (f" Topic: {publishes.topic}." if publishes else ""),
        check_specs=[
            AssetCheckSpec(name, asset=key, description=text, partitions_def=trading_day_partitions)
            for name, text in checks
        ],
    )


def _identity_check(spec: tuple[str, str], frame: pl.DataFrame, gap: pl.Expr):
    """The check `spec` (name, description) passes when |gap| ≤ 1e-9 on every row of `frame`."""
    gaps = frame.select(gap.abs().alias("gap"))["gap"]
    worst = float(gaps.max() or 0.0) if frame.height else 0.0
    name, description = spec
    metadata = {"rows": frame.height, "max_gap": worst}
    return check_result(CheckOutcome(name, worst <= IDENTITY_TOLERANCE, description, metadata))


def _typed(contract, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame`, or for a day without inputs (no rows, no columns) an empty frame of the table."""
    return frame if frame.columns else pl.DataFrame(schema=contract.polars_schema)


DECISION_INPUTS = [
    LakeInput(TRADING_DECISION.table),
    LakeInput(ORDER_TCA),
    LakeInput(QUOTES),
    LakeInput(MARKET_IMPACT_ASSESSMENT.table),
]


@attribution_asset(
    DECISION_OUTCOMES,
    DECISION_INPUTS,
    checks=[
        ("net_alpha_identity", "decision alpha − IS = what the decision earned, per decision"),
        ("unique_key", "One row per decision_id"),
    ],
    publishes=DECISION_OUTCOME_ANALYSIS,
)
def attribution_decision_outcomes(
    context: AssetExecutionContext, lake: LakeResource, tca: TcaConfig, pulsar: PulsarResource
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    decisions, orders, quotes, assessments = (
        store.scan(i.contract, [day]) for i in DECISION_INPUTS
    )
    outcomes = decision_outcomes(
        decisions, orders, quotes, assessments, max_quote_age=tca.max_quote_age
    )
    written = store.write_partition(DECISION_OUTCOMES, outcomes, day)
    with pulsar.client() as client:  # one event per decision; a re-run re-publishes the same ids
        publish_outbound(client, DECISION_OUTCOME_ANALYSIS, outcomes)
    return MaterializeResult(
        metadata={
            **write_metadata(written, outcomes),
            "published_to": DECISION_OUTCOME_ANALYSIS.topic,
        },
        check_results=[
            check_result(net_alpha_identity_check(outcomes)),
            check_result(unique_key_check(outcomes, ["decision_id"])),
        ],
    )


_SUMMARY_IDENTITY = (
    pl.col("decision_alpha_bps")
    - pl.sum_horizontal("is_delay_bps", "is_trading_bps", "is_opportunity_bps", "is_fees_bps")
    - pl.col("net_alpha_bps")
)
_SUMMARY_CHECK = ("alpha_identity", "decision alpha − IS components = net alpha (weighted)")
_PREVIEW = [
    "strategy_id", "n_decisions", "decision_alpha_bps", "is_total_bps", "net_alpha_bps",
    "net_alpha_ci_low_bps", "net_alpha_ci_high_bps", "hit_rate", "alpha_lost_share",
]  # fmt: skip


@attribution_asset(
    STRATEGY_DAILY,
    [LakeInput(DECISION_OUTCOMES)],
    checks=[_SUMMARY_CHECK],
    publishes=STRATEGY_PERFORMANCE,
)
def attribution_strategy_daily(
    context: AssetExecutionContext, lake: LakeResource, pulsar: PulsarResource
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    outcomes = store.scan(DECISION_OUTCOMES, [day]).collect()
    daily = (
        strategy_summary(outcomes, ["strategy_id", "trade_date"])
        .join(
            outcomes.group_by("strategy_id").agg(as_of_ts=pl.col("as_of_ts").max()),
            on="strategy_id",
        )
        .with_columns(strategy_day_id=natural_id(pl.col("strategy_id"), day.isoformat()))
    )
    written = store.write_partition(STRATEGY_DAILY, daily, day)
    with pulsar.client() as client:
        publish_outbound(client, STRATEGY_PERFORMANCE, daily)
    return MaterializeResult(
        metadata={
            **write_metadata(written, daily),
            "by_strategy": MetadataValue.md(markdown_table(daily.select(_PREVIEW))),
            "published_to": STRATEGY_PERFORMANCE.topic,
        },
        check_results=[_identity_check(_SUMMARY_CHECK, daily, _SUMMARY_IDENTITY)],
    )


STRATEGY_WINDOW_INPUT = _window(DECISION_OUTCOMES)


@attribution_asset(STRATEGY_WINDOW, [STRATEGY_WINDOW_INPUT], checks=[_SUMMARY_CHECK])
def attribution_strategy_window(
    context: AssetExecutionContext, lake: LakeResource
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    outcomes = STRATEGY_WINDOW_INPUT.read(lake.lake(), context.partition_key)
    window = (
        strategy_summary(outcomes, ["strategy_id"])
        .join(strategy_skill(outcomes), on="strategy_id", how="left")
        .join(
            outcomes.group_by("strategy_id").agg(
                window_start=pl.col("trade_date").min(), n_days=pl.col("trade_date").n_unique()
            ),
            on="strategy_id",
        )
        .with_columns(window_end=pl.lit(day), trade_date=pl.lit(day))
    )
    written = lake.lake().write_partition(STRATEGY_WINDOW, window, day)
    skill = window.select(
        "strategy_id", "n_days", "skill", "skill_ci_low", "skill_ci_high", "net_alpha_bps"
    ).sort("skill", descending=True)
    return MaterializeResult(
        metadata={
            **write_metadata(written, window),
            "skill": MetadataValue.md(markdown_table(skill)),
        },
        check_results=[_identity_check(_SUMMARY_CHECK, window, _SUMMARY_IDENTITY)],
    )


@attribution_asset(
    SECURITY_RETURNS,
    [LakeInput(QUOTES), LakeInput(BENCHMARK_WEIGHTS.table), LakeInput(MARKET_TRADES)],
)
def attribution_security_returns(
    context: AssetExecutionContext, lake: LakeResource
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    returns = security_returns(
        store.scan(QUOTES, [day]),
        store.scan(BENCHMARK_WEIGHTS.table, [day]),
        store.scan(MARKET_TRADES, [day]),
    )
    written = store.write_partition(SECURITY_RETURNS, returns, day)
    return MaterializeResult(metadata=write_metadata(written, returns))


_EFFECTS_SUM = pl.col("total").sum().over("portfolio_id", "method") - pl.col("excess_return")
_BRINSON_CHECK = ("brinson_identity", "Σ allocation + selection + interaction = Rp − Rb")


@attribution_asset(
    BRINSON_DAILY,
    [
        LakeInput(PORTFOLIO_POSITION_SNAPSHOT.table),
        LakeInput(PORTFOLIO_PERFORMANCE.table),
        LakeInput(SECURITY_RETURNS),
    ],
    checks=[_BRINSON_CHECK],
    publishes=PERFORMANCE_ATTRIBUTION,
)
def attribution_brinson_daily(
    context: AssetExecutionContext,
    lake: LakeResource,
    attribution: AttributionConfig,
    pulsar: PulsarResource,
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    segments = sector_segments(
        store.scan(PORTFOLIO_POSITION_SNAPSHOT.table, [day]),
        store.scan(PORTFOLIO_PERFORMANCE.table, [day]),
        store.scan(SECURITY_RETURNS, [day]).collect(),
    )
    daily = brinson_daily(segments, interaction=attribution.brinson_interaction)
    written = store.write_partition(BRINSON_DAILY, daily, day)
    summary = portfolio_attribution_events(daily).with_columns(as_of_ts=session_close_ts(day))
    with pulsar.client() as client:
        publish_outbound(client, PERFORMANCE_ATTRIBUTION, summary)
    return MaterializeResult(
        metadata={
            **write_metadata(written, daily),
            "by_portfolio": MetadataValue.md(markdown_table(summary.drop("attribution_id"))),
            "published_to": PERFORMANCE_ATTRIBUTION.topic,
        },
        check_results=[_identity_check(_BRINSON_CHECK, daily, _EFFECTS_SUM)],
    )


def portfolio_attribution_events(daily: pl.DataFrame) -> pl.DataFrame:
    """One PerformanceAttributionEvent per portfolio, day and method: the effects summed over
    sectors, with the period's returns."""
    return (
        daily.group_by("trade_date", "portfolio_id", "benchmark_id", "method")
        .agg(
            pl.col("allocation", "selection", "interaction").sum(),
            pl.col("portfolio_return", "benchmark_return", "excess_return", "nav_return").first(),
            pl.col("trading_effect").first(),
        )
        .with_columns(
            attribution_id=natural_id(
                pl.col("portfolio_id"), pl.col("trade_date").cast(pl.String), pl.col("method")
            ),
        )
        .sort("portfolio_id", "method")
    )


BRINSON_WINDOW_INPUT = _window(BRINSON_DAILY)
_LINKED_SUM = pl.col("total").sum().over("portfolio_id", "method", "linking_method") - pl.col(
    "excess_return"
)
_LINKED_CHECK = ("linked_identity", "Σ linked effects = Π(1 + rp) − Π(1 + rb), every method")


@attribution_asset(BRINSON_LINKED, [BRINSON_WINDOW_INPUT], checks=[_LINKED_CHECK])
def attribution_brinson_linked(
    context: AssetExecutionContext, lake: LakeResource
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    daily = BRINSON_WINDOW_INPUT.read(lake.lake(), context.partition_key)
    linked = _typed(
        BRINSON_LINKED, brinson_linked(daily, linking_methods=LINKING_METHODS, window_end=day)
    )
    written = lake.lake().write_partition(BRINSON_LINKED, linked, day)
    carino = linked.filter(pl.col("method") == "BF", pl.col("linking_method") == "carino")
    return MaterializeResult(
        metadata={
            **write_metadata(written, linked),
            "bf_carino": MetadataValue.md(
                markdown_table(
                    carino.select(
                        "portfolio_id", "segment", "allocation", "selection", "interaction", "total"
                    ),
                    60,
                )
            ),
        },
        check_results=[_identity_check(_LINKED_CHECK, linked, _LINKED_SUM)],
    )


STRATEGY_DAYS_INPUT = _window(STRATEGY_DAILY)


@attribution_asset(
    RISK_METRICS, [BRINSON_WINDOW_INPUT, STRATEGY_DAYS_INPUT], publishes=PERFORMANCE_REPORT
)
def attribution_risk_metrics(
    context: AssetExecutionContext,
    lake: LakeResource,
    attribution: AttributionConfig,
    pulsar: PulsarResource,
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = lake.lake()
    portfolios = (
        BRINSON_WINDOW_INPUT.read(store, context.partition_key)
        .group_by("trade_date", "portfolio_id")
        .agg(pl.col("nav_return", "benchmark_return").first())
    )
    strategies = STRATEGY_DAYS_INPUT.read(store, context.partition_key)
    metrics = _typed(
        RISK_METRICS,
        window_risk_metrics(
            portfolios, strategies, window_end=day, annual_rate=attribution.risk_free_rate
        ),
    )
    written = store.write_partition(RISK_METRICS, metrics, day)
    report = metrics.with_columns(
        report_id=natural_id(pl.col("entity_type"), pl.col("entity_id"), day.isoformat()),
        as_of_ts=session_close_ts(day),
    )
    with pulsar.client() as client:
        publish_outbound(client, PERFORMANCE_REPORT, report)
    return MaterializeResult(
        metadata={
            **write_metadata(written, metrics),
            "published_to": PERFORMANCE_REPORT.topic,
        }
    )


FACTOR_RETURNS_INPUT = LakeInput(
    SECURITY_RETURNS, days_before=DEFAULT_WINDOW_DAYS + VOLATILITY_DAYS - 1, with_day=True
)
_FACTOR_SUM = pl.col("contribution").sum().over("scope", "entity_id") - pl.col("total")
_FACTOR_CHECK = (
    "factor_identity",
    "Σr = T·α + Σ β·Σf per portfolio; Σ contributions + residual = excess cost per strategy",
)


@attribution_asset(
    FACTOR,
    [FACTOR_RETURNS_INPUT, BRINSON_WINDOW_INPUT, STRATEGY_WINDOW_INPUT],
    checks=[_FACTOR_CHECK],
)
def attribution_factor(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    store = lake.lake()
    key = context.partition_key
    table = _typed(
        FACTOR,
        factor_decomposition(
            FACTOR_RETURNS_INPUT.read(store, key),
            BRINSON_WINDOW_INPUT.read(store, key),
            STRATEGY_WINDOW_INPUT.read(store, key),
            window=BRINSON_WINDOW_INPUT.days(key),
        ),
    )
    written = store.write_partition(FACTOR, table, partition_date(key))
    exposures = (
        table.filter(pl.col("scope") == "PORTFOLIO_RETURN").pivot(
            on="factor", index="entity_id", values="exposure"
        )
        if table.height
        else table
    )
    return MaterializeResult(
        metadata={
            **write_metadata(written, table),
            "portfolio_exposures": MetadataValue.md(markdown_table(exposures)),
        },
        check_results=[_identity_check(_FACTOR_CHECK, table, _FACTOR_SUM)],
    )


attribution_assets = [
    attribution_factor,
    attribution_decision_outcomes,
    attribution_strategy_daily,
    attribution_strategy_window,
    attribution_security_returns,
    attribution_brinson_daily,
    attribution_brinson_linked,
    attribution_risk_metrics,
]
