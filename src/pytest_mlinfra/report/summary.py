"""The run's figures as one plain JSON document: what ``--mlinfra-json`` writes and what the HTML
report is drawn from, so the two can never disagree."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlinfra.latency import budget_misses
from pytest_mlinfra.report.cost import Prices, projection
from pytest_mlinfra.report.environment import environment
from pytest_mlinfra.report.results import SessionResults

if TYPE_CHECKING:
    from pytest_mlinfra.run import Run
    from pytest_mlinfra.settings import Settings

SCHEMA = "pytest-mlinfra/report/1"


def _verdict(exitstatus: int, results: SessionResults, run: Run | None) -> str:
    if run is not None and run.failure is not None:
        return f"FAILED at {run.failure[0]}"
    counts = results.counts()
    if counts.get("failed") or counts.get("error"):
        return "FAILED"
    return "PASSED" if exitstatus == 0 else f"exit status {exitstatus}"


def _toolchain(run: Run) -> dict[str, str]:
    try:
        toolchain = run.toolchain
        stack = run.stack
        installed = stack.provider_line() if stack is not None and stack.installed else None
        installed = installed or run.provider_installed  # the stack is gone once destroyed
        return {"terraform": toolchain.describe(), "provider": installed or toolchain.provider_source}
    except Exception as exc:  # the report still gets written when Terraform itself is the problem
        return {"terraform": f"not usable: {exc}", "provider": ""}


def _timeline(
    run: Run, loop_window: tuple[float, float] | None
) -> tuple[float | None, list[dict[str, Any]], list[dict[str, Any]]]:
    spans = [(s.stage, s.start, s.end) for s in run.timer.spans]
    if not spans:
        return None, [], []
    if loop_window is not None:
        spans.append(("test loop", *loop_window))
    origin = min(start for _, start, _ in spans)
    stages = [
        {"stage": stage, "start_s": round(start - origin, 3), "end_s": round(end - origin, 3)}
        for stage, start, end in sorted(spans, key=lambda span: span[1])
    ]
    resources = [
        {
            "address": r.address,
            "action": r.action,
            "start_s": round(r.start - origin, 3),
            "end_s": round(r.end - origin, 3),
            "ok": r.ok,
        }
        for r in run.resource_spans
    ]
    return origin, stages, resources


def _state_resources(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from _state_resources(child)


def tag_rows(state: dict[str, Any] | None, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each managed resource of the audited state with the values of the required tags it carries."""
    root = ((state or {}).get("values") or {}).get("root_module") or {}
    rows = []
    for resource in _state_resources(root):
        if resource.get("mode") != "managed":
            continue
        values = resource.get("values") or {}
        if "tags" not in values and "tags_all" not in values:  # AWS cannot tag it: no tag is missing
            rows.append({"address": resource["address"], "tags": {}, "taggable": False})
            continue
        tags = values.get("tags_all") or values.get("tags") or {}
        if not isinstance(tags, dict):
            continue
        wanted = {k: tags[k] for k in required if k in tags}
        rows.append({"address": resource["address"], "tags": wanted, "taggable": True})
    return rows


def _latency(run: Run) -> dict[str, Any]:
    log = run.latencies
    return {
        "summary": log.summary() if log.samples else {},
        "budgets_ms": dict(run.settings.latency_budgets),
        "misses": budget_misses(log, run.settings.latency_budgets) if log.samples else [],
        "samples": [
            {"client_ms": round(s.client_ms, 3), "duration_ms": s.duration_ms, "cold": s.cold}
            for s in log.samples
        ],
    }


def _datasync(run: Run) -> dict[str, Any] | None:
    model = run.model
    execution = run.sync_execution
    if model is None and execution is None:
        return None
    figures: dict[str, Any] = {}
    if model is not None:
        figures |= {"model_bytes": model.size, "on_efs": model.on_efs, "verified_by": model.verified_by}
    if execution is not None:
        result = execution.get("Result", {})
        moved = int(execution.get("BytesTransferred", 0))
        transfer_ms = result.get("TransferDuration") or result.get("TotalDuration")
        figures |= {
            "status": execution.get("Status"),
            "bytes_transferred": moved,
            "phases_ms": {k.removesuffix("Duration"): v for k, v in result.items() if k.endswith("Duration")},
            "throughput_mb_s": (moved / 1e6) / (transfer_ms / 1000) if transfer_ms else None,
        }
    sync_s = run.timer.seconds.get("sync")
    if sync_s and model is not None:
        figures["upload_and_sync_mb_s"] = model.size / 1e6 / sync_s
        figures["sync_stage_s"] = sync_s
    return figures


def build_summary(
    settings: Settings,
    run: Run | None,
    results: SessionResults,
    *,
    loop_seconds: float | None,
    exitstatus: int,
    prices: Prices,
    loop_window: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Everything the report shows. ``run`` is None when no test used an mlinfra fixture."""
    from pytest_mlinfra.reporting import stage_seconds

    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run": {
            "run_id": settings.run_id,
            "target": settings.target,
            "region": settings.region,
            "stack": str(settings.stack_dir),
            "verdict": _verdict(exitstatus, results, run),
            "exit_status": exitstatus,
            "tests": results.counts(),
        },
        "failure": None,
        "stages_s": {},
        "timeline": {"stages": [], "resources": []},
        "latency": None,
        "properties": [r.to_dict() for r in results.properties()],
        "tests": [r.to_dict() for r in results.results.values()],
        "environment": {},
        "cost_tags": None,
        "datasync": None,
        "cost": None,
    }
    if run is not None and (run.stack is not None or run.timer.seconds.get("init")):
        summary["run"] |= _toolchain(run)
    summary["environment"] = environment(summary["run"])
    if run is None:
        return summary
    if run.failure is not None:
        summary["failure"] = {"stage": run.failure[0], "reason": run.failure[1]}
    summary["stages_s"] = {k: round(v, 3) for k, v in stage_seconds(run, loop_seconds, loop_window).items()}
    origin, stages, resources = _timeline(run, loop_window)
    if origin is not None:
        summary["timeline"] = {"origin": origin, "stages": stages, "resources": resources}
    summary["latency"] = _latency(run)
    if run.findings is not None:
        summary["cost_tags"] = {
            "required": list(settings.required_tags),
            "findings": [f.to_dict() for f in run.findings],
            "resources": tag_rows(run.audited_state, settings.required_tags),
        }
    summary["datasync"] = _datasync(run)
    model = run.model
    summary["cost"] = projection(
        run.latencies.samples,
        settings.memory_mb,
        model.size if model is not None else None,
        bool(model and model.on_efs),
        prices,
    )
    return summary


def write_json(summary: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=False, default=str) + "\n")
