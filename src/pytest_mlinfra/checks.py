"""Session-level checks that run as one named test item each, after the tests that feed them.

The latency budget and the cost tags of the deployed stack are properties of the whole run, not of
one example: each is checked once, by an item appended at the end of the session, so a miss fails
exactly one named test with the figures in its message instead of failing the session or hiding in
a warning. They are named ``mlinfra::cost-tags`` and ``mlinfra::latency-budget`` in the terminal
and in JUnit (classname ``mlinfra``).

A deploy stage that fails (target start, init, apply, sync) stops the session, and is reported as
one failing case ``mlinfra::<stage>`` with its one-line reason, so JUnit is never an empty green suite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pytest
from _pytest._code.code import TerminalRepr

from pytest_mlinfra.latency import budget_misses, format_summary

if TYPE_CHECKING:
    from pytest_mlinfra.plugin import SessionState
    from pytest_mlinfra.run import Run


CHECK_PREFIX = "mlinfra"


def check_nodeid(name: str) -> str:
    """``cost-tags`` -> ``mlinfra::cost-tags``: readable in the terminal, classname mlinfra in JUnit."""
    return f"{CHECK_PREFIX}::{name.replace(' ', '-')}"


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
        return CHECK_PREFIX, None, self.name

    @classmethod
    def for_session(
        cls, session: pytest.Session, name: str, check: Callable[[Run], None], state: SessionState
    ) -> SessionCheckItem:
        item: SessionCheckItem = cls.from_parent(
            session, name=name, nodeid=check_nodeid(name), check=check, state=state
        )
        return item


@dataclass(frozen=True)
class _Crash:
    message: str


@dataclass(eq=False)
class StageFailure(TerminalRepr):
    """A failed deploy stage shaped as a report's ``longrepr``: ``reason`` is the one line (JUnit's
    message, the short summary), ``text`` the whole error with what to do (the element text)."""

    stage: str
    reason: str
    text: str

    @property
    def reprcrash(self) -> _Crash:
        return _Crash(self.reason)

    def toterminal(self, out: Any) -> None:
        out.line(self.text)

    def __str__(self) -> str:
        return self.text


def report_stage_failure(config: pytest.Config, stage: str, reason: str, text: str, seconds: float) -> None:
    """Log one failing test case ``mlinfra::<stage>`` through pytest's own report hooks (terminal,
    JUnit, any other reporter), for a stage that failed inside a fixture and stops the session."""
    nodeid = check_nodeid(stage)
    location = (CHECK_PREFIX, None, stage)
    config.hook.pytest_runtest_logstart(nodeid=nodeid, location=location)
    report = pytest.TestReport(
        nodeid=nodeid,
        location=location,
        keywords={CHECK_PREFIX: 1},
        outcome="failed",
        longrepr=StageFailure(stage, reason, text),
        when="call",
        duration=seconds,
    )
    config.hook.pytest_runtest_logreport(report=report)
    config.hook.pytest_runtest_logfinish(nodeid=nodeid, location=location)


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

    nodeid, location = check_nodeid(name), (CHECK_PREFIX, None, name)
    outcome: Literal["passed", "failed", "skipped"] = "passed"
    longrepr: str | tuple[str, int, str] | None = None
    try:
        check(run)
    except CheckFailed as exc:
        outcome, longrepr = "failed", str(exc)
    except pytest.skip.Exception as exc:
        outcome, longrepr = "skipped", ("mlinfra", 0, f"Skipped: {exc.msg}")
    hook = session.config.hook
    session.testscollected += 1  # counted as collected, so the progress ends at [100%], not [106%]
    hook.pytest_runtest_logstart(nodeid=nodeid, location=location)
    for when in ("setup", "call", "teardown"):
        if when == "call":
            report = TestReport(nodeid, location, {name: 1, "mlinfra": 1}, outcome, longrepr, when)
        else:
            report = TestReport(nodeid, location, {name: 1, "mlinfra": 1}, "passed", None, when)
        hook.pytest_runtest_logreport(report=report)
    hook.pytest_runtest_logfinish(nodeid=nodeid, location=location)
