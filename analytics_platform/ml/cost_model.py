"""The execution-cost model behind the prediction service, fitted on `ml/cost_dataset`.

The square-root law with fitted coefficients (REFERENCES "Market impact"): arrival cost = c +
a·half spread + Y·σ_D·√(Q/ADV) + urgency, algo and order-type effects, by least squares; its 85%
interval is the 7.5%–92.5% quantiles of the residual in units of the symbol's daily volatility.
The default model (`kind="network"`, analytics_platform/ml/network.py) keeps that fit as its prior
and adds a residual network and a heteroscedastic head. Both are fitted on the window's earlier
days and scored on the last ones (MAE, RMSE, interval coverage) beside the mean and the
square-root law, the baselines a model must beat.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from analytics_platform.ml.feedback import calibration_by_bucket, cost_orders
from analytics_platform.ml.network import standardised_residuals, train_network
from analytics_platform.serving.bundle import Bundle, SymbolContext
from analytics_platform.serving.model import (
    SESSION_HALF_HOURS,
    SESSION_SECONDS,
    Order,
    design,
    feature_names,
    half_hour_vol,
    network_forward,
    network_inputs,
)

INTERVAL = (0.075, 0.925)
TEST_SHARE = 0.2


def _inputs(rows: pl.DataFrame, vol: pl.DataFrame) -> pl.DataFrame:
    return (
        rows.join(vol, on="symbol", how="left")
        # With no history yet (a first day), the day's own volume stands in for ADV.
        .with_columns(pl.col("adv").fill_null(pl.col("adv").median().over("symbol")))
        .with_columns(pl.col("adv").fill_null(pl.col("_volume").cast(pl.Float64)))
        .filter(
            pl.col("arrival_cost_bps").is_not_null()
            & pl.col("spread_bps").is_not_null()
            & pl.col("daily_vol_bps").is_not_null()
            & (pl.col("adv") > 0)
        )
        .with_columns(
            half_spread=pl.col("spread_bps") / 2,
            sqrt_vol=pl.col("daily_vol_bps") * (pl.col("quantity") / pl.col("adv")).sqrt(),
            # Point in time (the 30 minutes before the order).
            realized_vol_bps=pl.col("realized_vol_30m_bps")
            .fill_null(half_hour_vol(pl.col("daily_vol_bps")))
            .clip(lower_bound=1e-6),
        )
    )


def _matrix(frame: pl.DataFrame, algos: tuple[str, ...]) -> np.ndarray:
    return design(
        frame["half_spread"].to_numpy(),
        frame["sqrt_vol"].to_numpy(),
        urgency=frame["urgency"].to_numpy(),
        algo=frame["algo"].to_numpy(),
        limit=(frame["order_type"] == "LIMIT").to_numpy(),
        algos=algos,
    )


MIN_ORDERS = 30
IMPACT_BUCKETS = 10
# λ of the Almgren–Chriss horizon, per bps: a variance of 1,000 bps² weighs as 1 bps of cost.
RISK_AVERSION_PER_BPS = 1e-3


def fit_temporary_impact(frame: pl.DataFrame, buckets: int = IMPACT_BUCKETS) -> float:
    """Almgren–Chriss's linear temporary impact η (bps per unit of participation, ADV per day)
    from realised orders: arrival cost = ε + η·v with v = (Q/ADV)/T, T the order's duration in
    days (arrival to end), fitted by weighted least squares on the means of quantiles of v
    (REFERENCES: robust on bucketed data; one order's cost is mostly market noise). Never
    negative: a rate that lowers cost is no impact."""
    seconds = (pl.col("label_end_ts") - pl.col("at")).dt.total_microseconds() / 1e6
    means = (
        frame.with_columns(rate=pl.col("quantity") / pl.col("adv") / (seconds / SESSION_SECONDS))
        .filter(pl.col("rate").is_finite() & (pl.col("rate") > 0))
        .with_columns(bucket=pl.col("rate").qcut(buckets, allow_duplicates=True))
        .group_by("bucket")
        .agg(rate=pl.col("rate").mean(), cost=pl.col("arrival_cost_bps").mean(), n=pl.len())
    )
    if means.height < 2:
        return 0.0
    w = np.sqrt(means["n"].to_numpy())
    x = np.column_stack([np.ones(means.height), means["rate"].to_numpy()]) * w[:, None]
    (_, eta), *_ = np.linalg.lstsq(x, means["cost"].to_numpy() * w, rcond=None)
    return max(float(eta), 0.0)


@dataclass(frozen=True)
class TestSet:
    """The orders of the window's last days, held out of the fit: what the champion gate scores."""

    orders: list[Order]
    realised_bps: np.ndarray


MODELS = {
    "linear": "square-root law, least squares",
    "network": "square-root law prior + residual network + volatility head (JAX, optax)",
}


def _interval(z: np.ndarray) -> tuple[float, float]:
    return tuple(float(q) for q in np.quantile(z, INTERVAL))


def _scores(y: np.ndarray, mean: np.ndarray, scale: np.ndarray, interval) -> dict[str, float]:
    inside = (y >= mean + interval[0] * scale) & (y <= mean + interval[1] * scale)
    return {
        "mae_bps": float(np.abs(y - mean).mean()),
        "rmse_bps": float(np.sqrt(((y - mean) ** 2).mean())),
        "interval_coverage": float(inside.mean()),
    }


def _network_inputs(frame: pl.DataFrame, x: np.ndarray) -> np.ndarray:
    return network_inputs(
        x,
        np.log(frame["quantity"].to_numpy() / frame["adv"].to_numpy()),
        frame["daily_vol_bps"].to_numpy(),
        frame["realized_vol_bps"].to_numpy(),
    )


def fit_cost_model(
    cost_rows: pl.DataFrame, returns: pl.DataFrame, kind: str = "network"
) -> tuple[Bundle, TestSet]:
    """A bundle from the window's cost dataset rows and security returns. A symbol's daily
    volatility is the standard deviation of its close-to-close returns; with a single day, the
    30-minute realised volatility scaled to the session (and the day's volume for ADV).
    Raises ValueError with fewer than MIN_ORDERS usable orders."""
    intraday = cost_rows.group_by("symbol").agg(
        _intraday=pl.col("realized_vol_30m_bps").median() * SESSION_HALF_HOURS**0.5
    )
    vol = (
        returns.group_by("symbol")
        .agg(
            daily_vol_bps=pl.col("security_return").std() * 1e4,
            mid=pl.col("close_px").last(),
            _volume=pl.col("volume").mean(),
        )
        .join(intraday, on="symbol", how="left")
        .with_columns(pl.col("daily_vol_bps").fill_null(pl.col("_intraday")))
        .drop("_intraday")
    )
    frame = _inputs(cost_rows, vol).sort("trade_date", "row_id")
    if frame.height < MIN_ORDERS:
        raise ValueError(f"{frame.height} usable orders; the cost model needs {MIN_ORDERS}")
    algos = tuple(sorted(frame["algo"].unique().to_list()))
    days = frame["trade_date"].unique().sort().to_list()
    n_test = max(1, round(TEST_SHARE * len(days))) if len(days) > 1 else 0
    test_days = set(days[len(days) - n_test :])
    train = frame.filter(~pl.col("trade_date").is_in(test_days))
    test = frame.filter(pl.col("trade_date").is_in(test_days))
    x, y = _matrix(train, algos), train["arrival_cost_bps"].to_numpy()
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    vol_train = train["daily_vol_bps"].to_numpy()
    linear_interval = _interval((y - x @ coefficients) / vol_train)
    arrays: dict[str, np.ndarray] = {}
    if kind == "network":
        inputs = _network_inputs(train, x)
        arrays = train_network(x, inputs, y, coefficients)
        interval = _interval(standardised_residuals(arrays, x, inputs, y))
    else:
        interval = linear_interval
    scores = {}
    if test.height:
        xt, yt = _matrix(test, algos), test["arrival_cost_bps"].to_numpy()
        vol_test = test["daily_vol_bps"].to_numpy()
        linear = _scores(yt, xt @ coefficients, vol_test, linear_interval)
        scores = {
            "test_days": len(test_days),
            "test_orders": test.height,
            "mean_baseline_mae_bps": float(np.abs(yt - y.mean()).mean()),
            "mean_baseline_rmse_bps": float(np.sqrt(((yt - y.mean()) ** 2).mean())),
            **{f"sqrt_law_{k}": v for k, v in linear.items()},
        }
        if kind == "network":
            mean, scale = network_forward(arrays, xt, _network_inputs(test, xt))
            scores.update(_scores(yt, mean, scale, interval))
        else:
            mean, scale = xt @ coefficients, vol_test
            scores.update(linear)
        lower, upper = mean + interval[0] * scale, mean + interval[1] * scale
        held_out_predictions = test.select("urgency", "arrival_cost_bps").with_columns(
            size_vs_adv=test["quantity"] / test["adv"],
            cost_bps=mean,
            error_bps=yt - mean,
            in_interval=(yt >= lower) & (yt <= upper),
        )
        scores["calibration"] = calibration_by_bucket(held_out_predictions).to_dicts()
    latest = frame.filter(pl.col("trade_date") == frame["trade_date"].max())
    context = (
        frame.group_by("symbol")
        .agg(pl.col("adv").last(), pl.col("daily_vol_bps").first(), pl.col("mid").first())
        .join(
            latest.group_by("symbol").agg(
                spread_bps=pl.col("spread_bps").median(),
                realized_vol_bps=pl.col("realized_vol_bps").median(),
            ),
            on="symbol",
            how="left",
        )
        .with_columns(pl.col("spread_bps").fill_null(frame["spread_bps"].median()))
        .sort("symbol")
    )
    symbols = {
        r["symbol"]: SymbolContext(
            spread_bps=float(r["spread_bps"]),
            daily_vol_bps=float(r["daily_vol_bps"]),
            adv=float(r["adv"]),
            mid=float(r["mid"] or 0.0),
            realized_vol_bps=r["realized_vol_bps"],
        )
        for r in context.iter_rows(named=True)
    }
    held_out = TestSet(
        orders=cost_orders(test, realized_vol="realized_vol_bps"),
        realised_bps=test["arrival_cost_bps"].to_numpy(),
    )
    eta = fit_temporary_impact(train)
    window = f"{days[0]}..{days[-1]}" if days else ""
    weights = b"".join(a.tobytes() for a in (coefficients, *arrays.values()))
    digest = hashlib.sha256(weights + window.encode()).hexdigest()[:12]
    bundle = Bundle(
        kind=kind,
        arrays=arrays,
        version=f"{'net' if kind == 'network' else 'sqrt'}-{digest}",
        algos=algos,
        coefficients=coefficients,
        feature_names=feature_names(algos),
        interval=interval,
        symbols=symbols,
        impact={"eta_bps": eta, "risk_aversion": RISK_AVERSION_PER_BPS},
        metadata={
            "model": MODELS[kind],
            "window": window,
            "train_orders": train.height,
            "temporary_impact_eta_bps": eta,
            "coefficients": dict(zip(feature_names(algos), coefficients.tolist(), strict=True)),
            **scores,
        },
    )
    return bundle, held_out
