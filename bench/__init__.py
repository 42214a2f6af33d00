"""Benchmarks, run on demand: `python -m bench.<name>`; results are written to bench/results/."""
