"""Lambda Invoke payloads through boto3 as AWS's front end answers them: {} for none, 413, 400, no 500."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from pytest_mlinfra.emulator import EmbeddedAWS
from pytest_mlinfra.emulator.invoke_request import (
    EVENT_LIMIT,
    SYNC_LIMIT,
    InvokeRequestError,
    check_payload,
    nesting_depth,
)

PREFIX = "Could not parse request body into json: Could not parse payload into json: "


@pytest.fixture(scope="module")
def lam(aws: EmbeddedAWS) -> Any:
    import boto3

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    return session.client(
        "lambda",
        endpoint_url=aws.endpoint_url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),  # a 500 must show as one, not be retried away
    )


@pytest.fixture(scope="module")
def info_function(make_function: Callable[..., str]) -> str:
    return make_function("info")


def _error(lam: Any, name: str, payload: bytes, **kw: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=name, Payload=payload, **kw)
    response = caught.value.response
    error = response["Error"]
    return response["ResponseMetadata"]["HTTPStatusCode"], error["Code"], error["Message"]


def test_no_payload_reaches_the_handler_as_empty_object(lam: Any, info_function: str) -> None:
    for kwargs in ({}, {"Payload": b""}):
        response = lam.invoke(FunctionName=info_function, **kwargs)
        assert "FunctionError" not in response
        assert json.loads(response["Payload"].read())["event"] == {}


def test_sync_payload_over_6_mb_is_413_as_aws_words_it(lam: Any, info_function: str) -> None:
    payload = b'"' + b"a" * (SYNC_LIMIT - 1) + b'"'  # 6 MB + 1 byte
    assert _error(lam, info_function, payload) == (
        413,
        "RequestEntityTooLargeException",
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
    )


def test_event_payload_over_1_mb_is_413_as_aws_words_it(lam: Any, info_function: str) -> None:
    payload = json.dumps({"x": "a" * EVENT_LIMIT}).encode()
    assert _error(lam, info_function, payload, InvocationType="Event") == (
        413,
        "RequestEntityTooLargeException",
        f"{len(payload)} byte payload is too large for the Event invocation type (limit 1048576 bytes)",
    )
    small = json.dumps({"x": "a" * 1000}).encode()
    assert lam.invoke(FunctionName=info_function, Payload=small, InvocationType="Event")["StatusCode"] == 202


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (bytes(range(128, 256)), "Invalid UTF-8 start byte 0x80"),
        (b'{"name": "caf\xc3("}', "Invalid UTF-8 middle byte 0x28"),
        (b"[" * 1500 + b"]" * 1500, "Document nesting depth (1001) exceeds the maximum allowed (1000"),
        (b"hello", "Expecting value"),
        (b'{"text": Infinity}', "Non-standard token 'Infinity'"),
        (b'{"text": NaN}', "Non-standard token 'NaN'"),
    ],
    ids=["binary", "invalid-utf8", "nested-1500", "not-json", "infinity", "nan"],
)
def test_bad_payloads_are_400_without_a_traceback(
    lam: Any, info_function: str, payload: bytes, detail: str, capfd: pytest.CaptureFixture[str]
) -> None:
    status, code, message = _error(lam, info_function, payload)
    assert (status, code) == (400, "InvalidRequestContentException")
    assert message.startswith(PREFIX + detail)
    assert "Traceback" not in capfd.readouterr().err


def test_nesting_within_the_limit_reaches_the_handler(lam: Any, info_function: str) -> None:
    response = lam.invoke(FunctionName=info_function, Payload=b'{"a": ' * 50 + b"1" + b"}" * 50)
    assert "FunctionError" not in response


def test_nesting_at_the_limit_is_not_refused_by_the_front_end(lam: Any, info_function: str) -> None:
    # AWS's front end takes 1,000 levels; what the function's runtime makes of them is its business.
    at_limit = b"[" * 1000 + b"]" * 1000
    response = lam.invoke(FunctionName=info_function, Payload=at_limit)
    assert response["StatusCode"] == 200
    status, code, message = _error(lam, info_function, b"[" + at_limit + b"]")
    assert (status, code) == (400, "InvalidRequestContentException")
    assert "Document nesting depth (1001) exceeds the maximum allowed (1000" in message


@pytest.mark.parametrize("body", [b"{}", b""], ids=["empty-object", "no-body"])
def test_unsigned_invoke_is_403_missing_authentication_token(
    aws: EmbeddedAWS, info_function: str, body: bytes, capfd: pytest.CaptureFixture[str]
) -> None:
    import urllib.error
    import urllib.request

    url = f"{aws.endpoint_url}/2015-03-31/functions/{info_function}/invocations"
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 403
    assert caught.value.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert json.loads(caught.value.read()) == {"message": "Missing Authentication Token"}
    assert "Traceback" not in capfd.readouterr().err


def test_limits_are_inclusive() -> None:
    at_limit = b'"' + b"a" * (SYNC_LIMIT - 2) + b'"'
    assert check_payload(at_limit, "RequestResponse") == at_limit
    with pytest.raises(InvokeRequestError):
        check_payload(b" " + at_limit, "RequestResponse")
    event_at_limit = b'"' + b"a" * (EVENT_LIMIT - 2) + b'"'
    assert check_payload(event_at_limit, "Event") == event_at_limit


def test_nesting_depth_ignores_brackets_in_strings() -> None:
    assert nesting_depth('{"a": "[[[[\\"{{{", "b": [[1]]}') == 3
