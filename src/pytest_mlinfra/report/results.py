"""What the tests of one session did, as plain data for the report: outcome, duration, message and
traceback excerpt of every test, the Lambda log tails of the invocations that failed while it ran, and
for each property test its Hypothesis example count and shrunk counterexample.

Example counts come from Hypothesis' observability callbacks (one observation per test case, tagged
with the phase that produced it), so they are counted live, whatever way the test calls ``@given``
(the example suite calls it inside the test body, where Hypothesis' own pytest statistics do not
reach). Coverage collection, which observability turns on by default, is switched off while our
callback is installed: Hypothesis documents that attribute as the switch for exactly this.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

TRACEBACK_LINES = 30  # the end of pytest's long report: the assertion and the frames next to it
TRACEBACK_CHARS = 4000
LOG_TAILS = 3  # failing invocations kept per test (the last ones)
LOG_TAIL_CHARS = 4096  # what Lambda returns with LogType=Tail

_FALSIFYING = re.compile(r"^(Falsifying example|Falsifying explicit example|Failing test case):", re.M)


@dataclass
class TestResult:
    nodeid: str
    outcome: str = "passed"
    seconds: float = 0.0
    message: str = ""
    examples: int = 0
    shrinks: int = 0
    failing_examples: int = 0
    counterexample: str = ""
    traceback: str = ""
    log_tails: list[dict[str, Any]] = field(default_factory=list)
    last_log: dict[str, Any] | None = None  # the last invocation's, shown when none failed

    @property
    def is_property(self) -> bool:
        return self.examples > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.nodeid,
            "outcome": self.outcome,
            "seconds": round(self.seconds, 3),
            "examples": self.examples,
            "shrinks": self.shrinks,
            "failing_examples": self.failing_examples,
            "counterexample": self.counterexample,
            "message": self.message,
            "traceback": self.traceback,
            "log_tails": self.log_tails,
        }


def traceback_excerpt(text: str) -> str:
    """The last lines of pytest's long report, where the failing assertion and its frame are."""
    lines = text.rstrip().splitlines()
    kept = lines[-TRACEBACK_LINES:]
    excerpt = "\n".join(kept)[-TRACEBACK_CHARS:]
    return ("...\n" if len(kept) < len(lines) or len(excerpt) < len("\n".join(kept)) else "") + excerpt


def _log_entry(invocation: Any, failed: bool) -> dict[str, Any]:
    return {
        "function": getattr(invocation, "function_name", ""),
        "error": invocation.function_error or ("error payload" if failed else ""),
        "log": invocation.log_tail[-LOG_TAIL_CHARS:],
    }


def counterexample_from(text: str) -> str:
    """The shrunk example Hypothesis printed in a failure report ("Falsifying example: ...")."""
    match = _FALSIFYING.search(text)
    if not match:
        return ""
    lines = text[match.start() :].splitlines()
    kept = [lines[0]]
    for line in lines[1:]:
        if not line.strip() or line.startswith(("E ", "Traceback", "_ ", "self = ")):
            break
        kept.append(line)
        if line.rstrip().endswith(")") and not line.startswith(" "):
            break
    return "\n".join(kept).strip()


@dataclass
class SessionResults:
    """Collects reports (``record``) and Hypothesis observations (``observing``) for one session."""

    results: dict[str, TestResult] = field(default_factory=dict)
    on_examples: Callable[[TestResult], None] = lambda _result: None

    def result(self, nodeid: str) -> TestResult:
        return self.results.setdefault(nodeid, TestResult(nodeid))

    def record(self, nodeid: str, when: str, outcome: str, seconds: float, text: str) -> None:
        """One pytest report: the worst outcome of setup/call/teardown wins."""
        result = self.result(nodeid)
        result.seconds += seconds
        if outcome == "failed" or (outcome == "skipped" and result.outcome == "passed"):
            result.outcome = "failed" if outcome == "failed" else "skipped"
            if when != "call" and outcome == "failed":
                result.outcome = "error"
            # pytest's "E   ..." line says what failed; the first line is often source or a fixture value
            lines = [line for line in text.splitlines() if line.strip()]
            first = next(
                (line[1:].strip() for line in lines if line.startswith("E ")), lines[0] if lines else ""
            )
            result.message = result.message or first[:300]
            result.counterexample = result.counterexample or counterexample_from(text)
            if outcome == "failed":
                result.traceback = result.traceback or traceback_excerpt(text)
            if outcome == "failed" and not result.log_tails and result.last_log is not None:
                result.log_tails.append({**result.last_log, "error": "last invocation, none failed"})

    @contextlib.contextmanager
    def observing(self, nodeid: str) -> Iterator[None]:
        """Count Hypothesis test cases run while the item ``nodeid`` runs, and keep the log tails of
        the Lambda invocations that fail meanwhile."""
        from pytest_mlinfra.function import INVOCATION_OBSERVERS

        result = self.result(nodeid)

        def invoked(invocation: Any) -> None:
            failed = bool(invocation.failed)
            entry = _log_entry(invocation, failed)
            result.last_log = entry
            if failed and invocation.log_tail:
                result.log_tails = [*result.log_tails, entry][-LOG_TAILS:]

        INVOCATION_OBSERVERS.append(invoked)
        try:
            with self._hypothesis(result):
                yield
        finally:
            INVOCATION_OBSERVERS.remove(invoked)

    @contextlib.contextmanager
    def _hypothesis(self, result: TestResult) -> Iterator[None]:
        """Hypothesis' observability callbacks for one test (a no-op without Hypothesis)."""
        try:
            from hypothesis.internal import observability
        except ImportError:  # pragma: no cover - Hypothesis is a dependency
            yield
            return

        def observe(observation: Any) -> None:
            if getattr(observation, "type", None) != "test_case":
                return
            how = str(getattr(observation, "how_generated", ""))
            status = str(getattr(observation, "status", ""))
            if how == "minimal failing test case":
                result.counterexample = (
                    str(getattr(observation, "representation", "")) or result.counterexample
                )
            elif "shrink phase" in how:
                result.shrinks += 1
            elif status != "gave_up":
                result.examples += 1
                result.failing_examples += status == "failed"
                self.on_examples(result)

        saved = observability.OBSERVABILITY_COLLECT_COVERAGE
        observability.OBSERVABILITY_COLLECT_COVERAGE = False
        observability.add_observability_callback(observe)
        try:
            yield
        finally:
            observability.remove_observability_callback(observe)
            observability.OBSERVABILITY_COLLECT_COVERAGE = saved

    def properties(self) -> list[TestResult]:
        return [r for r in self.results.values() if r.is_property]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for result in self.results.values():
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        return counts
