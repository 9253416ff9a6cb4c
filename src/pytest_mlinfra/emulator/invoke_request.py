"""What Lambda's front end checks on an ``Invoke`` request before any function runs.

AWS answers these itself, with a 4xx, before the payload reaches an execution environment:

- size: more than 6 MB (6,291,456 bytes) for ``RequestResponse``/``DryRun`` gives 413
  ``RequestEntityTooLargeException`` "Request must be smaller than 6291456 bytes for the
  InvokeFunction operation"; more than 1 MB for ``Event`` (raised from 256 KB in October 2025, see
  the Invoke API reference) gives 413 "N byte payload is too large for the Event invocation type
  (limit 1048576 bytes)";
- content: a body that is not UTF-8 or not JSON gives 400 ``InvalidRequestContentException``
  "Could not parse request body into json: Could not parse payload into json: ..." (the detail
  after that prefix is Jackson's on AWS, Python's here); so does JSON nested deeper than 1,000
  levels (Jackson's ``StreamReadConstraints`` default);
- no body at all: the function gets ``{}``;
- no signature at all (no ``Authorization`` header, no presigned ``X-Amz-Signature``): 403
  ``MissingAuthenticationTokenException`` "Missing Authentication Token", before the body is read.

moto would instead answer a non-UTF-8 body or deep nesting with HTTP 500 and a traceback on
stderr, hand invalid JSON to the runtime (``Runtime.UnmarshalError``), and route an unsigned
request to S3 (it picks the service from the signature's scope), which answers 500. This WSGI layer
sits in front of moto's dispatcher and only looks at ``POST /2015-03-31/functions/<name>/invocations``.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

SYNC_LIMIT = 6 * 1024 * 1024
EVENT_LIMIT = 1024 * 1024
MAX_NESTING_DEPTH = 1000

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/[^/]+/invocations/?$")
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_PARSE_PREFIX = "Could not parse request body into json: Could not parse payload into json: "
# Python's json parser recurses once per level: a payload AWS accepts (up to 1,000 levels) needs room
# beyond the interpreter's default limit of 1,000 frames, for the front end's parse and moto's.
_RECURSION_ROOM = 3 * MAX_NESTING_DEPTH


def is_signed(environ: dict[str, Any]) -> bool:
    """SigV4 in the ``Authorization`` header or in the query string (a presigned URL)."""
    return (
        bool(environ.get("HTTP_AUTHORIZATION"))
        or "x-amz-signature=" in environ.get("QUERY_STRING", "").lower()
    )


class InvokeRequestError(Exception):
    def __init__(self, status: str, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def check_payload(payload: bytes, invocation_type: str) -> bytes:
    """The payload the function gets (``{}`` for none), or :class:`InvokeRequestError` as AWS answers."""
    if invocation_type == "Event" and len(payload) > EVENT_LIMIT:
        raise InvokeRequestError(
            "413 Request Entity Too Large",
            "RequestEntityTooLargeException",
            f"{len(payload)} byte payload is too large for the Event invocation type"
            f" (limit {EVENT_LIMIT} bytes)",
        )
    if len(payload) > SYNC_LIMIT:
        raise InvokeRequestError(
            "413 Request Entity Too Large",
            "RequestEntityTooLargeException",
            f"Request must be smaller than {SYNC_LIMIT} bytes for the InvokeFunction operation",
        )
    if not payload:
        return b"{}"
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _content_error(_utf8_detail(payload, exc)) from None
    if text.count("[") + text.count("{") > MAX_NESTING_DEPTH:  # only then can it nest that deep
        depth = nesting_depth(text)
        if depth > MAX_NESTING_DEPTH:
            raise _content_error(
                f"Document nesting depth ({depth}) exceeds the maximum allowed "
                f"({MAX_NESTING_DEPTH}, from `StreamReadConstraints.getMaxNestingDepth()`)"
            )
    try:
        json.loads(text, parse_constant=_refuse_non_numeric)
    except RecursionError:  # a thread with less room than _RECURSION_ROOM gives (not seen so far)
        detail = f"the embedded AWS cannot parse JSON nested {nesting_depth(text)} levels deep"
        raise _content_error(detail) from None
    except ValueError as exc:
        raise _content_error(str(exc)) from None
    return payload


def nesting_depth(text: str, stop_at: int = MAX_NESTING_DEPTH + 1) -> int:
    """How deep arrays/objects nest in JSON ``text`` (counted up to ``stop_at``), without recursion."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest >= stop_at:
                return deepest
        elif token in "]}":
            depth -= 1
    return deepest


def _utf8_detail(payload: bytes, exc: UnicodeDecodeError) -> str:
    """Jackson's words for the first bad byte (what AWS puts after the prefix)."""
    if exc.reason == "invalid continuation byte" and exc.end < len(payload):
        return f"Invalid UTF-8 middle byte 0x{payload[exc.end]:02x}"
    if exc.reason == "unexpected end of data":
        return "Unexpected end-of-input in UTF-8 sequence"
    return f"Invalid UTF-8 start byte 0x{payload[exc.start]:02x}"


def _refuse_non_numeric(token: str) -> Any:
    """NaN/Infinity are not JSON: Python's parser takes them, the Lambda front end (Jackson) does not."""
    raise ValueError(
        f"Non-standard token '{token}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
    )


def _content_error(detail: str) -> InvokeRequestError:
    return InvokeRequestError("400 Bad Request", "InvalidRequestContentException", _PARSE_PREFIX + detail)


class InvokeRequestChecks:
    """WSGI middleware: Lambda ``Invoke`` requests are checked (and an empty body made ``{}``) first."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        if sys.getrecursionlimit() < _RECURSION_ROOM:
            sys.setrecursionlimit(_RECURSION_ROOM)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or not _INVOKE_PATH.match(environ.get("PATH_INFO", "")):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = environ["wsgi.input"].read(length) if length > 0 else b""
        if not is_signed(environ):
            return _error(start_response, UNSIGNED)
        invocation_type = environ.get("HTTP_X_AMZ_INVOCATION_TYPE") or "RequestResponse"
        try:
            payload = check_payload(payload, invocation_type)
        except InvokeRequestError as exc:
            return _error(start_response, exc)
        environ["wsgi.input"] = io.BytesIO(payload)
        environ["CONTENT_LENGTH"] = str(len(payload))
        try:
            return self.app(environ, start_response)
        except RecursionError:  # a thread with less room than _RECURSION_ROOM gives (not seen so far)
            depth = nesting_depth(payload.decode("utf-8"))
            detail = f"the embedded AWS cannot parse JSON nested {depth} levels deep"
            return _error(start_response, _content_error(detail))


# AWS's answer to an unsigned Lambda API request (its body carries only "message").
UNSIGNED = InvokeRequestError(
    "403 Forbidden", "MissingAuthenticationTokenException", "Missing Authentication Token"
)


def _error(start_response: Callable[..., Any], exc: InvokeRequestError) -> list[bytes]:
    fields = {"message": exc.message} if exc is UNSIGNED else {"Type": "User", "message": exc.message}
    body = json.dumps(fields).encode()
    start_response(
        exc.status,
        [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", exc.code),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]
