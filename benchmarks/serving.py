"""The prediction service under load, on loopback: latency at a fixed offered rate (open loop:
requests are sent on schedule whether or not earlier ones have returned, and each latency is
measured from its scheduled time, so a stall is not hidden) and the highest rate it sustains
(closed loop, several keep-alive connections). The client runs on the same 2-core machine.
"""

import http.client
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.common import print_table, write_results

ROOT = Path(__file__).parents[1]
BODY = json.dumps({"symbol": "AAA", "side": "BUY", "quantity": 10_000}).encode()


def _start(root: Path) -> tuple[subprocess.Popen, int]:
    from analytics_platform.serving.bundle import publish  # noqa: PLC0415
    from tests.test_serving import _bundle  # noqa: PLC0415  (the tests' small bundle)

    publish(_bundle("bench"), root)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "analytics_platform.cli", "serve", "--port", str(port),
         "--bundle", str(root)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the service did not start")


def _post(conn: http.client.HTTPConnection) -> None:
    conn.request("POST", "/predict", body=BODY, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"status {response.status}")


def open_loop(port: int, rate: float, seconds: float, workers: int = 8) -> np.ndarray:
    """Latencies (s) of requests scheduled at `rate` per second, measured from their schedule."""
    start = time.perf_counter() + 0.2
    total = int(rate * seconds)
    latencies = np.full(total, np.nan)

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for i in range(offset, total, workers):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            _post(conn)
            latencies[i] = time.perf_counter() - due
        conn.close()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def closed_loop(port: int, seconds: float, connections: int = 4) -> float:
    """Requests per second with `connections` clients sending back to back."""
    counts = [0] * connections
    stop = time.perf_counter() + seconds

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.perf_counter() < stop:
            _post(conn)
            counts[k] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        process, port = _start(Path(tmp) / "cost")
        try:
            open_loop(port, 200, 1)  # warm up
            rows = []
            for rate in (500, 1_000):
                latencies = open_loop(port, rate, 5)
                rows.append(
                    {
                        "load": f"open loop, {rate} req/s for 5 s",
                        "p50_ms": float(np.nanpercentile(latencies, 50) * 1e3),
                        "p99_ms": float(np.nanpercentile(latencies, 99) * 1e3),
                        "max_ms": float(np.nanmax(latencies) * 1e3),
                    }
                )
            rate = closed_loop(port, 5)
            rows.append({"load": "closed loop, 4 connections, 5 s", "max_req_per_s": rate})
        finally:
            process.terminate()
            process.wait(timeout=10)
    for row in rows:
        for key in ("p50_ms", "p99_ms", "max_ms", "max_req_per_s"):
            row.setdefault(key, None)
    print_table("Prediction service on loopback", rows)
    print(f"results: {write_results('serving', rows)}")
    return rows
