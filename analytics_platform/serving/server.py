"""The prediction service's HTTP server (DESIGN §7), standard library only on top of numpy.

POST /predict takes one JSON object or an array of them (symbol, side, quantity required; algo,
urgency, order_type, ts optional) and answers per order cost_bps, lower_bps, upper_bps (the 85%
interval), recommended_algo, model_version. A bad request gets 422 naming the field and the
reason; an unknown symbol 404 naming it; a body over 1 MiB or a batch over 1,000 orders 413,
before anything is parsed or predicted. GET /healthz, GET /metrics (Prometheus text), GET
/openapi.json. A new bundle made current under the bundle path is swapped in between requests.
With ANALYTICS_SERVE_TOKEN set, every request needs `Authorization: Bearer <token>` (401).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import threading
import time
from collections import Counter
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from analytics_platform.serving.bundle import ORDER_TYPES, SIDES, URGENCIES, Bundle, resolve
from analytics_platform.serving.model import Order, predict

MAX_BODY_BYTES = 1 << 20
MAX_BATCH = 1_000
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)
FIELDS = {"symbol", "side", "quantity", "algo", "urgency", "order_type", "ts"}


class RequestError(Exception):
    def __init__(self, status: HTTPStatus, detail: object):
        super().__init__(str(detail))
        self.status, self.detail = status, detail


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def parse_orders(body: bytes, bundle: Bundle) -> tuple[list[Order], bool]:
    """The orders of a request body (and whether it was a batch), or a RequestError."""
    try:
        document = json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        error = _error("body", "nesting too deep")
        raise RequestError(HTTPStatus.UNPROCESSABLE_ENTITY, error) from None
    except (ValueError, UnicodeDecodeError) as exc:
        error = _error("body", f"not JSON: {exc}")
        raise RequestError(HTTPStatus.UNPROCESSABLE_ENTITY, error) from None
    batch = isinstance(document, list)
    items = document if batch else [document]
    if batch and not items:
        raise RequestError(HTTPStatus.UNPROCESSABLE_ENTITY, _error("body", "empty batch"))
    if len(items) > MAX_BATCH:
        raise RequestError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            _error("body", f"{len(items)} orders in one request; at most {MAX_BATCH}"),
        )
    errors, orders, unknown = [], [], []
    for i, item in enumerate(items):
        prefix = f"[{i}]." if batch else ""
        order, item_errors = _order(item, prefix)
        errors += item_errors
        if order is not None:
            if order.algo is not None and order.algo not in bundle.algos:
                errors.append(
                    {
                        "field": f"{prefix}algo",
                        "reason": f"unknown algo; one of {list(bundle.algos)}",
                    }
                )
            elif order.symbol not in bundle.symbols:
                unknown.append(
                    {"field": f"{prefix}symbol", "reason": f"unknown symbol '{order.symbol}'"}
                )
            else:
                orders.append(order)
    if errors:
        raise RequestError(HTTPStatus.UNPROCESSABLE_ENTITY, {"detail": errors})
    if unknown:
        raise RequestError(HTTPStatus.NOT_FOUND, {"detail": unknown})
    return orders, batch


def _error(field: str, reason: str) -> dict:
    return {"detail": [{"field": field, "reason": reason}]}


def _order(item: object, prefix: str) -> tuple[Order | None, list[dict]]:
    if not isinstance(item, dict):
        return None, [{"field": prefix.rstrip(".") or "body", "reason": "expected a JSON object"}]
    errors = []

    def bad(name: str, reason: str) -> None:
        errors.append({"field": f"{prefix}{name}", "reason": reason})

    for name in sorted(set(item) - FIELDS):
        bad(name, "unknown field")
    symbol, side, quantity = item.get("symbol"), item.get("side"), item.get("quantity")
    if not isinstance(symbol, str) or not symbol:
        bad("symbol", "required: a non-empty string")
    if side not in SIDES:
        bad("side", f"required: one of {list(SIDES)}")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        bad("quantity", "required: a whole number of shares")
    elif not 0 < quantity <= 10**12:
        bad("quantity", "must be positive (and at most 1e12)")
    urgency = item.get("urgency", "MEDIUM")
    if urgency not in URGENCIES:
        bad("urgency", f"one of {list(URGENCIES)}")
    order_type = item.get("order_type", "MARKET")
    if order_type not in ORDER_TYPES:
        bad("order_type", f"one of {list(ORDER_TYPES)}")
    algo = item.get("algo")
    if algo is not None and not isinstance(algo, str):
        bad("algo", "a string")
    ts = item.get("ts")
    if ts is not None:
        try:
            dt.datetime.fromisoformat(ts)
        except (TypeError, ValueError):
            bad("ts", "an ISO-8601 timestamp")
    if errors:
        return None, errors
    return Order(symbol, side, quantity, algo, urgency, order_type), []


class Metrics:
    """Request counts and latencies, as Prometheus text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter = Counter()
        self.buckets = [0] * len(LATENCY_BUCKETS)
        self.count, self.total, self.predictions = 0, 0.0, 0

    def observe(self, path: str, status: int, seconds: float, predictions: int) -> None:
        with self._lock:
            self.requests[(path, status)] += 1
            self.count += 1
            self.total += seconds
            self.predictions += predictions
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    self.buckets[i] += 1

    def text(self, version: str) -> str:
        with self._lock:
            lines = [
                "# HELP prediction_requests_total Requests by path and status.",
                "# TYPE prediction_requests_total counter",
                *[
                    f'prediction_requests_total{{path="{p}",status="{s}"}} {n}'
                    for (p, s), n in sorted(self.requests.items())
                ],
                "# HELP prediction_request_seconds Request latency.",
                "# TYPE prediction_request_seconds histogram",
                *[
                    f'prediction_request_seconds_bucket{{le="{b}"}} {n}'
                    for b, n in zip(LATENCY_BUCKETS, self.buckets, strict=True)
                ],
                f'prediction_request_seconds_bucket{{le="+Inf"}} {self.count}',
                f"prediction_request_seconds_sum {self.total}",
                f"prediction_request_seconds_count {self.count}",
                "# HELP predictions_total Orders predicted.",
                "# TYPE predictions_total counter",
                f"predictions_total {self.predictions}",
                "# HELP model_info The model being served.",
                "# TYPE model_info gauge",
                f'model_info{{version="{version}"}} 1',
            ]
        return "\n".join(lines) + "\n"


OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "Execution-cost prediction", "version": "1"},
    "paths": {
        "/predict": {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {"$ref": "#/components/schemas/Order"},
                                    {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Order"},
                                        "maxItems": MAX_BATCH,
                                    },
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "200": {"description": "Predictions"},
                    "404": {"description": "Unknown symbol"},
                    "413": {"description": "Body or batch too large"},
                    "422": {"description": "Invalid field"},
                },
            }
        },
        "/healthz": {"get": {"responses": {"200": {"description": "Serving"}}}},
        "/metrics": {"get": {"responses": {"200": {"description": "Prometheus text"}}}},
    },
    "components": {
        "schemas": {
            "Order": {
                "type": "object",
                "required": ["symbol", "side", "quantity"],
                "additionalProperties": False,
                "properties": {
                    "symbol": {"type": "string", "minLength": 1},
                    "side": {"type": "string", "enum": list(SIDES)},
                    "quantity": {"type": "integer", "minimum": 1},
                    "algo": {"type": "string"},
                    "urgency": {"type": "string", "enum": list(URGENCIES)},
                    "order_type": {"type": "string", "enum": list(ORDER_TYPES)},
                    "ts": {"type": "string", "format": "date-time"},
                },
            }
        }
    },
}


class PredictionServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], bundle_path: Path, token: str | None = None):
        self.bundle_path = Path(bundle_path)
        self.bundle = Bundle.load(self.bundle_path)
        self._loaded_from = self._signature()
        self.token = token
        self.metrics = Metrics()
        self._stop = threading.Event()
        super().__init__(address, Handler)
        threading.Thread(target=self._watch, daemon=True, name="bundle-watch").start()

    def _signature(self) -> tuple[str, float]:
        path = resolve(self.bundle_path)
        return str(path), (path / "bundle.json").stat().st_mtime

    def _watch(self, every_s: float = 0.5) -> None:
        """Swap in a new current bundle: loaded aside, then one reference assignment, so every
        request sees either the old bundle or the new one, whole."""
        while not self._stop.wait(every_s):
            try:
                signature = self._signature()
                if signature != self._loaded_from:
                    self.bundle = Bundle.load(self.bundle_path)
                    self._loaded_from = signature
            except (OSError, ValueError, KeyError):
                continue  # a bundle being written: try again on the next tick

    def server_close(self) -> None:
        self._stop.set()
        super().server_close()


class Handler(BaseHTTPRequestHandler):
    server: PredictionServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: with Nagle's algorithm on, a keep-alive client
    # waits for a delayed ACK (~40 ms) on every response.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args) -> None:
        pass  # /metrics counts requests; no line per request on stderr

    def _send(self, status: int, body: object, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        if not self.server.token:
            return True
        given = self.headers.get("Authorization", "")
        expected = f"Bearer {self.server.token}"
        return hmac.compare_digest(given.encode(), expected.encode())

    def _handle(self, method: str) -> None:
        started = time.perf_counter()
        path = self.path.split("?", 1)[0]
        status, predictions = HTTPStatus.OK, 0
        try:
            if not self._authorised():
                status = HTTPStatus.UNAUTHORIZED
                self._send(status, {"detail": "missing or wrong bearer token"})
            elif method == "GET" and path == "/healthz":
                bundle = self.server.bundle
                self._send(status, {"status": "ok", "model_version": bundle.version})
            elif method == "GET" and path == "/metrics":
                text = self.server.metrics.text(self.server.bundle.version)
                self._send(status, text, "text/plain; version=0.0.4")
            elif method == "GET" and path == "/openapi.json":
                self._send(status, OPENAPI)
            elif method == "POST" and path == "/predict":
                predictions = self._predict()
            else:
                status = HTTPStatus.NOT_FOUND
                self._send(status, {"detail": f"no {method} {path}"})
        except RequestError as exc:
            status = exc.status
            self._send(status, exc.detail)
        finally:
            self.server.metrics.observe(
                path, int(status), time.perf_counter() - started, predictions
            )

    def _predict(self) -> int:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise RequestError(
                HTTPStatus.LENGTH_REQUIRED, _error("body", "Content-Length required")
            )
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True  # the body is not read
            raise RequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                _error("body", f"{length} bytes; at most {MAX_BODY_BYTES}"),
            )
        body = self.rfile.read(int(length))
        bundle = self.server.bundle  # one bundle for the whole request
        orders, batch = parse_orders(body, bundle)
        answers = predict(bundle, orders)
        self._send(HTTPStatus.OK, answers if batch else answers[0])
        return len(answers)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


def serve(host: str, port: int, bundle_path: Path, token: str | None = None) -> None:
    with PredictionServer((host, port), bundle_path, token) as server:
        server.serve_forever()
