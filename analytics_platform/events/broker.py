"""Embedded Pulsar broker (pulsar-lite) for the embedded runtime and the tests.

The binary is started directly rather than through `pulsar_lite.start_broker()`: that helper races
for ports in a fixed range and leaves the metrics endpoint on 0.0.0.0:8080. Here the broker gets
its own free loopback port, its own data directory, and a config file with metrics disabled.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from pulsar_lite.binary_finder import find_pulsar_lite_binary

log = logging.getLogger(__name__)

_CONFIG = "[metrics]\nenabled = false\n"


def _listens(pid: int, port: int) -> bool:
    """Whether process `pid` holds the listening socket of loopback `port` (Linux /proc; True
    where /proc cannot tell)."""
    try:
        table = Path("/proc/net/tcp").read_text().splitlines()[1:]
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return True
    inodes = {
        fields[9]
        for fields in (line.split() for line in table)
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A"  # 0A: LISTEN
    }
    owned = set()
    for fd in fds:
        try:
            owned.add(os.readlink(fd))
        except OSError:
            continue
    return any(f"socket:[{inode}]" in owned for inode in inodes)


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def running_embedded_url(data_dir: Path) -> str | None:
    """URL of an embedded broker already running on `data_dir` (another process), if any."""
    url_file = Path(data_dir) / "service_url"
    if not url_file.exists():
        return None
    url = url_file.read_text().strip()
    host, _, port = url.removeprefix("pulsar://").partition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return url
    except (OSError, ValueError):
        return None


class EmbeddedPulsar:
    """A pulsar-lite broker process persisting to `data_dir`; use as a context manager."""

    def __init__(self, data_dir: Path, port: int | None = None, startup_timeout_s: float = 15.0):
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def service_url(self) -> str:
        if self.port is None:
            raise RuntimeError("broker not started")
        return f"pulsar://127.0.0.1:{self.port}"

    def start(self) -> EmbeddedPulsar:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "pulsar-lite.toml"
        config.write_text(_CONFIG)
        for attempt in range(3):
            port = self.port or free_loopback_port()
            log_file = open(self.data_dir / "broker.log", "ab")  # noqa: SIM115 - owned by the child
            self.process = subprocess.Popen(
                [
                    find_pulsar_lite_binary(),
                    "--config",
                    str(config),
                    "--addr",
                    f"127.0.0.1:{port}",
                    "--db-path",
                    str(self.data_dir / "db"),
                    "--log-level",
                    "warn",
                ],
                cwd=self.data_dir,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log_file.close()
            if self._wait_ready(port):
                self.port = port
                self.url_file.write_text(self.service_url)
                log.info("pulsar-lite started", extra={"port": port, "pid": self.process.pid})
                return self
            self.stop()
            if self.port is not None and attempt == 0:
                break  # a fixed port that fails will keep failing
        raise RuntimeError(f"pulsar-lite did not start; see {self.data_dir / 'broker.log'}")

    def _wait_ready(self, port: int) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.25):
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            # Another broker may have taken the port between choosing and binding it (tests
            # start brokers in parallel): ready means *this* process listens there.
            return _listens(self.process.pid, port)
        return False

    @property
    def url_file(self) -> Path:
        """Where a running embedded broker advertises its URL to other processes (UI, sensors)."""
        return self.data_dir / "service_url"

    def stop(self, kill: bool = False) -> None:
        """Stop the broker: SIGTERM (or SIGKILL to simulate a crash), then wait."""
        if self.process is None:
            return
        self.url_file.unlink(missing_ok=True)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def __enter__(self) -> EmbeddedPulsar:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
