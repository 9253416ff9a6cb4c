"""The figures a run reports: stage times (apply, sync, tests, destroy) and latency percentiles."""

from __future__ import annotations

from pytest_mlinfra.run import Run

_INFRA_STAGES = ("target start", "init", "apply", "output", "sync", "plan", "show", "audit", "destroy")


def stage_seconds(
    run: Run, loop_seconds: float | None, loop_window: tuple[float, float] | None = None
) -> dict[str, float]:
    """Seconds per stage; 'tests' is the test loop less the infrastructure work done inside it.

    With the loop's window (epoch seconds), only the part of each stage inside it is taken off: the
    xdist controller deploys before its loop and destroys after it, which would otherwise leave 0."""
    stages = dict(run.timer.seconds)
    if loop_window is not None:
        start, end = loop_window
        inside = sum(
            max(0.0, min(end, span.end) - max(start, span.start))
            for span in run.timer.spans
            if span.stage in _INFRA_STAGES
        )
        stages["tests"] = max(0.0, (end - start) - inside)
    elif loop_seconds is not None:
        inside = sum(stages.get(name, 0.0) for name in _INFRA_STAGES)
        stages["tests"] = max(0.0, loop_seconds - inside)
    ordered = {name: stages[name] for name in (*_INFRA_STAGES[:-1], "tests", "destroy") if name in stages}
    if ordered:
        ordered["total"] = sum(ordered.values())
    return ordered


def stage_table(
    run: Run, loop_seconds: float | None, loop_window: tuple[float, float] | None = None
) -> list[str]:
    stages = stage_seconds(run, loop_seconds, loop_window)
    if not stages:
        return []
    return [f"{'stage':<14}{'seconds':>9}"] + [f"{name:<14}{value:>9.2f}" for name, value in stages.items()]


def report_figures(
    run: Run, loop_seconds: float | None, loop_window: tuple[float, float] | None = None
) -> dict[str, float]:
    """Flat name -> value mapping for JUnit XML properties."""
    stages = stage_seconds(run, loop_seconds, loop_window)
    figures = {f"mlinfra.stage.{k.replace(' ', '_')}_s": v for k, v in stages.items()}
    if run.latencies.samples:
        figures |= {
            f"mlinfra.latency.{k}_ms": v for k, v in run.latencies.summary().items() if k != "invokes"
        }
        figures["mlinfra.latency.invokes"] = float(len(run.latencies.samples))
    return figures
