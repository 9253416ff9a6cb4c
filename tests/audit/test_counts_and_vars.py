"""Variables as Terraform reads them, and count/for_each, on real stacks: the bundled one and modstack."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_mlinfra.audit import Policy, audit_hcl
from pytest_mlinfra.audit.cli import main
from pytest_mlinfra.audit.variables import RawValue
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.settings import bundled_stack

DATA = Path(__file__).parent / "data"
MODSTACK = DATA / "modstack"
CI_TFVARS = Path(__file__).parents[2] / "examples" / "nightly-audit" / "ci.tfvars"
PLUGIN_TAGS = ("Name", "Environment", "Project", "Owner")


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main([*argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def kinds(doc: dict[str, object]) -> set[tuple[str, str]]:
    return {(f["address"], f["kind"]) for f in doc["findings"]}  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _clean_cwd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("TF_VAR_")]:
        monkeypatch.delenv(name)


def test_bundled_stack_without_and_with_the_ci_var_file(capsys: pytest.CaptureFixture[str]) -> None:
    stack = str(bundled_stack())
    code, doc = run_json(capsys, stack, "--require", ",".join(PLUGIN_TAGS))
    assert code == 1
    # every taggable resource lacks the cost tags (var.tags defaults to {}); count-made ones per instance
    assert ("aws_subnet.private[0]", "missing") in kinds(doc)
    assert ("aws_subnet.private[1]", "missing") in kinds(doc)
    assert ("aws_efs_file_system.models[0]", "missing") in kinds(doc)
    # the README's command: the tags the plugin passes, in examples/nightly-audit/ci.tfvars
    assert main([stack, "--var-file", str(CI_TFVARS), "--require", ",".join(PLUGIN_TAGS)]) == 0
    assert capsys.readouterr().out == "mlinfra-audit: no findings\n"
    # enable_efs = false (a bool given as a -var string): EFS/DataSync have count = 0, nothing to judge
    code, doc = run_json(capsys, stack, "--var", "enable_efs=false", "--require", "Name")
    assert code == 0 and doc["findings"] == []


def test_modstack_count_gated_resources(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, str(MODSTACK))
    assert code == 1
    assert kinds(doc) == {
        ('aws_s3_bucket.data["curated"]', "missing"),
        ('aws_s3_bucket.data["raw"]', "missing"),
        ("aws_sns_topic.alerts", "undecidable"),
        ("module.network.aws_subnet.private[0]", "missing"),
        ("module.network.aws_subnet.private[1]", "missing"),
        ("module.network.aws_subnet.private[2]", "missing"),
        ("module.network.aws_vpc.this", "missing"),
    }
    # tags supplied: count = 0 flow-log resources and the count = 0 module are not findings
    code, doc = run_json(capsys, str(MODSTACK), "--var-file", str(MODSTACK / "ci.tfvars"))
    assert code == 1
    [alerts] = doc["findings"]  # type: ignore[misc]
    assert alerts["kind"] == "undecidable"
    assert "data.aws_availability_zones.all.names" in alerts["message"] and "if it has" in alerts["message"]
    # switched on, they exist and are judged by instance address
    code, doc = run_json(
        capsys,
        str(MODSTACK),
        "--var-file",
        str(MODSTACK / "ci.tfvars"),
        "--var",
        "enable_flow_logs=true",
        "--var",
        "replicate=true",
    )
    assert kinds(doc) == {
        ("aws_sns_topic.alerts", "undecidable"),
        ("module.network.aws_flow_log.this[0]", "missing"),
        ("module.network.aws_iam_policy.flow_log[0]", "missing"),
        ("module.replica[0].aws_s3_bucket.this", "missing"),
    }


def test_precedence_is_terraforms(write_stack: Callable[..., Path], tmp_path: Path) -> None:
    stack = write_stack(
        {
            "main.tf": """
            variable "env" { default = "default" }
            resource "aws_s3_bucket" "b" { tags = { Name = "b", Environment = var.env } }
            """,
            "terraform.tfvars": 'env = "tfvars"\n',
            "b.auto.tfvars": 'env = "auto-b"\n',
            "a.auto.tfvars.json": '{"env": "auto-a"}',
        }
    )

    def env(
        variables: dict[str, object] | None = None, environment: dict[str, RawValue] | None = None
    ) -> str:
        policy = Policy(allowed={"Environment": ("none",)})
        [finding] = audit_hcl(stack, policy, variables=variables, environment=environment)
        return finding.message.split("'")[1]

    assert env() == "auto-b"  # *.auto.tfvars(.json) in lexical order win over terraform.tfvars
    assert env(environment={"env": RawValue("from-env", "TF_VAR_env")}) == "auto-b"  # TF_VAR_ is lowest
    assert env({"env": RawValue("cli", "--var env")}) == "cli"
    for name in ("terraform.tfvars", "b.auto.tfvars", "a.auto.tfvars.json"):
        (stack / name).unlink()
    assert env(environment={"env": RawValue("from-env", "TF_VAR_env")}) == "from-env"
    # on the command line, the last of --var/--var-file wins, whichever kind it is
    varfile = tmp_path / "x.tfvars"
    varfile.write_text('env = "file"\n')
    allowed = tmp_path / "pyproject.toml"
    allowed.write_text("[tool.mlinfra-audit]\nallowed = { Environment = ['cli'] }\n")
    cfg = ["--config", str(allowed)]
    assert main([str(stack), *cfg, "--var-file", str(varfile), "--var", "env=cli"]) == 0
    assert main([str(stack), *cfg, "--var", "env=cli", "--var-file", str(varfile)]) == 1


def test_var_values_parse_like_terraform(write_stack: Callable[..., Path]) -> None:
    stack = write_stack(
        """
        variable "tags" { type = map(string) }
        variable "name" { type = string }
        variable "anything" {}
        resource "aws_s3_bucket" "b" {
          tags = merge(var.tags, { Name = var.name, Raw = var.anything })
        }
        """
    )
    policy = Policy(require=("Name", "Environment"), allowed={"Name": ("{x}",), "Raw": ("[1]",)})
    hcl = {"tags": RawValue('{ Environment = "ci" }', "--var tags"), "name": RawValue("{x}", "--var name")}
    assert audit_hcl(stack, policy, variables={**hcl, "anything": RawValue("[1]", "--var anything")}) == []
    as_json = {**hcl, "tags": RawValue('{"Environment": "ci"}', "--var tags")}
    assert (
        audit_hcl(stack, policy, variables={**as_json, "anything": RawValue("[1]", "--var anything")}) == []
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--var", "tags={Environment="], "--var tags: the value is not a valid HCL/JSON value"),
        (["--var", "nope=1"], "declares no variable of that name"),
        (["--var", "novalue"], "is not NAME=VALUE"),
        (["--var", "enable_efs=maybe"], "must be a bool"),
        (["--var-file", "/nonexistent.tfvars"], "cannot read the variables file /nonexistent.tfvars"),
    ],
)
def test_bad_variables_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], expected: str) -> None:
    assert main([str(bundled_stack()), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err


def test_for_each_sets_and_module_count(write_stack: Callable[..., Path]) -> None:
    stack = write_stack(
        {
            "main.tf": """
            variable "names" { default = ["b", "a", "a"] }
            resource "aws_s3_bucket" "set" {
              for_each = toset(var.names)
              tags     = { Environment = "dev" }
            }
            resource "aws_s3_bucket" "none" {
              for_each = {}
            }
            module "twice" {
              source = "./m"
              count  = 2
              suffix = "n${count.index}"
            }
            """,
            "m/main.tf": """
            variable "suffix" {}
            resource "aws_s3_bucket" "b" { tags = { Name = var.suffix == "n1" ? "x" : null } }
            """,
        }
    )
    got = {(f.address, f.keys) for f in audit_hcl(stack, Policy())}
    assert got == {
        ('aws_s3_bucket.set["a"]', ("Name",)),
        ('aws_s3_bucket.set["b"]', ("Name",)),
        ("module.twice[0].aws_s3_bucket.b", ("Name", "Environment")),
        ("module.twice[1].aws_s3_bucket.b", ("Environment",)),
    }


def test_absolute_module_path_is_named_in_a_note(
    write_stack: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = tmp_path / "shared-module"
    module.mkdir()
    (module / "main.tf").write_text('resource "aws_s3_bucket" "untagged" {}\n')
    stack = write_stack(
        f'module "abs" {{\n  source = "{module}"\n  tags = {{ Name = "n", Environment = "e" }}\n}}\n'
    )
    notes: list[str] = []
    assert audit_hcl(stack, Policy(), notes=notes) == []
    [note] = notes
    assert note.startswith("module.abs: source /") and "absolute path" in note and "not audited" in note
    assert main([str(stack)]) == 0
    assert "note: module.abs: source" in capsys.readouterr().out


def test_undecidable_count_keeps_clean_resources_clean(write_stack: Callable[..., Path]) -> None:
    stack = write_stack(
        """
        variable "n" { type = number }
        resource "aws_s3_bucket" "tagged" {
          count = var.n
          tags  = { Name = "b-${count.index}", Environment = "dev" }
        }
        """
    )
    assert audit_hcl(stack, Policy()) == []
    with pytest.raises(MlinfraError, match="must be a number"):
        audit_hcl(stack, Policy(), variables={"n": RawValue("two", "--var n")})
    findings = audit_hcl(stack, Policy(), variables={"n": RawValue("2", "--var n")})
    assert findings == []


def test_community_module_count_gates_are_decided_with_unknown_inputs(
    write_stack: Callable[..., Path],
) -> None:
    # The shape of terraform-aws-modules/vpc v3.x: gates `var.create && length(var.x) > 0 ? n : 0`
    # where some inputs are unknown to the static audit (a `for` expression, a data source).
    stack = write_stack(
        {
            "main.tf": """
            data "aws_availability_zones" "z" {}
            module "vpc" {
              source          = "./vpc"
              azs             = slice(data.aws_availability_zones.z.names, 0, 2)
              private_subnets = [for i in range(2) : cidrsubnet("10.0.0.0/16", 8, i)]
            }
            """,
            "vpc/main.tf": """
            variable "create_vpc" { default = true }
            variable "enable_ipv6" { default = false }
            variable "azs" { default = [] }
            variable "public_subnets" { default = [] }
            variable "private_subnets" { default = [] }
            resource "aws_subnet" "public" {
              count = var.create_vpc && length(var.public_subnets) > 0 && length(var.azs) > 0 ? 1 : 0
            }
            resource "aws_egress_only_internet_gateway" "this" {
              count = var.create_vpc && var.enable_ipv6 && length(var.private_subnets) > 0 ? 1 : 0
            }
            resource "aws_subnet" "private" {
              count = var.create_vpc && length(var.private_subnets) > 0 ? length(var.private_subnets) : 0
            }
            """,
        }
    )
    got = {f.address for f in audit_hcl(stack, Policy())}
    # Gated off by a known false (no public subnets, no IPv6): not audited, as Terraform creates none.
    assert got == {"module.vpc.aws_subnet.private"}  # count unknown here: audited once, as "maybe"


def test_monorepo_test_stack_has_no_findings_from_gated_off_resources() -> None:
    # Its network module gates untagged public subnets and an internet gateway off, as the vpc
    # module does; the for-expression input leaves the private subnets' count unknown here.
    stack = Path(__file__).parents[1] / "stacks" / "monorepo" / "infra" / "live" / "test"
    tags = RawValue('{ Environment = "test" }', "--var tags")
    assert audit_hcl(stack, Policy(), variables={"run_id": RawValue("r1", "--var"), "tags": tags}) == []
