"""API Gateway HTTP APIs on the embedded AWS: the stage's invoke URL over plain HTTP, routed by Host."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_mlinfra.emulator import EmbeddedAWS
from pytest_mlinfra.http_client import HttpClient

ACCOUNT = "123456789012"


def _api(client: Callable[[str], Any], function: str, stage: str = "$default") -> tuple[str, str]:
    """(api id, invoke URL) of an HTTP API routing ``POST /predict/{id}`` and ``$default`` to ``function``."""
    gateway = client("apigatewayv2")
    arn = client("lambda").get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    api = gateway.create_api(Name=f"api-{function}", ProtocolType="HTTP")
    integration = gateway.create_integration(
        ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=arn, PayloadFormatVersion="2.0"
    )
    for key in ("POST /predict/{id}", "$default"):
        gateway.create_route(
            ApiId=api["ApiId"], RouteKey=key, Target=f"integrations/{integration['IntegrationId']}"
        )
    gateway.create_stage(ApiId=api["ApiId"], StageName=stage, AutoDeploy=True)
    url = api["ApiEndpoint"] + ("" if stage == "$default" else f"/{stage}")
    return api["ApiId"], url


def _allow(client: Callable[[str], Any], function: str, api_id: str) -> None:
    client("lambda").add_permission(
        FunctionName=function,
        StatementId="apigw",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api_id}/*/*",
    )


def test_missing_permission_is_500_then_the_2_0_event_arrives(
    aws: EmbeddedAWS, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("echo")
    api_id, url = _api(client, name, stage="prod")
    http = HttpClient(url, endpoint_url=aws.endpoint_url)
    refused = http.post_json({"text": "x"}, "/predict/7")
    assert (refused.status, refused.json()) == (500, {"message": "Internal Server Error"})
    _allow(client, name, api_id)
    response = http.post_json({"text": "x"}, "/predict/7?q=1")
    assert response.status == 200, response.body
    event = response.json()
    assert event["version"] == "2.0" and event["routeKey"] == "POST /predict/{id}"
    assert event["rawPath"] == "/prod/predict/7" and event["pathParameters"] == {"id": "7"}
    assert event["requestContext"]["stage"] == "prod" and event["requestContext"]["apiId"] == api_id
    assert event["requestContext"]["accountId"] == ACCOUNT and event["body"] == '{"text": "x"}'
    other = http.request("GET", "/anything").json()
    assert other["routeKey"] == "$default"


def test_unknown_stage_and_handler_error(
    aws: EmbeddedAWS, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("boom")
    api_id, url = _api(client, name)
    _allow(client, name, api_id)
    http = HttpClient(url, endpoint_url=aws.endpoint_url)
    failed = http.post_json({}, "/predict/1")
    assert (failed.status, failed.json()) == (500, {"message": "Internal Server Error"})
    missing = HttpClient(
        "https://nosuchapi.execute-api.us-east-1.amazonaws.com", endpoint_url=aws.endpoint_url
    )
    assert (missing.post_json({}).status, missing.post_json({}).json()) == (404, {"message": "Not Found"})


def test_answer_mapping_matches_function_urls(
    aws: EmbeddedAWS, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("respond")
    api_id, url = _api(client, name)
    _allow(client, name, api_id)
    http = HttpClient(url, endpoint_url=aws.endpoint_url)
    answer = {"statusCode": 418, "headers": {"Content-Type": "text/plain"}, "body": "teapot"}
    response = http.post_json({"answer": answer}, "/predict/1")
    assert (response.status, response.body, response.headers["content-type"]) == (
        418,
        b"teapot",
        "text/plain",
    )
    plain = http.post_json({"answer": {"entities": []}}, "/predict/1")
    assert (plain.status, plain.json()) == (200, {"entities": []})
