"""Training datasets: one row per decision (decision quality) and one per parent order (execution
cost), point-in-time features, labels, quality gate, versions and time-ordered splits.

Rows whose data break the dataset's contract (a feature group available at or after the row's
time, a missing label or key feature) go to `ml/dataset_quarantine` with the reason; a version is
written only from clean rows, and the `clean_rate` check fails below 99%.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass

import polars as pl

from analytics_platform.calendar import session_bounds
from analytics_platform.ml import features as f
from analytics_platform.ml.labels import outcome_label, outcome_vs_expectation_bps
from analytics_platform.timeseries import Frame, quote_book

DATASETS = ("decision", "cost")
MIN_CLEAN_RATE = 0.99
TREND_FLAT = 0.0025  # |close-to-close return| below this: FLAT
SPLIT_SHARES = (0.6, 0.2, 0.2)  # train, validation, test, by trading day


@dataclass(frozen=True)
class Sources:
    """One day's inputs (frames or lazy frames), and the previous days' security returns."""

    quotes: Frame
    market_trades: Frame
    book_snapshots: Frame
    sentiment: Frame
    technical_indicators: Frame
    positions: Frame
    risk_violations: Frame
    security_history: pl.DataFrame  # trade_date, symbol, security_return, volume (earlier days)


def point_in_time_features(rows: pl.DataFrame, sources: Sources) -> pl.DataFrame:
    """`rows` (row_id, symbol, trade_date, portfolio_id, at) with every feature group."""
    book = quote_book(sources.quotes)
    history = sources.security_history.join(
        session_bounds(sources.security_history["trade_date"]).select("trade_date", "close_ts"),
        on="trade_date",
    )
    position = f.position_features(rows, sources.positions)
    return (
        pl.concat(
            [
                rows,
                f.quote_features(rows, book),
                f.book_features(rows, sources.book_snapshots),
                f.volatility_features(rows, book),
                f.flow_features(rows, sources.market_trades, book),
                f.sentiment_features(rows, sources.sentiment),
                f.technical_features(rows, sources.technical_indicators),
                position,
                f.risk_features(rows, position, history),
                f.violation_features(rows, sources.risk_violations),
            ],
            how="horizontal",
        )
        .join(
            session_bounds(rows["trade_date"]).select("trade_date", "open_ts"),
            on="trade_date",
            how="left",
            maintain_order="left",
        )
        .with_columns(minutes_since_open=(pl.col("at") - pl.col("open_ts")).dt.total_seconds() / 60)
        .drop("open_ts")
    )


def as_of_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.endswith("_as_of_ts")]


def decision_rows(decisions: Frame) -> pl.DataFrame:
    return (
        decisions.lazy()
        .select(
            row_id="decision_id",
            symbol="symbol",
            trade_date="trade_date",
            portfolio_id="portfolio_id",
            at="ts",
        )
        .collect()
        .sort("at", "row_id")
    )


def order_rows(orders: Frame) -> pl.DataFrame:
    return (
        orders.lazy()
        .select(
            row_id="order_id",
            symbol="symbol",
            trade_date="trade_date",
            portfolio_id="portfolio_id",
            at="arrival_ts",
        )
        .collect()
        .sort("at", "row_id")
    )


def _context_labels(frame: pl.DataFrame, returns: pl.DataFrame) -> pl.DataFrame:
    """Volatility regime and liquidity terciles within the day, and the symbol's trend that day
    (close to close; a label, so it may look past the row's time)."""

    def tercile(column: str, names: tuple[str, str, str]) -> pl.Expr:
        rank = pl.col(column).rank("average").over("trade_date") / pl.col(column).count().over(
            "trade_date"
        )
        return (
            pl.when(pl.col(column).is_null())
            .then(None)
            .when(rank <= 1 / 3)
            .then(pl.lit(names[0]))
            .when(rank <= 2 / 3)
            .then(pl.lit(names[1]))
            .otherwise(pl.lit(names[2]))
        )

    trend = returns.select(
        "trade_date",
        "symbol",
        trend_label=pl.when(pl.col("security_return") > TREND_FLAT)
        .then(pl.lit("UP"))
        .when(pl.col("security_return") < -TREND_FLAT)
        .then(pl.lit("DOWN"))
        .when(pl.col("security_return").is_not_null())
        .then(pl.lit("FLAT")),
    )
    return frame.with_columns(
        volatility_regime=tercile("realized_vol_30m_bps", ("LOW", "MEDIUM", "HIGH")),
        liquidity_tercile=tercile("adv", ("ILLIQUID", "MEDIUM", "LIQUID")),
    ).join(trend, on=["trade_date", "symbol"], how="left", maintain_order="left")


def decision_dataset(
    decisions: Frame, outcomes: Frame, sources: Sources, returns: pl.DataFrame
) -> pl.DataFrame:
    """One row per decision: its context, point-in-time features at the decision, labels."""
    rows = decision_rows(decisions)
    context = (
        decisions.lazy()
        .select(
            row_id="decision_id",
            strategy_id="strategy_id",
            side="side",
            target_quantity="target_quantity",
            signal_strength="signal_strength",
            confidence="confidence",
            expected_alpha_bps="expected_alpha_bps",
            horizon_s="horizon_s",
        )
        .collect()
    )
    labels = (
        outcomes.lazy()
        .select(
            row_id="decision_id",
            net_alpha_bps="net_alpha_bps",
            expected_cost_bps="expected_cost_bps",
            label_end_ts="horizon_ts",
        )
        .collect()
    )
    frame = (
        point_in_time_features(rows, sources)
        .join(context, on="row_id", maintain_order="left")
        .join(labels, on="row_id", how="left", maintain_order="left")
        .with_columns(size_vs_adv=pl.col("target_quantity") / pl.col("adv"))
        .with_columns(
            outcome_vs_expectation_bps=outcome_vs_expectation_bps(
                pl.col("net_alpha_bps"), pl.col("expected_alpha_bps"), pl.col("expected_cost_bps")
            )
        )
        .with_columns(outcome_label=outcome_label(pl.col("outcome_vs_expectation_bps")))
    )
    return _context_labels(frame, returns)


def cost_dataset(
    orders: Frame, order_tca: Frame, assessments: Frame, sources: Sources, returns: pl.DataFrame
) -> pl.DataFrame:
    """One row per parent order: execution context at arrival, point-in-time features, and the
    realised cost against the pre-trade estimate."""
    rows = order_rows(orders)
    context = (
        orders.lazy()
        .select(
            row_id="order_id",
            decision_id="decision_id",
            strategy_id="strategy_id",
            side="side",
            quantity="quantity",
            algo="algo",
            broker="broker",
            urgency="urgency",
            order_type="order_type",
            label_end_ts="end_ts",
        )
        .collect()
    )
    realised = (
        order_tca.lazy()
        # An order that never filled has no execution cost to learn from (not a dirty row).
        .filter(pl.col("executed_quantity") > 0)
        .select(
            row_id="order_id",
            fill_rate="fill_rate",
            arrival_cost_bps="arrival_cost_bps",
            is_total_bps="is_total_bps",
        )
        .collect()
    )
    expected = (
        assessments.lazy()
        .select(
            row_id="order_id",
            expected_cost_bps="expected_cost_bps",
            expected_impact_bps="expected_impact_bps",
            expected_as_of_ts="ts",
        )
        .collect()
        .unique("row_id", keep="last")
    )
    cost_vs = pl.col("arrival_cost_bps") - pl.col("expected_cost_bps")
    frame = (
        point_in_time_features(rows.join(realised.select("row_id"), on="row_id"), sources)
        .join(context, on="row_id", maintain_order="left")
        .join(realised, on="row_id", how="left", maintain_order="left")
        .join(expected, on="row_id", how="left", maintain_order="left")
        .with_columns(
            size_vs_adv=pl.col("quantity") / pl.col("adv"),
            cost_vs_estimate_bps=cost_vs,
            execution_label=pl.when(cost_vs > 10)
            .then(pl.lit("WORSE"))
            .when(cost_vs < -10)
            .then(pl.lit("BETTER"))
            .when(cost_vs.is_not_null())
            .then(pl.lit("AS_EXPECTED")),
        )
    )
    return _context_labels(frame, returns)


REQUIRED = {
    "decision": ("outcome_vs_expectation_bps", "quote_as_of_ts", "label_end_ts"),
    "cost": ("arrival_cost_bps", "expected_cost_bps", "quote_as_of_ts", "label_end_ts"),
}


def quality_split(frame: pl.DataFrame, dataset: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(clean rows, quarantined rows with `reason`). A row is clean when every feature group's
    as-of time is strictly before the row's time and its label and key features are present."""
    reasons = [
        pl.when(pl.col(c) >= pl.col("at")).then(pl.lit(f"{c} not before the row's time"))
        for c in as_of_columns(frame)
    ] + [pl.when(pl.col(c).is_null()).then(pl.lit(f"{c} missing")) for c in REQUIRED[dataset]]
    checked = frame.with_columns(reason=pl.concat_list(reasons).list.drop_nulls().list.join("; "))
    bad = pl.col("reason") != ""
    return checked.filter(~bad).drop("reason"), checked.filter(bad)


def clean_rate(clean: pl.DataFrame, quarantined: pl.DataFrame) -> float:
    total = clean.height + quarantined.height
    return clean.height / total if total else 1.0


def assign_splits(
    frame: pl.DataFrame,
    *,
    shares: tuple[float, float, float] = SPLIT_SHARES,
    embargo: dt.timedelta = dt.timedelta(minutes=30),
) -> pl.DataFrame:
    """Time-ordered train / validation / test blocks of whole trading days, purged and embargoed
    (López de Prado, AFML ch. 7): a row whose label window [at, label_end_ts] reaches into a
    later block is `purged`; a row within `embargo` after the start of its block, whose features
    may still carry the previous block's labels, is `embargoed`."""
    days = frame["trade_date"].unique().sort().to_list()
    n = len(days)
    n_train = max(1, round(shares[0] * n)) if n else 0
    n_val = max(1, round(shares[1] * n)) if n > 2 else 0
    names = (["train"] * n_train + ["validation"] * n_val) + ["test"] * (n - n_train - n_val)
    blocks = pl.DataFrame(
        {"trade_date": days, "split": names[:n]}, schema_overrides={"trade_date": pl.Date}
    )
    starts = (
        frame.join(blocks, on="trade_date")
        .group_by("split")
        .agg(block_start=pl.col("at").min())
        .sort("block_start")
        .with_columns(
            next_start=pl.col("block_start").shift(-1),
            first_block=pl.int_range(pl.len()) == 0,
        )
    )
    labelled_past_block = (pl.col("label_end_ts") >= pl.col("next_start")).fill_null(False)
    in_embargo = (
        ~pl.col("first_block") & (pl.col("at") < pl.col("block_start") + embargo)
    ).fill_null(False)
    return (
        frame.join(blocks, on="trade_date", how="left", maintain_order="left")
        .join(starts, on="split", how="left", maintain_order="left")
        .with_columns(
            split=pl.when(labelled_past_block)
            .then(pl.lit("purged"))
            .when(in_embargo)
            .then(pl.lit("embargoed"))
            .otherwise(pl.col("split"))
        )
        .drop("block_start", "next_start", "first_block")
    )


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def to_ipc(frame: pl.DataFrame) -> bytes:
    """Arrow IPC bytes of `frame` in its canonical order: the same rows give the same bytes."""
    buffer = io.BytesIO()
    frame.sort("trade_date", "at", "row_id").write_ipc(buffer, compression="uncompressed")
    return buffer.getvalue()


def version_id(spec: dict) -> str:
    """A dataset version: its window, code version and source Delta versions, hashed."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def dataset_card(frame: pl.DataFrame, spec: dict, ipc_hash: str, dataset: str) -> dict:
    label = "outcome_label" if dataset == "decision" else "execution_label"
    balance = (
        frame.group_by("trade_date", label)
        .len()
        .sort("trade_date", label)
        .with_columns(pl.col("trade_date").cast(pl.String))
    )
    splits = (
        frame.group_by("split")
        .agg(
            rows=pl.len(), first_day=pl.col("trade_date").min(), last_day=pl.col("trade_date").max()
        )
        .sort("first_day", "split")
        .with_columns(pl.col("first_day", "last_day").cast(pl.String))
    )
    return {
        "dataset": dataset,
        "version": version_id(spec),
        "spec": spec,
        "rows": frame.height,
        "schema": {name: str(dtype) for name, dtype in frame.schema.items()},
        "label": label,
        "label_balance": balance.to_dicts(),
        "splits": splits.to_dicts(),
        "content_hash": ipc_hash,
        "point_in_time": "every <group>_as_of_ts is strictly before the row's `at`",
    }


def card_markdown(card: dict) -> str:
    lines = [
        f"# Dataset {card['dataset']} {card['version']}",
        "",
        f"- window: {card['spec']['window_start']} .. {card['spec']['window_end']}",
        f"- rows: {card['rows']:,}",
        f"- code version: {card['spec']['code_version']}",
        f"- content hash (Arrow IPC, sha256): `{card['content_hash']}`",
        f"- label: `{card['label']}`; point in time: {card['point_in_time']}",
        "",
        "## Sources (Delta versions)",
        "",
        *[f"- `{t}`: v{v}" for t, v in sorted(card["spec"]["sources"].items())],
        "",
        "## Splits",
        "",
        "| split | rows | first day | last day |",
        "|---|---|---|---|",
        *[
            f"| {s['split']} | {s['rows']} | {s['first_day']} | {s['last_day']} |"
            for s in card["splits"]
        ],
        "",
        "## Columns",
        "",
        *[f"- `{n}`: {t}" for n, t in card["schema"].items()],
    ]
    return "\n".join(lines) + "\n"
