"""The cost models fitted on a synthetic cost dataset whose truth is known: the square-root law's
coefficients come back, the network beats or matches it, intervals cover about 85% of held-out
orders, and the bundle the service loads predicts what the fit predicted."""

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analytics_platform.calendar import trading_days
from analytics_platform.ml.cost_model import fit_cost_model, fit_temporary_impact
from analytics_platform.serving.bundle import Bundle
from analytics_platform.serving.model import (
    MIN_HORIZON_S,
    SESSION_SECONDS,
    Order,
    almgren_chriss_horizon_s,
    predict,
)

SYMBOLS = [f"S{i:02d}" for i in range(20)]
ALGOS = ["IS", "POV", "TWAP", "VWAP"]


@pytest.fixture(scope="module")
def synthetic():
    """Costs = 2 + 0.5·half spread + 0.9·σ·√(Q/ADV) + algo effect + noise whose scale grows with
    size (heteroscedastic): what the models should find."""
    rng = np.random.default_rng(4)
    days = trading_days(dt.date(2026, 10, 1), dt.date(2026, 10, 30))[:15]
    n = 600 * len(days)
    symbol = rng.choice(SYMBOLS, n)
    vol = {s: v for s, v in zip(SYMBOLS, rng.uniform(100, 300, len(SYMBOLS)), strict=True)}
    daily_vol = np.array([vol[s] for s in symbol])
    adv = np.full(n, 1_000_000.0)
    quantity = np.round(np.exp(rng.normal(np.log(3_000), 1.0, n)))
    spread = rng.uniform(2, 12, n)
    algo = rng.choice(ALGOS, n)
    effect = {"IS": -1.0, "POV": 1.5, "TWAP": 0.5, "VWAP": 0.0}
    sqrt_vol = daily_vol * np.sqrt(quantity / adv)
    noise_scale = 3 + 0.6 * sqrt_vol
    cost = 2 + 0.5 * spread / 2 + 0.9 * sqrt_vol + np.array([effect[a] for a in algo])
    cost = cost + rng.normal(0, 1, n) * noise_scale
    trade_date = pl.Series([d for d in days for _ in range(600)], dtype=pl.Date)
    arrival = trade_date.cast(pl.Datetime("us", "UTC")) + dt.timedelta(hours=15)
    seconds = rng.uniform(300, 20_000, n)
    rows = pl.DataFrame(
        {
            "row_id": [f"O{i:06d}" for i in range(n)],
            "trade_date": trade_date,
            "at": arrival,
            "label_end_ts": arrival
            + pl.Series(seconds * 1e6).cast(pl.Int64).cast(pl.Duration("us")),
            "symbol": symbol,
            "side": rng.choice(["BUY", "SELL"], n),
            "quantity": quantity.astype(np.int64),
            "algo": algo,
            "urgency": np.full(n, "MEDIUM"),
            "order_type": np.full(n, "MARKET"),
            "spread_bps": spread,
            "adv": adv,
            "realized_vol_30m_bps": daily_vol / np.sqrt(13),
            "arrival_cost_bps": cost,
        }
    )
    # Close-to-close returns with each symbol's daily volatility, for the fit's σ.
    returns = pl.DataFrame(
        [
            {"symbol": s, "trade_date": d, "security_return": r, "close_px": 50.0,
             "volume": 1_000_000}
            for s in SYMBOLS
            for d, r in zip(days, rng.normal(0, vol[s] / 1e4, len(days)), strict=True)
        ]
    )  # fmt: skip
    return rows, returns


def test_the_square_root_law_comes_back(synthetic):
    bundle, _ = fit_cost_model(*synthetic, kind="linear")
    c = bundle.metadata["coefficients"]
    assert c["sqrt_participation_vol_bps"] == pytest.approx(0.9, abs=0.15)
    assert c["algo_POV"] - 0 == pytest.approx(1.5 + 1.0, abs=1.0)  # against IS (−1.0)
    assert 0.80 <= bundle.metadata["interval_coverage"] <= 0.90


def test_the_network_matches_the_law_and_sizes_its_intervals(synthetic, tmp_path):
    bundle, held_out = fit_cost_model(*synthetic)
    m = bundle.metadata
    assert bundle.kind == "network"
    assert m["mae_bps"] <= m["sqrt_law_mae_bps"] * 1.02  # no worse than its prior
    assert m["mae_bps"] < m["mean_baseline_mae_bps"]
    assert 0.80 <= m["interval_coverage"] <= 0.90
    # Heteroscedastic: a big order's interval is wider than a small one's.
    loaded = Bundle.load(bundle.save(tmp_path / bundle.version))
    small, big = (o for o in held_out.orders if o.quantity in (min(o.quantity for o in
                  held_out.orders), max(o.quantity for o in held_out.orders)))  # fmt: skip
    answers = predict(loaded, [small, big])
    widths = [a["upper_bps"] - a["lower_bps"] for a in answers]
    assert widths[1] > widths[0]
    # Each answer names the cheapest algo with its own interval, and a horizon to work it over.
    for a in answers:
        assert a["recommended_lower_bps"] <= a["recommended_cost_bps"] <= a["recommended_upper_bps"]
        assert a["recommended_cost_bps"] <= a["cost_bps"] + 1e-9
        assert MIN_HORIZON_S <= a["optimal_horizon_s"] <= SESSION_SECONDS
    # The loaded bundle predicts exactly what the fitted one does (arrays round-tripped), and
    # about what the fit scored (the service knows a symbol's spread, not the order's).
    again = predict(loaded, held_out.orders)
    assert again == predict(bundle, held_out.orders)
    errors = held_out.realised_bps - np.array([a["cost_bps"] for a in again])
    assert np.abs(errors).mean() == pytest.approx(m["mae_bps"], rel=0.01)


