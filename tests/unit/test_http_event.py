"""Payload format 2.0 mapping and resource-policy checks, without a server."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from pytest_mlinfra.emulator import lambda_permissions
from pytest_mlinfra.emulator.http_api import match_route
from pytest_mlinfra.emulator.http_event import BadAnswer, build_event, to_http


def _environ(**extra: Any) -> dict[str, Any]:
    return {"REQUEST_METHOD": "POST", "QUERY_STRING": "", "wsgi.input": io.BytesIO(), **extra}


def test_event_headers_are_lower_case_and_text_bodies_plain() -> None:
    environ = _environ(HTTP_X_TRACE="a", CONTENT_TYPE="application/json; charset=utf-8")
    event = build_event(
        environ, b"{}", path="/", domain="x.lambda-url.us-east-1.on.aws", api_id="x", account_id="1"
    )
    assert event["headers"] == {"x-trace": "a", "content-type": "application/json; charset=utf-8"}
    assert (event["body"], event["isBase64Encoded"]) == ("{}", False)
    assert "queryStringParameters" not in event and "cookies" not in event


def test_form_bodies_are_base64_as_aws_sends_them() -> None:
    environ = _environ(CONTENT_TYPE="application/x-www-form-urlencoded")
    event = build_event(environ, b"a=1", path="/", domain="d", api_id="x", account_id="1")
    assert (event["body"], event["isBase64Encoded"]) == ("YT0x", True)


@pytest.mark.parametrize(
    "answer",
    ["not json", json.dumps({"statusCode": True}), json.dumps({"statusCode": 200, "body": {"a": 1}})],
)
def test_answers_that_cannot_be_mapped(answer: str) -> None:
    with pytest.raises(BadAnswer):
        to_http(answer.encode())


def test_status_without_body_is_empty_json() -> None:
    answer = to_http(json.dumps({"statusCode": 204}).encode())
    assert (answer.status, answer.body, answer.headers) == (204, b"", [("Content-Type", "application/json")])


class _Backend:
    def __init__(self, statements: list[dict[str, Any]]) -> None:
        self.policy = json.dumps({"Policy": json.dumps({"Statement": statements})})

    def get_policy(self, name: str) -> str:
        return self.policy


def test_permission_source_arn_wildcards_and_provider_arn_without_account() -> None:
    statement = {
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Principal": {"Service": "apigateway.amazonaws.com"},
        "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1::abc/*/*"}},
    }
    backend = _Backend([statement])
    source = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/POST/predict"
    assert lambda_permissions.allows(
        backend, "f", "lambda:InvokeFunction", service="apigateway.amazonaws.com", source_arn=source
    )
    other_api = source.replace(":abc/", ":xyz/")
    assert not lambda_permissions.allows(
        backend, "f", "lambda:InvokeFunction", service="apigateway.amazonaws.com", source_arn=other_api
    )
    assert not lambda_permissions.allows(
        backend, "f", "lambda:InvokeFunction", service="sns.amazonaws.com", source_arn=source
    )


class _Route:
    def __init__(self, key: str) -> None:
        self.route_key = key


def test_the_most_specific_route_wins() -> None:
    routes = [_Route(k) for k in ("$default", "ANY /{proxy+}", "POST /predict/{id}", "POST /predict/batch")]
    assert match_route(routes, "POST", "/predict/batch").route_key == "POST /predict/batch"
    assert match_route(routes, "POST", "/predict/7").route_key == "POST /predict/{id}"
    assert match_route(routes, "GET", "/predict/7").route_key == "ANY /{proxy+}"
    assert match_route([_Route("POST /predict"), _Route("$default")], "GET", "/x").route_key == "$default"
