"""Session-level checks that run as one named test item each, after the tests that feed them.

The latency budget and the cost tags of the deployed stack are properties of the whole run, not of
one example: each is checked once, by an item appended at the end of the session, so a miss fails
exactly one named test with the figures in its message instead of failing the session or hiding in
a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import pytest

from pytest_mlinfra.latency import budget_misses, format_summary

if TYPE_CHECKING:
    from pytest_mlinfra.plugin import SessionState
    from pytest_mlinfra.run import Run


class CheckFailed(Exception):
    """A session-level check failed; the message is the whole report."""


class SessionCheckItem(pytest.Item):
    """An item whose test is a callable on the run; reports its failure without a traceback."""

    def __init__(self, *, check: Callable[[Run], None], state: SessionState, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.state = state
        self.add_marker("mlinfra")

    def runtest(self) -> None:
        run = self.state.started
        if run is None:
            pytest.skip("no mlinfra fixture was used in this session")
        self.check(run)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int | None, str]:
        return "mlinfra", None, self.name


def check_latency_budget(run: Run) -> None:
    budgets = run.settings.latency_budgets
    if not run.latencies.samples:
        pytest.skip("the function was not invoked in this session")
    misses = budget_misses(run.latencies, budgets)
    if misses:
        raise CheckFailed(f"latency budget missed: {'; '.join(misses)} ({format_summary(run.latencies)})")


def check_cost_tags(run: Run) -> None:
    from pytest_mlinfra.audit import render

    if run.stack is None or not run.stack.applied:
        pytest.skip("no stack was deployed in this session")
    findings = run.audit()
    if findings:
        raise CheckFailed(f"cost-tag audit: {len(findings)} finding(s)\n{render(findings, 'text')}")


def report_session_check(session: pytest.Session, name: str, check: Callable[[Run], None], run: Run) -> None:
    """Run a session check where no item can (the xdist controller, which sees every worker's
    figures) and report it as the test item it would be: terminal, JUnit and exit status see it."""
    from _pytest.reports import TestReport

    nodeid, location = f"::{name}", ("mlinfra", None, name)
    outcome: Literal["passed", "failed", "skipped"] = "passed"
    longrepr: str | tuple[str, int, str] | None = None
    try:
        check(run)
    except CheckFailed as exc:
        outcome, longrepr = "failed", str(exc)
    except pytest.skip.Exception as exc:
        outcome, longrepr = "skipped", ("mlinfra", 0, f"Skipped: {exc.msg}")
    hook = session.config.hook
    hook.pytest_runtest_logstart(nodeid=nodeid, location=location)
    for when in ("setup", "call", "teardown"):
        if when == "call":
            report = TestReport(nodeid, location, {name: 1, "mlinfra": 1}, outcome, longrepr, when)
        else:
            report = TestReport(nodeid, location, {name: 1, "mlinfra": 1}, "passed", None, when)
        hook.pytest_runtest_logreport(report=report)
    hook.pytest_runtest_logfinish(nodeid=nodeid, location=location)
