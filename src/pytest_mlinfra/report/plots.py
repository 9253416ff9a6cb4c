"""The report's plots, drawn by matplotlib (the optional ``report`` extra) as inline SVG text.

Each function takes the JSON summary's own figures, so a plot shows exactly the numbers the JSON
has. Text stays text in the SVG (``svg.fonttype = none``): smaller files, selectable labels, and
the browser's own fonts; nothing is fetched.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_STAGE_COLOUR = "#4c72b0"
_ACTION_COLOUR = {"create": "#55a868", "delete": "#c44e52", "update": "#dd8452", "replace": "#8172b2"}


@contextmanager
def _figure(width: float, height: float, rows: int = 1) -> Iterator[Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt

    with matplotlib.rc_context({"svg.fonttype": "none", "font.size": 9, "svg.hashsalt": "mlinfra"}):
        fig, ax = plt.subplots(rows, 1, figsize=(width, height), layout="constrained", sharex=True)
        try:
            yield fig, ax
        finally:
            plt.close(fig)


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # drop the XML prolog and doctype: it is inlined in HTML
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)  # RDF boilerplate


def timeline_svg(timeline: dict[str, Any]) -> str | None:
    """Gantt of the stages and, under them, each resource's create/destroy as Terraform reported it."""
    stages = timeline.get("stages", [])
    resources = timeline.get("resources", [])
    if not stages:
        return None
    rows: list[str] = []
    for span in stages:
        if span["stage"] not in rows:
            rows.append(span["stage"])
    addresses = list(dict.fromkeys(r["address"] for r in resources))
    labels = rows + addresses
    height = 1.0 + 0.22 * len(labels)
    with _figure(9.5, height) as (fig, ax):
        for span in stages:
            y = rows.index(span["stage"])
            ax.barh(y, max(span["end_s"] - span["start_s"], 0.02), left=span["start_s"], color=_STAGE_COLOUR)
        for r in resources:
            y = len(rows) + addresses.index(r["address"])
            colour = _ACTION_COLOUR.get(r["action"], "#937860") if r["ok"] else "#000000"
            ax.barh(y, max(r["end_s"] - r["start_s"], 0.02), left=r["start_s"], color=colour, height=0.7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("seconds since the first stage started")
        ax.grid(axis="x", alpha=0.3)
        handles = [ax.barh(0, 0, color=_STAGE_COLOUR, label="stage")]
        seen = {r["action"] for r in resources}
        for action in ("create", "delete", "update", "replace"):
            if action in seen:
                handles.append(ax.barh(0, 0, color=_ACTION_COLOUR[action], label=f"resource {action}"))
        if any(not r["ok"] for r in resources):
            handles.append(ax.barh(0, 0, color="#000000", label="resource failed"))
        ax.legend(handles=handles, loc="lower right", fontsize=7)
        return _svg(fig)


def latency_svg(latency: dict[str, Any]) -> str | None:
    """Histogram of client wall time, warm and cold apart (log scale), with the budgets drawn."""
    samples = latency.get("samples", [])
    if not samples:
        return None
    import numpy as np

    warm = [s["client_ms"] for s in samples if not s["cold"]]
    cold = [s["client_ms"] for s in samples if s["cold"]]
    budgets = latency.get("budgets_ms", {})
    values = warm + cold + list(budgets.values())
    low, high = max(min(values), 0.1), max(values)
    bins = np.geomspace(low * 0.9, high * 1.1, 40)
    with _figure(9.5, 3.2) as (fig, ax):
        if warm:
            ax.hist(warm, bins=bins, color="#4c72b0", alpha=0.8, label=f"warm ({len(warm)} invokes)")
        if cold:
            ax.hist(cold, bins=bins, color="#c44e52", alpha=0.9, label=f"cold ({len(cold)})")
        for key, limit in budgets.items():
            ax.axvline(limit, color="#c44e52" if key == "cold" else "#333333", linestyle="--", linewidth=1)
            ax.annotate(
                f"{key} budget {limit:g} ms",
                (limit, 1),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="top",
                ha="right",
                fontsize=7,
            )
        ax.set_xscale("log")
        ax.set_xlabel("client wall time per invoke (ms, log scale)")
        ax.set_ylabel("invokes")
        ax.legend(fontsize=8)
        return _svg(fig)


def cost_svg(cost: dict[str, Any]) -> str | None:
    """Projected Lambda cost for each document count (compute and requests stacked)."""
    rows = cost.get("documents", [])
    if not rows:
        return None
    with _figure(6.0, 2.4) as (fig, ax):
        names = [f"{r['documents'] / 1e6:g} M documents" for r in rows]
        compute = [r["compute_usd"] for r in rows]
        requests = [r["requests_usd"] for r in rows]
        ax.barh(names, compute, color="#4c72b0", label="duration (GB-s)")
        ax.barh(names, requests, left=compute, color="#dd8452", label="requests")
        for y, r in enumerate(rows):
            ax.annotate(f" ${r['total_usd']:,.2f}", (r["total_usd"], y), va="center", fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("USD (log scale)")
        ax.legend(fontsize=7, loc="lower right")
        return _svg(fig)


def history_svg(points: list[dict[str, Any]], figures: dict[str, str]) -> str | None:
    """One small line plot per trend figure (``figures``: key -> axis label), runs oldest first; the
    last point (this run) is drawn larger. Runs that did not measure a figure leave a gap."""
    if len(points) < 2:
        return None
    labels = [str(p.get("generated", ""))[:16].replace("T", " ") or f"run {i}" for i, p in enumerate(points)]
    xs = list(range(len(points)))
    with _figure(9.5, 1.3 * len(figures) + 0.6, rows=len(figures)) as (fig, axes):
        for ax, (key, label) in zip(axes, figures.items(), strict=True):
            ys = [p.get(key) if p.get(key) is not None else float("nan") for p in points]
            ax.plot(xs, ys, marker="o", markersize=3, color=_STAGE_COLOUR, linewidth=1.2)
            if ys[-1] == ys[-1]:  # not NaN
                ax.plot([xs[-1]], [ys[-1]], marker="o", markersize=7, color="#c44e52")
            ax.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
            ax.grid(alpha=0.3)
        step = max(1, len(xs) // 12)
        axes[-1].set_xticks(xs[::step], labels[::step], rotation=30, ha="right", fontsize=7)
        return _svg(fig)
