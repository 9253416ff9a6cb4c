"""The NER response contract as property checks: plain functions returning what is violated.

Each returns the list of broken properties (empty: all hold), so a failing example says exactly
which property broke. They take plain dicts: usable on any predictor's answer, deployed or not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_mlinfra.ner.strategies import NamedSentence


def _ordered(entities: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    def position(value: Any) -> int:
        return value if isinstance(value, int) else -1

    return sorted(entities, key=lambda e: (position(e.get("start")), position(e.get("end"))))


def label_violations(entities: Iterable[Mapping[str, Any]], labels: Iterable[str]) -> list[str]:
    """Labels outside the model's declared label set."""
    allowed = sorted(set(labels))
    return [
        f"label {e.get('label')!r} not in the declared set {allowed}"
        for e in entities
        if e.get("label") not in allowed
    ]


def confidence_violations(entities: Iterable[Mapping[str, Any]]) -> list[str]:
    """Confidences that are not numbers in [0, 1]."""
    problems = []
    for e in entities:
        confidence = e.get("confidence")
        if (
            isinstance(confidence, bool)
            or not isinstance(confidence, int | float)
            or not 0 <= confidence <= 1
        ):
            problems.append(f"confidence {confidence!r} of {e.get('text')!r} outside [0, 1]")
    return problems


def span_violations(text: str, entities: Iterable[Mapping[str, Any]]) -> list[str]:
    """Spans outside the text, or whose ``text`` is not ``input[start:end]``."""
    problems = []
    for e in entities:
        start, end = e.get("start"), e.get("end")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            problems.append(f"span {start!r}:{end!r} is not inside the text (length {len(text)})")
        elif text[start:end] != e.get("text"):
            problems.append(f"text {e.get('text')!r} != input[{start}:{end}] = {text[start:end]!r}")
    return problems


def overlap_violations(entities: Iterable[Mapping[str, Any]]) -> list[str]:
    """Entities whose spans overlap (the contract promises disjoint spans)."""
    problems = []
    previous_end = None
    for e in _ordered(entities):
        start, end = e.get("start"), e.get("end")
        if not (isinstance(start, int) and isinstance(end, int)):
            continue
        if previous_end is not None and start < previous_end:
            problems.append(f"span {start}:{end} overlaps the previous entity (ends at {previous_end})")
        previous_end = end if previous_end is None else max(previous_end, end)
    return problems


def entity_violations(text: str, entities: Iterable[Mapping[str, Any]], labels: Iterable[str]) -> list[str]:
    """Every property of the response contract that ``entities`` breaks for input ``text``."""
    found = list(entities)
    return (
        label_violations(found, labels)
        + confidence_violations(found)
        + span_violations(text, found)
        + overlap_violations(found)
    )


def is_structured_error(payload: Any) -> bool:
    """``{"error": {"type": str, "message": str}}`` and nothing that looks like a traceback."""
    if not isinstance(payload, dict) or not isinstance(payload.get("error"), dict):
        return False
    error = payload["error"]
    return (
        isinstance(error.get("type"), str)
        and isinstance(error.get("message"), str)
        and "Traceback" not in error["message"]
    )


@dataclass
class RecallTracker:
    """Names found / names inserted over a whole run (a rate, not a per-example property)."""

    found: int = 0
    total: int = 0
    misses: list[str] = field(default_factory=list)

    def record(self, sample: NamedSentence, entities: Iterable[Mapping[str, Any]]) -> None:
        self.total += 1
        if any(str(e.get("text", "")).casefold() == sample.name.casefold() for e in entities):
            self.found += 1
        elif len(self.misses) < 5:
            self.misses.append(sample.text)

    @property
    def recall(self) -> float:
        return self.found / self.total if self.total else 1.0
