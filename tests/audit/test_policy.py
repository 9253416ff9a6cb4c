"""Policy: required keys, allowed values, patterns, exemptions; from arguments or pyproject.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlinfra.audit import Policy
from pytest_mlinfra.audit.tagset import TagSet
from pytest_mlinfra.errors import MlinfraError


def kinds(policy: Policy, tags: TagSet) -> dict[str, tuple[str, ...]]:
    return {f.kind: f.keys for f in policy.check("aws_s3_bucket.b", "aws_s3_bucket", tags, "plan")}


def test_defaults() -> None:
    assert Policy().require == ("Name", "Environment")
    assert kinds(Policy(), TagSet.known({"Name": "a", "Environment": "dev"})) == {}
    assert kinds(Policy(), TagSet.known({"Name": "a"})) == {"missing": ("Environment",)}


def test_allowed_and_pattern_must_both_hold() -> None:
    policy = Policy(
        allowed={"Environment": ("dev", "prod")}, pattern={"Name": "[a-z-]+", "Environment": "p.*"}
    )
    assert kinds(policy, TagSet.known({"Name": "ok-name", "Environment": "prod"})) == {}
    assert kinds(policy, TagSet.known({"Name": "Bad Name", "Environment": "dev"})) == {
        "bad-value": ("Environment", "Name")
    }


def test_value_rules_apply_to_optional_keys_only_when_present() -> None:
    policy = Policy(require=("Name",), allowed={"Owner": ("ml-team",)})
    assert kinds(policy, TagSet.known({"Name": "a"})) == {}
    assert kinds(policy, TagSet.known({"Name": "a", "Owner": "me"})) == {"bad-value": ("Owner",)}


def test_open_tagsets_are_undecidable_not_missing() -> None:
    tags = TagSet({"Name": "a", "Environment": None}, open=True, reason="var.x has no default")
    result = Policy(require=("Name", "Environment", "Owner"), allowed={"Environment": ("dev",)}).check(
        "a.b", "a", tags, "hcl"
    )
    [finding] = result
    assert (finding.kind, finding.keys) == ("undecidable", ("Owner", "Environment"))
    assert "var.x has no default" in finding.message


def test_exempt_globs() -> None:
    policy = Policy(exempt=("module.legacy.*", "arn:aws:s3:::scratch-*"))
    assert policy.is_exempt("module.legacy.aws_s3_bucket.b")
    assert policy.is_exempt("arn:aws:s3:::scratch-1")
    assert not policy.is_exempt("aws_s3_bucket.b")
    assert policy.check("module.legacy.aws_s3_bucket.b", "aws_s3_bucket", TagSet(), "hcl") == []


def test_from_pyproject(tmp_path: Path) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text(
        """
[project]
name = "x"

[tool.mlinfra-audit]
require = ["Name", "Environment", "Owner"]
exempt = ["module.vpc.*"]

[tool.mlinfra-audit.allowed]
Environment = ["dev", "staging", "prod"]

[tool.mlinfra-audit.pattern]
Owner = "[a-z]+@example\\\\.com"
"""
    )
    policy = Policy.from_pyproject(config)
    assert policy.require == ("Name", "Environment", "Owner")
    assert policy.allowed == {"Environment": ("dev", "staging", "prod")}
    assert policy.exempt == ("module.vpc.*",)
    tags = TagSet.known({"Name": "n", "Environment": "dev", "Owner": "ana@example.com"})
    assert kinds(policy, tags) == {}
    assert kinds(policy, TagSet.known({"Name": "n", "Environment": "dev", "Owner": "ana@example.org"})) == {
        "bad-value": ("Owner",)
    }
    assert Policy.from_pyproject(config, require=("Name",)).require == ("Name",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[tool.other]\nx = 1\n", "has no \\[tool.mlinfra-audit\\] section"),
        ("[tool.mlinfra-audit]\nrequired = ['Name']\n", "unknown key\\(s\\) required"),
        ("[tool.mlinfra-audit]\nrequire = [1]\n", "expected a list of strings"),
        ("[tool.mlinfra-audit.pattern]\nName = '(['\n", "not a valid regex"),
        ("[tool.mlinfra-audit\n", "not valid TOML"),
    ],
)
def test_bad_config_is_a_user_error(tmp_path: Path, text: str, expected: str) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text(text)
    with pytest.raises(MlinfraError, match=expected):
        Policy.from_pyproject(config)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(MlinfraError, match="cannot read"):
        Policy.from_pyproject(tmp_path / "nope.toml")
