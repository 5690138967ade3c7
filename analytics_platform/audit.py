"""Lineage audits: from one order, decision, dataset version or model back to everything behind
it and forward to everything built on it, as one JSON-serialisable chain.

For an order: the decision event and the order and fill events (Pulsar topic, message id), the
Delta commit that wrote each row (version, time, the Dagster run id the lake records in every
commit a run makes), the quotes behind M(t) of each fill (the quote used, as TCA's shared
`quote_book` finds it, checked against `tca/fills`' bid/ask at fill, and its neighbours), the
TCA rows, the labels (`ml/cost_dataset`, `ml/training_dataset`), every dataset version that
contains the row (checked in its Arrow IPC file) and every registered model trained on it (the
model's training table read at the Delta version recorded at registration), and the Dagster runs
behind each commit.

Pure functions over the lake; the Dagster instance and the MLflow registry come in through two
thin adapters (a run lookup and a list of model versions) that the CLI builds, so this module
imports neither.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from analytics_platform.attribution.schemas import DECISION_OUTCOMES
from analytics_platform.contracts import TableContract
from analytics_platform.events.contracts import (
    PARENT_ORDER_SUBMITTED,
    TRADE_EXECUTED,
    TRADING_DECISION,
    EventContract,
)
from analytics_platform.lake import PARTITION_KEY, RUN_ID_KEY, Lake
from analytics_platform.marketdata.schemas import QUOTES
from analytics_platform.ml.registry import (
    DAGSTER_RUN_ID,
    TRAINING_DELTA_VERSION,
    TRAINING_TABLE,
    TRAINING_WINDOW,
)
from analytics_platform.ml.versions import (
    BY_DATASET,
    COST_DATASET,
    DATASET_QUARANTINE,
    DATASET_VERSIONS,
    TRAINING_DATASET,
)
from analytics_platform.tca.schemas import FILL_TCA, ORDER_TCA, PRETRADE
from analytics_platform.timeseries import quote_book

KINDS = ("order", "decision", "dataset", "model")
QUOTE_NEIGHBOURS = 2  # quotes shown either side of the one M(t) used
RunLookup = Callable[[str], dict | None]


class UnknownId(ValueError):
    """The id is not in the lake (or the registry): the CLI answers exit code 2."""


def _json_value(value):
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, float) and not math.isfinite(value):  # NaN and inf are not JSON
        return None
    return value


def to_json(chain: Mapping) -> str:
    def default(value):
        converted = _json_value(value)
        if converted is value:
            return str(value)
        return converted

    return json.dumps(chain, indent=2, default=default, allow_nan=False) + "\n"


def _records(frame: pl.DataFrame) -> list[dict]:
    return [{k: _json_value(v) for k, v in row.items()} for row in frame.iter_rows(named=True)]


def _ms_iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


def commit_summary(table: str, commit: Mapping) -> dict:
    """The parts of a Delta log entry an audit needs: which version, when, what, which run."""
    summary = {
        "table": table,
        "version": commit.get("version"),
        "timestamp": _ms_iso(commit.get("timestamp")),
        "operation": commit.get("operation"),
        "dagster_run_id": commit.get(RUN_ID_KEY),
        "partition": commit.get(PARTITION_KEY),
    }
    if "ingest.topic" in commit:
        summary["ingest_topic"] = commit["ingest.topic"]
        summary["ingest_last_message_id"] = commit.get("ingest.last_message_id")
    return summary


def safe_name(identifier: str) -> str:
    """An id as a file name (ids may hold ':' or '/')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", identifier).strip("_") or "id"


