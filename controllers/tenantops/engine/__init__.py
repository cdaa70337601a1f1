"""The engine: one reconciliation pass (observe → decide → act → record) and the loop that repeats it."""
