"""HTTP and event front ends made by the real hashicorp/aws 5.100.0 provider, used over plain HTTP.

One stack, applied once: function URLs (``NONE`` with the public permissions, ``AWS_IAM``, a handler
that raises), two HTTP APIs (one with the ``aws_lambda_permission``, one without) and an SNS topic
with a Lambda subscription. The test process calls the URLs the outputs name, as a user's client does.
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.credentials import Credentials

from pytest_mlinfra.emulator import EmbeddedAWS
from pytest_mlinfra.http_client import HttpClient
from pytest_mlinfra.terraform.override import EmulatorEndpoint
from pytest_mlinfra.terraform.stack import Stack
from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform

pytestmark = pytest.mark.slow

MIRROR = Path("/opt/tf-plugins")

STACK = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}
provider "aws" {
  region = "us-east-1"
}
resource "aws_iam_role" "fn" {
  name = "emu-http-fn"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow",
    Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }] })
}
resource "aws_lambda_function" "fn" {
  for_each         = { web = "respond", private = "echo", broken = "boom", events = "log_event" }
  function_name    = "emu-http-${each.key}"
  filename         = "fn.zip"
  source_code_hash = filebase64sha256("fn.zip")
  handler          = "probe.${each.value}"
  runtime          = "python3.11"
  role             = aws_iam_role.fn.arn
  memory_size      = 256
  timeout          = 10
}
resource "aws_lambda_function_url" "public" {
  for_each           = toset(["web", "broken"])
  function_name      = aws_lambda_function.fn[each.key].function_name
  authorization_type = "NONE"
}
# AWS (since October 2025) also needs lambda:InvokeFunction for a public URL; the provider adds only
# lambda:InvokeFunctionUrl (statement FunctionURLAllowPublicAccess).
resource "aws_lambda_permission" "public_invoke" {
  for_each      = toset(["web", "broken"])
  statement_id  = "FunctionURLInvokeAllowPublicAccess"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn[each.key].function_name
  principal     = "*"
}
resource "aws_lambda_function_url" "private" {
  function_name      = aws_lambda_function.fn["private"].function_name
  authorization_type = "AWS_IAM"
}
resource "aws_apigatewayv2_api" "http" {
  for_each      = toset(["web", "private"])
  name          = "emu-http-${each.key}"
  protocol_type = "HTTP"
}
resource "aws_apigatewayv2_integration" "fn" {
  for_each               = aws_apigatewayv2_api.http
  api_id                 = each.value.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.fn[each.key].invoke_arn
  payload_format_version = "2.0"
}
resource "aws_apigatewayv2_route" "predict" {
  for_each  = aws_apigatewayv2_api.http
  api_id    = each.value.id
  route_key = "POST /predict"
  target    = "integrations/${aws_apigatewayv2_integration.fn[each.key].id}"
}
resource "aws_apigatewayv2_stage" "prod" {
  for_each    = aws_apigatewayv2_api.http
  api_id      = each.value.id
  name        = "prod"
  auto_deploy = true
}
# Only the "web" API may call its function; the "private" one has no permission (500 as on AWS).
resource "aws_lambda_permission" "apigw" {
  statement_id  = "AllowHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn["web"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http["web"].execution_arn}/*/*"
}
resource "aws_cloudwatch_log_group" "events" {
  name = "/aws/lambda/emu-http-events"
}
resource "aws_sns_topic" "requests" {
  name = "emu-http-requests"
}
resource "aws_sns_topic_subscription" "events" {
  topic_arn = aws_sns_topic.requests.arn
  protocol  = "lambda"
  endpoint  = aws_lambda_function.fn["events"].arn
}
resource "aws_lambda_permission" "sns" {
  statement_id  = "AllowSns"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn["events"].function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.requests.arn
}
output "api_url" { value = aws_apigatewayv2_stage.prod["web"].invoke_url }
output "unpermitted_api_url" { value = aws_apigatewayv2_stage.prod["private"].invoke_url }
output "topic_arn" { value = aws_sns_topic.requests.arn }
output "web_url" { value = aws_lambda_function_url.public["web"].function_url }
output "broken_url" { value = aws_lambda_function_url.public["broken"].function_url }
output "private_url" { value = aws_lambda_function_url.private.function_url }
output "web_url_id" { value = aws_lambda_function_url.public["web"].url_id }
"""


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedAWS, dict[str, Any]]]:
    if not MIRROR.is_dir():
        pytest.skip("hashicorp/aws 5.100.0 mirror not at /opt/tf-plugins")
    tmp = tmp_path_factory.mktemp("http-stack")
    source = tmp / "src"
    source.mkdir()
    (source / "main.tf").write_text(STACK)
    with zipfile.ZipFile(source / "fn.zip", "w") as archive:
        archive.write(Path(__file__).parent / "handlers" / "probe.py", "probe.py")
    toolchain = Toolchain(find_terraform(), use_mirror=False, provider_mirrors=(str(MIRROR),))
    with EmbeddedAWS(state_dir=tmp / "aws") as aws:
        stack = Stack(
            source=source,
            workdir=tmp / "run",
            toolchain=toolchain,
            variables={},
            endpoint=EmulatorEndpoint(aws.endpoint_url, "us-east-1"),
        )
        stack.prepare()
        stack.init()
        try:
            outputs = stack.apply()
            values = {
                k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in outputs.items()
            }
            assert stack.pending_changes() == []
            yield aws, values
        finally:
            stack.destroy()


