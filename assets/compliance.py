"""Best-execution compliance: the day's exceptions (Delta), one asset check per rule."""

import polars as pl
from dagster import (
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
)

from analytics_platform.compliance import (
    EXCEPTIONS,
    RULES,
    daily_exceptions,
    exceptions_report,
    rule_outcomes,
)
from analytics_platform.events.contracts import RISK_VIOLATION
from analytics_platform.tca.effects import ENTITIES
from analytics_platform.tca.schemas import EFFECTS, FILL_TCA, ORDER_TCA, PRETRADE
from assets.inputs import lake_table_asset
from assets.metadata import check_result, code_version, lake_key, write_metadata
from assets.partitions import partition_date, trading_day_partitions
from resources.compliance import ComplianceConfig
from resources.lake import LakeResource

GROUP = "compliance"
INPUTS = [
    FILL_TCA.table,
    ORDER_TCA.table,
    PRETRADE.table,
    RISK_VIOLATION.spec.table,
    *(EFFECTS[entity].table for entity in ENTITIES),
]


@lake_table_asset(
    EXCEPTIONS,
    INPUTS,
    group=GROUP,
    code_version=code_version("analytics_platform.compliance"),
    kinds={"deltalake", "polars"},
    check_specs=[
        AssetCheckSpec(
            rule,
            asset=lake_key(EXCEPTIONS.table),
            description=f"{meaning}: none on the day (warns)",
            blocking=False,
            partitions_def=trading_day_partitions,
        )
        for rule, meaning in RULES.items()
    ],
)
def compliance_exceptions(
    context: AssetExecutionContext, lake: LakeResource, compliance: ComplianceConfig
) -> MaterializeResult:
    """Trade-throughs, costs beyond the pre-trade estimate, trading after a risk violation,
    persistently worse venues / algos / brokers (analytics_platform/compliance.py)."""
    day = partition_date(context.partition_key)
    store = lake.lake()
    found = daily_exceptions(
        fills=store.scan(FILL_TCA, [day]).collect(),
        orders=store.scan(ORDER_TCA, [day]).collect(),
        pretrade=store.scan(PRETRADE, [day]).collect(),
        violations=store.scan(RISK_VIOLATION.table, [day]).collect(),
        effects={e: store.scan(EFFECTS[e], [day]).collect() for e in ENTITIES},
        trade_date=day,
        nbbo_tolerance_bps=compliance.nbbo_tolerance_bps,
        cost_k_sigma=compliance.cost_k_sigma,
    )
    written = store.write_partition(EXCEPTIONS, found, day)
    counts = {rule: found.filter(pl.col("rule") == rule).height for rule in RULES}
    return MaterializeResult(
        metadata={
            **write_metadata(written, found),
            **{f"exceptions_{rule}": n for rule, n in counts.items()},
            "report": MetadataValue.md(exceptions_report(found, day)),
        },
        check_results=[
            check_result(outcome, AssetCheckSeverity.WARN) for outcome in rule_outcomes(found)
        ],
    )


compliance_assets = [compliance_exceptions]
