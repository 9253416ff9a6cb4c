"""The real hashicorp/aws provider (3.39.0, pinned: the 3.x drift is the point) sees what it would see on AWS.

One small stack: a role with ``AWSLambdaVPCAccessExecutionRole`` attached through
``data "aws_iam_policy"`` by ARN, a bucket with SSE-S3 set inline (stable: AWS returns exactly
that) and a bucket that sets no encryption: provider 3.x reads AWS's default AES256 rule back and
plans to remove it, a perpetual diff on AWS since January 2023
(hashicorp/terraform-provider-aws#28701), and so here too. Then a DataSync EFS location whose
subnet's zone has no mount target: the apply fails with DataSync's error, as on AWS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from pytest_mlinfra.emulator import EmbeddedAWS
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.terraform.override import EmulatorEndpoint
from pytest_mlinfra.terraform.stack import Stack
from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform

pytestmark = pytest.mark.slow

STACK = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "3.39.0" }
  }
}
provider "aws" {
  region = "us-east-1"
}
data "aws_iam_policy" "vpc_access" {
  arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}
resource "aws_iam_role" "fn" {
  name = "fidelity-fn"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow",
    Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }] })
}
resource "aws_iam_role_policy_attachment" "vpc_access" {
  role       = aws_iam_role.fn.name
  policy_arn = data.aws_iam_policy.vpc_access.arn
}
resource "aws_s3_bucket" "inline" {
  bucket        = "fidelity-inline-sse"
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
  bucket        = "fidelity-plain"
  force_destroy = true
}
resource "aws_vpc" "net" {
  cidr_block = "10.8.0.0/16"
}
resource "aws_subnet" "a" {
  vpc_id            = aws_vpc.net.id
  cidr_block        = "10.8.1.0/24"
  availability_zone = "us-east-1a"
}
resource "aws_efs_file_system" "fs" {
  creation_token = "fidelity-fs"
}
output "policy_name" { value = data.aws_iam_policy.vpc_access.name }
output "policy_document" { value = data.aws_iam_policy.vpc_access.policy }
"""

NO_MOUNT_TARGET = """
resource "aws_datasync_location_efs" "dst" {
  efs_file_system_arn = aws_efs_file_system.fs.arn
  ec2_config {
    subnet_arn          = aws_subnet.a.arn
    security_group_arns = ["arn:aws:ec2:us-east-1:123456789012:security-group/sg-12345678"]
  }
}
"""


def _value(outputs: dict[str, Any], name: str) -> Any:
    raw = outputs[name]
    return raw["value"] if isinstance(raw, dict) and "value" in raw else raw


def test_managed_policy_data_source_and_default_encryption(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "main.tf").write_text(STACK)
    with EmbeddedAWS(state_dir=tmp_path / "aws") as aws:
        stack = Stack(
            source=source,
            workdir=tmp_path / "run",
            toolchain=Toolchain(find_terraform()),
            variables={},
            endpoint=EmulatorEndpoint(aws.endpoint_url, "us-east-1"),
        )
        stack.prepare()
        stack.init()
        try:
            outputs = stack.apply()
            assert _value(outputs, "policy_name") == "AWSLambdaVPCAccessExecutionRole"
            assert "ec2:CreateNetworkInterface" in _value(outputs, "policy_document")
            session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t")
            s3 = session.client("s3", endpoint_url=aws.endpoint_url, region_name="us-east-1")
            for bucket in ("fidelity-inline-sse", "fidelity-plain"):
                rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
                assert rules[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
            iam = session.client("iam", endpoint_url=aws.endpoint_url, region_name="us-east-1")
            attached = iam.list_attached_role_policies(RoleName="fidelity-fn")["AttachedPolicies"]
            assert [p["PolicyName"] for p in attached] == ["AWSLambdaVPCAccessExecutionRole"]
            assert stack.pending_changes() == ["aws_s3_bucket.plain"]  # drift where AWS drifts

            (stack.tfdir / "location.tf").write_text(NO_MOUNT_TARGET)
            with pytest.raises(MlinfraError, match="has no mount target in Availability Zone us-east-1a"):
                stack.apply()
        finally:
            stack.destroy()
