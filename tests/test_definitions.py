"""The code location loads, and its lineage graph matches the reviewed snapshot.

A change to asset keys, deps, owners, groups, kinds, checks or column schemas changes the snapshot;
regenerate with `UPDATE_SNAPSHOTS=1 make test` and review the diff like code.
"""

import ast
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from dagster import (
    RunRequest,
    SkipReason,
    TimeWindowPartitionMapping,
    build_schedule_context,
)

from analytics_platform.definitions import defs
from analytics_platform.events.contracts import INBOUND
from analytics_platform.events.outbound import OUTBOUND
from jobs.end_of_day import end_of_day_schedule

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"
ROOT = Path(__file__).parents[1]


def _dep(dep) -> str:
    """A dependency, with its window when it reads other days than the asset's own."""
    key = dep.asset_key.to_user_string()
    mapping = dep.partition_mapping
    if isinstance(mapping, TimeWindowPartitionMapping):
        return f"{key} [days {mapping.start_offset}..{mapping.end_offset}]"
    return key


def _graph_snapshot() -> dict:
    graph = defs.resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for check_key in graph.asset_check_keys:
        checks.setdefault(check_key.asset_key.to_user_string(), []).append(check_key.name)
    assets = {}
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        schema = spec.metadata.get("dagster/column_schema")
        assets[spec.key.to_user_string()] = {
            "deps": sorted(_dep(d) for d in spec.deps),
            "group": spec.group_name,
            "owners": sorted(spec.owners),
            "kinds": sorted(spec.kinds),
            "partitioned": spec.partitions_def is not None,
            "code_versioned": spec.code_version is not None,
            "freshness": spec.freshness_policy is not None,
            "description": bool(spec.description),
            "metadata": sorted(spec.metadata),
            "columns": [f"{c.name}:{c.type}" for c in schema.columns] if schema else [],
            "checks": sorted(checks.get(spec.key.to_user_string(), [])),
        }
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": sorted(s.name for s in defs.schedules or []),
        "sensors": sorted(s.name for s in defs.sensors or []),
    }


def test_asset_graph_matches_snapshot():
    current = _graph_snapshot()
    if os.environ.get("UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def test_every_asset_is_documented_and_owned():
    for spec in defs.resolve_all_asset_specs():
        assert spec.description, spec.key
        assert spec.owners, spec.key
        assert spec.group_name, spec.key
        assert spec.kinds, spec.key


def _schedule_at(day: dt.date):
    ctx = build_schedule_context(scheduled_execution_time=dt.datetime.combine(day, dt.time(17, 30)))
    return end_of_day_schedule(ctx)


def test_end_of_day_schedule_runs_trading_days_once():
    request = _schedule_at(dt.date(2026, 11, 27))
    assert isinstance(request, RunRequest)
    assert request.partition_key == "2026-11-27"
    assert request.run_key == "end_of_day:2026-11-27"


def test_end_of_day_schedule_skips_holidays():
    assert isinstance(_schedule_at(dt.date(2026, 11, 26)), SkipReason)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_domain_core_never_imports_dagster_or_the_orchestration_layer():
    forbidden = {
        "dagster",
        "dagster_dbt",
        "dagster_duckdb",
        "dagster_pandera",
        "dagster_mlflow",
        "assets",
        "resources",
        "jobs",
        "sensors",
    }
    entry_points = {
        ROOT / "analytics_platform" / "definitions.py",
        ROOT / "analytics_platform" / "cli.py",
    }
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & forbidden)
        for path in (ROOT / "analytics_platform").rglob("*.py")
        if path not in entry_points
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_event_catalogue_doc_lists_every_topic():
    doc = (ROOT / "docs" / "events.md").read_text()
    missing = [s.topic for s in [*(c.spec for c in INBOUND), *OUTBOUND] if s.topic not in doc]
    assert missing == []


def _modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def test_loading_the_code_location_imports_neither_jax_nor_pandera():
    """Both load on first use (a score, a validation): the daemon, the webserver and every run
    process import the code location, so its import time is paid everywhere."""
    loaded = _modules_after_import("analytics_platform.definitions")
    assert not {m for m in loaded if m.split(".")[0] in {"jax", "pandera", "pandas"}}


def test_loading_the_code_location_imports_no_dbt_core():
    """dbt runs in its own environment (.venv-dbt) and dagster-dbt only as a subprocess: importing
    dbt-core (its adapters and contracts, mashumaro) cost every Dagster process ~1.3 s."""
    loaded = _modules_after_import("analytics_platform.definitions")
    dbt_core = ("dbt.", "dbt_common", "dbt_adapters", "mashumaro", "agate")
    assert not {m for m in loaded if m.startswith(dbt_core)}


def test_loading_the_code_location_pauses_the_garbage_collector_and_restores_it():
    """The collector is paused while the code location loads and what it loaded is frozen out of
    later passes; it is on again afterwards (and stays off where the process had turned it off)."""
    code = (
        "import gc, sys; sys.argv[1:] == ['off'] and gc.disable();"
        " import analytics_platform.definitions; print(gc.isenabled(), gc.get_freeze_count() > 0)"
    )
    for state, expected in (("on", "True True"), ("off", "False True")):
        command = [sys.executable, "-c", code, state]
        out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        assert out.stdout.split() == expected.split(), state


def test_a_process_that_needs_contracts_loads_no_analytics_and_no_pulsar_client():
    """The event contracts are data: TCA and the simulator import them without the Pulsar client,
    the ingestion code or any analytics."""
    loaded = _modules_after_import("analytics_platform.events.contracts")
    unwanted = ("analytics_platform.tca", "analytics_platform.events.landing", "jax", "dagster")
    assert not {m for m in loaded if m.startswith(unwanted) or m.split(".")[0] == "pulsar"}
