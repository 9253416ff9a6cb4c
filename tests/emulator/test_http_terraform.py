"""HTTP and event front ends made by the real hashicorp/aws 5.100.0 provider, used over plain HTTP.

One stack, applied once: function URLs (``NONE`` with the public permissions, ``AWS_IAM``, a handler
that raises). The test process calls the URLs the outputs name, as a user's client does.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
  for_each         = { web = "respond", private = "echo", broken = "boom" }
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
