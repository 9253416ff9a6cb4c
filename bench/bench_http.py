"""Latency through a function URL and an HTTP API vs through Invoke, on the same stack (local target).

Terraform (hashicorp/aws 5.100.0 from ``--provider-mirror``, default /opt/tf-plugins) applies one
function (the test probe handler's ``respond``: it answers the request body's ``answer``) with a
public function URL and an HTTP API route in front of it, on the embedded AWS. After one warm-up
call each, the three paths are called in turn, ``--requests`` times each, sequentially, with the
same tiny request: the Invoke API (boto3, :class:`~pytest_mlinfra.function.FunctionClient`, the
baseline of this run), the function URL and the HTTP API (:class:`~pytest_mlinfra.http_client.HttpClient`,
plain HTTP from this process). Reports p50/p95 of client wall time and the ratios to Invoke.

    python bench/bench_http.py [--requests 200] [--provider-mirror /opt/tf-plugins]

Writes ``bench/results/bench_http.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_mlinfra.emulator import EmbeddedAWS
from pytest_mlinfra.function import FunctionClient
from pytest_mlinfra.http_client import HttpClient
from pytest_mlinfra.latency import LatencyLog, Sample, percentile
from pytest_mlinfra.terraform.override import EmulatorEndpoint
from pytest_mlinfra.terraform.stack import Stack
from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "tests" / "emulator" / "handlers" / "probe.py"
RESULTS = Path(__file__).parent / "results"

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
  name = "bench-http-fn"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow",
    Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }] })
}
resource "aws_lambda_function" "fn" {
  function_name    = "bench-http"
  filename         = "fn.zip"
  source_code_hash = filebase64sha256("fn.zip")
  handler          = "probe.respond"
  runtime          = "python3.11"
  role             = aws_iam_role.fn.arn
  memory_size      = 256
}
resource "aws_lambda_function_url" "fn" {
  function_name      = aws_lambda_function.fn.function_name
  authorization_type = "NONE"
}
resource "aws_lambda_permission" "url_invoke" {
  statement_id  = "FunctionURLInvokeAllowPublicAccess"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn.function_name
  principal     = "*"
}
resource "aws_apigatewayv2_api" "api" {
  name          = "bench-http"
  protocol_type = "HTTP"
}
resource "aws_apigatewayv2_integration" "fn" {
  api_id                 = aws_apigatewayv2_api.api.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.fn.invoke_arn
  payload_format_version = "2.0"
}
resource "aws_apigatewayv2_route" "predict" {
  api_id    = aws_apigatewayv2_api.api.id
  route_key = "POST /predict"
  target    = "integrations/${aws_apigatewayv2_integration.fn.id}"
}
resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.api.id
  name        = "$default"
  auto_deploy = true
}
resource "aws_lambda_permission" "api" {
  statement_id  = "AllowHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.api.execution_arn}/*/*"
}
output "function_url" { value = aws_lambda_function_url.fn.function_url }
output "api_url" { value = "${aws_apigatewayv2_stage.default.invoke_url}predict" }
"""

REQUEST = {"answer": {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}}


def figures(log: LatencyLog) -> dict[str, float]:
    values = [s.client_ms for s in log.samples]
    return {"p50_ms": percentile(values, 50), "p95_ms": percentile(values, 95), "calls": float(len(values))}


def measure(aws: EmbeddedAWS, outputs: dict[str, Any], requests: int) -> dict[str, dict[str, float]]:
    import boto3

    session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1")
    invoke = FunctionClient(session.client("lambda", endpoint_url=aws.endpoint_url), "bench-http")
    url = HttpClient(str(outputs["function_url"]), endpoint_url=aws.endpoint_url)
    api = HttpClient(str(outputs["api_url"]), endpoint_url=aws.endpoint_url)
    event = {"body": json.dumps(REQUEST)}  # what Invoke sends: the handler reads the same body
    calls: dict[str, Callable[[], Any]] = {
        "invoke": lambda: invoke.invoke(event),
        "function_url": lambda: url.post_json(REQUEST),
        "http_api": lambda: api.post_json(REQUEST),
    }
    for call in calls.values():  # warm-up: one environment, warm for every path
        call()
    logs = {name: LatencyLog() for name in calls}
    for _ in range(requests):  # interleaved, so drift on a busy machine hits all three alike
        for name, call in calls.items():
            started = time.perf_counter()
            result = call()
            status = getattr(result, "status", 200)
            assert status == 200, f"{name} answered {status}"
            logs[name].add(Sample((time.perf_counter() - started) * 1000))
    return {name: figures(log) for name, log in logs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--provider-mirror", default="/opt/tf-plugins")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        source = Path(tmp) / "src"
        source.mkdir()
        (source / "main.tf").write_text(STACK)
        with zipfile.ZipFile(source / "fn.zip", "w") as archive:
            archive.write(PROBE, "probe.py")
        toolchain = Toolchain(find_terraform(), use_mirror=False, provider_mirrors=(args.provider_mirror,))
        with EmbeddedAWS(state_dir=Path(tmp) / "aws") as aws:
            stack = Stack(
                source=source,
                workdir=Path(tmp) / "run",
                toolchain=toolchain,
                variables={},
                endpoint=EmulatorEndpoint(aws.endpoint_url, "us-east-1"),
            )
            stack.prepare()
            stack.init()
            try:
                raw = stack.apply()
                outputs = {
                    k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in raw.items()
                }
                paths = measure(aws, outputs, args.requests)
            finally:
                stack.destroy()
    base = paths["invoke"]
    result = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "requests_per_path": args.requests,
        "paths": paths,
        "ratio_to_invoke": {
            name: {k: round(v[k] / base[k], 2) for k in ("p50_ms", "p95_ms")} for name, v in paths.items()
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_http.json").write_text(json.dumps(result, indent=2) + "\n")
    for name, values in paths.items():
        ratio = result["ratio_to_invoke"][name]
        print(
            f"{name:13s} p50 {values['p50_ms']:6.2f} ms  p95 {values['p95_ms']:6.2f} ms"
            f"  (x{ratio['p50_ms']} / x{ratio['p95_ms']} of Invoke)"
        )


if __name__ == "__main__":
    main()
