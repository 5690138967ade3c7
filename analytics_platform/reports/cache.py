"""Where built reports are kept so that a rebuild with unchanged inputs is served, not redone.

A cache entry is the report's files (name -> bytes: tca.html, tca.pdf) under a key of the
report kind, the day and the fingerprint of its inputs (build.py). Two backends behind one
small interface: a directory (the embedded default, `$ANALYTICS_HOME/reports/.cache`) and Redis
(the production profile: every run worker and the webserver see the same cache). Chosen by
ANALYTICS_REPORTS_CACHE: "disk", "off", or a Redis URL.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
DEFAULT_NAMESPACE = "analytics:reports"
# A day's report is read for weeks, not years; Redis drops older entries by itself.
REDIS_TTL_S = 90 * 24 * 3600
# The disk cache keeps this many entries (input versions) per report and day.
DISK_KEEP = 3


class ReportCache(Protocol):
    backend: str

    def get(self, key: str) -> dict[str, bytes] | None: ...

    def put(self, key: str, files: dict[str, bytes]) -> None: ...


class DiskCache:
    """Entries as directories `<root>/<key>/` (a key is `kind/day/fingerprint`), written to a
    temporary directory and renamed into place, so a reader never sees half an entry."""

    backend = "disk"

    def __init__(self, root: str | Path, keep: int = DISK_KEEP):
        self.root = Path(root)
        self.keep = keep

    def get(self, key: str) -> dict[str, bytes] | None:
        entry = self.root / key
        if not entry.is_dir():
            return None
        files = {p.name: p.read_bytes() for p in sorted(entry.iterdir()) if p.is_file()}
        return files or None

    def put(self, key: str, files: dict[str, bytes]) -> None:
        entry = self.root / key
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=entry.parent, prefix=".tmp-"))
        for name, content in files.items():
            (staging / name).write_bytes(content)
        if entry.exists():
            shutil.rmtree(entry, ignore_errors=True)
        try:
            os.replace(staging, entry)
        except OSError:  # a concurrent writer put the same entry first: keep theirs
            shutil.rmtree(staging, ignore_errors=True)
        self._prune(entry.parent)

    def _prune(self, day_dir: Path) -> None:
        entries = sorted(
            (p for p in day_dir.iterdir() if p.is_dir() and not p.name.startswith(".tmp-")),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for old in entries[self.keep :]:
            shutil.rmtree(old, ignore_errors=True)


class RedisCache:
    """Entries as Redis hashes `<namespace>:<key>` (field = file name), written in one
    transaction with a TTL."""

    backend = "redis"

    def __init__(self, url: str, namespace: str = DEFAULT_NAMESPACE, ttl_s: int = REDIS_TTL_S):
        import redis  # noqa: PLC0415 - only the production profile needs the client

        self.url = url
        self.namespace = namespace
        self.ttl_s = ttl_s
        self.client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{key.replace('/', ':')}"

    def get(self, key: str) -> dict[str, bytes] | None:
        found = self.client.hgetall(self._key(key))
        return {name.decode(): content for name, content in sorted(found.items())} or None

    def put(self, key: str, files: dict[str, bytes]) -> None:
        name = self._key(key)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(name)
            pipe.hset(name, mapping=files)
            pipe.expire(name, self.ttl_s)
            pipe.execute()


def open_cache(
    spec: str, disk_root: str | Path, namespace: str = DEFAULT_NAMESPACE
) -> ReportCache | None:
    """The cache ANALYTICS_REPORTS_CACHE names: "disk" (under `disk_root`), "off" (None) or a
    Redis URL."""
    if spec == "off":
        return None
    if spec == "disk":
        return DiskCache(disk_root)
    if spec.startswith(REDIS_SCHEMES):
        return RedisCache(spec, namespace)
    raise ValueError(f"unknown reports cache {spec!r}: disk, off or redis://host:port/db")
