"""Property-based tests of the deployed predictor: one property per test, so a broken predictor fails
exactly the properties it breaks, each with a shrunk example.

The example count comes from --mlinfra-examples / --mlinfra-profile (quick by default, nightly for
the scheduled run); deadlines are off because a remote call's jitter is not a bug. Shrinking and the
example database (.hypothesis/) work as usual.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_mlinfra.strategies import (
    RecallTracker,
    blank_texts,
    confidence_violations,
    is_structured_error,
    label_violations,
    malformed_events,
    named_sentences,
    near_limit_texts,
    odd_capitalisation,
    overlap_violations,
    remote_settings,
    span_violations,
    unicode_texts,
)


@pytest.fixture(scope="module")
def model_card(ner_predictor):
    """The deployed model's declared labels and input limits."""
    return ner_predictor.describe()


@pytest.fixture(scope="module")
def any_text(model_card):
    sentences = named_sentences().map(lambda s: s.text)
    return st.one_of(
        sentences,
        odd_capitalisation(sentences),
        unicode_texts(),
        near_limit_texts(model_card["max_text_chars"]),
    )


def test_labels_are_in_the_declared_set(ner_predictor, model_card, any_text):
    @remote_settings()
    @given(text=any_text)
    def check(text):
        assert label_violations(ner_predictor(text), model_card["labels"]) == []

    check()


def test_confidence_is_between_0_and_1(ner_predictor, any_text):
    @remote_settings()
    @given(text=any_text)
    def check(text):
        assert confidence_violations(ner_predictor(text)) == []

    check()


def test_spans_match_the_input(ner_predictor, any_text):
    @remote_settings()
    @given(text=any_text)
    def check(text):
        assert span_violations(text, ner_predictor(text)) == []

    check()


def test_spans_do_not_overlap(ner_predictor, any_text):
    @remote_settings()
    @given(text=any_text)
    def check(text):
        assert overlap_violations(ner_predictor(text)) == []

    check()


def test_same_input_same_output(ner_predictor, any_text):
    @remote_settings()
    @given(text=any_text)
    def check(text):
        assert ner_predictor(text) == ner_predictor(text)

    check()


def test_blank_text_has_no_entities(ner_predictor):
    @remote_settings()
    @given(text=blank_texts())
    def check(text):
        assert ner_predictor(text) == []

    check()


def test_malformed_events_get_structured_errors(ner_predictor, model_card):
    @remote_settings()
    @given(event=malformed_events(model_card["max_text_chars"], model_card["max_batch"]))
    def check(event):
        answer = ner_predictor.invoke(event)
        assert answer.function_error is None, f"the function crashed: {answer.payload}"
        assert is_structured_error(answer.payload), answer.payload

    check()


def test_inserted_names_are_found(ner_predictor, mlinfra_run):
    tracker = RecallTracker()

    @remote_settings()
    @given(sample=named_sentences())
    def record(sample):
        tracker.record(sample, ner_predictor(sample.text))

    record()
    minimum = mlinfra_run.settings.min_recall
    assert tracker.recall >= minimum, f"recall {tracker.recall:.2f} < {minimum}; missed e.g. {tracker.misses}"
