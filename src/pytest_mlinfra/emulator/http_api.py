"""API Gateway HTTP APIs (apigatewayv2) with Lambda proxy integrations, served by the embedded AWS.

moto stores the API, its routes, integrations and stages; nothing answers the invoke URL. Routed
like function URLs (:mod:`~pytest_mlinfra.emulator.function_urls`): the client connects to the
emulator and sends the API's host, ``<api-id>.execute-api.<region>.amazonaws.com``, as ``Host``.

What AWS does, done here:

- The stage: ``$default`` serves the whole path; a named stage serves ``/<stage>/...`` (``rawPath``
  keeps the stage prefix, routes are matched without it). No such stage, or no route matching
  ``METHOD /path`` (``ANY``, ``{param}``, ``{proxy+}``, else ``$default``): 404 ``{"message":"Not Found"}``.
- A route with ``authorization_type = AWS_IAM`` refuses a request without a SigV4 signature: 403
  ``{"message":"Forbidden"}`` (the signature itself is not checked).
- ``AWS_PROXY`` integration with a Lambda function (its ARN or invoke ARN) and payload format 2.0:
  the function's resource policy must let ``apigateway.amazonaws.com`` call ``lambda:InvokeFunction``
  for the request's source ARN (``arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>``,
  ``.../<stage>/$default`` for the default route), as ``aws_lambda_permission`` grants it; without it,
  as with a function error, an answer that cannot be mapped or a throttled call: 500
  ``{"message":"Internal Server Error"}``. Otherwise the 2.0 event and response rules
  (:mod:`~pytest_mlinfra.emulator.http_event`).
- Payload format 1.0 and non-Lambda integrations are not emulated: 501 ``NotImplemented`` naming
  what to change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from pytest_mlinfra.emulator import lambda_http, lambda_permissions
from pytest_mlinfra.emulator.function_urls import SIGV4
from pytest_mlinfra.emulator.http_event import BadAnswer, build_event, read_body, to_http

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

HOST = re.compile(r"^(?P<id>[a-z0-9]+)\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?::\d+)?$")
_FUNCTION_ARN = re.compile(
    r"arn:aws[a-z-]*:lambda:(?P<region>[^:]+):(?P<account>\d+):function:(?P<name>[^:/]+)"
)


def _json(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body, separators=(",", ":")).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _internal_error(start_response: Callable[..., Any]) -> list[bytes]:
    return _json(start_response, "500 Internal Server Error", {"message": "Internal Server Error"})


def find_api(api_id: str, region: str) -> tuple[Any, Any, str] | None:
    """(apigatewayv2 backend, API, account id) of the HTTP API with this id, or None."""
    from moto.apigatewayv2.models import apigatewayv2_backends

    for account_id in list(apigatewayv2_backends.keys()):
        try:
            backend = apigatewayv2_backends[account_id][region]
            api = backend.get_api(api_id)
        except Exception:  # no such region or API in this account
            continue
        if api.protocol_type == "HTTP":
            return backend, api, account_id
    return None


def _route_pattern(path: str) -> tuple[re.Pattern[str], int]:
    """The regex for a route path and its specificity (literal segments first, greedy last)."""
    parts, score = [], 0
    for segment in path.strip("/").split("/") if path.strip("/") else []:
        if segment.endswith("+}"):
            parts.append("(?:/.*)?")
            score -= 100
            continue
        if segment.startswith("{") and segment.endswith("}"):
            parts.append("/[^/]+")
        else:
            parts.append("/" + re.escape(segment))
            score += 10
        score += 1
    return re.compile("^" + "".join(parts) + "/?$"), score


def match_route(routes: list[Any], method: str, path: str) -> Any:
    """The route AWS would pick for ``method path`` (most specific wins; ``$default`` last), or None."""
    best, best_score = None, -(10**6)
    default = None
    for route in routes:
        key = str(route.route_key)
        if key == "$default":
            default = route
            continue
        route_method, _, route_path = key.partition(" ")
        if route_method not in ("ANY", method):
            continue
        pattern, score = _route_pattern(route_path)
        score += 1 if route_method == method else 0
        if pattern.match(path or "/") and score > best_score:
            best, best_score = route, score
    return best if best is not None else default


class HttpApis:
    """WSGI middleware: requests to an HTTP API's execute-api host run its route's integration."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        match = HOST.match(str(environ.get("HTTP_HOST", "")).lower())
        if match is None:
            return self.app(environ, start_response)
        return self.serve(environ, start_response, match.group("id"), match.group("region"))

    def serve(
        self, environ: dict[str, Any], start_response: Callable[..., Any], api_id: str, region: str
    ) -> Iterable[bytes]:
        not_found = {"message": "Not Found"}
        found = find_api(api_id, region)
        if found is None:
            return _json(start_response, "404 Not Found", not_found)
        backend, api, account_id = found
        raw_path = str(environ.get("RAW_URI") or environ.get("PATH_INFO") or "/").split("?")[0] or "/"
        stages = dict(getattr(api, "stages", {}) or {})
        first, _, rest = raw_path.lstrip("/").partition("/")
        if first and first in stages and first != "$default":
            stage, route_path = first, "/" + rest
        elif "$default" in stages:
            stage, route_path = "$default", raw_path
        else:
            return _json(start_response, "404 Not Found", not_found)
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        route = match_route(list(backend.get_routes(api_id)), method, route_path)
        if route is None or not str(route.target or "").startswith("integrations/"):
            return _json(start_response, "404 Not Found", not_found)
        signed = SIGV4.match(str(environ.get("HTTP_AUTHORIZATION", ""))) is not None
        if str(route.authorization_type or "NONE") == "AWS_IAM" and not signed:
            return _json(start_response, "403 Forbidden", {"message": "Forbidden"})
        integration = backend.get_integration(api_id, str(route.target).split("/", 1)[1])
        function = _FUNCTION_ARN.search(str(integration.integration_uri or ""))
        if integration.integration_type != "AWS_PROXY" or function is None:
            return _not_implemented(start_response, "only Lambda proxy (AWS_PROXY) integrations are emulated")
        if str(integration.payload_format_version or "1.0") != "2.0":
            return _not_implemented(
                start_response,
                'payload format 1.0 is not emulated: set payload_format_version = "2.0" on the integration',
            )
        from moto.awslambda.models import lambda_backends

        lambda_backend = lambda_backends[function.group("account")][function.group("region")]
        name = function.group("name")
        resource = "$default" if route.route_key == "$default" else f"{method}{route_path}"
        source_arn = f"arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}/{resource}"
        try:
            allowed = lambda_permissions.allows(
                lambda_backend,
                name,
                "lambda:InvokeFunction",
                service="apigateway.amazonaws.com",
                source_arn=source_arn,
            )
        except Exception:  # the function is gone
            allowed = False
        if not allowed:
            return _internal_error(start_response)
        event = build_event(
            environ,
            read_body(environ),
            path=raw_path,
            domain=str(environ.get("HTTP_HOST", "")).split(":")[0].lower(),
            api_id=api_id,
            account_id=account_id,
            route_key=str(route.route_key),
            stage=stage,
        )
        event["pathParameters"] = _path_parameters(str(route.route_key), route_path)
        if not event["pathParameters"]:
            del event["pathParameters"]
        result = lambda_http.invoke(lambda_backend, name, event)
        if result.throttled or result.error:
            return _internal_error(start_response)
        try:
            answer = to_http(result.payload)
        except BadAnswer:
            return _internal_error(start_response)
        request_id = event["requestContext"]["requestId"]
        headers = [
            *answer.headers,
            ("Content-Length", str(len(answer.body))),
            ("apigw-requestid", request_id),
            *lambda_http.report_header(result.report),
        ]
        from http import HTTPStatus

        try:
            reason = HTTPStatus(answer.status).phrase
        except ValueError:
            reason = "Status"
        start_response(f"{answer.status} {reason}", headers)
        return [answer.body]


def _path_parameters(route_key: str, path: str) -> dict[str, str]:
    _, _, route_path = route_key.partition(" ")
    names = route_path.strip("/").split("/") if route_path.strip("/") else []
    values = path.strip("/").split("/") if path.strip("/") else []
    found: dict[str, str] = {}
    for index, segment in enumerate(names):
        if segment.endswith("+}"):
            found[segment[1:-2]] = "/".join(values[index:])
            break
        if segment.startswith("{") and segment.endswith("}") and index < len(values):
            found[segment[1:-1]] = values[index]
    return found


def _not_implemented(start_response: Callable[..., Any], message: str) -> list[bytes]:
    body = {"message": f"{message} (pytest-mlinfra embedded AWS)"}
    data = json.dumps(body).encode()
    start_response(
        "501 Not Implemented",
        [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", "NotImplemented"),
            ("Content-Length", str(len(data))),
        ],
    )
    return [data]
