"""The figures a run reports: stage times (apply, sync, tests, destroy) and latency percentiles."""

from __future__ import annotations

from pytest_mlinfra.run import Run

_INFRA_STAGES = ("target start", "init", "apply", "output", "sync", "plan", "show", "audit", "destroy")


def stage_seconds(run: Run, loop_seconds: float | None) -> dict[str, float]:
    """Seconds per stage; 'tests' is the test loop less the infrastructure work done inside it."""
    stages = dict(run.timer.seconds)
    if loop_seconds is not None:
        inside = sum(stages.get(name, 0.0) for name in _INFRA_STAGES)
        stages["tests"] = max(0.0, loop_seconds - inside)
    ordered = {name: stages[name] for name in (*_INFRA_STAGES[:-1], "tests", "destroy") if name in stages}
    if ordered:
        ordered["total"] = sum(ordered.values())
    return ordered


def stage_table(run: Run, loop_seconds: float | None) -> list[str]:
    stages = stage_seconds(run, loop_seconds)
    if not stages:
        return []
    return [f"{'stage':<14}{'seconds':>9}"] + [f"{name:<14}{value:>9.2f}" for name, value in stages.items()]


def report_figures(run: Run, loop_seconds: float | None) -> dict[str, float]:
    """Flat name -> value mapping for JUnit XML properties."""
    figures = {
        f"mlinfra.stage.{k.replace(' ', '_')}_s": v for k, v in stage_seconds(run, loop_seconds).items()
    }
    if run.latencies.samples:
        figures |= {
            f"mlinfra.latency.{k}_ms": v for k, v in run.latencies.summary().items() if k != "invokes"
        }
        figures["mlinfra.latency.invokes"] = float(len(run.latencies.samples))
    return figures
