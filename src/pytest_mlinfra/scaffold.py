"""``mlinfra init [DIR]``: write the smallest user repo that passes as written.

An S3 + Lambda stack (the minimal contract of docs/contract.md, model served from S3), a keyword
classifier whose model is a JSON file, one deployment test, one Hypothesis property, pytest.ini,
requirements and a GitHub Actions workflow. A new user changes it from green, never towards green.
Existing files are never overwritten (``--force`` does).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_mlinfra.cli import PROG

MAIN_TF = """\
# The minimal pytest-mlinfra contract (docs/contract.md in the pytest-mlinfra repository): the model
# in S3, one Lambda that reads it at cold start. Inputs come from the plugin; outputs are read back.
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.39"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = merge(var.tags, { "mlinfra:run-id" = var.run_id })
  }
}

variable "run_id" {
  type = string
}

variable "name_prefix" {
  type = string
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "lambda_zip_path" {
  type = string
}

variable "lambda_handler" {
  type    = string
  default = "app.handler"
}

variable "lambda_runtime" {
  type    = string
  default = "python3.12"
}

variable "model_file" {
  description = "File name of the model; the plugin passes the artifact's own name."
  type        = string
  default     = "model.json"
}

locals {
  model_key = "models/keywords"
}

resource "aws_s3_bucket" "models" {
  bucket        = "${var.name_prefix}-models"
  force_destroy = true
  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm = "AES256"
      }
    }
  }
  tags = {
    Name = "${var.name_prefix}-models"
  }
}

resource "aws_iam_role" "predictor" {
  name = "${var.name_prefix}-predictor"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
    }]
  })
  tags = {
    Name = "${var.name_prefix}-predictor"
  }
}

resource "aws_iam_role_policy" "read_model" {
  name = "read-model"
  role = aws_iam_role.predictor.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "s3:GetObject"
      Resource = "${aws_s3_bucket.models.arn}/${local.model_key}/*"
    }]
  })
}

resource "aws_lambda_function" "predictor" {
  function_name    = "${var.name_prefix}-predictor"
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  handler          = var.lambda_handler
  runtime          = var.lambda_runtime
  role             = aws_iam_role.predictor.arn
  memory_size      = 256
  timeout          = 30
  environment {
    variables = {
      MODEL_S3_URI = "s3://${aws_s3_bucket.models.id}/${local.model_key}/${var.model_file}"
    }
  }
  tags = {
    Name = "${var.name_prefix}-predictor"
  }
}

output "bucket_name" {
  value = aws_s3_bucket.models.id
}

output "model_key" {
  value = local.model_key
}

output "function_name" {
  value = aws_lambda_function.predictor.function_name
}
"""

APP_PY = '''\
"""A keyword classifier: the model is a JSON map of keyword -> label, fetched from S3 once.

Event {"text": "..."} -> {"label": str, "matched": [keyword, ...]}; anything else ->
{"error": {"type": ..., "message": ...}} (the handler never raises).
"""

import json
import os

_model = None


def load_model():
    """Download MODEL_S3_URI at cold start (boto3 is part of the Lambda Python runtime)."""
    global _model
    if _model is None:
        import boto3

        bucket, _, key = os.environ["MODEL_S3_URI"][len("s3://") :].partition("/")
        body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        _model = json.loads(body)
    return _model


def classify(model, text):
    words = text.casefold().split()
    matched = sorted({word for word in words if word in model["keywords"]})
    label = model["keywords"][matched[0]] if matched else model["default"]
    return {"label": label, "matched": matched}


def handler(event, context):
    if not isinstance(event, dict) or not isinstance(event.get("text"), str):
        return {"error": {"type": "InvalidRequest", "message": 'expected {"text": "..."}'}}
    return classify(load_model(), event["text"])
'''

MODEL_JSON = """\
{
  "default": "other",
  "keywords": {"refund": "billing", "invoice": "billing", "crash": "bug", "error": "bug"}
}
"""

PYTEST_INI = """\
[pytest]
testpaths = tests
mlinfra_stack = infra
mlinfra_handler_dir = src
mlinfra_handler = app.handler
mlinfra_package_include = app.py
mlinfra_model = artifacts/model.json
# the stack has no EFS: the function reads the model from S3
mlinfra_model_source = s3
mlinfra_latency_budget = p50=500 p95=2000 cold=30000
"""

TEST_PY = '''\
"""The deployed predictor, tested through the fixtures of pytest-mlinfra."""

from hypothesis import given
from hypothesis import strategies as st

LABELS = {"billing", "bug", "other"}


def test_model_arrived(mlinfra_model):
    assert mlinfra_model.s3_uri.endswith("/model.json")


def test_refund_is_billing(mlinfra_function):
    assert mlinfra_function({"text": "I want a refund"})["label"] == "billing"


@given(text=st.text(max_size=200))
def test_any_text_gets_a_known_label(mlinfra_function, text):
    answer = mlinfra_function({"text": text})
    assert answer["label"] in LABELS
    assert all(word in text.casefold() for word in answer["matched"])
'''

REQUIREMENTS = """\
pytest-mlinfra[local]
hypothesis
"""

WORKFLOW = """\
name: mlinfra
on:
  push:
  pull_request:
jobs:
  acceptance:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
          cache: pip
      - uses: actions/cache@v4
        with:
          path: ~/.cache/pytest-mlinfra
          key: mlinfra-${{ runner.os }}-${{ hashFiles('infra/**/*.tf') }}
      - run: pip install -r requirements.txt
      - run: >-
          pytest --mlinfra-target=local --junitxml=junit.xml
          --mlinfra-report=report.html --mlinfra-json=summary.json
      - if: always()
        uses: actions/upload-artifact@v4
        with:
          name: mlinfra-report
          path: |
            junit.xml
            report.html
            summary.json
"""

GITIGNORE = """\
__pycache__/
.pytest_cache/
.hypothesis/
report.html
summary.json
junit.xml
"""

FILES: dict[str, str] = {
    "infra/main.tf": MAIN_TF,
    "src/app.py": APP_PY,
    "artifacts/model.json": MODEL_JSON,
    "tests/test_predictor.py": TEST_PY,
    "pytest.ini": PYTEST_INI,
    "requirements.txt": REQUIREMENTS,
    ".github/workflows/mlinfra.yml": WORKFLOW,
    ".gitignore": GITIGNORE,
}


def write(root: Path, force: bool = False) -> list[Path]:
    """Write :data:`FILES` under ``root``; the paths written. Refuses (ValueError) to overwrite."""
    existing = [root / name for name in FILES if (root / name).exists()]
    if existing and not force:
        shown = ", ".join(str(path) for path in existing)
        raise ValueError(f"{shown} already exist(s); use another directory or --force to overwrite")
    written = []
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} init",
        description="Write a minimal repo (S3 + Lambda stack, model, tests, CI) that passes.",
    )
    parser.add_argument("directory", nargs="?", default=".", type=Path, help="where to write it (default: .)")
    parser.add_argument("--force", action="store_true", help="overwrite files that exist")
    args = parser.parse_args(argv)
    try:
        written = write(args.directory, args.force)
    except ValueError as exc:
        sys.stderr.write(f"{PROG} init: error: {exc}\n")
        return 2
    for path in written:
        sys.stdout.write(f"wrote {path}\n")
    sys.stdout.write(
        f"next: cd {args.directory} && pip install -r requirements.txt && pytest --mlinfra-target=local\n"
    )
    return 0
