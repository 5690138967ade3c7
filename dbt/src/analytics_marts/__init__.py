"""Python side of the dbt marts, installed in the dbt environment (.venv-dbt) only: imports
nothing but duckdb and dbt-duckdb (never the platform)."""
