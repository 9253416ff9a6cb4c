"""Function URLs on the embedded AWS: plain HTTP from the test process, routed by Host.

The real handler runs (awslambdaric in a worker); the URL is reached as a user's HTTP client reaches
it on the emulator (:class:`~pytest_mlinfra.http_client.HttpClient`: emulator endpoint + Host).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.credentials import Credentials

from pytest_mlinfra.emulator import EmbeddedAWS
from pytest_mlinfra.http_client import HttpClient


def _public_url(client: Callable[[str], Any], name: str) -> str:
    lam = client("lambda")
    url = str(lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"])
    for sid, action in (("url", "lambda:InvokeFunctionUrl"), ("invoke", "lambda:InvokeFunction")):
        extra = {"FunctionUrlAuthType": "NONE"} if action.endswith("Url") else {}
        lam.add_permission(FunctionName=name, StatementId=sid, Action=action, Principal="*", **extra)
    return url


def _http(aws: EmbeddedAWS, url: str, **kwargs: Any) -> HttpClient:
    return HttpClient(url, endpoint_url=aws.endpoint_url, **kwargs)


def test_config_answers_as_aws(client: Callable[[str], Any], make_function: Callable[..., str]) -> None:
    name = make_function("echo")
    lam = client("lambda")
    created = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionUrl"].startswith("https://") and created["FunctionUrl"].endswith(".on.aws/")
    got = lam.get_function_url_config(FunctionName=name)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["FunctionUrl"] == created["FunctionUrl"] and got["AuthType"] == "AWS_IAM"


def test_public_url_sends_the_2_0_event(
    aws: EmbeddedAWS, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("echo")
    http = _http(aws, _public_url(client, name))
    response = http.request(
        "POST",
        "/predict/x?a=1&a=2&b=",
        b'{"text": "hi"}',
        {"Content-Type": "application/json", "Cookie": "s=1; t=2", "User-Agent": "probe/1"},
    )
    assert response.status == 200, response.body
    assert response.headers["content-type"] == "application/json"
    event = response.json()
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/predict/x" and event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["cookies"] == ["s=1", "t=2"] and "cookie" not in event["headers"]
    assert event["headers"]["content-type"] == "application/json"
    assert event["body"] == '{"text": "hi"}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["accountId"] == "anonymous" and context["http"]["method"] == "POST"
    assert context["http"]["userAgent"] == "probe/1" and context["domainName"] == http.host
    assert context["apiId"] == http.host.split(".")[0] == context["domainPrefix"]


def test_binary_body_is_base64_and_get_has_no_body(
    aws: EmbeddedAWS, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    http = _http(aws, _public_url(client, make_function("echo")))
    event = http.request("POST", "/", b"\x00\xff", {"Content-Type": "application/octet-stream"}).json()
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\xff"
    event = http.request("GET", "/").json()
    assert "body" not in event and event["isBase64Encoded"] is False


@pytest.mark.parametrize(
    ("answer", "status", "body", "content_type"),
    [
        ({"statusCode": 201, "headers": {"Content-Type": "text/plain"}, "body": "made"}, 201, b"made",
         "text/plain"),
        ({"statusCode": 200, "body": base64.b64encode(b"\x01\x02").decode(), "isBase64Encoded": True}, 200,
         b"\x01\x02", "application/json"),
        ({"entities": []}, 200, b'{"entities": []}', "application/json"),
        ("plain words", 200, b"plain words", "application/json"),
        ({"statusCode": "teapot"}, 502, b"Internal Server Error", "application/json"),
    ],
)  # fmt: skip
def test_answers_map_to_http_as_aws_maps_them(
    aws: EmbeddedAWS,
    client: Callable[[str], Any],
    make_function: Callable[..., str],
    answer: Any,
    status: int,
    body: bytes,
    content_type: str,
) -> None:
    http = _http(aws, _public_url(client, make_function("respond")))
    response = http.post_json({"answer": answer})
    assert (response.status, response.body) == (status, body)
    assert response.headers["content-type"] == content_type


def test_cookies_in_the_answer_become_set_cookie(
    aws: EmbeddedAWS, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    http = _http(aws, _public_url(client, make_function("respond")))
    response = http.post_json({"answer": {"statusCode": 204, "cookies": ["a=1", "b=2"]}})
    assert response.status == 204
    assert response.headers["set-cookie"] == "a=1, b=2"  # urllib3 joins repeated headers


def test_handler_error_is_502(
    aws: EmbeddedAWS, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    http = _http(aws, _public_url(client, make_function("boom")))
    response = http.post_json({})
    assert (response.status, response.body) == (502, b"Internal Server Error")


def test_aws_iam_refuses_unsigned_and_takes_signed(
    aws: EmbeddedAWS, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("echo")
    url = client("lambda").create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    unsigned = _http(aws, url).post_json({})
    assert (unsigned.status, unsigned.json()) == (403, {"Message": "Forbidden"})
    assert unsigned.headers["x-amzn-errortype"] == "AccessDeniedException"
    signed = _http(aws, url, sign=True, credentials=Credentials("AKIDTEST", "secret")).post_json({})
    assert signed.status == 200, signed.body
    identity = signed.json()["requestContext"]["authorizer"]["iam"]
    assert identity["accessKey"] == "AKIDTEST"


def test_none_without_the_public_permissions_is_403(
    aws: EmbeddedAWS, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("echo")
    lam = client("lambda")
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    assert _http(aws, url).post_json({}).status == 403
    lam.add_permission(
        FunctionName=name,
        StatementId="u",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    assert _http(aws, url).post_json({}).status == 403  # since October 2025 InvokeFunction is needed too
    lam.add_permission(FunctionName=name, StatementId="i", Action="lambda:InvokeFunction", Principal="*")
    assert _http(aws, url).post_json({}).status == 200


def test_unknown_url_id_is_403(aws: EmbeddedAWS) -> None:
    response = _http(aws, "https://" + "a" * 32 + ".lambda-url.us-east-1.on.aws/").post_json({})
    assert (response.status, response.body) == (403, b'{"Message":null}')


def test_url_calls_share_the_function_concurrency_and_record_cold_starts(
    aws: EmbeddedAWS, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("respond")
    client("lambda").put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    http = _http(aws, _public_url(client, name))
    first = http.post_json({"answer": 1})
    assert first.status == 200 and first.sample.cold and first.sample.duration_ms is not None
    assert not http.post_json({"answer": 2}).sample.cold
    slow = threading.Thread(target=lambda: http.post_json({"sleep": 3, "answer": 3}))
    slow.start()
    try:
        no_retry = botocore.config.Config(retries={"max_attempts": 1})
        lam = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t").client(
            "lambda", endpoint_url=aws.endpoint_url, region_name="us-east-1", config=no_retry
        )
        # Once the URL call holds the one environment, Invoke is throttled (polled: a loaded machine
        # may start the URL call late; an Invoke that got the environment first just answers).
        throttled = False
        while not throttled and slow.is_alive():
            try:
                lam.invoke(FunctionName=name, Payload=json.dumps({"body": "{}"}))
            except lam.exceptions.TooManyRequestsException:
                throttled = True
        assert throttled, "Invoke was never throttled while the URL call held the environment"
        busy = http.post_json({"answer": 4})
        assert (busy.status, busy.json()) == (429, {"Message": "Rate Exceeded."})
    finally:
        slow.join()
