"""A picture of one run: demand, the capacity that was serving it, and the replicas paid for."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a display

import matplotlib.pyplot as plt
import numpy as np

from tenantops.sim.benchmark import Result
from tenantops.sim.trace import Trace

MAX_POINTS = 20000


def plot_run(path: Path | str, trace: Trace, result: Result) -> None:
    """PNG with demand and served capacity (units/s) above, provisioned and ready replicas below."""
    steps = len(trace.demand)
    stride = max(1, steps // MAX_POINTS)  # long traces are thinned for drawing only, by taking maxima
    x = np.arange(0, steps, stride) * trace.step_seconds / 3600.0

    def thin(values: np.ndarray) -> np.ndarray:
        pad = (-len(values)) % stride
        padded = np.concatenate([values.astype(np.float64), np.full(pad, np.nan)])
        return np.asarray(np.nanmax(padded.reshape(-1, stride), axis=1), dtype=np.float64)

    served = result.run.ready * result.capacity
    violated = trace.demand > served
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 6), sharex=True)
    top.plot(x, thin(trace.demand), lw=0.6, label="demand")
    top.plot(x, thin(served), lw=0.6, label="ready capacity")
    top.scatter(x[thin(violated.astype(np.float64)) > 0], thin(trace.demand)[thin(violated.astype(np.float64)) > 0],
                s=4, c="red", label="SLO violated")
    top.set_ylabel("units / s")
    top.legend(loc="upper right", fontsize=8)
    f = result.figures
    oracle, hpa = result.oracle_cost, result.hpa_cost
    top.set_title(
        f"{trace.name} - policy {result.policy}: violations {f.violation_rate:.3%}, "
        f"cost {f.cost / oracle:.2f}x oracle, {f.cost / hpa:.2f}x HPA, excess closed {result.excess_closed:.2f}",
        fontsize=9,
    )
    bottom.plot(x, thin(result.run.provisioned), lw=0.6, label="provisioned (billed)")
    bottom.plot(x, thin(result.run.ready), lw=0.6, label="ready")
    bottom.set_ylabel("replicas")
    bottom.set_xlabel("hours since start")
    bottom.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110)
    plt.close(fig)
