"""The prediction service as a client sees it: `analytics-platform serve` in its own process,
the DESIGN §7 contract, refusals, a bundle swapped under load, the token, and fuzzed bodies."""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from analytics_platform.serving.bundle import Bundle, SymbolContext, publish
from analytics_platform.serving.model import feature_names

ROOT = Path(__file__).parents[1]
ALGOS = ("IS", "POV", "TWAP", "VWAP")


def _bundle(version: str, intercept: float = 5.0) -> Bundle:
    # intercept, half spread, sqrt(Q/ADV)·vol, urgency MEDIUM/HIGH, POV, TWAP, VWAP, LIMIT
    weights = np.array([intercept, 1.0, 0.8, 1.0, 2.0, 1.5, 0.6, -0.5, -3.0])
    return Bundle(
        version=version,
        algos=ALGOS,
        coefficients=weights,
        feature_names=feature_names(ALGOS),
        interval=(-0.5, 0.6),
        symbols={
            "AAA": SymbolContext(spread_bps=4.0, daily_vol_bps=200.0, adv=1_000_000, mid=50.0),
            "BBB": SymbolContext(spread_bps=10.0, daily_vol_bps=300.0, adv=100_000, mid=20.0),
        },
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    def __init__(self, root: Path, token: str | None = None):
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if k != "ANALYTICS_SERVE_TOKEN"}
        if token:
            env["ANALYTICS_SERVE_TOKEN"] = token
        self.process = subprocess.Popen(
            [sys.executable, "-m", "analytics_platform.cli", "serve", "--port", str(self.port),
             "--bundle", str(root)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert self.process.poll() is None, self.process.stderr.read().decode()
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.1)

    def request(self, method: str, path: str, body=None, headers=None, raw: bytes | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        conn.request(method, path, body=data, headers=headers or {})
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        kind = response.getheader("Content-Type", "")
        return response.status, json.loads(payload) if "json" in kind else payload.decode()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models") / "cost"
    publish(_bundle("v1"), root)
    return root


@pytest.fixture(scope="module")
def service(models):
    svc = Service(models)
    yield svc
    svc.stop()


def test_a_single_order_gets_cost_interval_and_recommendation(service):
    status, body = service.request("POST", "/predict", {"symbol": "AAA", "side": "BUY",
                                                        "quantity": 10_000})  # fmt: skip
    assert status == 200
    assert set(body) >= {"cost_bps", "lower_bps", "upper_bps", "recommended_algo", "model_version"}
    # 5 + 4/2 + 0.8·200·√(0.01) + MEDIUM 1.0, with the cheapest algo (VWAP, −0.5): 23.5 bps
    assert body["cost_bps"] == pytest.approx(23.5)
    assert body["lower_bps"] == pytest.approx(23.5 - 0.5 * 200)
    assert body["upper_bps"] == pytest.approx(23.5 + 0.6 * 200)
    assert body["recommended_algo"] == "VWAP" and body["model_version"] == "v1"


def test_a_batch_answers_in_order(service):
    orders = [
        {"symbol": "AAA", "side": "BUY", "quantity": 100, "algo": "POV", "urgency": "HIGH"},
        {"symbol": "BBB", "side": "SELL", "quantity": 5000, "order_type": "LIMIT",
         "ts": "2026-11-20T15:00:00+00:00"},
    ]  # fmt: skip
    status, body = service.request("POST", "/predict", orders)
    assert status == 200 and len(body) == 2
    assert body[0]["algo"] == "POV" and body[0]["recommended_algo"] == "VWAP"
    assert body[0]["cost_bps"] > body[1]["cost_bps"] - 100  # both answered
    assert [b["symbol"] for b in body] == ["AAA", "BBB"]


@pytest.mark.parametrize(
    ("order", "field", "reason"),
    [
        ({"symbol": "AAA", "side": "BUY"}, "quantity", "required"),
        ({"symbol": "AAA", "side": "BUY", "quantity": 1.5}, "quantity", "whole number"),
        ({"symbol": "AAA", "side": "BUY", "quantity": "10"}, "quantity", "whole number"),
        ({"symbol": "AAA", "side": "BUY", "quantity": True}, "quantity", "whole number"),
        ({"symbol": "AAA", "side": "BUY", "quantity": -5}, "quantity", "positive"),
        ({"symbol": "AAA", "side": "HOLD", "quantity": 5}, "side", "BUY"),
        ({"side": "BUY", "quantity": 5}, "symbol", "required"),
        ({"symbol": "AAA", "side": "BUY", "quantity": 5, "urgency": "NOW"}, "urgency", "LOW"),
        ({"symbol": "AAA", "side": "BUY", "quantity": 5, "algo": "MAGIC"}, "algo", "unknown"),
        ({"symbol": "AAA", "side": "BUY", "quantity": 5, "ts": "noon"}, "ts", "ISO-8601"),
        ({"symbol": "AAA", "side": "BUY", "quantity": 5, "colour": "red"}, "colour", "unknown"),
        (
            {"symbol": "AAA", "side": "BUY", "quantity": 5, "realized_vol_bps": -1},
            "realized_vol_bps",
            "above 0",
        ),
        (
            {"symbol": "AAA", "side": "BUY", "quantity": 5, "realized_vol_bps": "x"},
            "realized_vol_bps",
            "a number",
        ),
        (
            {"symbol": "AAA", "side": "BUY", "quantity": 5, "realized_vol_bps": True},
            "realized_vol_bps",
            "a number",
        ),
    ],
)
def test_bad_requests_get_422_naming_the_field(service, order, field, reason):
    status, body = service.request("POST", "/predict", order)
    assert status == 422
    assert any(e["field"] == field and reason in e["reason"] for e in body["detail"]), body
    status, body = service.request("POST", "/predict", [order])
    assert status == 422 and body["detail"][0]["field"] == f"[0].{field}"


def test_an_unknown_symbol_is_404_naming_it(service):
    status, body = service.request("POST", "/predict", {"symbol": "ZZZ", "side": "BUY",
                                                        "quantity": 5})  # fmt: skip
    assert status == 404 and "unknown symbol 'ZZZ'" in body["detail"][0]["reason"]


def _oversized(service) -> int:
    """Announce a 2 MiB body and wait for the answer before sending it: the service refuses it
    from its Content-Length, without reading it (a client still sending would see a reset)."""
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    conn.putrequest("POST", "/predict")
    conn.putheader("Content-Length", str(2 << 20))
    conn.endheaders()
    status = conn.getresponse().status
    conn.close()
    return status


def test_what_no_client_can_do_to_it(service):
    assert _oversized(service) == 413
    many = [{"symbol": "AAA", "side": "BUY", "quantity": 1}] * 1_001
    assert service.request("POST", "/predict", many)[0] == 413
    deep = b"[" * 100_000 + b"]" * 100_000
    assert service.request("POST", "/predict", raw=deep)[0] == 422
    assert service.request("POST", "/predict", raw=b'{"quantity": NaN}')[0] == 422
    assert service.request("POST", "/predict", raw=b"\xff\xfe")[0] == 422
    assert service.request("POST", "/predict", [])[0] == 422
    assert service.request("GET", "/nowhere")[0] == 404
    assert service.request("GET", "/healthz") == (200, {"status": "ok", "model_version": "v1"})


def test_metrics_in_prometheus_text(service):
    service.request("POST", "/predict", {"symbol": "AAA", "side": "BUY", "quantity": 1})
    status, text = service.request("GET", "/metrics")
    assert status == 200
    assert 'prediction_requests_total{path="/predict",status="200"}' in text
    assert "prediction_request_seconds_bucket" in text and 'model_info{version="v1"} 1' in text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["symbol", "side", "quantity", "algo", "urgency", "x"]),
                inner,
                max_size=5,
            )
        ),
        max_leaves=12,
    )
)
def test_fuzzed_bodies_never_break_it(service, body):
    status, _ = service.request("POST", "/predict", body)
    assert status in (200, 404, 413, 422)


