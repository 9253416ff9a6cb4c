"""The acceptance flow end to end on the local target, through the real path: Terraform applies the
bundled stack, the model is synced by DataSync into EFS, the handler runs under awslambdaric with
the access point mounted, and the example's property suite drives it.

A handler with one deliberate bug must fail exactly the matching property, with a shrunk example.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_mlinfra.ner.strategies import FAMOUS_NAMES

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PROPERTY_SUITE = REPO / "examples" / "ner" / "tests" / "test_properties.py"
TOY_HANDLER = Path(__file__).with_name("toy_handler.py")

PROPERTY_TESTS = {
    "test_labels_are_in_the_declared_set",
    "test_confidence_is_between_0_and_1",
    "test_spans_match_the_input",
    "test_spans_do_not_overlap",
    "test_same_input_same_output",
    "test_blank_text_has_no_entities",
    "test_malformed_events_get_structured_errors",
    "test_inserted_names_are_found",
    "test_a_batch_of_one_answers_like_a_single_call",  # the user's own file (examples/ner's)
    "mlinfra::latency-budget",
    "mlinfra::cost-tags",
}
FAILS = {
    "none": set(),
    "label": {"test_labels_are_in_the_declared_set"},
    "confidence": {"test_confidence_is_between_0_and_1"},
    "offsets": {"test_spans_match_the_input"},
    "slow": {"mlinfra::latency-budget"},
}


def _user_repo(pytester: pytest.Pytester, bug: str) -> None:
    handler = pytester.mkdir("handler")
    source = TOY_HANDLER.read_text().replace('BUG = "none"', f"BUG = {bug!r}")
    (handler / "model.py").write_text(source)
    (handler / "model.pt").write_text(json.dumps({"names": list(FAMOUS_NAMES)}))
    tests = pytester.mkdir("tests")
    shutil.copy(PROPERTY_SUITE, tests / PROPERTY_SUITE.name)
    pytester.makeini(
        "[pytest]\n"
        "testpaths = tests\n"
        "mlinfra_handler_dir = handler\n"
        "mlinfra_model = handler/model.pt\n"
        "mlinfra_package_include = model.py\n"
        "mlinfra_latency_budget = p50=150 cold=30000\n"
        "mlinfra_properties = ner\n"  # the stock suite, next to the user's own property file
    )


def _short(nodeid: str) -> str:
    """The test function's name, or the session check's whole id (``mlinfra::cost-tags``)."""
    return nodeid if nodeid.startswith("mlinfra::") else nodeid.split("::")[-1]


@pytest.mark.parametrize("bug", sorted(FAILS))
def test_exactly_the_broken_property_fails(pytester: pytest.Pytester, bug: str) -> None:
    _user_repo(pytester, bug)
    reprec = pytester.inline_run("--mlinfra-examples=12", "-p", "no:cacheprovider")
    reports = [r for r in reprec.getreports("pytest_runtest_logreport") if r.when == "call" or r.failed]
    outcomes = {_short(r.nodeid): r.outcome for r in reports}
    assert set(outcomes) == PROPERTY_TESTS, "every property and the budget check ran"
    failed = {name for name, outcome in outcomes.items() if outcome == "failed"}
    assert failed == FAILS[bug]
    for report in reports:
        if report.failed and report.nodeid == "mlinfra::latency-budget":
            assert "latency budget missed: p50" in report.longreprtext
        elif report.failed:
            text = report.longreprtext
            shown = "Falsifying example" in text or "Failing test case" in text
            assert shown, "Hypothesis shows the shrunk example"
