"""The prediction service under load on loopback, beside `mlflow models serve` of the same model.

Each server runs pinned to CPU 0, the load generator to CPU 1 (the machine has two).
- Open loop: requests are due at a fixed rate on several keep-alive connections whether or not
  earlier ones have returned; a sender process writes each at its due time and a receiver process
  reads the same sockets, so each latency runs from the due time to the response (a stall is
  not hidden) and the sender never waits on a response.
- Closed loop: several connections send back to back; completions per second is the most the
  server sustains on its one core.
"""

import asyncio
import dataclasses
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from benchmarks.common import print_table, write_results

ROOT = Path(__file__).parents[1]
ORDER = {"symbol": "AAA", "side": "BUY", "quantity": 10_000}
SERVER_CPU, CLIENT_CPU = {0}, {1}


def _request(path: str, payload: object) -> bytes:
    body = json.dumps(payload).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


OURS = _request("/predict", ORDER)
MLFLOW = _request("/invocations", {"dataframe_records": [{**ORDER, "algo": ""}]})


def network_bundle(version: str):
    """The tests' bundle with a network of the trained model's shape (weights drawn at random:
    inference costs the same)."""
    from analytics_platform.ml.network import HIDDEN  # noqa: PLC0415
    from tests.test_serving import _bundle  # noqa: PLC0415

    base = _bundle(version)
    width = len(base.feature_names) + 1  # the design but the intercept, log size, volatility
    rng = np.random.default_rng(0)
    arrays = {
        "w1": rng.normal(size=(width, HIDDEN)) * 0.1,
        "b1": np.zeros(HIDDEN),
        "w2": rng.normal(size=HIDDEN) * 0.1,
        "b2": np.array(0.0),
        "v": rng.normal(size=width) * 0.01,
        "c": np.array(3.0),
        "input_mean": np.zeros(width),
        "input_std": np.ones(width),
        "prior": base.coefficients,
    }
    return dataclasses.replace(base, kind="network", arrays=arrays)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(command: list[str], port: int, env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.sched_setaffinity(process.pid, SERVER_CPU)  # before it starts threads or children
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{command[:4]} exited with {process.returncode}") from None
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command[:4]} did not start")


def start_ours(models: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    command = [sys.executable, "-m", "analytics_platform.cli", "serve", "--port", str(port),
               "--bundle", str(models)]  # fmt: skip
    return _launch(command, port, dict(os.environ)), port


def start_mlflow(bundle_dir: Path, tmp: Path) -> tuple[subprocess.Popen, int]:
    """The same bundle registered in a SQLite tracking store and served by `mlflow models serve`
    from the registry (local environment, its default single worker)."""
    from analytics_platform.ml.registry import MODEL_NAME, register  # noqa: PLC0415
    from analytics_platform.serving.bundle import Bundle  # noqa: PLC0415

    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    register(uri, Bundle.load(bundle_dir), bundle_dir, test_orders=[],
             test_realised=np.array([]), champion_bundle=None)  # fmt: skip
    port = _free_port()
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m",
               f"models:/{MODEL_NAME}@champion", "--env-manager", "local", "--port", str(port),
               "--host", "127.0.0.1"]  # fmt: skip
    # mlflow starts `uvicorn` by name: this interpreter's scripts come first on PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return _launch(command, port, {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": path}), port


def _read_response(sock: socket.socket, buffer: bytearray) -> int:
    """Consume complete responses from `buffer` (after reading what the socket has); their count."""
    chunk = sock.recv(1 << 16)
    if not chunk:
        raise ConnectionError("server closed the connection")
    buffer += chunk
    done = 0
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return done
        head = bytes(buffer[:end]).lower()
        if not head.startswith((b"http/1.1 200", b"http/1.0 200")):
            raise RuntimeError(head.split(b"\r\n")[0].decode())
        length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
        if len(buffer) < end + 4 + length:
            return done
        del buffer[: end + 4 + length]
        done += 1


