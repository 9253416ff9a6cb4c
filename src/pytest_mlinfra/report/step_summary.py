"""``mlinfra summary REPORT.json``: the ``--mlinfra-json`` report as Markdown for a CI job page
(GitHub's ``$GITHUB_STEP_SUMMARY``): verdict, stage times, latency, cost tags, failed tests.

Reads only the JSON, so it also works on a report copied from another machine."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")[:300]


def render(summary: dict[str, Any]) -> str:
    """Markdown for one JSON report (schema pytest-mlinfra/report/1)."""
    run = summary.get("run", {})
    counts = ", ".join(f"{n} {k}" for k, n in sorted(run.get("tests", {}).items())) or "no tests"
    lines = [f"## pytest-mlinfra: {run.get('verdict', '?')}", ""]
    lines.append(f"Target `{run.get('target')}` ({run.get('region')}), run `{run.get('run_id')}`: {counts}.")
    failure = summary.get("failure")
    if failure:
        lines += ["", f"**Failed at {failure.get('stage')}:** {_cell(failure.get('reason'))}"]
    stages = summary.get("stages_s") or {}
    if stages:
        lines += ["", "| stage | seconds |", "|---|---:|"]
        lines += [f"| {name} | {seconds:.2f} |" for name, seconds in stages.items()]
    latency = summary.get("latency") or {}
    figures = latency.get("summary") or latency
    shown = [f"{k} {v:.1f} ms" for k, v in figures.items() if k in {"p50", "p95", "p99", "cold"}]
    if shown:
        lines += ["", f"Latency (client wall time): {', '.join(shown)}."]
    tags = summary.get("cost_tags")
    if tags is not None:
        findings = tags.get("findings") or []
        verdict = "every resource carries its cost tags" if not findings else f"{len(findings)} finding(s)"
        lines += ["", f"Cost tags ({', '.join(tags.get('required', []))}): {verdict}."]
    bad = [t for t in summary.get("tests", []) if t.get("outcome") in {"failed", "error"}]
    if bad:
        lines += ["", "| failed test | message |", "|---|---|"]
        lines += [f"| `{_cell(t.get('test'))}` | {_cell(t.get('message', ''))} |" for t in bad]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mlinfra summary", description="Print a --mlinfra-json report as Markdown (CI step summary)."
    )
    parser.add_argument("report", type=Path, help="the JSON file --mlinfra-json wrote")
    args = parser.parse_args(argv)
    try:
        summary = json.loads(args.report.read_text())
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"mlinfra summary: error: cannot read {args.report}: {exc}\n")
        return 2
    if not isinstance(summary, dict) or not str(summary.get("schema", "")).startswith("pytest-mlinfra/"):
        sys.stderr.write(f"mlinfra summary: error: {args.report} is not a --mlinfra-json report\n")
        return 2
    sys.stdout.write(render(summary))
    return 0
