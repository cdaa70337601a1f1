"""Replay of recorded demand traces against the autoscaling code path, scored as in BENCHMARKS §1."""