def test_intervals_follow_the_realised_volatility_regime(synthetic):
    """Calm days in the training window (noise and 30-minute realised volatility both at 60%)
    and busy held-out days: with the point-in-time realised volatility among its inputs, the
    network's intervals are narrow on a calm order and wide on a busy one, and the held-out
    coverage stays near 85% where the square-root law's window-wide scale falls short."""
    rows, returns = synthetic
    days = rows["trade_date"].unique().sort()
    calm = pl.col("trade_date").is_in(days[4:9].to_list())
    rng = np.random.default_rng(9)
    law = (rows["arrival_cost_bps"] - rows["arrival_cost_bps"].mean()).to_numpy()
    rows = rows.with_columns(
        arrival_cost_bps=pl.when(calm)
        .then(pl.col("arrival_cost_bps").mean() + pl.Series(law * 0.6))
        .otherwise("arrival_cost_bps"),
        realized_vol_30m_bps=pl.when(calm)
        .then(pl.col("realized_vol_30m_bps") * 0.6)
        .otherwise("realized_vol_30m_bps")
        * pl.Series(rng.uniform(0.95, 1.05, rows.height)),
    )
    bundle, held_out = fit_cost_model(rows, returns)
    linear, _ = fit_cost_model(rows, returns, kind="linear")
    assert 0.82 <= bundle.metadata["interval_coverage"] <= 0.88
    assert linear.metadata["interval_coverage"] < bundle.metadata["interval_coverage"]
    order = held_out.orders[0]
    busy = order.realized_vol_bps
    calm_order = Order(**{**vars(order), "realized_vol_bps": busy * 0.6})
    (wide, narrow) = predict(bundle, [order, calm_order])
    assert narrow["upper_bps"] - narrow["lower_bps"] < 0.8 * (wide["upper_bps"] - wide["lower_bps"])
    # Without the caller's volatility, the bundle's snapshot of the symbol's latest (busy) day.
    snapshot = predict(bundle, [Order(**{**vars(order), "realized_vol_bps": None})])[0]
    assert snapshot["upper_bps"] - snapshot["lower_bps"] == pytest.approx(
        wide["upper_bps"] - wide["lower_bps"], rel=0.1
    )


def test_temporary_impact_comes_back(synthetic):
    """Costs that rise linearly with the participation rate v = (Q/ADV)/T: η comes back from
    the bucket means despite noise twenty times the signal's spread per order."""
    rows, _ = synthetic
    rng = np.random.default_rng(9)
    seconds = (rows["label_end_ts"] - rows["at"]).dt.total_seconds().to_numpy()
    rate = rows["quantity"].to_numpy() / rows["adv"].to_numpy() / (seconds / SESSION_SECONDS)
    cost = 3 + 40 * rate + rng.normal(0, 30, rows.height)
    eta = fit_temporary_impact(rows.with_columns(arrival_cost_bps=cost))
    assert eta == pytest.approx(40, rel=0.15)
    # No rate dependence, or a negative one: no impact.
    flat = rows.with_columns(arrival_cost_bps=3 - 10 * rate)
    assert fit_temporary_impact(flat) == 0.0


def test_almgren_chriss_horizon_by_hand():
    # η = 20 bps, x = 1% of ADV, λ = 1e-3 per bps, σ = 100 bps: T* = √(3·20·0.01/(1e-3·1e4))
    # = √0.06 = 0.244949 days = 5,731.8 s of a 23,400 s session.
    horizon = almgren_chriss_horizon_s(20.0, np.array([0.01]), np.array([100.0]), 1e-3)
    assert horizon[0] == pytest.approx(np.sqrt(0.06) * 23_400, rel=1e-12)
    assert horizon[0] == pytest.approx(5_731.8, abs=0.1)
    # A tiny order is worked for at least a minute; a huge one within the session.
    bounds = almgren_chriss_horizon_s(20.0, np.array([1e-9, 50.0]), np.array([100.0] * 2), 1e-3)
    assert bounds.tolist() == [MIN_HORIZON_S, SESSION_SECONDS]
    # More risk aversion or volatility: trade faster.
    base = almgren_chriss_horizon_s(20.0, np.array([0.01]), np.array([100.0]), 1e-3)[0]
    assert almgren_chriss_horizon_s(20.0, np.array([0.01]), np.array([200.0]), 1e-3)[0] < base
    assert almgren_chriss_horizon_s(20.0, np.array([0.01]), np.array([100.0]), 4e-3)[0] < base


def test_a_fit_registers_with_its_card_calibration_and_plot(synthetic, tmp_path):
    from mlflow.tracking import MlflowClient  # noqa: PLC0415

    from analytics_platform.ml.registry import register  # noqa: PLC0415

    bundle, held_out = fit_cost_model(*synthetic, kind="linear")
    calibration = bundle.metadata["calibration"]
    assert {c["dimension"] for c in calibration} == {"urgency", "size_vs_adv"}
    sizes = [c for c in calibration if c["dimension"] == "size_vs_adv"]
    assert sum(c["orders"] for c in sizes) == held_out.realised_bps.size
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    registered = register(uri, bundle, bundle.save(tmp_path / bundle.version),
                          test_orders=held_out.orders, test_realised=held_out.realised_bps,
                          champion_bundle=None)  # fmt: skip
    client = MlflowClient(tracking_uri=uri)
    artifacts = {a.path for a in client.list_artifacts(registered.run_id)}
    assert {"model_card.md", "calibration.png", "calibration_by_bucket.json"} <= artifacts
    card = client.download_artifacts(registered.run_id, "model_card.md", str(tmp_path))
    text = Path(card).read_text()
    assert bundle.version in text and "| square-root law |" in text and "η =" in text
