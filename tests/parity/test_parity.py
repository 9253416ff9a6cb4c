"""Parity: the same scenarios against the embedded AWS and LocalStack (host mode, as Community has it).

Status codes, error codes, response shapes and a few values must agree, unless the difference is in
:data:`~tests.parity.differences.KNOWN_DIFFERENCES` with its reason; an allow-listed scenario that
no longer differs fails too. The table is printed (CI's LocalStack job shows it) and written to
``$MLINFRA_PARITY_REPORT`` when set. One Terraform stack (managed policy by ARN + attachment, a
bucket with SSE-S3 inline and one without) is applied on both: same outputs, same drift.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_mlinfra.emulator import EmbeddedAWS
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.localstack_ext.launcher import LocalStack
from pytest_mlinfra.terraform.override import EmulatorEndpoint
from pytest_mlinfra.terraform.stack import Stack
from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform

from .differences import KNOWN_DIFFERENCES
from .harness import REGION, Observation, compare, run_all, table
from .scenarios import SCENARIOS

pytestmark = pytest.mark.slow

STACK = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.0" }
  }
}
provider "aws" {
  region = "us-east-1"
}
data "aws_iam_policy" "vpc_access" {
  arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}
resource "aws_iam_role" "fn" {
  name = "parity-fn"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow",
    Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }] })
}
resource "aws_iam_role_policy_attachment" "vpc_access" {
  role       = aws_iam_role.fn.name
  policy_arn = data.aws_iam_policy.vpc_access.arn
}
resource "aws_s3_bucket" "inline" {
  bucket        = "parity-inline-sse"
  force_destroy = true
  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm = "AES256"
      }
    }
  }
}
resource "aws_s3_bucket" "plain" {
  bucket        = "parity-plain"
  force_destroy = true
}
output "policy_name" { value = data.aws_iam_policy.vpc_access.name }
"""


def terraform_stack(endpoint_url: str, workdir: Path) -> Observation:
    """Apply, re-plan, destroy the parity stack; facts: the output and what the re-plan would change."""
    source = workdir / "src"
    source.mkdir(parents=True)
    (source / "main.tf").write_text(STACK)
    stack = Stack(
        source=source,
        workdir=workdir / "run",
        toolchain=Toolchain(find_terraform()),
        variables={},
        endpoint=EmulatorEndpoint(endpoint_url, REGION),
    )
    try:
        stack.prepare()
        stack.init()
        outputs = stack.apply()
        policy = outputs["policy_name"]
        facts = (
            ("drift", ",".join(stack.pending_changes()) or "-"),
            ("policy_name", str(policy["value"] if isinstance(policy, dict) else policy)),
        )
        return Observation(status=200, facts=facts)
    except MlinfraError as exc:
        return Observation(status=-1, error=str(exc)[:120])
    finally:
        stack.destroy()


def test_embedded_aws_and_localstack_agree(
    localstack_community: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with EmbeddedAWS(state_dir=tmp_path / "aws") as aws:
        local = run_all(SCENARIOS, aws.endpoint_url)
        local["terraform.stack"] = terraform_stack(aws.endpoint_url, tmp_path / "tf-local")
    other = run_all(SCENARIOS, localstack_community.endpoint_url)
    other["terraform.stack"] = terraform_stack(localstack_community.endpoint_url, tmp_path / "tf-localstack")

    rows = compare(local, other, KNOWN_DIFFERENCES)
    report = table(rows, "LocalStack 4.13 (Community, host mode)")
    with capsys.disabled():
        print("\n" + report)
    if os.environ.get("MLINFRA_PARITY_REPORT"):
        Path(os.environ["MLINFRA_PARITY_REPORT"]).write_text(report + "\n")

    # hashicorp/aws 5.x reads a bucket's default encryption (SSE-S3, as AWS applies to every bucket
    # since 2023) as computed, so the plain bucket re-plans clean; 3.x showed it as drift.
    assert local["terraform.stack"].facts == (
        ("drift", "-"),
        ("policy_name", "AWSLambdaVPCAccessExecutionRole"),
    )
    unexplained = [row.scenario for row in rows if row.verdict in ("DIFFERENT", "STALE")]
    assert not unexplained, f"parity differences without a reason (or stale reasons): {unexplained}\n{report}"
    assert set(KNOWN_DIFFERENCES) <= set(local), "an allow-list entry names no scenario"
