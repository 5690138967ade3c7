"""Training datasets: features are point in time (asserted per row, and data after a row's time
cannot change its features), the quality gate, purged/embargoed splits, reproducible versions."""

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_platform.attribution.decisions import decision_outcomes
from analytics_platform.attribution.portfolio import security_returns
from analytics_platform.calendar import session, trading_days
from analytics_platform.lake import Lake
from analytics_platform.marketdata.simulator import SimulationConfig, simulate_day
from analytics_platform.ml.datasets import (
    Sources,
    as_of_columns,
    assign_splits,
    cost_dataset,
    decision_dataset,
    quality_split,
)
from analytics_platform.ml.versions import TRAINING_DATASET, build_version
from analytics_platform.tca import order_tca, quote_book

CFG = SimulationConfig(n_symbols=8, n_quotes=60_000, n_orders=150, seed=3)
LABELS = {
    "net_alpha_bps",
    "expected_cost_bps",
    "label_end_ts",
    "outcome_vs_expectation_bps",
    "outcome_label",
    "volatility_regime",
    "liquidity_tercile",
    "trend_label",
}


@pytest.fixture(scope="module")
def days():
    """Three chained days: the last is the dataset's day, the first two its risk history."""
    chain, opening = [], None
    for day in trading_days(dt.date(2026, 11, 16), dt.date(2026, 11, 20))[-3:]:
        sim = simulate_day(day, CFG, opening)
        opening = sim.closing
        chain.append(sim)
    return chain


def _sources(sim, history: pl.DataFrame, cut: dt.datetime | None = None, shock: bool = False):
    """The day's sources; with `cut`, everything at or after it removed (or, with `shock`,
    scrambled) as if it had not happened yet."""

    def after(frame: pl.DataFrame, ts: str = "ts") -> pl.DataFrame:
        if cut is None:
            return frame
        late = pl.col(ts) >= cut
        if not shock:
            return frame.filter(~late)
        numeric = [c for c, t in frame.schema.items() if t.is_float() and c != ts]
        return frame.with_columns(
            pl.when(late).then(pl.col(c) * 3.7 + 1).otherwise(pl.col(c)) for c in numeric
        )

    return Sources(
        quotes=after(sim.quotes),
        market_trades=after(sim.market_trades),
        book_snapshots=after(sim.book_snapshots),
        sentiment=after(sim.sentiment),
        technical_indicators=after(sim.technical_indicators),
        positions=after(sim.positions, "as_of_ts"),
        risk_violations=after(sim.derived["raw/risk_violations"]),
        security_history=history,
    )


@pytest.fixture(scope="module")
def built(days):
    history = pl.concat(
        [security_returns(quote_book(s.quotes), s.benchmark_weights, s.market_trades) for s in days]
    )
    sim = days[-1]
    book = quote_book(sim.quotes)
    orders = order_tca(sim.orders, sim.executions, book, sim.market_trades)
    assessments = sim.derived["raw/market_impact_assessments"]
    outcomes = decision_outcomes(sim.decisions, orders, book, assessments)
    today = history.filter(pl.col("trade_date") == sim.trade_date)
    past = history.filter(pl.col("trade_date") < sim.trade_date)
    return {
        "sim": sim,
        "past": past,
        "today": today,
        "outcomes": outcomes,
        "decision": decision_dataset(sim.decisions, outcomes, _sources(sim, past), today),
        "cost": cost_dataset(sim.orders, orders, assessments, _sources(sim, past), today),
    }


@pytest.mark.parametrize("name", ["decision", "cost"])
def test_every_feature_group_is_available_strictly_before_the_row(built, name):
    frame = built[name]
    groups = as_of_columns(frame)
    assert {"quote_as_of_ts", "book_as_of_ts", "flow_as_of_ts", "risk_as_of_ts"} <= set(groups)
    for column in groups:
        known = frame.filter(pl.col(column).is_not_null())
        assert (known[column] < known["at"]).all(), column
    assert frame["quote_as_of_ts"].null_count() == 0
    clean, quarantined = quality_split(frame, name)
    assert clean.height / frame.height >= 0.99
    assert quarantined.height == frame.height - clean.height


