"""AWS Lambda handler for the example NER model (handler string: ``model.predict``).

Requests (plain invoke, or wrapped by API Gateway / SNS):
  {"text": "..."}                -> {"entities": [entity, ...]}
  {"texts": ["...", ...]}        -> {"results": [{"entities": [...]}, ...]}   (same order)
  {"action": "describe"}         -> {"labels": [...], "max_text_chars": N, "max_batch": M,
                                     "model_sha256": ...}
An entity is {"text", "label", "confidence", "start", "end"} with text == input[start:end] (Python str
indices). Anything wrong -> {"error": {"type": ..., "message": ...}}; the handler never raises.

HTTP-style events carry the request as JSON in `body` (base64 when isBase64Encoded). Real API Gateway
events (REST or HTTP API; they have `requestContext`) get the proxy-integration response API Gateway
needs: {"statusCode": 200|400|413|503|500, "headers": {...}, "body": "<json>"}; a bare {"body": ...}
event gets the plain response. An SNS event carries one
request per record in Records[].Sns.Message: one record -> that request's response; several ->
{"records": [response, ...]}.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import sys
import threading
import zipfile
from pathlib import Path
from typing import Any

import torch

if str(Path(__file__).resolve().parent) not in sys.path:  # Lambda has it; tests importing by path do not
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import ner_core

MAX_TEXT_CHARS = 10_000  # per text; longer documents should be split by the caller
MAX_BATCH = 256  # texts per {"texts": [...]} request
MAX_TOTAL_CHARS = 200_000  # per request, so one invocation stays well inside the Lambda timeout
DEFAULT_MODEL_DIR = "/mnt/shared-storage"
LABELS = ner_core.LABELS

# One intra-op thread: the tensors are small, so extra threads mostly add synchronisation (measured:
# 1 thread beats 2 on a 2-core machine, alone and in batches), and Lambda's smaller sizes have 1-2
# vCPUs anyway. NER_TORCH_THREADS overrides it.
torch.set_num_threads(int(os.environ.get("NER_TORCH_THREADS", "1")))

_lock = threading.Lock()
_loaded: tuple[str, ner_core.NerModel, str] | None = None  # (path, model, sha256)


class RequestError(Exception):
    """A problem with the request or the model, turned into the error response."""

    def __init__(self, kind: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status


def model_path() -> Path:
    """Where the model lives: $MODEL_DIR/$MODEL_FILE (the EFS mount and the artifact's name in the stack)."""
    return Path(os.environ.get("MODEL_DIR", DEFAULT_MODEL_DIR)) / os.environ.get("MODEL_FILE", "model.pt")


def fetch_from_s3(path: Path) -> None:
    """Without EFS the stack sets MODEL_S3_URI: download the model to MODEL_DIR (once per process).

    boto3 is part of the Lambda Python runtime, so it is not packaged with the function.
    """
    source = os.environ.get("MODEL_S3_URI", "")
    if not source.startswith("s3://"):
        raise RequestError("ModelNotFound", f"MODEL_S3_URI {source!r} is not an s3:// URI", 503)
    bucket, _, key = source[len("s3://") :].partition("/")
    try:
        import boto3

        path.parent.mkdir(parents=True, exist_ok=True)
        boto3.client("s3").download_file(bucket, key, str(path))
    except Exception as exc:
        raise RequestError("ModelNotFound", f"cannot fetch the model from {source}: {exc}", 503) from exc


def get_model() -> tuple[ner_core.NerModel, str]:
    """Load the model once per process; a failed load is retried on the next request (EFS may lag)."""
    global _loaded
    path = model_path()
    with _lock:
        if _loaded is None or _loaded[0] != str(path):
            if os.environ.get("MODEL_S3_URI"):
                fetch_from_s3(path)
            if not path.is_file():
                raise RequestError(
                    "ModelNotFound", f"no model at {path}: sync it there or set MODEL_DIR", 503
                )
            try:
                data = path.read_bytes()  # hash exactly the bytes that are loaded
                model = ner_core.NerModel(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"  # EOFError of an empty file has no message
                raise RequestError("ModelLoadError", f"cannot load {path}: {reason}", 503) from exc
            _loaded = (str(path), model, hashlib.sha256(data).hexdigest())
        return _loaded[1], _loaded[2]


def check_artifact(path: Path) -> None:
    """The loader smoke test pytest-mlinfra runs on this machine before it deploys anything
    (``mlinfra_model_check = model:check_artifact``): load the artifact as the function does and
    answer one sentence. Raises when it would not serve, so a bad artifact costs seconds, not a deploy."""
    data = path.read_bytes()
    if not zipfile.is_zipfile(io.BytesIO(data)):  # torch.save() writes a zip archive since torch 1.6
        raise ValueError(f"not a torch.save() archive: {len(data)} bytes, starting {data[:8]!r}")
    model = ner_core.NerModel(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
    model.predict_batch(["Tom Cruise is overrated"])


def _check_text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise RequestError("InvalidRequest", f"{where} must be a string, got {type(value).__name__}")
    if len(value) > MAX_TEXT_CHARS:
        raise RequestError(
            "PayloadTooLarge", f"{where} has {len(value)} characters; max is {MAX_TEXT_CHARS}", 413
        )
    return value


def handle_request(request: Any) -> dict[str, Any]:
    """Answer one plain request (already unwrapped); raises RequestError for bad input."""
    if not isinstance(request, dict):
        raise RequestError(
            "InvalidRequest", f"the request must be a JSON object, got {type(request).__name__}"
        )
    if request.get("action") == "describe":
        model, sha = get_model()
        return {
            "labels": list(model.labels),
            "max_text_chars": MAX_TEXT_CHARS,
            "max_batch": MAX_BATCH,
            "model_sha256": sha,
        }
    if "action" in request:
        raise RequestError(
            "InvalidRequest", f"unknown action {request['action']!r}; the only one is 'describe'"
        )
    if "text" in request and "texts" in request:
        raise RequestError("InvalidRequest", "send either 'text' or 'texts', not both")
    if "text" in request:
        text = _check_text(request["text"], "'text'")
        model, _ = get_model()
        return {"entities": model.predict_batch([text])[0]}
    if "texts" in request:
        texts = request["texts"]
        if not isinstance(texts, list):
            raise RequestError(
                "InvalidRequest", f"'texts' must be a list of strings, got {type(texts).__name__}"
            )
        if len(texts) > MAX_BATCH:
            raise RequestError("PayloadTooLarge", f"'texts' has {len(texts)} items; max is {MAX_BATCH}", 413)
        checked = [_check_text(t, f"'texts'[{i}]") for i, t in enumerate(texts)]
        if sum(map(len, checked)) > MAX_TOTAL_CHARS:
            raise RequestError(
                "PayloadTooLarge", f"'texts' holds more than {MAX_TOTAL_CHARS} characters", 413
            )
        model, _ = get_model()
        return {"results": [{"entities": ents} for ents in model.predict_batch(checked)]}
    raise RequestError(
        "InvalidRequest", "missing field: send {'text': str}, {'texts': [str]} or {'action': 'describe'}"
    )


def _answer(request: Any) -> tuple[int, dict[str, Any]]:
    """(HTTP-like status, response) for a plain request; never raises."""
    try:
        return 200, handle_request(request)
    except RequestError as exc:
        return exc.status, {"error": {"type": exc.kind, "message": exc.message}}
    except Exception as exc:  # the contract: an error response, never a traceback
        return 500, {"error": {"type": "InternalError", "message": f"{type(exc).__name__}: {exc}"}}


def _parse_json(raw: Any, what: str) -> Any:
    if not isinstance(raw, str | bytes):
        raise RequestError("InvalidRequest", f"{what} must be a JSON string")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise RequestError("InvalidJSON", f"{what} is not valid JSON: {exc}") from exc


def _http(event: dict[str, Any]) -> dict[str, Any]:
    """HTTP-style event: the JSON request is in `body` (base64 when isBase64Encoded).

    A real API Gateway event (it has `requestContext`) gets the proxy-integration wrapper API Gateway
    requires; a bare {"body": ...} event (test tools, hand-made invokes) gets the plain response.
    """
    try:
        body = event.get("body")
        if event.get("isBase64Encoded") and isinstance(body, str):
            try:
                body = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise RequestError("InvalidRequest", f"body is not valid base64: {exc}") from exc
        status, response = _answer(_parse_json(body, "body"))
    except RequestError as exc:
        status, response = exc.status, {"error": {"type": exc.kind, "message": exc.message}}
    if "requestContext" not in event:
        return response
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(response),
    }


def _sns(records: list[Any]) -> dict[str, Any]:
    """SNS event: each record's Message is one JSON request."""
    responses = []
    for record in records:
        try:
            message = record["Sns"]["Message"]
        except (KeyError, TypeError):
            responses.append(
                {"error": {"type": "InvalidRequest", "message": "SNS record without Sns.Message"}}
            )
            continue
        try:
            responses.append(_answer(_parse_json(message, "Sns.Message"))[1])
        except RequestError as exc:
            responses.append({"error": {"type": exc.kind, "message": exc.message}})
    return responses[0] if len(responses) == 1 else {"records": responses}


def predict(event: Any, context: Any = None) -> dict[str, Any]:
    """Lambda entry point: unwrap API Gateway / SNS events, answer, never raise."""
    if isinstance(event, dict) and "body" in event and not {"text", "texts", "action"} & event.keys():
        return _http(event)
    if isinstance(event, dict) and isinstance(event.get("Records"), list) and event["Records"]:
        first = event["Records"][0]
        if isinstance(first, dict) and "Sns" in first:
            return _sns(event["Records"])
    return _answer(event)[1]
