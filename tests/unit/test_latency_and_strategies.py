"""Percentiles, budgets and the property checks, on hand-made data."""

from __future__ import annotations

import pytest
from hypothesis import given

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.function import parse_report
from pytest_mlinfra.latency import LatencyLog, Sample, budget_misses, parse_budgets, percentile
from pytest_mlinfra.ner.properties import (
    RecallTracker,
    confidence_violations,
    entity_violations,
    is_structured_error,
    label_violations,
    overlap_violations,
    span_violations,
)
from pytest_mlinfra.ner.strategies import NamedSentence, named_sentences

TEXT = "Tom Cruise met Serena Williams"
GOOD = [
    {"text": "Tom Cruise", "label": "Celebrity", "confidence": 0.9, "start": 0, "end": 10},
    {"text": "Serena Williams", "label": "Celebrity", "confidence": 1, "start": 15, "end": 30},
]


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50, 95, 99)
    assert percentile([7.0], 99) == 7.0


def test_budgets_parse_and_misses_name_the_figure() -> None:
    assert parse_budgets("p50=100, p95=300ms cold=5000") == {"p50": 100, "p95": 300, "cold": 5000}
    with pytest.raises(MlinfraError, match="'p42=1' is not KEY=MILLISECONDS"):
        parse_budgets("p42=1")
    log = LatencyLog([Sample(900.0, init_ms=800.0)] + [Sample(float(ms)) for ms in range(1, 101)])
    assert budget_misses(log, {"p50": 100, "p95": 90, "cold": 1000}) == ["p95 95.0 ms > budget 90.0 ms"]


def test_report_line_parsing() -> None:
    tail = (
        "START RequestId: 1 Version: $LATEST\nEND RequestId: 1\n"
        "REPORT RequestId: 1\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 1024 MB\t"
        "Max Memory Used: 80 MB\tInit Duration: 456.70 ms\t\n"
    )
    assert parse_report(tail) == (12.34, 456.7)
    assert parse_report(tail.replace("\tInit Duration: 456.70 ms", "")) == (12.34, None)
    assert parse_report("") == (None, None)


def test_checks_accept_a_correct_answer() -> None:
    assert entity_violations(TEXT, GOOD, ["Celebrity", "Person"]) == []


@pytest.mark.parametrize(
    ("change", "check"),
    [
        ({"label": "Famous"}, lambda es: label_violations(es, ["Celebrity"])),
        ({"confidence": 1.3}, confidence_violations),
        ({"confidence": True}, confidence_violations),
        ({"start": 1}, lambda es: span_violations(TEXT, es)),
        ({"end": 99}, lambda es: span_violations(TEXT, es)),
        ({"start": 5, "end": 20, "text": TEXT[5:20]}, overlap_violations),
    ],
)
def test_each_check_catches_its_own_defect(change: dict[str, object], check) -> None:  # type: ignore[no-untyped-def]
    broken = [GOOD[0], {**GOOD[1], **change}]
    assert len(check(broken)) == 1


def test_structured_errors() -> None:
    assert is_structured_error({"error": {"type": "BadRequest", "message": "text must be a string"}})
    assert not is_structured_error({"errorMessage": "boom", "stackTrace": []})
    assert not is_structured_error({"error": {"type": "X", "message": "Traceback (most recent call last)"}})


@given(named_sentences())
def test_named_sentences_know_where_the_name_is(sample: NamedSentence) -> None:
    assert sample.text[sample.start : sample.end] == sample.name


def test_recall_tracker() -> None:
    tracker = RecallTracker()
    sample = NamedSentence("I met Tom Cruise", "Tom Cruise", 6, 16)
    tracker.record(sample, [{"text": "Tom Cruise", "start": 6, "end": 16}])
    tracker.record(sample, [])
    assert (tracker.recall, tracker.misses) == (0.5, ["I met Tom Cruise"])


def test_remote_settings_reach_a_given_test_unless_it_has_its_own() -> None:
    from hypothesis import settings
    from hypothesis import strategies as st

    from pytest_mlinfra.hypothesis_profile import apply_remote_settings, register_profile
    from pytest_mlinfra.settings import Settings

    register_profile(Settings(examples=7))
    calls: list[int] = []

    @given(st.integers())
    def plain(value: int) -> None:
        calls.append(value)

    @settings(max_examples=3)
    @given(st.integers())
    def own(value: int) -> None:
        calls.append(value)

    assert apply_remote_settings(plain) is True
    assert apply_remote_settings(own) is False
    plain()
    assert len(calls) == 7
    calls.clear()
    own()
    assert len(calls) == 3