def _features(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop([c for c in frame.columns if c in LABELS]).sort("row_id")


@settings(max_examples=6, deadline=None)
@given(minute=st.integers(30, 380), shock=st.booleans())
def test_data_after_a_rows_time_cannot_change_its_features(built, minute, shock):
    """Future invariance and the future shock (REFERENCES): remove, or scramble, every input at
    or after a cut; the features of every row before the cut are unchanged."""
    sim = built["sim"]
    cut = session(sim.trade_date).open_utc + dt.timedelta(minutes=minute)
    truncated = decision_dataset(
        sim.decisions,
        built["outcomes"],
        _sources(sim, built["past"], cut=cut, shock=shock),
        built["today"],
    )
    before = pl.col("at") < cut
    want = _features(built["decision"].filter(before))
    have = _features(truncated.filter(before))
    assert want.height > 0
    assert have.equals(want)


def test_a_feature_from_the_rows_own_time_is_quarantined(built):
    frame = built["decision"].with_columns(
        sentiment_as_of_ts=pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.col("at"))
        .otherwise(pl.col("sentiment_as_of_ts"))
    )
    _, bad = quality_split(frame, "decision")
    assert bad.height == 1
    assert bad["reason"][0] == "sentiment_as_of_ts not before the row's time"


def test_splits_are_time_ordered_purged_and_embargoed():
    days = trading_days(dt.date(2026, 11, 2), dt.date(2026, 11, 13))  # 10 days
    base = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)
    rows = []
    for i, day in enumerate(days):
        start = base + dt.timedelta(days=(day - days[0]).days)
        for j, (offset, label_days) in enumerate([(0, 0), (10, 0), (60, 0), (300, 1)]):
            at = start + dt.timedelta(minutes=offset)
            rows.append((f"r{i}-{j}", day, at, at + dt.timedelta(days=label_days, minutes=20)))
    frame = pl.DataFrame(
        rows, schema=["row_id", "trade_date", "at", "label_end_ts"], orient="row"
    ).with_columns(pl.col("at", "label_end_ts").cast(pl.Datetime("ns", "UTC")))
    split = assign_splits(frame, embargo=dt.timedelta(minutes=30))
    by_day = split.group_by("trade_date").agg(pl.col("split").unique()).sort("trade_date")
    assert split["split"].unique().sort().to_list() == [
        "embargoed", "purged", "test", "train", "validation"
    ]  # fmt: skip
    blocks = {s: split.filter(pl.col("split") == s)["at"] for s in ("train", "validation", "test")}
    # Time-ordered, and no kept label window reaches into a later block.
    assert blocks["train"].max() < blocks["validation"].min() < blocks["test"].min()
    for name, later in (("train", "validation"), ("validation", "test")):
        kept = split.filter(pl.col("split") == name)
        assert (kept["label_end_ts"] < blocks[later].min()).all()
    # The row labelled past its block's end (day 6's 300-minute row) is purged; the rows within
    # 30 minutes of a block's start are embargoed.
    assert split.filter(pl.col("row_id") == "r5-3")["split"].item() == "purged"
    assert split.filter(pl.col("row_id") == "r6-0")["split"].item() == "embargoed"
    assert split.filter(pl.col("row_id") == "r6-2")["split"].item() == "validation"
    assert by_day.height == len(days)


def test_a_version_is_reproducible_to_the_byte(tmp_path, built):
    lake = Lake(str(tmp_path / "lake"))
    frame = built["decision"]
    lake.write_partition(TRAINING_DATASET, frame, frame["trade_date"][0])
    days = [frame["trade_date"][0]]
    first = build_version(lake, "decision", days, code_version="c1", sources=[], out_dir=tmp_path)
    data = first.path.read_bytes()
    second = build_version(lake, "decision", days, code_version="c1", sources=[], out_dir=tmp_path)
    assert second.version == first.version and second.path.read_bytes() == data
    assert first.card["rows"] == frame.height
    assert first.card["content_hash"] == second.card["content_hash"]
    assert (first.path.parent / "card.md").read_text().startswith("# Dataset decision")
    loaded = pl.read_ipc(first.path)
    assert loaded.height == frame.height and "split" in loaded.columns
    other = build_version(lake, "decision", days, code_version="c2", sources=[], out_dir=tmp_path)
    assert other.version != first.version  # the code version is part of the version
