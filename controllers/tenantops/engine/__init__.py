"""The engine: one reconciliation pass and the loop that repeats it.

A pass observes, decides, records its plan with one intent per write, then acts and records the outcomes:
a write is never made that the state store does not know it was about to make (`intents`)."""
