"""Static HCL audit: default_tags + locals + variables + merge(), modules, and honest `undecidable`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_mlinfra.audit import Finding, Policy, audit_hcl, load_taggable
from pytest_mlinfra.errors import MlinfraError

DATA = Path(__file__).parent / "data"

PROVIDER = """
provider "aws" {
  region = "us-east-1"
  default_tags {
    tags = local.cost_tags
  }
}
"""

CLEAN_STACK = (
    PROVIDER
    + """
variable "environment" {
  type    = string
  default = "dev"
}
variable "name_prefix" {
  type    = string
  default = "ner"
}
variable "tags" {
  type    = map(string)
  default = { Project = "ner" }
}
locals {
  cost_tags = merge(var.tags, { Environment = var.environment })
}
resource "aws_s3_bucket" "models" {
  bucket = "${var.name_prefix}-models"
  tags   = { Name = "${var.name_prefix}-models" }
}
resource "aws_efs_file_system" "models" {
  creation_token = "${var.name_prefix}-models"
  tags           = { "Name" = "${var.name_prefix}-models" }
}
resource "aws_efs_mount_target" "models" {
  file_system_id = aws_efs_file_system.models.id
  subnet_id      = "subnet-1"
}
resource "aws_efs_access_point" "lambda" {
  file_system_id = aws_efs_file_system.models.id
  tags           = { Name = "${var.name_prefix}-lambda" }
}
resource "aws_datasync_location_s3" "models" {
  s3_bucket_arn = aws_s3_bucket.models.arn
  subdirectory  = "/models"
  tags          = { Name = "${var.name_prefix}-s3" }
}
resource "aws_datasync_task" "models" {
  name                     = "${var.name_prefix}-sync"
  source_location_arn      = aws_datasync_location_s3.models.arn
  destination_location_arn = "arn:aws:datasync:us-east-1:1:location/loc-1"
  tags                     = { Name = "${var.name_prefix}-sync" }
}
resource "aws_lambda_function" "predictor" {
  function_name = "${var.name_prefix}-predictor"
  role          = "arn:aws:iam::1:role/r"
  tags          = { Name = "${var.name_prefix}-predictor" }
}
resource "aws_s3_bucket_public_access_block" "models" {
  bucket = aws_s3_bucket.models.id
}
"""
)


def by_address(findings: list[Finding]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.address, []).append(finding)
    return grouped


def test_clean_example_like_stack_has_no_findings(write_stack: Callable[..., Path]) -> None:
    stack = write_stack(CLEAN_STACK)
    assert audit_hcl(stack, Policy()) == []
    strict = Policy(require=("Name", "Environment", "Project"), allowed={"Environment": ("dev", "prod")})
    assert audit_hcl(stack, strict) == []


def test_blog_post_terraform_as_written() -> None:
    findings = audit_hcl(DATA / "blogpost", Policy())
    got = {(f.address, f.kind, f.keys) for f in findings}
    assert got == {
        ("aws_efs_file_system.model_efs", "missing", ("Name", "Environment")),
        ("aws_datasync_location_s3.model_source", "missing", ("Name", "Environment")),
        ("aws_datasync_location_nfs.model_target", "missing", ("Name", "Environment")),
        ("aws_efs_mount_target.model_target", "not-taggable", ("Name", "Environment")),
    }
    assert all(f.source == "hcl" for f in findings)
    mount = next(f for f in findings if f.kind == "not-taggable")
    assert mount.resource_type == "aws_efs_mount_target"
    assert "remove" in mount.message


def test_planted_missing_and_bad_value(write_stack: Callable[..., Path]) -> None:
    stack = write_stack(
        CLEAN_STACK.replace('tags   = { Name = "${var.name_prefix}-models" }', "")
        .replace('tags          = { Name = "${var.name_prefix}-predictor" }',
                 'tags = { Name = "p", Environment = "Production" }')
    )  # fmt: skip
    policy = Policy(allowed={"Environment": ("dev", "staging", "prod")})
    got = {(f.address, f.kind, f.keys) for f in audit_hcl(stack, policy)}
    assert got == {
        ("aws_s3_bucket.models", "missing", ("Name",)),
        ("aws_lambda_function.predictor", "bad-value", ("Environment",)),
    }


def test_pattern_policy(write_stack: Callable[..., Path]) -> None:
    stack = write_stack(CLEAN_STACK)
    findings = audit_hcl(stack, Policy(pattern={"Name": r"ner-[a-z0-9]+"}))
    assert findings == []
    findings = audit_hcl(stack, Policy(pattern={"Name": r"prod-.*"}))
    assert {f.kind for f in findings} == {"bad-value"}
    assert len(findings) == 6  # every taggable resource in the stack
    assert "matching prod-.*" in findings[0].message


def test_planted_not_taggable(write_stack: Callable[..., Path]) -> None:
    stack = write_stack(
        CLEAN_STACK.replace(
            'subnet_id      = "subnet-1"', 'subnet_id = "subnet-1"\n  tags = { Name = "x", Owner = "me" }'
        )
    )
    [finding] = audit_hcl(stack, Policy())
    assert (finding.address, finding.kind, finding.keys) == ("aws_efs_mount_target.models", "not-taggable",
                                                              ("Name", "Owner"))  # fmt: skip


def test_planted_undecidable(write_stack: Callable[..., Path]) -> None:
    stack = write_stack(
        CLEAN_STACK
        + """
