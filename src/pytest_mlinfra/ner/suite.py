"""The stock property suite for a deployed NER predictor: switch it on with ``mlinfra_properties = ner``
in your ini (or ``--mlinfra-properties=ner``), no test file to copy.

One property per test, so a broken predictor fails exactly the properties it breaks, each with a
shrunk example. The plugin gives these ``@given`` tests the remote settings (no deadline, example
count from ``--mlinfra-examples`` / ``--mlinfra-profile``). Texts near the size limit depend on the
deployed model's card, hence ``data.draw`` where the strategy needs it.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_mlinfra.hypothesis_profile import remote_settings
from pytest_mlinfra.ner.predictor import NerPredictor
from pytest_mlinfra.ner.properties import (
    RecallTracker,
    confidence_violations,
    is_structured_error,
    label_violations,
    overlap_violations,
    span_violations,
)
from pytest_mlinfra.ner.strategies import (
    NamedSentence,
    any_text,
    blank_texts,
    malformed_events,
    named_sentences,
)
from pytest_mlinfra.run import Run

Card = dict[str, Any]


@pytest.fixture(scope="module")
def ner_texts(ner_model_card: Card) -> st.SearchStrategy[str]:
    """Every kind of text, near-limit documents sized for the deployed model included."""
    return any_text(ner_model_card["max_text_chars"])


@given(data=st.data())
def test_labels_are_in_the_declared_set(
    ner_predictor: NerPredictor, ner_model_card: Card, ner_texts: st.SearchStrategy[str], data: st.DataObject
) -> None:
    text = data.draw(ner_texts, label="text")
    assert label_violations(ner_predictor(text), ner_model_card["labels"]) == []


@given(data=st.data())
def test_confidence_is_between_0_and_1(
    ner_predictor: NerPredictor, ner_texts: st.SearchStrategy[str], data: st.DataObject
) -> None:
    assert confidence_violations(ner_predictor(data.draw(ner_texts, label="text"))) == []


@given(data=st.data())
def test_spans_match_the_input(
    ner_predictor: NerPredictor, ner_texts: st.SearchStrategy[str], data: st.DataObject
) -> None:
    text = data.draw(ner_texts, label="text")
    assert span_violations(text, ner_predictor(text)) == []


@given(data=st.data())
def test_spans_do_not_overlap(
    ner_predictor: NerPredictor, ner_texts: st.SearchStrategy[str], data: st.DataObject
) -> None:
    assert overlap_violations(ner_predictor(data.draw(ner_texts, label="text"))) == []


@given(data=st.data())
def test_same_input_same_output(
    ner_predictor: NerPredictor, ner_texts: st.SearchStrategy[str], data: st.DataObject
) -> None:
    text = data.draw(ner_texts, label="text")
    assert ner_predictor(text) == ner_predictor(text)


@given(text=blank_texts())
def test_blank_text_has_no_entities(ner_predictor: NerPredictor, text: str) -> None:
    assert ner_predictor(text) == []


@given(data=st.data())
def test_malformed_events_get_structured_errors(
    ner_predictor: NerPredictor, ner_model_card: Card, data: st.DataObject
) -> None:
    event = data.draw(malformed_events(ner_model_card["max_text_chars"], ner_model_card["max_batch"]))
    answer = ner_predictor.invoke(event)
    assert answer.function_error is None, f"the function crashed: {answer.payload}"
    assert is_structured_error(answer.payload), answer.payload


def test_inserted_names_are_found(ner_predictor: NerPredictor, mlinfra_run: Run) -> None:
    """Recall is a rate over many examples, not a property of one: examples are recorded, then judged."""
    tracker = RecallTracker()

    @remote_settings()
    @given(sample=named_sentences())
    def record(sample: NamedSentence) -> None:
        tracker.record(sample, ner_predictor(sample.text))

    record()
    minimum = mlinfra_run.settings.min_recall
    assert tracker.recall >= minimum, f"recall {tracker.recall:.2f} < {minimum}; missed e.g. {tracker.misses}"
