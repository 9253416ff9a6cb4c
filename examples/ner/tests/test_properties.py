"""This model's own properties, beside the stock NER suite (switched on in pytest.ini with
``mlinfra_properties = ner``: labels, confidence, spans, determinism, blank text, malformed events,
recall).

Ordinary Hypothesis tests over the session fixtures: the plugin gives every ``@given`` test that calls
the deployed function the remote settings (no deadline; examples from --mlinfra-examples /
--mlinfra-profile). Shrinking and the example database (.hypothesis/) work as usual.
"""

from __future__ import annotations

from hypothesis import given

from pytest_mlinfra.ner.strategies import named_sentences


@given(sample=named_sentences())
def test_a_batch_of_one_answers_like_a_single_call(ner_predictor, sample):
    assert ner_predictor.batch([sample.text]) == [ner_predictor(sample.text)]
