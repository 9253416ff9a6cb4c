"""A session check reported by the xdist controller counts as a collected test: progress ends at 100%."""

from __future__ import annotations

import re

import pytest

CONFTEST = """
import pytest
from pytest_mlinfra.checks import report_session_check


def _passes(run):
    pass


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session):
    result = yield
    report_session_check(session, "latency-budget", _passes, None)
    return result
"""


def test_progress_ends_at_100_percent_with_the_check_counted(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile("def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    shown = re.findall(r"\[\s*(\d+)%\]", result.stdout.str())
    assert shown and shown[-1] == "100" and all(int(p) <= 100 for p in shown), result.stdout.str()
