"""The demo's plots: what the load asked for against what the controller provided, and how fast it answered.

Each workload gets a panel with the replayed demand (in replicas needed at the tier's CPU target), the
replicas the controller set, the replicas that were ready, and a marker at every actuator call. A second
figure shows the decision-latency distribution per direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display in CI or over ssh; must precede pyplot

import matplotlib.pyplot as plt

from tenantops_lab.demo.view import ActionEvent
from tenantops_lab.sandbox.workload_sim import LatencySample, WorkloadSimulator


def plot_replicas(sim: WorkloadSimulator, actions: Sequence[ActionEvent], path: Path, *, speed: float = 1.0,
                  live_from: float = 0.0) -> Path:
    """One panel per workload over trace minutes of the replay; the shaded start is before the controller's
    first pass (Prometheus filling its first rate window)."""
    keys = [s.key for s in sim.specs]
    cols = 3
    rows = max(1, -(-len(keys) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 4.6, rows * 2.3), squeeze=False, sharex=True)
    for index, key in enumerate(keys):
        ax = axes[index // cols][index % cols]
        history = sim.history.get(key, [])
        t = [p.at * speed for p in history]
        ax.plot(t, [p.needed for p in history], color="#999999", lw=1, label="needed by load")
        ax.step(t, [p.desired for p in history], where="post", color="#1f77b4", lw=1.4, label="set by controller")
        ax.step(t, [p.ready for p in history], where="post", color="#2ca02c", lw=1, ls="--", label="ready")
        for event in actions:
            if (event.tenant, event.workload) == key and event.status == "applied":
                ax.axvline(event.elapsed * speed, color="#d62728" if event.direction == "up" else "#9467bd", lw=0.6,
                           alpha=0.6)
        if live_from > 0:
            ax.axvspan(0, live_from * speed, color="#eeeeee", lw=0)
        ax.set_title(f"{key[0]}/{key[1]}", fontsize=9)
        ax.tick_params(labelsize=7)
    for index in range(len(keys), rows * cols):
        axes[index // cols][index % cols].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=3, fontsize=8)
    fig.supxlabel("trace minutes since the replay started (grey: before the controller's first pass)", fontsize=8)
    fig.supylabel("replicas", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_latency(samples: Sequence[LatencySample], path: Path, *, factor: float = 60.0) -> Path:
    """Decision latency in trace minutes (`factor` trace seconds per wall second of the replay)."""
    fig, ax = plt.subplots(figsize=(6, 3))
    for direction, color in (("up", "#d62728"), ("down", "#9467bd")):
        values = [s.seconds * factor / 60.0 for s in samples if s.direction == direction]
        if values:
            ax.hist(values, bins=20, alpha=0.6, color=color, label=f"scale {direction} (n={len(values)})")
    ax.set_xlabel("trace minutes from load change to actuator call")
    ax.set_ylabel("changes")
    if samples:
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
