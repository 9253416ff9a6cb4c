"""The NER pack's fixtures: thin wrappers over :class:`~.predictor.NerPredictor`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_mlinfra.function import FunctionClient
    from pytest_mlinfra.ner.predictor import NerPredictor
    from pytest_mlinfra.run import Run

__all__ = ["ner_model_card", "ner_predictor"]


@pytest.fixture(scope="session")
def ner_predictor(
    request: pytest.FixtureRequest, mlinfra_run: Run, mlinfra_function: FunctionClient
) -> NerPredictor:
    """``ner_predictor(text)``, ``ner_predictor.batch(texts)``, ``ner_predictor.latencies``.

    Through the stack's HTTP endpoint when it has one (the ``http_output`` output, default
    ``http_url``), else through Invoke."""
    from pytest_mlinfra.ner.predictor import NerPredictor

    if mlinfra_run.http_endpoint() is not None:
        return NerPredictor(request.getfixturevalue("mlinfra_http"))
    return NerPredictor(mlinfra_function)


@pytest.fixture(scope="session")
def ner_model_card(ner_predictor: NerPredictor) -> dict[str, Any]:
    """The deployed model's declared labels and input limits (``labels``, ``max_text_chars``, ...)."""
    return ner_predictor.describe()
