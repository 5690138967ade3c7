"""Benchmarks: `make bench` (or `uv run python -m benchmarks [names]`)."""