@dataclass
class Auditor:
    """Builds audit chains over one lake, with the Dagster runs and MLflow model versions the
    adapters provide (`runs(run_id)` → a dict or None; `models`: `registry.model_versions`)."""

    lake: Lake
    runs: RunLookup = lambda _run_id: None
    models: list[dict] = field(default_factory=list)
    max_quote_age: str = "60s"
    _run_cache: dict[str, dict | None] = field(default_factory=dict, repr=False)

    # -- helpers -----------------------------------------------------------------------------

    def _find(self, contract: TableContract, where: pl.Expr) -> pl.DataFrame:
        return self.lake.scan(contract).filter(where).collect()

    def _step(
        self,
        contract: TableContract,
        rows: pl.DataFrame,
        where: pl.Expr,
        *,
        event: EventContract | None = None,
    ) -> dict:
        """Rows of one table with the commits that wrote them (per partition)."""
        commits = []
        for day in sorted(rows["trade_date"].unique().to_list()) if rows.height else []:
            commits += [
                commit_summary(contract.table, c)
                for c in self.lake.row_commits(contract, day, where)
            ]
        step = {"table": contract.table, "commits": commits, "rows": _records(rows)}
        if event is not None:
            step["topic"] = event.spec.topic
            step["event_type"] = event.spec.event_type
        return step

    def _run(self, run_id: str) -> dict | None:
        if run_id not in self._run_cache:
            self._run_cache[run_id] = self.runs(run_id)
        return self._run_cache[run_id]

    def _with_runs(self, chain: dict) -> dict:
        """Every Dagster run id the chain names, resolved in the instance (None: not found)."""
        found: list[str] = []

        def walk(node) -> None:
            if isinstance(node, Mapping):
                for key, value in node.items():
                    if key == "dagster_run_id" and isinstance(value, str) and value not in found:
                        found.append(value)
                    else:
                        walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(chain)
        chain["dagster_runs"] = {run_id: self._run(run_id) for run_id in found}
        return chain

    # -- orders --------------------------------------------------------------------------------

    def order(self, order_id: str) -> dict:
        where = pl.col("order_id") == order_id
        orders = self._find(PARENT_ORDER_SUBMITTED.table, where)
        if orders.is_empty():
            raise UnknownId(
                f"unknown order id {order_id!r} (not in {PARENT_ORDER_SUBMITTED.table.table})"
            )
        chain = self._order_chain(orders.head(1), with_decision=True)
        return self._with_runs(chain)

    def _order_chain(self, order: pl.DataFrame, *, with_decision: bool) -> dict:
        row = order.row(0, named=True)
        order_id, day = row["order_id"], row["trade_date"]
        by_order = pl.col("order_id") == order_id
        fills = self._find(TRADE_EXECUTED.table, by_order).sort("ts", "exec_id")
        fill_tca = self._find(FILL_TCA, by_order).sort("ts", "exec_id")
        chain: dict = {
            "kind": "order",
            "id": order_id,
            "trade_date": day.isoformat(),
            "summary": {
                k: _json_value(row.get(k))
                for k in (
                    "symbol",
                    "side",
                    "quantity",
                    "algo",
                    "broker",
                    "order_type",
                    "arrival_ts",
                    "end_ts",
                    "decision_id",
                    "strategy_id",
                )
            },
        }
        if with_decision:
            chain["decision"] = self._decision_step(row["decision_id"])
        chain["order"] = self._step(
            PARENT_ORDER_SUBMITTED.table, order, by_order, event=PARENT_ORDER_SUBMITTED
        )
        chain["fills"] = self._step(TRADE_EXECUTED.table, fills, by_order, event=TRADE_EXECUTED)
        chain["quotes"] = self._quotes(row, fills, fill_tca)
        chain["tca"] = {
            "fills": self._step(FILL_TCA, fill_tca, by_order),
            "orders": self._step(ORDER_TCA, self._find(ORDER_TCA, by_order), by_order),
            "pretrade": self._step(PRETRADE, self._find(PRETRADE, by_order), by_order),
        }
        by_row = pl.col("row_id") == order_id
        chain["label"] = self._step(COST_DATASET, self._find(COST_DATASET, by_row), by_row)
        chain["dataset_quarantine"] = _records(
            self._find(DATASET_QUARANTINE, by_row & (pl.col("dataset") == "cost"))
        )
        chain["dataset_versions"] = self._versions_with_row("cost", order_id, day)
        chain["models"] = self._models_trained_on(COST_DATASET, order_id, day)
        return chain

    def _decision_step(self, decision_id: str) -> dict:
        where = pl.col("decision_id") == decision_id
        rows = self._find(TRADING_DECISION.table, where)
        return self._step(TRADING_DECISION.table, rows, where, event=TRADING_DECISION)

    def _quotes(self, order: dict, fills: pl.DataFrame, fill_tca: pl.DataFrame) -> dict:
        """The quote behind M(t) of each fill and of the order's arrival, found as TCA finds it
        (the shared quote book: valid quotes, strictly before t, ties by seq, no older than the
        maximum quote age), its neighbours, and whether it is the one `tca/fills` recorded."""
        day, symbol = order["trade_date"], order["symbol"]
        points = [order["arrival_ts"], *fills["ts"].to_list()]
        age = pl.duration(seconds=_seconds(self.max_quote_age))
        where = (pl.col("symbol") == symbol) & pl.col("ts").is_between(
            pl.lit(min(points)) - age, pl.lit(max(points)) + age
        )
        quotes = self._find(QUOTES, where).sort("ts", "seq")
        result = {
            "table": QUOTES.table,
            "max_quote_age": self.max_quote_age,
            "commits": [
                commit_summary(QUOTES.table, c) for c in self.lake.row_commits(QUOTES, day, where)
            ],
        }
        queries = pl.DataFrame(
            {"symbol": symbol, "trade_date": day, "t": points},
            schema={"symbol": pl.String, "trade_date": pl.Date, "t": QUOTES.polars_schema["ts"]},
        )
        used = (
            quote_book(quotes)
            .rows_at(
                queries,
                {"t": pl.col("t")},
                ["ts", "seq", "bid", "ask", "mid"],
                strictly_before=True,
            )["t"]
            .with_columns(
                fresh=pl.col("ts").dt.offset_by(self.max_quote_age) >= pl.col("at"),
                age_ms=(pl.col("at") - pl.col("ts")).dt.total_microseconds() / 1000,
            )
        )
        recorded = fill_tca.select("exec_id", "bid_at_fill", "ask_at_fill", "mid_at_fill")
        looked_up = []
        for i, q in enumerate(used.iter_rows(named=True)):
            quote = None
            if q["ts"] is not None and q["fresh"]:
                quote = {
                    "ts": q["ts"],
                    "seq": q["seq"],
                    "bid_px": q["bid"],
                    "ask_px": q["ask"],
                    "mid": q["mid"],
                    "age_ms": q["age_ms"],
                }
            entry = {"at": q["at"], "quote_used": quote}
            if i == 0:
                entry["point"] = "arrival"
            else:
                fill = fills.row(i - 1, named=True)
                entry["point"], entry["exec_id"] = "fill", fill["exec_id"]
                tca = recorded.filter(pl.col("exec_id") == fill["exec_id"])
                if tca.height:
                    t = tca.row(0, named=True)
                    entry["tca_fills"] = {
                        k: t[k] for k in ("bid_at_fill", "ask_at_fill", "mid_at_fill")
                    }
                    entry["matches_tca"] = (quote is None and t["mid_at_fill"] is None) or (
                        quote is not None
                        and _close(quote["bid_px"], t["bid_at_fill"])
                        and _close(quote["ask_px"], t["ask_at_fill"])
                    )
            entry["window"] = _neighbours(quotes, q["ts"], q["seq"], q["at"])
            looked_up.append(
                {k: _json_value(v) for k, v in entry.items()}
                | {
                    "quote_used": quote and {k: _json_value(v) for k, v in quote.items()},
                }
            )
        result["arrival"] = looked_up[0]
        result["fills"] = looked_up[1:]
        return result

    # -- decisions -----------------------------------------------------------------------------

    def decision(self, decision_id: str) -> dict:
        step = self._decision_step(decision_id)
        if not step["rows"]:
            raise UnknownId(
                f"unknown decision id {decision_id!r} (not in {TRADING_DECISION.spec.table})"
            )
        day = dt.date.fromisoformat(step["rows"][0]["trade_date"])
        where = pl.col("decision_id") == decision_id
        by_row = pl.col("row_id") == decision_id
        orders = self._find(PARENT_ORDER_SUBMITTED.table, where).sort("order_id")
        chain = {
            "kind": "decision",
            "id": decision_id,
            "trade_date": day.isoformat(),
            "decision": step,
            "outcome": self._step(DECISION_OUTCOMES, self._find(DECISION_OUTCOMES, where), where),
            "label": self._step(TRAINING_DATASET, self._find(TRAINING_DATASET, by_row), by_row),
            "dataset_quarantine": _records(
                self._find(DATASET_QUARANTINE, by_row & (pl.col("dataset") == "decision"))
            ),
            "dataset_versions": self._versions_with_row("decision", decision_id, day),
            "orders": [
                self._order_chain(orders.slice(i, 1), with_decision=False)
                for i in range(orders.height)
            ],
        }
        return self._with_runs(chain)

    # -- dataset versions ----------------------------------------------------------------------

    def _version_rows(self) -> pl.DataFrame:
        return self.lake.scan(DATASET_VERSIONS).collect()

    def _versions_with_row(self, dataset: str, row_id: str, day: dt.date) -> list[dict]:
        """Every version of `dataset` whose window covers the day and whose rows hold `row_id`
        (read in its Arrow IPC file; if the file is gone, in the dataset table at the Delta
        version the version was built from)."""
        candidates = self._version_rows().filter(
            (pl.col("dataset") == dataset)
            & (pl.col("window_start") <= day)
            & (pl.col("window_end") >= day)
        )
        found = []
        for version in candidates.sort("window_end", "dataset_version").iter_rows(named=True):
            card = json.loads(version["card"])
            contract = BY_DATASET[dataset]
            path = Path(version["path"])
            if path.exists():
                hit = pl.scan_ipc(path).filter(pl.col("row_id") == row_id).collect()
                where = f"Arrow IPC file {path}"
            else:
                at = card["spec"]["sources"].get(contract.table)
                hit = (
                    self.lake.scan(contract, [day], version=at)
                    .filter(pl.col("row_id") == row_id)
                    .collect()
                )
                where = f"{contract.table} at Delta version {at} (IPC file missing)"
            if hit.is_empty():
                continue
            found.append(
                {
                    **self._version_summary(version, card),
                    "split": hit["split"][0] if "split" in hit.columns else None,
                    "found_in": where,
                }
            )
        return found

    def _version_summary(self, version: Mapping, card: Mapping) -> dict:
        by_version = pl.col("dataset_version") == version["dataset_version"]
        commits = self.lake.row_commits(DATASET_VERSIONS, version["trade_date"], by_version)
        return {
            "dataset": version["dataset"],
            "dataset_version": version["dataset_version"],
            "window_start": version["window_start"].isoformat(),
            "window_end": version["window_end"].isoformat(),
            "rows": version["rows"],
            "content_hash": version["content_hash"],
            "path": version["path"],
            "sources": card["spec"]["sources"],
            "code_version": card["spec"].get("code_version"),
            "commits": [commit_summary(DATASET_VERSIONS.table, c) for c in commits],
        }

    def dataset(self, dataset_version: str) -> dict:
        rows = self._version_rows().filter(pl.col("dataset_version") == dataset_version)
        if rows.is_empty():
            raise UnknownId(
                f"unknown dataset version {dataset_version!r} (not in {DATASET_VERSIONS.table})"
            )
        version = rows.row(0, named=True)
        card = json.loads(version["card"])
        path = Path(version["path"])
        file = {"path": str(path), "exists": path.exists()}
        if path.exists():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            file |= {"sha256": digest, "matches_content_hash": digest == version["content_hash"]}
        sources = []
        for table, delta_version in sorted(card["spec"]["sources"].items()):
            entry = {"table": table, "version": delta_version}
            if delta_version is not None:
                try:
                    entry = commit_summary(table, self.lake.commit(table, delta_version))
                except ValueError as exc:
                    entry["error"] = str(exc)
            sources.append(entry)
        contract = BY_DATASET[version["dataset"]]
        chain = {
            "kind": "dataset",
            "id": dataset_version,
            **self._version_summary(version, card),
            "file": file,
            "splits": card.get("splits"),
            "label_balance": card.get("label_balance"),
            "source_commits": sources,
            "models": [
                self._model_summary(m)
                for m in self.models
                if self._trained_on_version(m, contract, version, card)
            ],
        }
        return self._with_runs(chain)

    # -- models ----------------------------------------------------------------------------------

    def _model_summary(self, model: Mapping) -> dict:
        tags = {**model.get("run_tags", {}), **model.get("tags", {})}
        window = tags.get(TRAINING_WINDOW) or model.get("params", {}).get("window")
        delta = tags.get(TRAINING_DELTA_VERSION)
        return {
            "name": model.get("name"),
            "registered_version": model.get("registered_version"),
            "bundle_version": model.get("bundle_version"),
            "aliases": model.get("aliases", []),
            "mlflow_run_id": model.get("mlflow_run_id"),
            "created": _ms_iso(model.get("created_ms")),
            "training_table": tags.get(TRAINING_TABLE, COST_DATASET.table),
            "training_delta_version": int(delta) if delta else None,
            "training_window": window,
            "dagster_run_id": tags.get(DAGSTER_RUN_ID),
        }

    def _trained_on_version(self, model, contract, version, card) -> bool:
        """The model read the same snapshot of the dataset table the version was built from
        (models registered before the Delta version was recorded: any snapshot), and its window
        lies inside the version's."""
        summary = self._model_summary(model)
        window = _window(summary["training_window"])
        delta = summary["training_delta_version"]
        return (
            summary["training_table"] == contract.table
            and (delta is None or card["spec"]["sources"].get(contract.table) == delta)
            and window is not None
            and version["window_start"] <= window[0]
            and window[1] <= version["window_end"]
        )

    def _models_trained_on(self, contract: TableContract, row_id: str, day: dt.date) -> list[dict]:
        """Registered models whose training rows hold this row: the training table read at the
        Delta version recorded at registration (older models: their window covers the day).
        The role says whether the day was among the fit's held-out test days."""
        found = []
        for model in self.models:
            summary = self._model_summary(model)
            window = _window(summary["training_window"])
            if summary["training_table"] != contract.table or window is None:
                continue
            if not window[0] <= day <= window[1]:
                continue
            version = summary["training_delta_version"]
            snapshot = self.lake.scan(contract, version=version).filter(
                pl.col("trade_date").is_between(*window)
            )
            held = snapshot.filter(pl.col("row_id") == row_id).select("row_id").collect()
            if held.is_empty():
                continue
            days = snapshot.select("trade_date").unique().collect()["trade_date"].sort().to_list()
            test_days = int(model.get("metrics", {}).get("test_days", 0) or 0)
            role = (
                "held_out_test" if test_days and day in days[len(days) - test_days :] else "train"
            )
            found.append(
                summary
                | {
                    "role": role,
                    "evidence": f"{contract.table} at Delta version {version} holds the row"
                    if version is not None
                    else f"training window {summary['training_window']} covers the day"
                    " (no Delta version recorded)",
                }
            )
        return found

    def _find_model(self, model_id: str) -> Mapping:
        for model in self.models:
            ids = {
                model.get("registered_version"),
                f"{model.get('name')}/{model.get('registered_version')}",
                model.get("bundle_version"),
                model.get("mlflow_run_id"),
            }
            if model_id in ids:
                return model
        raise UnknownId(
            f"unknown model {model_id!r} (no registered version, bundle version or MLflow run"
            " with this id)"
        )

    def model(self, model_id: str) -> dict:
        model = self._find_model(model_id)
        summary = self._model_summary(model)
        window = _window(summary["training_window"])
        contract = next(
            (c for c in BY_DATASET.values() if c.table == summary["training_table"]), COST_DATASET
        )
        training: dict = {"table": contract.table, "window": summary["training_window"]}
        if summary["training_delta_version"] is not None:
            training["commit"] = commit_summary(
                contract.table, self.lake.commit(contract.table, summary["training_delta_version"])
            )
        if window is not None:
            rows = (
                self.lake.scan(contract, version=summary["training_delta_version"])
                .filter(pl.col("trade_date").is_between(*window))
                .group_by("trade_date")
                .len()
                .sort("trade_date")
                .collect()
            )
            training["rows"] = int(rows["len"].sum())
            training["rows_by_day"] = _records(rows)
        dataset = next(k for k, c in BY_DATASET.items() if c is contract)
        versions = [
            self._version_summary(v, json.loads(v["card"]))
            for v in self._version_rows()
            .filter(pl.col("dataset") == dataset)
            .sort("window_end", "dataset_version")
            .iter_rows(named=True)
            if self._trained_on_version(model, contract, v, json.loads(v["card"]))
        ]
        chain = {
            "kind": "model",
            "id": model_id,
            "model": summary,
            "params": model.get("params", {}),
            "metrics": model.get("metrics", {}),
            "training": training,
            "dataset_versions": versions,
        }
        return self._with_runs(chain)

    def audit(self, kind: str, identifier: str) -> dict:
        if kind not in KINDS:
            raise ValueError(f"unknown audit kind {kind!r} (one of {', '.join(KINDS)})")
        chain = getattr(self, kind)(identifier)
        return {"audit": kind, "generated_at": dt.datetime.now(dt.UTC).isoformat()} | chain


