"""The prediction service's HTTP server (DESIGN §7): asyncio's event loop and a small HTTP/1.1
protocol (keep-alive, pipelining), standard library only on top of numpy.

POST /predict takes one JSON object or an array of them (symbol, side, quantity required; algo,
urgency, order_type, ts optional; realized_vol_bps too, the caller's live 30-minute volatility)
and answers per order cost_bps, lower_bps, upper_bps (the 85% interval), recommended_algo,
model_version. A bad request gets 422 naming the field and the reason; an unknown symbol 404
naming it; a body over 1 MiB or a batch over 1,000 orders 413, before anything is parsed or
predicted. GET /healthz, GET /metrics (Prometheus text), GET /openapi.json. A new bundle made
current under the bundle path is swapped in between requests. With ANALYTICS_SERVE_TOKEN set,
every request needs `Authorization: Bearer <token>` (401).

One process, one thread: a request is parsed, predicted and answered without a thread switch
(about 0.1 ms of numpy for one order), which is what keeps p99 under a millisecond at 1,000
requests/s. What a client sends is bounded: headers at 16 KiB (431), bodies at 1 MiB (413,
refused from Content-Length before they are read), idle connections closed after 60 s, at most
1,024 connections.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import hmac
import json
import time
from collections import Counter
from http import HTTPStatus
from pathlib import Path

from analytics_platform.serving.bundle import ORDER_TYPES, SIDES, URGENCIES, Bundle, resolve
from analytics_platform.serving.model import Order, predict

MAX_BODY_BYTES = 1 << 20
MAX_HEADER_BYTES = 16 << 10
MAX_CONNECTIONS = 1_024
IDLE_TIMEOUT_S = 60.0
MAX_BATCH = 1_000
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)
FIELDS = {"symbol", "side", "quantity", "algo", "urgency", "order_type", "ts", "realized_vol_bps"}
MAX_REALIZED_VOL_BPS = 1e5


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
    realized_vol = item.get("realized_vol_bps")
    if realized_vol is not None and (
        isinstance(realized_vol, bool)
        or not isinstance(realized_vol, int | float)
        or not 0 < realized_vol <= MAX_REALIZED_VOL_BPS
    ):
        bad("realized_vol_bps", f"a number of bps above 0 (and at most {MAX_REALIZED_VOL_BPS:g})")
    if errors:
        return None, errors
    return Order(symbol, side, quantity, algo, urgency, order_type, realized_vol), []


class Metrics:
    """Request counts and latencies, as Prometheus text."""

    def __init__(self) -> None:
        self.requests: Counter = Counter()
        self.buckets = [0] * len(LATENCY_BUCKETS)
        self.count, self.total, self.predictions = 0, 0.0, 0

    def observe(self, path: str, status: int, seconds: float, predictions: int) -> None:
        self.requests[(path, status)] += 1
        self.count += 1
        self.total += seconds
        self.predictions += predictions
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1

    def text(self, version: str, connections: int) -> str:
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
            "# HELP open_connections Client connections open now.",
            "# TYPE open_connections gauge",
            f"open_connections {connections}",
        ]
        return "\n".join(lines) + "\n"


ERROR_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["detail"],
                "properties": {
                    "detail": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["field", "reason"],
                            "properties": {
                                "field": {"type": "string"},
                                "reason": {"type": "string"},
                            },
                        },
                    }
                },
            }
        }
    }
}
_NUMBER = {"type": "number"}
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
                                        "minItems": 1,
                                        "maxItems": MAX_BATCH,
                                    },
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "One prediction, or one per order of a batch",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/Prediction"},
                                        {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Prediction"},
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "401": {"description": "Missing or wrong bearer token"},
                    "404": {"description": "Unknown symbol", **ERROR_BODY},
                    "411": {"description": "No Content-Length", **ERROR_BODY},
                    "413": {"description": "Body or batch too large", **ERROR_BODY},
                    "422": {"description": "Invalid field", **ERROR_BODY},
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
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 10**12},
                    "algo": {"type": "string"},  # the served bundle's algos: `openapi(bundle)`
                    "urgency": {"type": "string", "enum": list(URGENCIES)},
                    "order_type": {"type": "string", "enum": list(ORDER_TYPES)},
                    "ts": {"type": "string", "format": "date-time"},
                    "realized_vol_bps": {
                        "type": "number",
                        "minimum": 0,
                        "exclusiveMinimum": True,
                        "maximum": MAX_REALIZED_VOL_BPS,
                        "description": "The symbol's realised volatility over the last 30 "
                        "minutes (bps); without it, the bundle's snapshot of its latest day",
                    },
                },
            },
            "Prediction": {
                "type": "object",
                "required": [
                    "cost_bps",
                    "lower_bps",
                    "upper_bps",
                    "recommended_algo",
                    "model_version",
                ],
                "properties": {
                    "symbol": {"type": "string"},
                    "cost_bps": _NUMBER,
                    "lower_bps": _NUMBER,
                    "upper_bps": _NUMBER,
                    "algo": {"type": "string"},
                    "recommended_algo": {"type": "string"},
                    "recommended_cost_bps": _NUMBER,
                    "recommended_lower_bps": _NUMBER,
                    "recommended_upper_bps": _NUMBER,
                    "model_version": {"type": "string"},
                },
            },
        }
    },
}


def openapi(bundle: Bundle) -> dict:
    """The OpenAPI description with the served bundle's algos as the `algo` enum."""
    document = copy.deepcopy(OPENAPI)
    order = document["components"]["schemas"]["Order"]["properties"]
    order["algo"] = {"type": "string", "enum": list(bundle.algos)}
    return document


