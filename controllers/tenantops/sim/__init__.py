"""Replay of recorded demand traces against the autoscaling code path, scored as in docs/benchmarks.md §1."""
