"""The NER predictor's client: ``predictor(text) -> [Entity]`` over the generic function client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

from pytest_mlinfra.function import Invocation
from pytest_mlinfra.latency import LatencyLog


class Caller(Protocol):
    """What the predictor calls: the Invoke client or the HTTP client (same interface)."""

    latencies: LatencyLog

    def invoke(self, event: Any) -> Invocation: ...

    def __call__(self, event: Any) -> dict[str, Any]: ...


class Entity(TypedDict):
    text: str
    label: str
    confidence: float
    start: int
    end: int


@dataclass
class NerPredictor:
    """``predictor(text) -> [Entity]``, ``predictor.batch(texts)``, ``predictor.latencies``."""

    function: Caller

    def __repr__(self) -> str:
        return f"NerPredictor({self.function!r})"

    @property
    def latencies(self) -> LatencyLog:
        return self.function.latencies

    def invoke(self, event: Any) -> Invocation:
        """Send any event (also malformed ones) and return the raw answer with its timing."""
        return self.function.invoke(event)

    def __call__(self, text: str) -> list[Entity]:
        entities: list[Entity] = self.function({"text": text})["entities"]
        return entities

    def batch(self, texts: list[str]) -> list[list[Entity]]:
        return [result["entities"] for result in self.function({"texts": texts})["results"]]

    def describe(self) -> dict[str, Any]:
        """The model's declared labels and limits (``{"action": "describe"}``)."""
        return self.function({"action": "describe"})
