"""The daily reports: rendering functions on small frames (numbers, best / worst, charts), the
caches (disk, Redis), and the real thing: a small simulated day through raw, TCA, attribution,
compliance and the dbt marts into a DuckDB warehouse, then the report assets, opened in
headless Chromium (Debian's package; skipped when absent, CI installs it)."""

import datetime as dt
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import duckdb
import polars as pl
import pytest
from dagster import AssetSelection, materialize
from dagster_duckdb import DuckDBResource

from analytics_platform.config import ConfigError, load_settings
from analytics_platform.reports import format as f
from analytics_platform.reports import performance, tca
from analytics_platform.reports.cache import DiskCache, open_cache
from analytics_platform.reports.pdf import chromium_command
from analytics_platform.reports.svg import Bar, interval_bars, line_chart, nice_ticks

ROOT = Path(__file__).parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DAY = dt.date(2026, 11, 20)
REDIS_URL = os.environ.get("ANALYTICS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


# --- formatting and selection on small frames ------------------------------------------------


def test_numbers_are_formatted_for_a_desk():
    assert f.usd(950) == "$950"
    assert f.usd(-71_491.8) == "-$71.5k"
    assert f.usd(1_234_567) == "$1.23M"
    assert f.usd(2.05e9) == "$2.05B"
    assert f.usd(43_300, signed=True) == "+$43.3k"
    assert f.usd(999_999) == "$1.00M"  # rounds up into the next unit, not "$1000.0k"
    assert f.bps(15.86) == "+15.9 bps"
    assert f.bps(-3.04) == "-3.0 bps"
    assert f.bps(0.01) == "0.0 bps"  # no "+0.0"
    assert f.interval(-3.93, 35.65) == "[-3.9, +35.6]"
    assert f.pct(0.9217) == "92.2%"
    assert f.pct(0.004319, digits=2, signed=True) == "+0.43%"
    for blank in (None, float("nan")):  # DuckDB hands back both
        assert f.usd(blank) == f.bps(blank) == f.pct(blank) == f.interval(blank, 1.0) == "–"


def _effects() -> pl.DataFrame:
    rows = [
        # dimension, entity, baseline, effect, low, high, holm p, verdict, orders
        ("venue", "XNYS", "XNYS", 0.0, 0.0, 0.0, None, "baseline", 54),
        ("venue", "DARK", "XNYS", -3.06, -3.35, -2.77, 2e-28, "better", 47),
        ("venue", "ARCX", "XNYS", 0.40, -0.20, 1.00, 0.21, "not significant", 38),
        ("algo", "VWAP", "VWAP", 0.0, 0.0, 0.0, None, "baseline", 28),
        ("algo", "POV", "VWAP", 1.65, 1.43, 1.87, 2e-21, "worse", 12),
        ("algo", "IS", "VWAP", -0.84, -1.02, -0.66, 4e-13, "better", 10),
        ("broker", "BRKA", "BRKA", 0.0, 0.0, 0.0, None, "baseline", 31),
    ]
    cols = ["dimension", "entity", "baseline", "effect_bps", "ci_low", "ci_high"]
    cols += ["p_value_holm", "verdict", "n_orders"]
    return pl.DataFrame(rows, schema=cols, orient="row")


def test_best_and_worst_are_the_lowest_and_highest_effect_with_the_reason():
    picks = tca.best_and_worst(_effects())
    assert {d: (b["entity"], w["entity"]) for d, (b, w) in picks.items()} == {
        "venue": ("DARK", "ARCX"),  # ARCX costs most, though not significantly
        "algo": ("IS", "POV"),
        "broker": ("BRKA", "BRKA"),  # only the baseline: best and worst alike
    }
    best, worst = picks["venue"]
    assert tca.why(best) == (
        "DARK: -3.06 bps vs XNYS [-3.35, -2.77], significantly better (Holm p 2e-28);"
        " 47 orders over 20 days"
    )
    assert "not distinguishable from the baseline" in tca.why(worst)
    assert "significantly worse" in tca.why(picks["algo"][1])
    assert "is the baseline" in tca.why(picks["broker"][0])


def _breakdowns() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "dimension": ["algo", "algo", "urgency"],
            "bucket": ["IS", "POV", "HIGH"],
            "bucket_order": [0, 1, 0],
            "n_orders": [10, 12, 22],
            "notional": [8.9e6, 14.3e6, 23.2e6],
            "executed_notional": [8.0e6, 12.0e6, 20.0e6],
            "cost_bps": [15.0, -50.0, -22.0],
            "cost_std_error": [10.0, 20.0, 15.0],
            "cost_ci_low": [-4.6, -89.2, -51.4],
            "cost_ci_high": [34.6, -10.8, 7.4],
            "dollar_cost": [12_000.0, -60_000.0, -48_000.0],
            "is_total_dollars": [14_000.0, -58_000.0, -44_000.0],
            "opportunity_dollars": [1_500.0, 900.0, 2_400.0],
        }
    )


