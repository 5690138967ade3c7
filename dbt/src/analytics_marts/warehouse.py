"""The DuckDB warehouse's access to the lake: DuckDB's delta extension, loaded offline.

DuckDB's own `INSTALL delta` downloads the extension; here it comes from the PyPI wheel
`duckdb-extension-delta` (same version as duckdb) and is loaded from its path. dbt-duckdb loads
it through `Plugin` (the profile's `plugins:` entry), so every dbt command (build, test, docs
generate) can `delta_scan` the lake's tables without a network.
"""

from __future__ import annotations

from importlib import resources

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin


def delta_extension_path() -> str:
    """The path of the delta extension shipped by the `duckdb-extension-delta` wheel."""
    root = resources.files("duckdb_extension_delta") / "extensions" / f"v{duckdb.__version__}"
    path = root / "delta.duckdb_extension"
    if not path.is_file():
        raise FileNotFoundError(
            f"no delta extension for duckdb {duckdb.__version__} at {path}: install "
            f"duckdb-extension-delta=={duckdb.__version__}"
        )
    return str(path)


def load_delta(connection: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """`LOAD` the delta extension on `connection` (offline; a no-op when already loaded)."""
    connection.execute(f"LOAD '{delta_extension_path()}'")
    return connection


class Plugin(BasePlugin):
    """dbt-duckdb plugin (`module: analytics_marts.warehouse` in dbt/profiles.yml): loads the
    delta extension on the warehouse connection before dbt runs anything on it."""

    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        load_delta(conn)