REASONS = {status.value: status.phrase for status in HTTPStatus}


class PredictionService:
    """What every connection shares: the current bundle (swapped whole between requests), the
    bearer token and the metrics. `respond` maps one request to (status, body, content type)."""

    def __init__(self, bundle_path: Path, token: str | None = None):
        self.bundle_path = Path(bundle_path)
        self.bundle = Bundle.load(self.bundle_path)
        self._loaded_from = self._signature()
        self.token = token.encode() if token else None
        self.metrics = Metrics()
        self.connections = 0

    def _signature(self) -> tuple[str, float]:
        path = resolve(self.bundle_path)
        return str(path), (path / "bundle.json").stat().st_mtime

    async def watch(self, every_s: float = 0.5) -> None:
        """Swap in a new current bundle: loaded aside (in a thread), then one reference
        assignment, so every request sees either the old bundle or the new one, whole."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(every_s)
            try:
                signature = self._signature()
                if signature != self._loaded_from:
                    self.bundle = await loop.run_in_executor(None, Bundle.load, self.bundle_path)
                    self._loaded_from = signature
            except (OSError, ValueError, KeyError):
                continue  # a bundle being written: try again on the next tick

    def _authorised(self, headers: dict[bytes, bytes]) -> bool:
        if self.token is None:
            return True
        return hmac.compare_digest(headers.get(b"authorization", b""), b"Bearer " + self.token)

    def respond(
        self, method: str, path: str, headers: dict[bytes, bytes], body: bytes
    ) -> tuple[int, bytes, str]:
        started = time.perf_counter()
        status, predictions = HTTPStatus.OK, 0
        content_type = "application/json"
        try:
            if not self._authorised(headers):
                status, payload = HTTPStatus.UNAUTHORIZED, {"detail": "missing or wrong token"}
            elif method == "GET" and path == "/healthz":
                payload = {"status": "ok", "model_version": self.bundle.version}
            elif method == "GET" and path == "/metrics":
                payload = self.metrics.text(self.bundle.version, self.connections)
                content_type = "text/plain; version=0.0.4"
            elif method == "GET" and path == "/openapi.json":
                payload = openapi(self.bundle)
            elif method == "POST" and path == "/predict":
                bundle = self.bundle  # one bundle for the whole request
                orders, batch = parse_orders(body, bundle)
                answers = predict(bundle, orders)
                payload, predictions = (answers if batch else answers[0]), len(answers)
            else:
                status, payload = HTTPStatus.NOT_FOUND, {"detail": f"no {method} {path}"}
        except RequestError as exc:
            status, payload = exc.status, exc.detail
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.metrics.observe(path, int(status), time.perf_counter() - started, predictions)
        return int(status), data, content_type


def _response(status: int, body: bytes, content_type: str, close: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, '')}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n{'Connection: close' + chr(13) + chr(10) if close else ''}"
        "\r\n"
    )
    return head.encode("latin-1") + body


class HttpConnection(asyncio.Protocol):
    """One client connection: HTTP/1.1 requests parsed from a bounded buffer, answered in order
    (pipelined requests included), kept alive unless the client or an error closes it."""

    def __init__(self, service: PredictionService):
        self.service = service
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.idle: asyncio.TimerHandle | None = None
        self.continued = False  # 100 Continue sent for the request being read

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.service.connections += 1
        if self.service.connections > MAX_CONNECTIONS:
            transport.close()
            return
        self._touch()

    def connection_lost(self, exc: Exception | None) -> None:
        self.service.connections -= 1
        if self.idle:
            self.idle.cancel()

    def _touch(self) -> None:
        if self.idle:
            self.idle.cancel()
        self.idle = asyncio.get_running_loop().call_later(IDLE_TIMEOUT_S, self.transport.close)

    def _fail(self, error: RequestError) -> None:
        """Answer and close: what follows in the buffer cannot be trusted to frame a request."""
        body = json.dumps(error.detail).encode()
        self.transport.write(_response(int(error.status), body, "application/json", close=True))
        self.transport.close()
        self.buffer.clear()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._touch()
        try:
            while self.buffer and not self.transport.is_closing() and self._one_request():
                pass
        except RequestError as error:
            self._fail(error)

    def _one_request(self) -> bool:
        """Answer the first request in the buffer; False while it is incomplete."""
        end = self.buffer.find(b"\r\n\r\n", 0, MAX_HEADER_BYTES + 4)
        if end < 0:
            if len(self.buffer) > MAX_HEADER_BYTES:
                raise _refusal(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers over 16 KiB")
            return False
        method, target, version, headers, length = _head(bytes(self.buffer[:end]))
        if len(self.buffer) < end + 4 + length:
            if headers.get(b"expect", b"").lower() == b"100-continue" and not self.continued:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                self.continued = True
            return False
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        self.continued = False
        connection = headers.get(b"connection", b"").lower()
        close = connection == b"close" or (version == b"HTTP/1.0" and connection != b"keep-alive")
        path = target.split(b"?", 1)[0].decode("latin-1")
        status, payload, content_type = self.service.respond(method, path, headers, body)
        self.transport.write(_response(status, payload, content_type, close))
        if close:
            self.transport.close()
        return True


def _refusal(status: HTTPStatus, reason: str) -> RequestError:
    return RequestError(status, _error("request", reason))


def _head(raw: bytes) -> tuple[str, bytes, bytes, dict[bytes, bytes], int]:
    """Method, target, version, headers (lower-cased names) and body length of a request head."""
    lines = raw.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or parts[2] not in (b"HTTP/1.0", b"HTTP/1.1"):
        raise _refusal(HTTPStatus.BAD_REQUEST, "not an HTTP/1.x request line")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise _refusal(HTTPStatus.BAD_REQUEST, "malformed header line")
        headers[name.strip().lower()] = value.strip()
    if b"transfer-encoding" in headers:
        raise _refusal(HTTPStatus.LENGTH_REQUIRED, "Content-Length required (no chunked bodies)")
    method = parts[0].decode("latin-1")
    length = headers.get(b"content-length", b"" if method == "POST" else b"0")
    if not length:
        raise _refusal(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
    if not length.isdigit():
        raise _refusal(HTTPStatus.BAD_REQUEST, "Content-Length is not a number")
    if int(length) > MAX_BODY_BYTES:
        reason = f"{int(length)} bytes; at most {MAX_BODY_BYTES}"
        raise _refusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, reason)
    return method, parts[1], parts[2], headers, int(length)


async def _serve(host: str, port: int, service: PredictionService) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: HttpConnection(service), host, port, reuse_address=True, backlog=1_024
    )
    async with server:
        await asyncio.gather(server.serve_forever(), service.watch())


def serve(host: str, port: int, bundle_path: Path, token: str | None = None) -> None:
    try:  # libuv's event loop where it is installed (not on Windows): the same protocol, faster
        from uvloop import run  # noqa: PLC0415
    except ImportError:
        run = asyncio.run
    run(_serve(host, port, PredictionService(bundle_path, token)))