def test_day_totals_sum_the_dollars_of_one_partition_with_an_interval_in_quadrature():
    totals = tca.day_totals(_breakdowns())
    assert totals["dollar_cost"] == pytest.approx(-48_000.0)  # algo only, not urgency too
    assert totals["executed_notional"] == pytest.approx(20e6)
    assert totals["cost_bps"] == pytest.approx(-24.0)
    se = ((10.0 * 8e6 / 1e4) ** 2 + (20.0 * 12e6 / 1e4) ** 2) ** 0.5
    assert totals["dollar_high"] - totals["dollar_cost"] == pytest.approx(tca.Z95 * se)
    assert totals["is_total_dollars"] == pytest.approx(-44_000.0)
    assert tca.day_totals(_breakdowns().head(0)) is None


def test_tca_report_renders_numbers_charts_and_says_when_data_is_missing():
    page = tca.render({"effects": _effects(), "breakdowns": _breakdowns()}, DAY)
    assert page.startswith("<!DOCTYPE html>") and "Daily TCA — 2026-11-20" in page
    assert "-$48.0k" in page  # the day's arrival cost in dollars
    assert 'id="chart-effects-venue" data-chart="chart-effects-venue" data-marks="3"' in page
    assert 'id="chart-effects-algo" data-chart="chart-effects-algo" data-marks="3"' in page
    assert 'DARK <span class="muted">(best)</span>' in page
    # No trend rows, no calibration: the charts say so rather than draw an empty frame.
    assert 'id="chart-trend" data-chart="chart-trend" data-marks="0" data-empty=' in page
    assert 'id="chart-pretrade"' in page and "no pre-trade estimates" in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing external


def _strategies() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "strategy_id": ["EVENT_DRIVEN", "MOMENTUM"],
            "n_decisions": [18, 15],
            "notional": [30e6, 20e6],
            "decision_alpha_bps": [46.0, 9.0],
            "is_total_bps": [16.0, 19.0],
            "net_alpha_bps": [30.0, -10.0],
            "net_alpha_ci_low_bps": [5.0, -54.9],
            "net_alpha_ci_high_bps": [55.0, 34.5],
            "hit_rate": [0.72, 0.53],
            "net_alpha_bps_20d": [29.3, -10.2],
        }
    )


def _brinson() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "portfolio_id": ["PF_A", "PF_A", "PF_B"],
            "benchmark_id": ["BENCH"] * 3,
            "segment": ["Energy", "Health Care", "Energy"],
            "allocation": [0.002, -0.001, -0.004],
            "selection": [0.001, 0.0005, 0.0],
            "interaction": [0.0, 0.0005, 0.0],
            "total": [0.003, 0.0, -0.004],
            "portfolio_return": [0.011, 0.011, 0.003],
            "benchmark_return": [0.008, 0.008, 0.007],
            "excess_return": [0.003, 0.003, -0.004],
            "nav_return": [0.0112, 0.0112, 0.0029],
            "trading_effect": [0.0002, 0.0002, -0.0001],
        }
    )