def _receive(socks, due: np.ndarray, connections: int, out) -> None:
    """Receiver process: each response's latency from its request's due time."""
    os.sched_setaffinity(0, CLIENT_CPU)
    latencies = np.full(len(due), np.nan)
    selector = selectors.DefaultSelector()
    buffers, next_i = {}, {}
    for k, sock in enumerate(socks):
        selector.register(sock, selectors.EVENT_READ, k)
        buffers[k], next_i[k] = bytearray(), k
    remaining, deadline = len(due), time.perf_counter() + due[-1] - due[0] + 30
    while remaining and time.perf_counter() < deadline:
        for key, _ in selector.select(timeout=1):
            k = key.data
            for _ in range(_read_response(socks[k], buffers[k])):
                latencies[next_i[k]] = time.perf_counter() - due[next_i[k]]
                next_i[k] += connections
                remaining -= 1
    out.send(latencies)


def open_loop(port: int, request: bytes, rate: float, seconds: float, connections: int = 16):
    """Latencies (s) of `rate` requests per second for `seconds`, from their due times."""
    os.sched_setaffinity(0, CLIENT_CPU)
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    for sock in socks:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    due = time.perf_counter() + 0.5 + np.arange(int(rate * seconds)) / rate
    ctx = get_context("fork")  # the receiver reads the sockets this process writes
    mine, theirs = ctx.Pipe()
    receiver = ctx.Process(target=_receive, args=(socks, due, connections, theirs))
    receiver.start()
    for i, when in enumerate(due):
        delay = when - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        socks[i % connections].sendall(request)
    latencies = mine.recv()
    receiver.join()
    for sock in socks:
        sock.close()
    return latencies


async def _closed_loop(port: int, request: bytes, seconds: float, connections: int) -> int:
    stop = time.perf_counter() + seconds

    async def client() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        done = 0
        while time.perf_counter() < stop:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            done += 1
        writer.close()
        return done

    return sum(await asyncio.gather(*(client() for _ in range(connections))))


def closed_loop(port: int, request: bytes, seconds: float = 5, connections: int = 8) -> float:
    os.sched_setaffinity(0, CLIENT_CPU)
    return asyncio.run(_closed_loop(port, request, seconds, connections)) / seconds


def _row(server: str, load: str, latencies=None, rate=None) -> dict:
    row = {"server": server, "load": load, "p50_ms": None, "p99_ms": None, "max_ms": None,
           "lost": None, "req_per_s": rate}  # fmt: skip
    if latencies is not None:
        answered = latencies[~np.isnan(latencies)]
        row.update(
            p50_ms=float(np.percentile(answered, 50) * 1e3),
            p99_ms=float(np.percentile(answered, 99) * 1e3),
            max_ms=float(answered.max() * 1e3),
            lost=int(np.isnan(latencies).sum()),
        )
    return row


def run() -> list[dict]:
    from analytics_platform.serving.bundle import publish  # noqa: PLC0415

    affinity = os.sched_getaffinity(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp) / "cost"
        bundle_dir = publish(network_bundle("bench"), models)
        process, port = start_ours(models)
        try:
            open_loop(port, OURS, 500, 1)  # warm up
            for rate in (1_000, 2_000):
                latencies = open_loop(port, OURS, rate, 5)
                rows.append(_row("analytics-platform serve", f"open loop {rate}/s, 5 s", latencies))
            rate = closed_loop(port, OURS)
            rows.append(_row("analytics-platform serve", "closed loop, 8 connections", rate=rate))
        finally:
            process.terminate()
            process.wait(timeout=10)
        process, port = start_mlflow(bundle_dir, Path(tmp))
        try:
            open_loop(port, MLFLOW, 50, 1)  # warm up
            latencies = open_loop(port, MLFLOW, 100, 5)
            rows.append(_row("mlflow models serve", "open loop 100/s, 5 s", latencies))
            rate = closed_loop(port, MLFLOW)
            rows.append(_row("mlflow models serve", "closed loop, 8 connections", rate=rate))
        finally:
            process.terminate()
            process.wait(timeout=30)
    os.sched_setaffinity(0, affinity)
    print_table("Prediction service on loopback (server on CPU 0, load generator on CPU 1)", rows)
    print(f"results: {write_results('serving', rows)}")
    return rows
