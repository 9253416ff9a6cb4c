"""Lambda function URLs served by the embedded AWS (moto stores the config but serves nothing).

**How a request gets here.** A function URL (``https://<url-id>.lambda-url.<region>.on.aws/``)
names a host that does not resolve on the test machine. The client connects to the emulator's
endpoint instead and sends the URL's host in the ``Host`` header (``pytest_mlinfra.http_client``
does this; by hand: ``curl -H 'Host: <url-id>.lambda-url.us-east-1.on.aws' http://127.0.0.1:PORT/``).
This WSGI layer, in front of moto, answers every request whose ``Host`` is a function URL host
(any port, ``http`` as well as ``https``); everything else goes on to moto.

**What AWS does, done here.**

- Unknown URL id: 403 ``{"Message":null}`` (``x-amzn-ErrorType: AccessDeniedException``).
- ``AuthType=AWS_IAM``: a request without a SigV4 ``Authorization`` header for the ``lambda``
  service gets 403 ``{"Message":"Forbidden"}``. A signed request is let through; the signature and
  the caller's identity policy are not checked (the emulator accepts any credentials).
- ``AuthType=NONE``: the function's resource policy must let everyone (principal ``*``) call
  ``lambda:InvokeFunctionUrl`` (hashicorp/aws adds that statement, ``FunctionURLAllowPublicAccess``)
  and, as AWS requires of URLs created since October 2025, ``lambda:InvokeFunction``; else 403
  ``{"Message":"Forbidden"}``.
- The function gets the payload format 2.0 event and runs through the Lambda backend's ``invoke``
  (same environments, concurrency limit, logs and 429 as ``Invoke``); its answer is mapped to
  HTTP by :func:`~pytest_mlinfra.emulator.http_event.to_http`. A function error (it raised, timed
  out, crashed) or an answer that cannot be mapped: 502 ``Internal Server Error``. No free
  execution environment: 429 ``{"Message":"Rate Exceeded."}``.
- ``CreateFunctionUrlConfig`` / ``GetFunctionUrlConfig`` / ``UpdateFunctionUrlConfig`` answer the
  URL with its trailing slash, and ``GetFunctionUrlConfig`` with 200, as AWS does (moto: no slash, 201).

Emulator only: ``X-Mlinfra-Report: duration=<ms>[; init=<ms>]`` on each answer, so the HTTP client
records cold starts like the Invoke client does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from pytest_mlinfra.emulator import lambda_http, lambda_permissions
from pytest_mlinfra.emulator.http_event import BadAnswer, build_event, read_body, to_http

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

HOST = re.compile(r"^(?P<id>[a-z0-9]+)\.lambda-url\.(?P<region>[a-z0-9-]+)\.on\.aws(?::\d+)?$")
_CONFIG_PATH = re.compile(r"^/2021-10-31/functions/[^/]+/url/?$")
SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request"
)


def find_url(url_id: str, region: str) -> tuple[Any, Any, str] | None:
    """(Lambda backend, function, account id) of the function URL with this id, or None."""
    from moto.awslambda.models import lambda_backends

    for account_id in list(lambda_backends.keys()):
        try:
            backend = lambda_backends[account_id][region]
        except KeyError:
            return None
        for function in backend.list_functions():
            config = getattr(function, "url_config", None)
            if config is not None and _url_id(config.url) == url_id:
                return backend, function, account_id
    return None


def _url_id(url: str) -> str:
    return url.split("//", 1)[-1].split(".", 1)[0].lower()


def _json(start_response: Callable[..., Any], status: str, body: Any, error_type: str | None) -> list[bytes]:
    data = json.dumps(body, separators=(",", ":")).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    start_response(status, headers)
    return [data]


class FunctionUrls:
    """WSGI middleware: requests to a function URL host run the function; the rest go to ``app``."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        match = HOST.match(str(environ.get("HTTP_HOST", "")).lower())
        if match is None:
            if _CONFIG_PATH.match(environ.get("PATH_INFO", "")):
                return _fix_config_answer(self.app, environ, start_response)
            return self.app(environ, start_response)
        return self.serve(environ, start_response, match.group("id"), match.group("region"))

    def serve(
        self, environ: dict[str, Any], start_response: Callable[..., Any], url_id: str, region: str
    ) -> Iterable[bytes]:
        found = find_url(url_id, region)
        if found is None:
            return _json(start_response, "403 Forbidden", {"Message": None}, "AccessDeniedException")
        backend, function, account_id = found
        auth_type = str(function.url_config.config.get("AuthType") or "NONE")
        authorizer: dict[str, Any] | None = None
        if auth_type == "AWS_IAM":
            signed = SIGV4.match(str(environ.get("HTTP_AUTHORIZATION", "")))
            if signed is None or signed.group("service") != "lambda":
                return _json(
                    start_response, "403 Forbidden", {"Message": "Forbidden"}, "AccessDeniedException"
                )
            authorizer = {"iam": _iam_identity(signed.group("key"), account_id)}
        elif not _public(backend, function.function_name):
            return _json(start_response, "403 Forbidden", {"Message": "Forbidden"}, "AccessDeniedException")
        domain = str(environ.get("HTTP_HOST", "")).split(":")[0].lower()
        event = build_event(
            environ,
            read_body(environ),
            path=str(environ.get("RAW_URI") or environ.get("PATH_INFO") or "/").split("?")[0],
            domain=domain,
            api_id=url_id,
            account_id=account_id if authorizer else "anonymous",
            authorizer=authorizer,
        )
        result = lambda_http.invoke(backend, function.function_name, event)
        if result.throttled:
            return _json(
                start_response,
                "429 Too Many Requests",
                {"Message": "Rate Exceeded."},
                "TooManyRequestsException",
            )
        extra = lambda_http.report_header(result.report)
        extra.append(("x-amzn-RequestId", event["requestContext"]["requestId"]))
        try:
            if result.error:
                raise BadAnswer("function error")
            answer = to_http(result.payload)
        except BadAnswer:
            body = b"Internal Server Error"
            start_response(
                "502 Bad Gateway",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *extra],
            )
            return [body]
        headers = [*answer.headers, ("Content-Length", str(len(answer.body))), *extra]
        start_response(f"{answer.status} {_reason(answer.status)}", headers)
        return [answer.body]


def _public(backend: Any, function_name: str) -> bool:
    def grants(action: str) -> bool:
        return lambda_permissions.allows(backend, function_name, action, public_only=True)

    return grants("lambda:InvokeFunctionUrl") and grants("lambda:InvokeFunction")


def _iam_identity(access_key: str, account_id: str) -> dict[str, Any]:
    return {
        "accessKey": access_key,
        "accountId": account_id,
        "callerId": access_key,
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": f"arn:aws:iam::{account_id}:root",
        "userId": account_id,
    }


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"


def _fix_config_answer(
    app: WSGIApp, environ: dict[str, Any], start_response: Callable[..., Any]
) -> list[bytes]:
    """moto's function URL config answers, made AWS's: URL with trailing slash, Get* with 200."""
    captured: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured["status"], captured["headers"] = status, headers
        return lambda _data: None

    body = b"".join(app(environ, capture))
    status: str = captured["status"]
    headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
    try:
        config = json.loads(body)
    except ValueError:
        config = None
    if isinstance(config, dict) and isinstance(config.get("FunctionUrl"), str):
        if not config["FunctionUrl"].endswith("/"):
            config["FunctionUrl"] += "/"
        body = json.dumps(config).encode()
        if environ.get("REQUEST_METHOD") == "GET" and status.startswith("201"):
            status = "200 OK"
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]