def _close(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b))


def _seconds(duration: str) -> float:
    """'500ms', '60s', '5m', '1h' in seconds (the settings' duration format)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration.strip())
    if not match:
        raise ValueError(f"not a duration: {duration!r}")
    number, unit = float(match[1]), match[2]
    return number * {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


def _window(text: str | None) -> tuple[dt.date, dt.date] | None:
    if not text or ".." not in text:
        return None
    start, end = text.split("..")
    return dt.date.fromisoformat(start), dt.date.fromisoformat(end)


def _neighbours(quotes: pl.DataFrame, ts, seq, at) -> list[dict]:
    """The quote used and QUOTE_NEIGHBOURS quotes either side (or those just before `at`)."""
    if quotes.is_empty():
        return []
    ordered = quotes.with_row_index("_i")
    if ts is not None:
        anchor = ordered.filter((pl.col("ts") == ts) & (pl.col("seq") == seq))["_i"]
    else:
        anchor = ordered.filter(pl.col("ts") < at)["_i"].tail(1)
    i = int(anchor[0]) if anchor.len() else 0
    window = ordered.slice(max(0, i - QUOTE_NEIGHBOURS), 2 * QUOTE_NEIGHBOURS + 1)
    columns = [
        c
        for c in ("ts", "seq", "bid_px", "bid_sz", "ask_px", "ask_sz", "is_glitch")
        if c in window.columns
    ]
    return _records(
        window.select(
            *columns,
            used=(pl.col("ts") == ts) & (pl.col("seq") == seq) if ts is not None else pl.lit(False),
        )
    )


# -- the readable chain ------------------------------------------------------------------------


def _commit_text(commits: Iterable[Mapping]) -> str:
    parts = []
    for c in commits:
        run = c.get("dagster_run_id")
        parts.append(
            f"{c['table']} v{c['version']} ({c['operation']}, {c['timestamp']}"
            + (f", run {run[:8]}" if run else ", no run recorded")
            + ")"
        )
    return "; ".join(parts) or "no commit found"


def _event_text(step: Mapping, key: str) -> list[str]:
    lines = []
    for row in step.get("rows", []):
        lines.append(f"    {row.get(key)}  event {row.get('event_id')}")
        lines.append(f"      Pulsar {step.get('topic')}  message {row.get('message_id')}")
    return lines


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _order_text(chain: Mapping, indent: str = "") -> list[str]:
    s = chain["summary"]
    lines = [
        f"{indent}Order {chain['id']}  {chain['trade_date']}  {s['symbol']} {s['side']}"
        f" {_fmt(s['quantity'])}  {s['algo']} via {s['broker']}  (decision {s['decision_id']})",
    ]
    if "decision" in chain:
        lines.append(f"{indent}  decision   {_commit_text(chain['decision']['commits'])}")
        lines += [indent + line for line in _event_text(chain["decision"], "decision_id")]
    lines.append(f"{indent}  order      {_commit_text(chain['order']['commits'])}")
    lines += [indent + line for line in _event_text(chain["order"], "order_id")]
    fills = chain["fills"]
    lines.append(f"{indent}  fills ({len(fills['rows'])})  {_commit_text(fills['commits'])}")
    quotes = {q.get("exec_id"): q for q in chain["quotes"]["fills"]}
    for row in fills["rows"]:
        q = quotes.get(row["exec_id"], {})
        used = q.get("quote_used")
        quote = (
            f"quote {used['ts'][11:23]} bid {_fmt(used['bid_px'], 4)} ask {_fmt(used['ask_px'], 4)}"
            f" ({used['age_ms']:.0f} ms old)"
            if used
            else "no quote within the maximum age (M(t) null)"
        )
        check = "= tca/fills" if q.get("matches_tca") else "!= tca/fills"
        lines.append(
            f"{indent}    {row['exec_id']}  {row['ts'][11:23]}  {_fmt(row['quantity'])} @"
            f" {_fmt(row['price'], 4)} {row['venue']}  message {row['message_id']}"
        )
        lines.append(f"{indent}      M(t): {quote} {check}")
    arrival = chain["quotes"]["arrival"].get("quote_used")
    lines.append(
        f"{indent}  quotes     {_commit_text(chain['quotes']['commits'])}; arrival quote "
        + (f"{arrival['ts'][11:23]} mid {_fmt(arrival['mid'], 4)}" if arrival else "none")
    )
    tca = chain["tca"]
    order_rows = tca["orders"]["rows"]
    pretrade = tca["pretrade"]["rows"]
    lines.append(f"{indent}  TCA fills  {_commit_text(tca['fills']['commits'])}")
    lines.append(
        f"{indent}  TCA order  {_commit_text(tca['orders']['commits'])}"
        + (
            f": arrival cost {_fmt(order_rows[0]['arrival_cost_bps'])} bps,"
            f" IS {_fmt(order_rows[0]['is_total_bps'])} bps,"
            f" fill rate {_fmt(order_rows[0]['fill_rate'], 3)}"
            if order_rows
            else ": no row"
        )
    )
    if pretrade:
        lines.append(
            f"{indent}  pre-trade  {_commit_text(tca['pretrade']['commits'])}: expected"
            f" {_fmt(pretrade[0]['expected_cost_bps'])} bps"
        )
    label = chain["label"]["rows"]
    lines.append(
        f"{indent}  label      {_commit_text(chain['label']['commits'])}"
        + (
            f": {label[0]['execution_label']} (cost vs estimate"
            f" {_fmt(label[0]['cost_vs_estimate_bps'])} bps)"
            if label
            else f": not in the dataset {chain['dataset_quarantine'] or ''}"
        )
    )
    lines += _versions_text(chain["dataset_versions"], indent)
    for m in chain["models"]:
        lines.append(
            f"{indent}  model      {m['name']} v{m['registered_version']} ({m['bundle_version']}"
            f"{', ' + ', '.join(m['aliases']) if m['aliases'] else ''}) {m['role']}:"
            f" {m['evidence']}"
        )
    if not chain["models"]:
        lines.append(f"{indent}  model      none registered on this row")
    return lines


def _versions_text(versions: list[Mapping], indent: str = "") -> list[str]:
    lines = [
        f"{indent}  dataset    {v['dataset']} {v['dataset_version']}"
        f" ({v['window_start']}..{v['window_end']}, {v['rows']:,} rows"
        f"{', split ' + v['split'] if v.get('split') else ''}) in {v['found_in']}"
        for v in versions
    ]
    return lines or [f"{indent}  dataset    no version holds it"]


def _runs_text(runs: Mapping[str, dict | None]) -> list[str]:
    lines = ["Dagster runs:"]
    for run_id, run in runs.items():
        if run is None:
            lines.append(f"  {run_id}  not in this Dagster instance")
            continue
        lines.append(
            f"  {run_id}  {run['status']}  {run.get('job_name')}"
            f"  partition {run.get('partition')}  {run.get('start')} .. {run.get('end')}"
        )
    return lines if runs else ["Dagster runs: none recorded"]


def render(chain: Mapping) -> str:
    """The chain as readable text (the JSON has every row in full)."""
    kind = chain["audit"]
    lines: list[str] = []
    if kind == "order":
        lines += _order_text(chain)
    elif kind == "decision":
        d = chain["decision"]["rows"][0]
        lines.append(
            f"Decision {chain['id']}  {chain['trade_date']}  {d['strategy_id']} {d['symbol']}"
            f" {d['side']} {_fmt(d['target_quantity'])}"
        )
        lines.append(f"  event      {_commit_text(chain['decision']['commits'])}")
        lines += _event_text(chain["decision"], "decision_id")
        outcome = chain["outcome"]["rows"]
        lines.append(
            f"  outcome    {_commit_text(chain['outcome']['commits'])}"
            + (f": net alpha {_fmt(outcome[0]['net_alpha_bps'])} bps" if outcome else "")
        )
        label = chain["label"]["rows"]
        lines.append(
            f"  label      {_commit_text(chain['label']['commits'])}"
            + (
                f": {label[0]['outcome_label']} ({label[0]['outcome_vs_expectation_bps']} bps)"
                if label
                else ": not in the dataset"
            )
        )
        lines += _versions_text(chain["dataset_versions"])
        for order in chain["orders"]:
            lines += _order_text(order, "  ")
    elif kind == "dataset":
        lines.append(
            f"Dataset version {chain['id']}  {chain['dataset']}"
            f" {chain['window_start']}..{chain['window_end']}  {chain['rows']:,} rows"
        )
        lines.append(f"  recorded   {_commit_text(chain['commits'])}")
        file = chain["file"]
        lines.append(
            f"  file       {file['path']}"
            + (
                f"  sha256 {'matches' if file['matches_content_hash'] else 'DIFFERS FROM'}"
                " the content hash"
                if file["exists"]
                else "  MISSING"
            )
        )
        for source in chain["source_commits"]:
            text = (
                _commit_text([source])
                if "operation" in source
                else f"{source['table']} (no table when built)"
                if source["version"] is None
                else f"{source['table']} v{source['version']}: {source.get('error')}"
            )
            lines.append(f"  source     {text}")
        for m in chain["models"]:
            lines.append(
                f"  model      {m['name']} v{m['registered_version']} ({m['bundle_version']})"
                f" trained on {m['training_table']} v{m['training_delta_version']}"
            )
        if not chain["models"]:
            lines.append("  model      none trained on this version's snapshot")
    elif kind == "model":
        m = chain["model"]
        lines.append(
            f"Model {m['name']} v{m['registered_version']}  bundle {m['bundle_version']}"
            f"  {', '.join(m['aliases']) or 'not champion'}  MLflow run {m['mlflow_run_id']}"
        )
        training = chain["training"]
        lines.append(
            f"  trained on {training['table']} window {training['window']},"
            f" {training.get('rows', 'n/a')} rows"
            + (f"  ({_commit_text([training['commit']])})" if "commit" in training else "")
        )
        lines += (
            _versions_text(
                [v | {"found_in": "the same snapshot"} for v in chain["dataset_versions"]]
            )
            if chain["dataset_versions"]
            else ["  dataset    no version built from the same snapshot"]
        )
    lines += _runs_text(chain["dagster_runs"])
    return "\n".join(lines) + "\n"
