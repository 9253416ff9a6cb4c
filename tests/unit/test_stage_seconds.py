"""The 'tests' stage: the test loop less the infrastructure work that ran inside it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pytest_mlinfra.reporting import stage_seconds
from pytest_mlinfra.terraform.stack import StageSpan, StageTimer


def _run(*spans: tuple[str, float, float]) -> Any:
    timer = StageTimer()
    for stage, start, end in spans:
        timer.seconds[stage] = timer.seconds.get(stage, 0.0) + end - start
        timer.spans.append(StageSpan(stage, start, end))
    return SimpleNamespace(timer=timer)


def test_an_xdist_controller_deploys_before_its_loop_and_destroys_after_it() -> None:
    run = _run(("apply", 100.0, 120.0), ("destroy", 160.0, 180.0))
    stages = stage_seconds(run, 40.0, (120.0, 160.0))
    assert stages["tests"] == 40.0, "before: 40 - (20 + 20) clamped to 0"
    assert stages["total"] == 80.0


def test_in_one_process_the_deploy_and_destroy_inside_the_loop_are_taken_off() -> None:
    run = _run(("target start", 100.0, 103.0), ("apply", 103.0, 123.0), ("destroy", 180.0, 200.0))
    stages = stage_seconds(run, 100.0, (100.0, 200.0))
    assert stages["tests"] == 57.0
    assert stage_seconds(run, 100.0) == stages, "without a window: the same, from the totals"