def test_performance_pieces_strategy_dollars_significance_and_brinson_sums():
    rows = list(_strategies().iter_rows(named=True))
    assert performance.strategy_dollars(rows[0]) == {
        "decision_alpha": pytest.approx(138_000.0),
        "is_total": pytest.approx(48_000.0),
        "net_alpha": pytest.approx(90_000.0),
    }
    assert [performance.significance(r) for r in rows] == ["good", "neutral"]
    summary = {p["portfolio_id"]: p for p in performance.portfolio_summary(_brinson())}
    a = summary["PF_A"]
    assert a["allocation"] + a["selection"] + a["interaction"] == pytest.approx(a["excess_return"])
    top, bottom = performance.sector_leaders(_brinson())["PF_A"]
    assert (top[0]["segment"], bottom[0]["segment"]) == ("Energy", "Health Care")


def test_performance_report_renders_per_strategy_and_portfolio():
    page = performance.render({"strategy": _strategies(), "brinson": _brinson()}, DAY)
    assert "+$90.0k" in page and "-$20.0k" in page  # net alpha in dollars per strategy
    assert "+$70.0k" in page  # the total
    assert "+0.30%" in page and "-0.40%" in page  # excess returns
    assert 'data-chart="chart-net-alpha" data-marks="2"' in page
    assert 'data-chart="chart-brinson" data-marks="8"' in page  # 2 portfolios x 4 effects
    assert "most added Energy (+0.30%), most cost Health Care (+0.00%)" in page


def test_svg_charts_count_their_marks_and_ticks_are_round():
    assert nice_ticks(-3.4, 0.0) == [-3.5, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.0] or nice_ticks(
        -3.4, 0.0
    ) == [-4.0, -3.0, -2.0, -1.0, 0.0]
    chart = interval_bars("c", "t", [Bar("a", 1.0, 0.5, 1.5), Bar("b", None)])
    assert 'data-marks="1"' in chart and chart.count('class="mark') == 1
    line = line_chart("l", "t", ["d1", "d2"], {"x": [1.0, 2.0], "y": [None, None]})
    assert 'data-marks="3"' in line  # one line and two points; the empty series is skipped


# --- caches -----------------------------------------------------------------------------------


def test_disk_cache_round_trip_and_pruning(tmp_path):
    cache = DiskCache(tmp_path, keep=2)
    assert cache.get("tca/2026-11-20/a") is None
    for key in ("a", "b", "c"):
        cache.put(f"tca/2026-11-20/{key}", {"tca.html": key.encode(), "tca.pdf": b"%PDF"})
        os.utime(tmp_path / "tca" / "2026-11-20" / key, (0, 0) if key == "a" else None)
    assert cache.get("tca/2026-11-20/c") == {"tca.html": b"c", "tca.pdf": b"%PDF"}
    assert cache.get("tca/2026-11-20/a") is None  # the oldest entry was pruned
    assert open_cache("off", tmp_path) is None
    with pytest.raises(ValueError, match="unknown reports cache"):
        open_cache("memcached://x", tmp_path)


def test_fingerprint_ignores_last_bit_noise_but_not_a_changed_row():
    from analytics_platform.reports.build import REPORTS, fingerprint  # noqa: PLC0415

    kind = REPORTS["tca"]
    frames = {"effects": _effects(), "breakdowns": _breakdowns()}
    base = fingerprint(kind, frames, pdf=True)
    # A re-run sums in another order: the last bits move, the report does not.
    noisy = _breakdowns().with_columns(pl.col("cost_bps") * (1 + 1e-15))
    assert fingerprint(kind, {**frames, "breakdowns": noisy}, pdf=True) == base
    changed = _breakdowns().with_columns(pl.col("cost_bps") + 0.001)
    assert fingerprint(kind, {**frames, "breakdowns": changed}, pdf=True) != base
    assert fingerprint(kind, frames, pdf=False) != base  # an HTML-only build is another entry
    assert fingerprint(REPORTS["performance"], frames, pdf=True) != base


def test_reports_cache_setting_is_validated():
    assert load_settings({}).reports_cache == "disk"
    assert load_settings({"ANALYTICS_REPORTS_CACHE": "redis://h:6379/0"}).reports_cache.startswith(
        "redis://"
    )
    with pytest.raises(ConfigError, match="ANALYTICS_REPORTS_CACHE"):
        load_settings({"ANALYTICS_REPORTS_CACHE": "s3://bucket"})


# --- the real day: marts, report assets, cache hits, the browser ------------------------------


