"""The example NER handler's contract, against the real committed model (examples/ner/artifacts)."""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("torch")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ner"
ARTIFACTS = EXAMPLE / "artifacts"
ENTITY_KEYS = {"text", "label", "confidence", "start", "end"}

SENTENCES = [
    "Tom Cruise is overrated",
    "i saw taylor swift at the airport today",
    "BREAKING: ELON MUSK BUYS TWITTER",
    "Serena Williams's coach met Dr. Priya Raman in Leeds.",
    "Chelsea beat Liverpool 2-1 at Stamford Bridge.",
    "José Müller-Lüdenscheidt wrote to 北京 🙂 and مرحبا about Zoë.",
    "a\u0301\u200d\U0001f469\u200d\U0001f4bb  \t\n x",
    "Ask O'Brien about Jean-Luc Picard; he knows J. K. Rowling.",
]


@pytest.fixture(scope="module")
def handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ner_example_handler", EXAMPLE / "model.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def predict(handler: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MODEL_DIR", str(ARTIFACTS))
    return handler.predict


def assert_valid(text: str, entities: list[dict[str, Any]], labels: list[str]) -> None:
    last_end = 0
    for e in entities:
        assert set(e) == ENTITY_KEYS
        assert e["text"] == text[e["start"] : e["end"]]
        assert 0 <= e["confidence"] <= 1
        assert e["label"] in labels
        assert e["start"] >= last_end and e["end"] > e["start"]
        last_end = e["end"]


def test_tom_cruise_is_a_celebrity(predict: Any) -> None:
    [entity] = predict({"text": "Tom Cruise is overrated"})["entities"]
    assert {k: entity[k] for k in ("text", "label", "start", "end")} == {
        "text": "Tom Cruise",
        "label": "Celebrity",
        "start": 0,
        "end": 10,
    }
    assert entity["confidence"] > 0.8


def test_describe_reports_limits_labels_and_model_hash(predict: Any, handler: ModuleType) -> None:
    described = predict({"action": "describe"})
    assert described["labels"] == ["Celebrity", "Person"]
    assert described["max_text_chars"] == handler.MAX_TEXT_CHARS
    assert described["max_batch"] == handler.MAX_BATCH
    meta = json.loads((ARTIFACTS / "metadata.json").read_text())
    assert described["model_sha256"] == meta["model_sha256"]


def test_entities_respect_the_contract_and_batch_matches_single(predict: Any) -> None:
    labels = predict({"action": "describe"})["labels"]
    batch = predict({"texts": SENTENCES})["results"]
    assert len(batch) == len(SENTENCES)
    for text, result in zip(SENTENCES, batch, strict=True):
        assert_valid(text, result["entities"], labels)
        assert predict({"text": text}) == result
        assert predict({"text": text}) == result  # deterministic


def test_finds_names_in_real_sentences_and_ignores_places(predict: Any) -> None:
    found = predict(
        {
            "texts": [
                "Apple CEO Tim Cook unveiled the new iPhone in Cupertino.",
                "we had dinner with maria gonzalez on friday",
                "Barack Obama's memoir sold millions of copies.",
                "We flew from Florence to Jordan via Istanbul.",
                "Goldman Sachs and Morgan Stanley reported higher profits.",
            ]
        }
    )["results"]
    names = [[(e["text"], e["label"]) for e in r["entities"]] for r in found]
    assert names == [
        [("Tim Cook", "Celebrity")],
        [("maria gonzalez", "Person")],
        [("Barack Obama", "Celebrity")],
        [],
        [],
    ]


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_text_has_no_entities(predict: Any, text: str) -> None:
    assert predict({"text": text}) == {"entities": []}


def test_api_gateway_events_are_unwrapped_and_wrapped(predict: Any) -> None:
    body = json.dumps({"text": "Tom Cruise is overrated"})
    plain = predict({"text": "Tom Cruise is overrated"})
    for event in (
        {"body": body, "httpMethod": "POST", "requestContext": {"stage": "prod"}},
        {"body": base64.b64encode(body.encode()).decode(), "isBase64Encoded": True, "requestContext": {}},
    ):
        response = predict(event)
        assert response["statusCode"] == 200
        assert response["headers"]["Content-Type"] == "application/json"
        assert json.loads(response["body"]) == plain
    bad = predict({"body": "{not json", "requestContext": {}})
    assert bad["statusCode"] == 400
    assert json.loads(bad["body"])["error"]["type"] == "InvalidJSON"


def test_bare_body_events_get_plain_responses(predict: Any) -> None:
    body = json.dumps({"texts": ["Tom Cruise is overrated"]})
    assert predict({"body": body}) == predict({"texts": ["Tom Cruise is overrated"]})
    assert predict({"body": "{not json", "httpMethod": "POST"})["error"]["type"] == "InvalidJSON"
    assert predict({"body": "hello"})["error"]["type"] == "InvalidJSON"
    assert predict({"body": None})["error"]["type"] == "InvalidRequest"


def test_sns_events_are_unwrapped(predict: Any) -> None:
    message = json.dumps({"texts": ["Tom Cruise is overrated"]})
    assert predict({"Records": [{"Sns": {"Message": message}}]}) == predict(
        {"texts": ["Tom Cruise is overrated"]}
    )
    two = predict({"Records": [{"Sns": {"Message": message}}, {"Sns": {"Message": "nope"}}]})
    assert two["records"][0]["results"][0]["entities"][0]["text"] == "Tom Cruise"
    assert two["records"][1]["error"]["type"] == "InvalidJSON"


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ({}, "InvalidRequest"),
        ({"txt": "Tom"}, "InvalidRequest"),
        ({"text": 42}, "InvalidRequest"),
        ({"text": None}, "InvalidRequest"),
        ({"texts": "Tom Cruise"}, "InvalidRequest"),
        ({"texts": ["ok", 3]}, "InvalidRequest"),
        ({"text": "a", "texts": ["b"]}, "InvalidRequest"),
        ({"action": "train"}, "InvalidRequest"),
        ("Tom Cruise", "InvalidRequest"),
        (None, "InvalidRequest"),
        ([1, 2], "InvalidRequest"),
    ],
)
def test_bad_requests_get_an_error_not_an_exception(predict: Any, event: Any, kind: str) -> None:
    response = predict(event)
    assert response["error"]["type"] == kind
    assert response["error"]["message"]


def test_oversize_requests_are_refused(predict: Any, handler: ModuleType) -> None:
    too_long = predict({"text": "a" * (handler.MAX_TEXT_CHARS + 1)})
    assert too_long["error"]["type"] == "PayloadTooLarge"
    too_many = predict({"texts": ["x"] * (handler.MAX_BATCH + 1)})
    assert too_many["error"]["type"] == "PayloadTooLarge"
    at_limit = predict({"text": "Tom Cruise " * (handler.MAX_TEXT_CHARS // 11)})
    assert "entities" in at_limit


def test_missing_model_is_an_error(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MODEL_DIR", str(tmp_path))
    response = handler.predict({"text": "Tom Cruise is overrated"})
    assert response["error"]["type"] == "ModelNotFound"
    assert str(tmp_path) in response["error"]["message"]
    (tmp_path / "model.pt").write_bytes(b"not a model")
    assert handler.predict({"text": "x"})["error"]["type"] == "ModelLoadError"
