"""The Dagster UI as a person sees it: the real webserver on this code location, rendered by
headless Chromium (Debian's package; `.ci/run` installs it)."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from analytics_platform.cli import prepare_dagster_home
from analytics_platform.config import load_settings

ROOT = Path(__file__).parents[1]
SCREENSHOT = ROOT / "docs" / "img" / "lineage.png"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _chromium(url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1600,1000",
            "--virtual-time-budget=20000",
            *args,
            url,
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run does)")
def test_lineage_page_renders_the_graph_with_its_kinds(tmp_path, monkeypatch):
    for var in [v for v in os.environ if v.startswith(("ANALYTICS_", "PULSAR_", "DAGSTER_"))]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path / "var"))
    home = prepare_dagster_home(load_settings())
    port = _free_port()
    command = [sys.executable, "-m", "dagster_webserver", "-w", "workspace.yaml"]
    server = subprocess.Popen(
        [*command, "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/server_info", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("dagster-webserver did not come up")
                time.sleep(1)
        page = f"{base}/assets/tca/entity_scores?view=lineage&lineageScope=neighbors"
        dom = _chromium(page, "--dump-dom").stdout.decode()
        # The asset, its declared inputs, and the deltalake kind's label (not a bare "delta").
        for text in ("entity_scores", "order_scores", "fills", "Delta Lake"):
            assert text in dom, text
        # No community sign-up dialog over an internal tool.
        assert "Join the Dagster community" not in dom
        shot = tmp_path / "lineage.png"
        _chromium(page, f"--screenshot={shot}")
        assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
        if os.environ.get("UPDATE_SCREENSHOTS"):
            SCREENSHOT.parent.mkdir(exist_ok=True)
            shutil.copy(shot, SCREENSHOT)
    finally:
        server.terminate()
        server.wait(timeout=30)