@pytest.fixture(scope="module")
def built_day(tmp_path_factory, small_day):
    """A small simulated day through the graph up to the marts and the two report assets."""
    from assets.attribution import attribution_assets  # noqa: PLC0415
    from assets.compliance import compliance_assets  # noqa: PLC0415
    from assets.marts import marts_assets  # noqa: PLC0415
    from assets.raw_events import raw_event_assets  # noqa: PLC0415
    from assets.raw_market_data import raw_market_data_assets  # noqa: PLC0415
    from assets.reports import report_assets  # noqa: PLC0415
    from assets.tca import tca_assets  # noqa: PLC0415
    from resources import ComplianceConfig, ReportsResource, marts_dbt_resource  # noqa: PLC0415
    from tests.conftest import TRADE_DATE, one_day_sources  # noqa: PLC0415

    tmp = tmp_path_factory.mktemp("reports_day")
    with one_day_sources(tmp, small_day) as (_, sources):
        result = materialize(
            [
                *raw_market_data_assets,
                *raw_event_assets,
                *tca_assets,
                *attribution_assets,
                *compliance_assets,
                *marts_assets,
                *report_assets,
            ],
            selection=AssetSelection.all()
            - AssetSelection.assets(["marts", "dataset_inventory"], ["marts", "model_inventory"]),
            partition_key=TRADE_DATE.isoformat(),
            resources={
                **sources,
                "compliance": ComplianceConfig(cost_k_sigma=2.0),
                "warehouse": DuckDBResource(database=str(tmp / "warehouse.duckdb")),
                "dbt": marts_dbt_resource(),
                "reports": ReportsResource(root=str(tmp / "reports")),
            },
        )
    assert result.success
    return tmp, _report_metadata(result)


def _report_metadata(result) -> dict[str, dict]:
    out = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        if mat.asset_key.path[0] == "reports":
            out[mat.asset_key.path[1]] = {k: v.value for k, v in mat.metadata.items()}
    return out


def _rebuild(warehouse: Path, reports: "object") -> dict[str, dict]:
    from assets.reports import report_assets  # noqa: PLC0415

    result = materialize(
        report_assets,
        partition_key=DAY.isoformat(),
        resources={"warehouse": DuckDBResource(database=str(warehouse)), "reports": reports},
    )
    assert result.success
    return _report_metadata(result)


def test_report_assets_write_html_and_pdf_linked_from_their_metadata(built_day):
    home, meta = built_day
    assert set(meta) == {"tca", "performance"}
    for kind, m in meta.items():
        html = Path(m["html"])
        assert html == home / "reports" / "2026-11-20" / f"{kind}.html"
        assert m["html_url"] == html.as_uri()
        assert m["cache"] == "miss" and m["cache_backend"] == "disk"
        if CHROMIUM:
            assert Path(m["pdf"]).read_bytes().startswith(b"%PDF")
        else:
            assert "chromium" in m["pdf_note"]
    assert meta["tca"]["exceptions"] > 0  # k = 2: the small day has costs beyond estimate
    assert {"best_venue", "worst_algo", "arrival_cost_usd"} <= set(meta["tca"])
    assert {"net_alpha_usd", "best_strategy"} <= set(meta["performance"])


def _change_inputs(warehouse: Path) -> None:
    """A late correction to the TCA marts: the TCA report's inputs change, not performance's."""
    with duckdb.connect(str(warehouse)) as db:
        db.execute("update marts.tca_effects set effect_bps = effect_bps + 0.25")


def _check_hit_then_miss(tmp_path: Path, home: Path, reports) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(home / "warehouse.duckdb", warehouse)
    first = _rebuild(warehouse, reports)
    again = _rebuild(warehouse, reports)
    assert {k: m["cache"] for k, m in again.items()} == {"tca": "hit", "performance": "hit"}
    assert again["tca"]["cache_key"] == first["tca"]["cache_key"]
    _change_inputs(warehouse)
    changed = _rebuild(warehouse, reports)
    assert {k: m["cache"] for k, m in changed.items()} == {"tca": "miss", "performance": "hit"}
    assert changed["tca"]["inputs_fingerprint"] != first["tca"]["inputs_fingerprint"]


