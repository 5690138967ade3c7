"""`analytics-platform audit`: the real CLI on a tiny world's day, from one order back to its
events and forward to the datasets and the model trained on it."""

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from analytics_platform.audit import _seconds, safe_name
from analytics_platform.contracts import ColumnSpec, TableContract, trade_date_column
from analytics_platform.events.contracts import PARENT_ORDER_SUBMITTED
from analytics_platform.lake import RUN_ID_KEY, Lake
from tests.test_cli import _platform

# 40 orders: enough filled orders for the cost model's first fit (it needs 30), so a model is
# registered in MLflow on the day.
WORLD = ("--symbols", "4", "--quotes", "20000", "--orders", "40")
DAY = "2026-11-20"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("audit") / "var"
    proc = _platform(home, "run-day", "--date", DAY, *WORLD)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return home


@pytest.fixture(scope="module")
def run_ids(home) -> set[str]:
    from dagster import DagsterInstance  # noqa: PLC0415

    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        return {r.run_id for r in instance.get_runs()}


@pytest.fixture(scope="module")
def order_audit(home) -> tuple[dict, str]:
    """`audit order` with no --json: the chain printed, the JSON under $ANALYTICS_HOME/audits."""
    order_id = _filled_order(home)
    proc = _platform(home, "audit", "order", order_id)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = home / "audits" / f"order-{safe_name(order_id)}.json"
    return json.loads(written.read_text()), proc.stdout


