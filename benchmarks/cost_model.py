"""Accuracy of the cost models on the history under ANALYTICS_HOME (build it with `make history`).

The window's last 20% of days are held out (as the platform's fit does). On those orders: MAE,
RMSE and 85%-interval coverage of the mean, the square-root law and the JAX model, beside the
simulator's own noise-free execution cost of each order (spread, offsets, its impact and the
venue/algo/broker effects it generated, without the market's move or the noise) and the firm's
own pre-trade estimate. The noise-free cost is not a bound on arrival cost: the orders of skilled
strategies also pay the drift their alpha predicts, which the models learn on average and the
noise-free cost leaves out. Then the JAX model's calibration by size and urgency bucket. The
truth comes from the simulator's world store: this benchmark, not the platform, may read it.
"""

import numpy as np
import polars as pl

from benchmarks.common import print_table, write_results

WINDOW_DAYS = 20
NOISE_FREE_TERMS = (
    "spread", "inside_offset", "temporary_impact", "permanent_impact", "venue_effect",
    "algo_effect", "broker_effect", "limit_clip",
)  # fmt: skip


def _score(y: np.ndarray, predicted: np.ndarray) -> dict:
    return {
        "mae_bps": float(np.abs(y - predicted).mean()),
        "rmse_bps": float(np.sqrt(((y - predicted) ** 2).mean())),
    }


def run() -> list[dict]:
    from analytics_platform.attribution.schemas import SECURITY_RETURNS  # noqa: PLC0415
    from analytics_platform.config import load_settings  # noqa: PLC0415
    from analytics_platform.lake import Lake  # noqa: PLC0415
    from analytics_platform.ml.cost_model import fit_cost_model  # noqa: PLC0415
    from analytics_platform.ml.feedback import calibration_by_bucket, order_predictions  # noqa: PLC0415
    from analytics_platform.ml.versions import COST_DATASET  # noqa: PLC0415
    from analytics_platform.tca.schemas import PRETRADE  # noqa: PLC0415
    from resources import build_resources  # noqa: PLC0415

    settings = load_settings()
    lake = Lake(str(settings.lake_uri), settings.lake_storage_options)
    days = lake.scan(COST_DATASET).select("trade_date").unique().collect()["trade_date"].sort()
    if days.len() < 5:
        print(f"cost_model: {days.len()} days of ml/cost_dataset under {settings.home}; skipped"
              " (run `make history` first)")  # fmt: skip
        return []
    window = days.to_list()[-WINDOW_DAYS:]
    rows = lake.scan(COST_DATASET, window).collect()
    returns = lake.scan(SECURITY_RETURNS, window).collect()
    network, _ = fit_cost_model(rows, returns)
    linear, _ = fit_cost_model(rows, returns, kind="linear")
    m = network.metadata
    test_days = window[-m["test_days"] :]
    test_rows = rows.filter(pl.col("trade_date").is_in(test_days))
    truth = build_resources(settings)["simulator"].store().truth("orders", test_days)
    oracle = (
        test_rows.select("row_id", "arrival_cost_bps")
        .join(
            truth.select(
                pl.col("order_id").alias("row_id"),
                pl.sum_horizontal(f"true_{t}_cost_bps" for t in NOISE_FREE_TERMS).alias("oracle"),
            ),
            on="row_id",
        )
        .drop_nulls()
    )
    y = oracle["arrival_cost_bps"].to_numpy()
    pretrade = (
        test_rows.select("row_id", "arrival_cost_bps")
        .join(
            lake.scan(PRETRADE, test_days)
            .select(pl.col("order_id").alias("row_id"), "expected_cost_bps")
            .collect(),
            on="row_id",
        )
        .drop_nulls()
    )
    rows_out = [
        {"model": "mean of the training costs", "mae_bps": m["mean_baseline_mae_bps"],
         "rmse_bps": m["mean_baseline_rmse_bps"], "coverage": None},
        {"model": "square-root law (least squares)", "mae_bps": m["sqrt_law_mae_bps"],
         "rmse_bps": m["sqrt_law_rmse_bps"], "coverage": m["sqrt_law_interval_coverage"]},
        {"model": "prior + residual network + volatility head (JAX)", "mae_bps": m["mae_bps"],
         "rmse_bps": m["rmse_bps"], "coverage": m["interval_coverage"]},
        {"model": "simulator truth: noise-free execution cost (no drift)",
         **_score(y, oracle["oracle"].to_numpy()), "coverage": None},
        {"model": "the firm's pre-trade estimate (MarketImpactAssessmentEvent)",
         **_score(pretrade["arrival_cost_bps"].to_numpy(),
                  pretrade["expected_cost_bps"].to_numpy()), "coverage": None},
    ]  # fmt: skip
    for row in rows_out:
        row.update(test_orders=m["test_orders"], window=m["window"])
    print_table(f"Cost models on {len(test_days)} held-out days ({m['window']})", rows_out)
    print(f"linear bundle coverage {linear.metadata['interval_coverage']:.3f}; "
          f"temporary impact η = {m['temporary_impact_eta_bps']:.2f} bps per ADV/day")  # fmt: skip
    calibration = calibration_by_bucket(order_predictions(network, test_rows))
    print_table("JAX model calibration on the held-out days", calibration.to_dicts())
    print(f"results: {write_results('cost_model', rows_out + calibration.to_dicts())}")
    return rows_out