def test_disk_cache_serves_a_rebuild_with_unchanged_inputs(built_day, tmp_path):
    from resources import ReportsResource  # noqa: PLC0415

    home, _ = built_day
    reports = ReportsResource(root=str(tmp_path / "reports"), cache="disk")
    _check_hit_then_miss(tmp_path, home, reports)
    assert (tmp_path / "reports" / ".cache" / "tca" / "2026-11-20").is_dir()


def test_redis_cache_serves_a_rebuild_with_unchanged_inputs(built_day, tmp_path):
    redis = pytest.importorskip("redis")
    from resources import ReportsResource  # noqa: PLC0415

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    namespace = f"test-reports-{uuid.uuid4().hex[:8]}"
    home, _ = built_day
    reports = ReportsResource(
        root=str(tmp_path / "reports"), cache=REDIS_URL, cache_namespace=namespace
    )
    try:
        _check_hit_then_miss(tmp_path, home, reports)
        keys = client.keys(f"{namespace}:*")
        assert len(keys) == 3  # tca twice (two input versions), performance once
        assert all(0 < client.ttl(k) <= 90 * 24 * 3600 for k in keys)
        assert not (tmp_path / "reports" / ".cache").exists()  # nothing on disk
    finally:
        for key in client.scan_iter(f"{namespace}:*"):
            client.delete(key)


# --- in a real browser -----------------------------------------------------------------------

EXPECTED_CHARTS = {
    "tca": [
        "chart-trend",
        "chart-dollars-algo",
        "chart-dollars-size_adv",
        "chart-effects-venue",
        "chart-effects-algo",
        "chart-effects-broker",
        "chart-pretrade",
    ],
    "performance": [
        "chart-net-alpha",
        "chart-alpha-decomposition",
        "chart-net-alpha-trend",
        "chart-brinson",
    ],
}


def _browser(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = chromium_command(
        str(CHROMIUM),
        profile,
        "--hide-scrollbars",
        "--window-size=1400,2200",
        "--virtual-time-budget=5000",
        "--enable-logging=stderr",
        "--v=0",
        *args,
        page.as_uri(),
    )
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def _console_errors(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if "Uncaught" in line or ("CONSOLE" in line and ("ERROR" in line or "error" in line))
    ]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run does)")
@pytest.mark.parametrize("kind", ["tca", "performance"])
def test_report_renders_in_chromium_with_every_chart(built_day, tmp_path, kind):
    _, meta = built_day
    page = Path(meta[kind]["html"])
    dumped = _browser(page, tmp_path / "profile", "--dump-dom")
    dom = dumped.stdout
    assert 'data-render="ok"' in dom, dom[:300]  # the page's own check: every chart drew
    assert _console_errors(dumped.stderr) == []
    for chart in EXPECTED_CHARTS[kind]:
        start = dom.index(f'id="{chart}"')
        tag = dom[start : dom.index(">", start)]
        assert "data-empty" not in tag, tag
        assert int(tag.split('data-marks="')[1].split('"')[0]) > 0, tag
        assert "<svg" in dom[start : start + 600]
    assert f'data-charts="{len(EXPECTED_CHARTS[kind])}"' in dom
    shot = tmp_path / f"{kind}.png"
    _browser(page, tmp_path / "profile", f"--screenshot={shot}")
    assert shot.stat().st_size > 30_000  # a rendered page, not a blank one
    if os.environ.get("UPDATE_SCREENSHOTS"):
        shutil.copy(shot, ROOT / "docs" / "img" / f"report-{kind}.png")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run does)")
def test_the_render_check_catches_a_missing_chart_and_a_script_error(tmp_path):
    from analytics_platform.reports.page import document  # noqa: PLC0415

    broken = interval_bars("chart-ok", "t", [Bar("a", 1.0)]) + (
        '<figure class="chart" id="chart-lost" data-marks="2"><svg></svg></figure>'
    )
    page = tmp_path / "broken.html"
    page.write_text(document("t", "s", broken, "f"))
    assert 'data-render="missing:chart-lost"' in _browser(page, tmp_path / "p", "--dump-dom").stdout
    page.write_text(document("t", "s", "<script>undefinedFunction()</script>", "f"))
    run = _browser(page, tmp_path / "p", "--dump-dom")
    assert 'data-render="error:' in run.stdout
    assert _console_errors(run.stderr)  # and the console shows it
