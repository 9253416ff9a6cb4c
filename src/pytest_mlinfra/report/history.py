"""The trend across runs: the figures a nightly reader compares (apply time, p95 latency, cost per
million documents, pass rate), one point per earlier ``--mlinfra-json`` report and one for this run.

Reads only JSON reports, so history can come from artifacts of other machines. A file that is not a
report is skipped and named in a note, never fatal: the run's own report matters more.
"""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIGURES = {
    "apply_s": "apply (s)",
    "p95_ms": "p95 latency (ms)",
    "cost_per_million_usd": "cost per 1 M documents (USD)",
    "pass_rate": "pass rate (%)",
}


@dataclass
class History:
    points: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "PATH: why", one per unusable file


def point(summary: dict[str, Any], source: str = "this run") -> dict[str, Any]:
    """One run's trend figures from its JSON report (None where the run did not measure one)."""
    run = summary.get("run") or {}
    tests = run.get("tests") or {}
    ran = sum(n for outcome, n in tests.items() if outcome != "skipped")
    latency = ((summary.get("latency") or {}).get("summary")) or {}
    documents = ((summary.get("cost") or {}).get("documents")) or []
    per_million = next((d["total_usd"] for d in documents if d.get("documents") == 1_000_000), None)
    return {
        "generated": summary.get("generated", ""),
        "run_id": run.get("run_id", ""),
        "verdict": run.get("verdict", ""),
        "source": source,
        "apply_s": (summary.get("stages_s") or {}).get("apply"),
        "p95_ms": latency.get("p95"),
        "cost_per_million_usd": per_million,
        "pass_rate": round(100 * tests.get("passed", 0) / ran, 1) if ran else None,
    }


def _files(patterns: tuple[str, ...]) -> list[Path]:
    found: dict[Path, None] = {}
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        for match in matches:
            found.setdefault(Path(match).resolve(), None)
    return list(found)


def load_history(patterns: tuple[str, ...], current: dict[str, Any]) -> History:
    """Earlier reports matched by ``patterns`` (globs or paths), oldest first, then this run.

    The current run's own JSON (a glob over the output folder matches it) is not counted twice."""
    history = History()
    if not patterns:
        return history
    this_run = (current.get("run") or {}).get("run_id"), current.get("generated")
    for path in _files(patterns):
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            history.skipped.append(f"{path}: {exc.__class__.__name__}: {exc}")
            continue
        if not isinstance(summary, dict) or not str(summary.get("schema", "")).startswith("pytest-mlinfra/"):
            history.skipped.append(f"{path}: not a --mlinfra-json report")
            continue
        if ((summary.get("run") or {}).get("run_id"), summary.get("generated")) == this_run:
            continue
        history.points.append(point(summary, str(path)))
    history.points.sort(key=lambda p: str(p["generated"]))
    history.points.append(point(current))
    return history