def test_public_url_answers_with_the_function(deployed: tuple[EmbeddedAWS, dict[str, Any]]) -> None:
    aws, outputs = deployed
    url = outputs["web_url"]
    assert url.endswith(".on.aws/") and url.startswith(f"https://{outputs['web_url_id']}.lambda-url.")
    answer = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"entities": []}'}
    response = HttpClient(url, endpoint_url=aws.endpoint_url).post_json({"answer": answer})
    assert (response.status, response.json()) == (200, {"entities": []})


def test_aws_iam_url_refuses_unsigned_requests(deployed: tuple[EmbeddedAWS, dict[str, Any]]) -> None:
    aws, outputs = deployed
    unsigned = HttpClient(outputs["private_url"], endpoint_url=aws.endpoint_url).post_json({})
    assert (unsigned.status, unsigned.json()) == (403, {"Message": "Forbidden"})
    signed = HttpClient(
        outputs["private_url"], endpoint_url=aws.endpoint_url, sign=True, credentials=Credentials("AKID", "s")
    ).post_json({"x": 1})
    assert signed.status == 200 and signed.json()["body"] == '{"x": 1}'


def test_raising_handler_is_a_502(deployed: tuple[EmbeddedAWS, dict[str, Any]]) -> None:
    aws, outputs = deployed
    response = HttpClient(outputs["broken_url"], endpoint_url=aws.endpoint_url).post_json({})
    assert (response.status, response.body) == (502, b"Internal Server Error")


def test_http_api_stage_answers_with_the_2_0_event(deployed: tuple[EmbeddedAWS, dict[str, Any]]) -> None:
    aws, outputs = deployed
    assert outputs["api_url"].endswith("/prod")
    response = HttpClient(outputs["api_url"], endpoint_url=aws.endpoint_url).post_json(
        {"text": "x"}, "/predict"
    )
    assert response.status == 200, response.body
    event = response.json()
    assert (event["version"], event["routeKey"], event["rawPath"]) == (
        "2.0",
        "POST /predict",
        "/prod/predict",
    )


def test_http_api_without_permission_fails_as_aws(deployed: tuple[EmbeddedAWS, dict[str, Any]]) -> None:
    aws, outputs = deployed
    client = HttpClient(outputs["unpermitted_api_url"], endpoint_url=aws.endpoint_url)
    response = client.post_json({}, "/predict")
    assert (response.status, response.json()) == (500, {"message": "Internal Server Error"})


def test_sns_publish_reaches_the_function(deployed: tuple[EmbeddedAWS, dict[str, Any]]) -> None:
    aws, outputs = deployed
    session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1")
    sns = session.client("sns", endpoint_url=aws.endpoint_url)
    sns.publish(TopicArn=outputs["topic_arn"], Message='{"text": "Tom Cruise"}')
    logs = session.client("logs", endpoint_url=aws.endpoint_url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = logs.filter_log_events(logGroupName="/aws/lambda/emu-http-events")["events"]
        found = [json.loads(e["message"][6:]) for e in lines if e["message"].startswith("EVENT ")]
        if found:
            record = found[0]["Records"][0]["Sns"]
            assert (record["TopicArn"], record["Message"]) == (outputs["topic_arn"], '{"text": "Tom Cruise"}')
            return
        time.sleep(0.2)
    pytest.fail("the SNS message never reached the function")