variable "owner_tags" { type = map(string) }
resource "aws_s3_bucket" "from_var" {
  bucket = "x"
  tags   = merge({ Name = "x" }, var.owner_tags)
}
resource "aws_s3_bucket" "from_resource" {
  bucket = "y"
  tags   = { Name = aws_s3_bucket.models.id }
}
resource "aws_s3_bucket" "from_for" {
  bucket = "z"
  tags   = { for k, v in var.tags : k => v }
}
"""
    )
    policy = Policy(require=("Name", "Environment", "Owner"), allowed={"Environment": ("dev",)})
    found = by_address(audit_hcl(stack, policy))
    # var.owner_tags has no default: Owner may come from it, and it may override Environment.
    [undecided] = [f for f in found["aws_s3_bucket.from_var"] if f.kind == "undecidable"]
    assert undecided.keys == ("Owner", "Environment")
    assert "var.owner_tags has no default" in undecided.message
    assert not [f for f in found["aws_s3_bucket.from_var"] if f.kind == "missing"]
    # A resource attribute: Name is there with an unknown value (no rule on it), so only Owner is missing.
    assert {(f.kind, f.keys) for f in found["aws_s3_bucket.from_resource"]} == {("missing", ("Owner",))}
    # A for expression: nothing can be said about the resource's own tags.
    [for_finding] = found["aws_s3_bucket.from_for"]
    assert for_finding.kind == "undecidable"
    assert "for" in for_finding.message


def test_locals_tfvars_interpolation_and_functions(write_stack: Callable[..., Path]) -> None:
    stack = write_stack(
        {
            "main.tf": """
            provider "aws" {}
            variable "env" { default = "dev" }
            variable "team" {}
            locals {
              base   = { Project = "ner", Team = upper(var.team) }
              name   = format("%s-%s", "ner", var.env)
              env    = var.env == "prod" ? "prod" : "staging"
              lookup = lookup(local.base, "Project", "none")
            }
            resource "aws_s3_bucket" "b" {
              tags = merge(local.base, tomap({ "Name" = "${local.name}-b", Environment = local.env }),
                           { Lookup = local.lookup, Esc = "a\\"b$${x}" })
            }
            """,
            "terraform.tfvars": 'team = "ml"\n',
        }
    )
    policy = Policy(
        require=("Name", "Environment", "Team", "Lookup"),
        allowed={"Team": ("ML",), "Environment": ("staging",), "Esc": ('a"b${x}',)},
        pattern={"Name": "ner-dev-b"},
    )
    assert audit_hcl(stack, policy) == []


def test_provider_alias_default_tags(write_stack: Callable[..., Path]) -> None:
    stack = write_stack(
        """
        provider "aws" {
          default_tags { tags = { Environment = "dev" } }
        }
        provider "aws" {
          alias = "east"
          default_tags { tags = { Environment = "prod" } }
        }
        resource "aws_s3_bucket" "a" { tags = { Name = "a" } }
        resource "aws_s3_bucket" "b" {
          provider = aws.east
          tags     = { Name = "b" }
        }
        """
    )
    [finding] = audit_hcl(stack, Policy(allowed={"Environment": ("dev",)}))
    assert (finding.address, finding.kind) == ("aws_s3_bucket.b", "bad-value")
    assert "'prod'" in finding.message


def test_modules_local_followed_remote_judged_by_passed_tags(write_stack: Callable[..., Path]) -> None:
    stack = write_stack(
        {
            "main.tf": """
            provider "aws" {
              default_tags { tags = { Environment = "dev" } }
            }
            module "store" {
              source = "./modules/store"
              prefix = "ner"
            }
            module "vpc" {
              source = "terraform-aws-modules/vpc/aws"
              tags   = { Name = "vpc" }
            }
            module "lambda" {
              source = "terraform-aws-modules/lambda/aws"
            }
            """,
            "modules/store/main.tf": """
            variable "prefix" {}
            resource "aws_s3_bucket" "named" { tags = { Name = "${var.prefix}-named" } }
            resource "aws_s3_bucket" "unnamed" {}
            """,
        }
    )
    got = {(f.address, f.kind, f.keys) for f in audit_hcl(stack, Policy())}
    assert got == {
        ("module.store.aws_s3_bucket.unnamed", "missing", ("Name",)),
        ("module.lambda", "missing", ("Name",)),
    }
    lambda_finding = next(f for f in audit_hcl(stack, Policy()) if f.address == "module.lambda")
    assert "passes no `tags`" in lambda_finding.message


def test_exemptions(write_stack: Callable[..., Path]) -> None:
    stack = write_stack(CLEAN_STACK.replace('tags   = { Name = "${var.name_prefix}-models" }', ""))
    assert audit_hcl(stack, Policy(exempt=("aws_s3_bucket.*",))) == []
    assert len(audit_hcl(stack, Policy(exempt=("aws_lambda_*",)))) == 1


def test_unknown_type_reported_once_not_guessed(write_stack: Callable[..., Path]) -> None:
    stack = write_stack(
        'resource "aws_s3_bucket_future" "v" { bucket = "b" }\n'
        'resource "aws_s3_bucket_future" "w" { bucket = "c" }\n'
        'resource "random_id" "r" {}\n'
    )
    [finding] = audit_hcl(stack, Policy())
    assert (finding.address, finding.kind, finding.keys) == (
        "aws_s3_bucket_future",
        "unknown-type",
        (),
    )
    assert "aws_s3_bucket_future.v, aws_s3_bucket_future.w" in finding.message
    assert "terraform init" in finding.message and "--schema" in finding.message
    schema: dict[str, Any] = {
        "provider_schemas": {
            "registry.terraform.io/hashicorp/aws": {
                "resource_schemas": {"aws_s3_bucket_future": {"block": {"attributes": {"bucket": {}}}}}
            }
        }
    }
    assert audit_hcl(stack, Policy(), load_taggable(schema)) == []


def test_unparsable_hcl_is_a_one_line_user_error(write_stack: Callable[..., Path]) -> None:
    stack = write_stack('resource "aws_s3_bucket" "b" {\n  tags = {\n')
    with pytest.raises(MlinfraError) as info:
        audit_hcl(stack, Policy())
    message = str(info.value)
    assert "cannot parse" in message and "main.tf" in message
    assert "\n" not in message


def test_directory_without_tf_files(tmp_path: Path) -> None:
    with pytest.raises(MlinfraError, match=r"no \*\.tf files"):
        audit_hcl(tmp_path, Policy())


def test_static_and_plan_agree_on_the_plan_stack() -> None:
    """The same stack through both paths: same findings, except where static knows more than the plan."""
    import json

    from pytest_mlinfra.audit import audit_plan

    policy = Policy(allowed={"Environment": ("dev", "staging", "prod")})
    static = {(f.address, f.kind, f.keys) for f in audit_hcl(DATA / "planstack", policy)}
    plan = json.loads((DATA / "planstack" / "plan.json").read_text())
    planned = {(f.address, f.kind, f.keys) for f in audit_plan(plan, policy)}
    # derived: its Source tag is only known after apply; statically its Name is known, so it is clean.
    assert planned - static == {("aws_s3_bucket.derived[0]", "undecidable", ("Name", "Environment"))}
    assert static - planned == set()
