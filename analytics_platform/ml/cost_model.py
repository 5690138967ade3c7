"""The execution-cost model behind the prediction service, fitted on `ml/cost_dataset`.

This first model is the square-root law with fitted coefficients (REFERENCES "Market impact"):
arrival cost = c + a·half spread + Y·σ_D·√(Q/ADV) + urgency, algo and order-type effects, by least
squares; its 85% interval is the 7.5%–92.5% quantiles of the residual in units of the symbol's
daily volatility. It is fitted on the window's earlier days and scored on the last ones (MAE,
RMSE, interval coverage) against the mean, the baseline every model must beat.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from analytics_platform.serving.bundle import Bundle, SymbolContext
from analytics_platform.serving.model import Order, design, feature_names

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
SESSION_HALF_HOURS = 13  # 6.5 hours


@dataclass(frozen=True)
class TestSet:
    """The orders of the window's last days, held out of the fit: what the champion gate scores."""

    orders: list[Order]
    realised_bps: np.ndarray


def fit_cost_model(cost_rows: pl.DataFrame, returns: pl.DataFrame) -> tuple[Bundle, TestSet]:
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
    z = (y - x @ coefficients) / train["daily_vol_bps"].to_numpy()
    interval = tuple(float(q) for q in np.quantile(z, INTERVAL))
    scores = {}
    if test.height:
        xt, yt = _matrix(test, algos), test["arrival_cost_bps"].to_numpy()
        predicted = xt @ coefficients
        scale = test["daily_vol_bps"].to_numpy()
        inside = (yt >= predicted + interval[0] * scale) & (yt <= predicted + interval[1] * scale)
        scores = {
            "test_days": len(test_days),
            "test_orders": test.height,
            "mae_bps": float(np.abs(yt - predicted).mean()),
            "rmse_bps": float(np.sqrt(((yt - predicted) ** 2).mean())),
            "mean_baseline_mae_bps": float(np.abs(yt - y.mean()).mean()),
            "mean_baseline_rmse_bps": float(np.sqrt(((yt - y.mean()) ** 2).mean())),
            "interval_coverage": float(inside.mean()),
        }
    latest = frame.filter(pl.col("trade_date") == frame["trade_date"].max())
    context = (
        frame.group_by("symbol")
        .agg(pl.col("adv").last(), pl.col("daily_vol_bps").first(), pl.col("mid").first())
        .join(
            latest.group_by("symbol").agg(spread_bps=pl.col("spread_bps").median()),
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
        )
        for r in context.iter_rows(named=True)
    }
    held_out = TestSet(
        orders=[
            Order(
                r["symbol"], r["side"], int(r["quantity"]), r["algo"], r["urgency"], r["order_type"]
            )
            for r in test.select(
                "symbol", "side", "quantity", "algo", "urgency", "order_type"
            ).iter_rows(named=True)
        ],
        realised_bps=test["arrival_cost_bps"].to_numpy(),
    )
    window = f"{days[0]}..{days[-1]}" if days else ""
    digest = hashlib.sha256(coefficients.tobytes() + window.encode()).hexdigest()[:12]
    bundle = Bundle(
        version=f"sqrt-{digest}",
        algos=algos,
        coefficients=coefficients,
        feature_names=feature_names(algos),
        interval=interval,
        symbols=symbols,
        metadata={
            "model": "square-root law, least squares",
            "window": window,
            "train_orders": train.height,
            "coefficients": dict(zip(feature_names(algos), coefficients.tolist(), strict=True)),
            **scores,
        },
    )
    return bundle, held_out