def test_a_new_bundle_is_swapped_in_without_dropping_a_request(tmp_path):
    root = tmp_path / "cost"
    publish(_bundle("v1"), root)
    svc = Service(root)
    statuses, versions, stop = [], set(), threading.Event()

    def load() -> None:
        while not stop.is_set():
            status, body = svc.request("POST", "/predict", {"symbol": "AAA", "side": "BUY",
                                                            "quantity": 100})  # fmt: skip
            statuses.append(status)
            versions.add(body.get("model_version"))

    try:
        worker = threading.Thread(target=load)
        worker.start()
        time.sleep(0.5)
        publish(_bundle("v2", intercept=9.0), root)
        deadline = time.monotonic() + 10
        while svc.request("GET", "/healthz")[1]["model_version"] != "v2":
            assert time.monotonic() < deadline, "v2 was not swapped in"
            time.sleep(0.1)
        time.sleep(0.3)
        stop.set()
        worker.join()
    finally:
        svc.stop()
    assert statuses and set(statuses) == {200}
    assert versions == {"v1", "v2"}


def test_with_a_token_every_request_needs_it(models):
    svc = Service(models, token="s3cret")
    try:
        assert svc.request("GET", "/healthz")[0] == 401
        wrong = {"Authorization": "Bearer nope"}
        assert svc.request("GET", "/healthz", headers=wrong)[0] == 401
        right = {"Authorization": "Bearer s3cret"}
        assert svc.request("GET", "/healthz", headers=right)[0] == 200
    finally:
        svc.stop()


def test_the_serving_process_loads_no_dagster_mlflow_or_jax():
    code = (
        "import sys; import analytics_platform.cli, analytics_platform.serving.server;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dagster', 'mlflow', 'jax'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert out.stdout.strip() == "[]"


def test_production_refuses_to_serve_without_a_token(models):
    """Off loopback, or with production sources, the service will not start open."""
    env = {k: v for k, v in os.environ.items() if k != "ANALYTICS_SERVE_TOKEN"}
    for host, simulator in (("0.0.0.0", "true"), ("127.0.0.1", "false")):
        proc = subprocess.run(
            [sys.executable, "-m", "analytics_platform.cli", "serve", "--host", host,
             "--port", str(_free_port()), "--bundle", str(models)],
            cwd=ROOT, env={**env, "ANALYTICS_SIMULATOR": simulator}, capture_output=True,
            text=True, timeout=60, check=False,
        )  # fmt: skip
        assert proc.returncode == 2 and "ANALYTICS_SERVE_TOKEN is required" in proc.stderr


def test_the_api_holds_to_its_openapi_description_under_fuzzing(service):
    """Schemathesis generates valid and invalid requests from the service's own OpenAPI
    description (fetched from it): no 5xx, every status and content type documented, valid
    orders answered and invalid ones refused."""
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{service.port}/openapi.json")
    # An invalid batch over 1,000 orders is refused for its size first (413, documented).
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    operations = [result.ok() for result in schema.get_all_operations()]
    strategy = st.one_of(
        [op.as_strategy(generation_mode=mode) for op in operations for mode in GenerationMode]
    )

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def check(case) -> None:
        case.call_and_validate()

    check()