def _audit(home: Path, kind: str, identifier: str, out: Path) -> dict:
    proc = _platform(home, "audit", kind, identifier, "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text())


def _filled_order(home: Path) -> str:
    lake = Lake(str(home / "lake"))
    executed = lake.scan(PARENT_ORDER_SUBMITTED.table).collect()
    fills = pl.read_delta(str(home / "lake" / "raw" / "executions"))
    return executed.join(fills.select("order_id").unique(), on="order_id").sort("order_id")[
        "order_id"
    ][0]


def _commits_ok(step: dict, run_ids: set[str]) -> None:
    assert step["commits"], step["table"]
    for commit in step["commits"]:
        assert isinstance(commit["version"], int) and commit["timestamp"]
        assert commit["dagster_run_id"] in run_ids, commit


def test_audit_order_chain(order_audit, run_ids):
    chain, _ = order_audit
    order_id = chain["id"]
    assert chain["audit"] == "order" and chain["id"] == order_id

    decision = chain["decision"]
    assert decision["topic"] == "persistent://analytics/trading-decision/trading-decision"
    assert decision["rows"][0]["message_id"] and decision["rows"][0]["decision_id"]
    assert chain["order"]["rows"][0]["message_id"]
    fills = chain["fills"]
    assert fills["topic"].endswith("/trade-execution/trade-executed") and fills["rows"]
    assert all(row["message_id"] for row in fills["rows"])
    for step in (decision, chain["order"], fills, chain["quotes"], chain["label"]):
        _commits_ok(step, run_ids)
    for step in chain["tca"].values():
        _commits_ok(step, run_ids)
        assert step["rows"] and all(r["order_id"] == order_id for r in step["rows"])

    # M(t) of every fill: the quote found is the one tca/fills recorded, strictly before t and
    # no older than the maximum quote age, shown among its neighbours.
    quotes = chain["quotes"]["fills"]
    assert [q["exec_id"] for q in quotes] == [r["exec_id"] for r in fills["rows"]]
    max_age_ms = _seconds(chain["quotes"]["max_quote_age"]) * 1000
    for q in quotes:
        assert q["matches_tca"], q
        used = q["quote_used"]
        if used is not None:
            assert used["ts"] < q["at"] and 0 < used["age_ms"] <= max_age_ms
            assert used["bid_px"] == q["tca_fills"]["bid_at_fill"]
            assert sum(row["used"] for row in q["window"]) == 1

    label = chain["label"]["rows"][0]
    assert label["row_id"] == order_id and label["execution_label"]
    (version,) = chain["dataset_versions"]
    assert version["dataset"] == "cost" and version["window_end"] == DAY
    assert version["split"] and "Arrow IPC" in version["found_in"]
    _commits_ok(version, run_ids)

    (model,) = chain["models"]
    assert model["registered_version"] == "1" and model["bundle_version"]
    assert model["training_table"] == "ml/cost_dataset"
    assert model["training_delta_version"] is not None and "holds the row" in model["evidence"]
    assert model["dagster_run_id"] in run_ids and model["role"] == "train"

    runs = chain["dagster_runs"]
    assert runs and set(runs) <= run_ids
    (run,) = runs.values()
    assert run["status"] == "SUCCESS" and run["partition"] == DAY and run["start"] and run["end"]
    assert run["materialized"]["tca/fills"] == chain["tca"]["fills"]["commits"][0]["version"]


def test_audit_prints_the_chain(order_audit):
    chain, printed = order_audit
    assert f"Order {chain['id']}" in printed
    for expected in ("decision", "raw/executions v", "M(t): quote", "tca/orders v", "label",
                     "dataset    cost", "model      execution-cost v1", "Dagster runs:",
                     "Audit written to"):  # fmt: skip
        assert expected in printed, expected


def test_audit_decision_dataset_and_model(home, order_audit, run_ids, tmp_path):
    order, _ = order_audit
    order_id = order["id"]
    decision_id = order["decision"]["rows"][0]["decision_id"]

    decision = _audit(home, "decision", decision_id, tmp_path / "decision.json")
    assert decision["decision"]["rows"][0]["message_id"]
    assert decision["outcome"]["rows"] and decision["label"]["rows"][0]["outcome_label"]
    _commits_ok(decision["label"], run_ids)
    assert [v["dataset"] for v in decision["dataset_versions"]] == ["decision"]
    assert [o["id"] for o in decision["orders"]] == [order_id]

    version_id = order["dataset_versions"][0]["dataset_version"]
    dataset = _audit(home, "dataset", version_id, tmp_path / "dataset.json")
    assert dataset["file"]["exists"] and dataset["file"]["matches_content_hash"]
    sources = {s["table"]: s for s in dataset["source_commits"]}
    assert sources["ml/cost_dataset"]["dagster_run_id"] in run_ids
    assert [m["registered_version"] for m in dataset["models"]] == ["1"]

    for identifier in ("1", order["models"][0]["bundle_version"]):
        model = _audit(home, "model", identifier, tmp_path / "model.json")
        assert model["model"]["registered_version"] == "1"
        assert model["training"]["rows"] > 0
        assert model["training"]["commit"]["dagster_run_id"] in run_ids
        assert [v["dataset_version"] for v in model["dataset_versions"]] == [version_id]
        assert set(model["dagster_runs"]) <= run_ids and model["dagster_runs"]


@pytest.mark.parametrize(("kind", "identifier"), [("order", "O-NOPE"), ("model", "42")])
def test_audit_unknown_id_is_an_error_naming_it(home, kind, identifier):
    proc = _platform(home, "audit", kind, identifier)
    assert proc.returncode == 2
    assert f"error: unknown {kind}" in proc.stderr and repr(identifier) in proc.stderr


def test_unknown_decision_and_dataset_ids_name_the_id(home):
    """In-process (the CLI path is the one above): the same error for the other kinds."""
    from analytics_platform.audit import Auditor, UnknownId  # noqa: PLC0415

    auditor = Auditor(Lake(str(home / "lake")))
    for kind, identifier in (("decision", "D-NOPE"), ("dataset", "0000")):
        with pytest.raises(UnknownId, match=f"unknown {kind}.*'{identifier}'"):
            auditor.audit(kind, identifier)


def test_lake_commits_record_the_run_and_find_the_commit_of_a_row(tmp_path):
    """Unit: the lake's own commit metadata is merged into every write; row_commits names the
    commit whose file holds the row, not a later commit of another partition."""
    contract = TableContract(
        "t/rows",
        "rows",
        [ColumnSpec("id", pl.String, "id"), trade_date_column()],
        ["id"],
    )
    lake = Lake(str(tmp_path), commit_metadata={RUN_ID_KEY: "run-1"})
    d1, d2 = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
    lake.write_partition(contract, pl.DataFrame({"id": ["a"], "trade_date": [d1]}), d1)
    Lake(str(tmp_path), commit_metadata={RUN_ID_KEY: "run-2"}).write_partition(
        contract, pl.DataFrame({"id": ["b"], "trade_date": [d2]}), d2
    )
    lake.upsert(contract, pl.DataFrame({"id": ["c"], "trade_date": [d1]}))
    (first,) = lake.row_commits(contract, d1, pl.col("id") == "a")
    assert first["version"] == 0 and first[RUN_ID_KEY] == "run-1" and first["partition"] == str(d1)
    (second,) = lake.row_commits(contract, d2, pl.col("id") == "b")
    assert second["version"] == 1 and second[RUN_ID_KEY] == "run-2"
    (merged,) = lake.row_commits(contract, d1, pl.col("id") == "c")
    assert merged["version"] == 2 and merged[RUN_ID_KEY] == "run-1"
    assert lake.row_commits(contract, d1, pl.col("id") == "zzz") == []


def test_column_lineage_is_declared_on_real_columns_and_inputs():
    """tca/fills and tca/orders declare each column's inputs: every column exists in its
    contract, every input column in an upstream table the asset depends on."""
    from analytics_platform.definitions import defs  # noqa: PLC0415
    from analytics_platform.tca.schemas import COLUMN_LINEAGE, FILL_TCA, ORDER_TCA  # noqa: PLC0415
    from assets.metadata import lake_key  # noqa: PLC0415

    graph = defs.resolve_asset_graph()
    contracts = {FILL_TCA.table: FILL_TCA, ORDER_TCA.table: ORDER_TCA}
    for table, declared in COLUMN_LINEAGE.items():
        assert set(declared) == set(contracts[table].column_names), table
        parents = graph.get(lake_key(table)).parent_keys
        for inputs in declared.values():
            for upstream, column in inputs:
                assert lake_key(upstream) in parents, (table, upstream)
                schema = graph.get(lake_key(upstream)).metadata["dagster/column_schema"]
                assert column in {c.name for c in schema.columns}, (upstream, column)


def test_tca_fills_materialization_carries_column_lineage(home):
    from dagster import AssetKey, DagsterInstance  # noqa: PLC0415

    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        event = instance.get_latest_materialization_event(AssetKey(["tca", "fills"]))
    lineage = event.asset_materialization.metadata["dagster/column_lineage"].value
    deps = {(d.asset_key.to_user_string(), d.column_name)
            for d in lineage.deps_by_column["mid_at_fill"]}  # fmt: skip
    assert deps == {("raw/quotes", "bid_px"), ("raw/quotes", "ask_px"), ("raw/quotes", "ts"),
                    ("raw/executions", "ts")}  # fmt: skip
