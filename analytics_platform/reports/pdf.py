"""HTML to PDF with headless Chromium (`--print-to-pdf`): the PDF is the page as the browser
lays it out for print (A4 landscape, the same inline SVG charts).

Chromium is looked up on PATH (Debian's `chromium`, or `chromium-browser`, `google-chrome`).
Without it there is no PDF: the report's metadata says so (`pdf_note`) and the HTML stands alone.
That is the documented fallback (docs/reports.md): a second renderer (matplotlib, weasyprint)
would draw a different report than the one tested in the browser.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class PdfError(RuntimeError):
    """Chromium ran but produced no PDF."""


def find_chromium() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def chromium_command(chromium: str, profile: Path, *args: str) -> list[str]:
    """Headless Chromium with its own throwaway profile (concurrent runs do not share one) and
    nothing that reaches the network."""
    return [
        chromium,
        "--headless=new",
        "--no-sandbox",  # runs as root in containers
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]


def html_to_pdf(html: str, chromium: str, timeout_s: float = 120) -> bytes:
    """The PDF of a self-contained HTML page."""
    with tempfile.TemporaryDirectory(prefix="report-pdf-") as tmp:
        work = Path(tmp)
        page, out = work / "report.html", work / "report.pdf"
        page.write_text(html, encoding="utf-8")
        command = chromium_command(
            chromium,
            work / "profile",
            "--no-pdf-header-footer",
            "--virtual-time-budget=5000",
            f"--print-to-pdf={out}",
            page.as_uri(),
        )
        done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
        if not out.is_file() or out.stat().st_size == 0:
            tail = done.stderr.decode(errors="replace")[-800:]
            raise PdfError(f"chromium exited {done.returncode} without a PDF: {tail}")
        return out.read_bytes()
