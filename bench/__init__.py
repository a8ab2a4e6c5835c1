"""The registry's benchmark: `make bench` (bench/run.py)."""
