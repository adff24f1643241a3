"""Benchmarks (not tests): run with `.venv/bin/python bench/<name>.py`; see docs/benchmarks.md."""
