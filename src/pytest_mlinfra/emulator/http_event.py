"""HTTP request -> Lambda event (payload format 2.0) and Lambda answer -> HTTP response.

Function URLs and API Gateway HTTP APIs share both directions (AWS documents one format for them):

- the event: ``version`` 2.0, ``rawPath``, ``rawQueryString``, ``cookies`` (taken out of the headers),
  lower-case ``headers`` (repeated ones joined by commas), ``queryStringParameters`` (repeated keys
  joined by commas), ``requestContext`` (``http.method/path/protocol/sourceIp/userAgent``, ``time``,
  ``timeEpoch``, ``requestId``), ``body`` (absent when empty; base64 with ``isBase64Encoded`` unless
  the content type is text, JSON, XML or JavaScript);
- the answer: a JSON object with ``statusCode`` gives that status, its ``headers``, ``cookies``
  (one ``Set-Cookie`` each) and ``body`` (base64-decoded when ``isBase64Encoded``); any other valid
  JSON is a 200 ``application/json`` whose body is that JSON (a JSON string: the string itself);
  anything else is not a valid answer (:class:`BadAnswer`; the front end says 502).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

_TEXT_TYPES = ("text/", "application/json", "+json", "application/xml", "+xml", "javascript")


class BadAnswer(Exception):
    """The function's answer cannot be turned into an HTTP response."""


@dataclass
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length > 0 else b""


def request_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers, lower-case names (WSGI has already joined repeated ones with commas)."""
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def is_text(content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return any(marker in kind for marker in _TEXT_TYPES)


def build_event(
    environ: dict[str, Any],
    body: bytes,
    *,
    path: str,
    domain: str,
    api_id: str,
    account_id: str,
    route_key: str = "$default",
    stage: str = "$default",
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload format 2.0 event for this request (``path``: what the function sees as rawPath)."""
    headers = request_headers(environ)
    cookie_header = headers.pop("cookie", "")
    raw_query = str(environ.get("QUERY_STRING", ""))
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    now = time.time()
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".")[0],
        "http": {
            "method": str(environ.get("REQUEST_METHOD", "GET")),
            "path": path,
            "protocol": str(environ.get("SERVER_PROTOCOL", "HTTP/1.1")),
            "sourceIp": str(environ.get("REMOTE_ADDR", "")),
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": route_key,
        "stage": stage,
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
    }
    if cookie_header:
        event["cookies"] = [c.strip() for c in cookie_header.split(";") if c.strip()]
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = context
    encoded = bool(body) and not is_text(headers.get("content-type", ""))
    if body:
        event["body"] = base64.b64encode(body).decode() if encoded else body.decode("utf-8", "replace")
    event["isBase64Encoded"] = encoded
    return event


def to_http(payload: bytes) -> HttpAnswer:
    """The HTTP response for the function's answer, by the payload format 2.0 rules."""
    try:
        value = json.loads(payload)
    except ValueError:
        raise BadAnswer("the function's answer is not JSON") from None
    if not (isinstance(value, dict) and "statusCode" in value):
        plain = value.encode() if isinstance(value, str) else payload
        return HttpAnswer(200, [("Content-Type", "application/json")], plain)
    status = value["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise BadAnswer(f"statusCode {status!r} is not an HTTP status")
    raw_headers = value.get("headers") or {}
    if not isinstance(raw_headers, dict):
        raise BadAnswer("headers is not an object")
    headers = [(str(k), str(v)) for k, v in raw_headers.items()]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    cookies = value.get("cookies") or []
    if not isinstance(cookies, list):
        raise BadAnswer("cookies is not a list")
    headers += [("Set-Cookie", str(cookie)) for cookie in cookies]
    body: Any = value.get("body")
    data: bytes
    if body is None:
        data = b""
    elif not isinstance(body, str):
        raise BadAnswer("body is not a string")
    elif value.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:
            raise BadAnswer("body is not base64") from None
    else:
        data = body.encode()
    return HttpAnswer(status, headers, data)
