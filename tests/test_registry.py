"""The cost model in a real MLflow store (SQLite): runs, registered versions, and the champion
alias that moves only when a candidate beats the champion on the same test orders."""

import numpy as np
from mlflow.tracking import MlflowClient

from analytics_platform.ml.registry import CHAMPION, MODEL_NAME, register
from analytics_platform.serving.model import Order, predict
from tests.test_serving import _bundle


def test_the_champion_moves_only_for_a_better_model(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    truth = _bundle("truth", intercept=5.0)
    orders = [Order("AAA", "BUY", q) for q in (100, 1_000, 10_000)] + [Order("BBB", "SELL", 500)]
    realised = np.array([a["cost_bps"] for a in predict(truth, orders)])

    def fit(version: str, intercept: float):
        bundle = _bundle(version, intercept)
        return bundle, bundle.save(tmp_path / version)

    first, first_dir = fit("first", 8.0)  # 3 bps off
    one = register(uri, first, first_dir, test_orders=orders, test_realised=realised,
                   champion_bundle=None)  # fmt: skip
    assert one.champion and one.champion_mae is None  # no champion yet: the first one is
    worse, worse_dir = fit("worse", 12.0)  # 7 bps off
    two = register(uri, worse, worse_dir, test_orders=orders, test_realised=realised,
                   champion_bundle=first)  # fmt: skip
    assert not two.champion and two.candidate_mae > two.champion_mae
    better, better_dir = fit("better", 5.5)  # 0.5 bps off
    three = register(uri, better, better_dir, test_orders=orders, test_realised=realised,
                     champion_bundle=first)  # fmt: skip
    assert three.champion and three.candidate_mae < three.champion_mae

    client = MlflowClient(tracking_uri=uri)
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    assert str(champion.version) == three.version
    assert champion.tags["bundle_version"] == "better"
    assert len(client.search_model_versions(f"name='{MODEL_NAME}'")) == 3
    run = client.get_run(three.run_id)
    assert run.data.metrics["gate_candidate_mae_bps"] == three.candidate_mae
    # Artifacts live beside the store, not in whatever directory the process started in.
    assert any((tmp_path / "mlartifacts").rglob("MLmodel"))
