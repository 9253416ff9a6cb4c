"""Plan/state audit on real `terraform show -json` output (made by data/planstack/regen.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_mlinfra.audit import Policy, audit_plan, load_taggable
from pytest_mlinfra.errors import MlinfraError

DATA = Path(__file__).parent / "data" / "planstack"
POLICY = Policy(allowed={"Environment": ("dev", "staging", "prod")})
APPLIED = {
    ("aws_s3_bucket.logs", "missing", ("Name",)),
    ("aws_s3_bucket.scratch", "bad-value", ("Environment",)),
    ("module.store.aws_s3_bucket.artifacts", "missing", ("Name",)),
}


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


def test_plan_json_uses_tags_all_and_walks_child_modules() -> None:
    findings = audit_plan(load("plan.json"), POLICY)
    got = {(f.address, f.kind, f.keys) for f in findings}
    # default_tags (Environment=dev) count through tags_all: models is clean with only Name in `tags`.
    assert got == APPLIED | {("aws_s3_bucket.derived[0]", "undecidable", ("Name", "Environment"))}
    assert {f.source for f in findings} == {"plan"}
    derived = next(f for f in findings if f.kind == "undecidable")
    assert "after apply" in derived.message


@pytest.mark.parametrize("name", ["state.json", "terraform.tfstate.json"])
def test_state_json_and_raw_state(name: str) -> None:
    findings = audit_plan(load(name), POLICY)
    assert {(f.address, f.kind, f.keys) for f in findings} == APPLIED
    assert {f.source for f in findings} == {"state"}


def test_exemptions_and_required_keys_apply_to_plans() -> None:
    policy = Policy(
        require=("Name", "Environment", "Project"), exempt=("module.store.*", "aws_s3_bucket.logs")
    )
    got = {(f.address, f.kind) for f in audit_plan(load("state.json"), policy)}
    assert got == set()  # Project comes from default_tags everywhere; the rest is exempt


def test_untaggable_types_are_skipped_even_with_a_schema_saying_so() -> None:
    schema: dict[str, Any] = {"provider_schemas": {"aws": {"resource_schemas": {
        "aws_s3_bucket": {"block": {"attributes": {"bucket": {}}}},
    }}}}  # fmt: skip
    assert audit_plan(load("state.json"), POLICY, load_taggable(schema)) == []


def test_partly_unknown_tags() -> None:
    """Newer Terraform marks single unknown map elements; only those keys are undecidable."""
    plan = {
        "format_version": "1.2",
        "planned_values": {"root_module": {"resources": [{
            "address": "aws_s3_bucket.x", "mode": "managed", "type": "aws_s3_bucket", "name": "x",
            "values": {"tags": {"Name": "x"}, "tags_all": {"Name": "x"}},
        }]}},
        "resource_changes": [{
            "address": "aws_s3_bucket.x", "type": "aws_s3_bucket",
            "change": {"actions": ["create"], "after": {"tags_all": {"Name": "x"}},
                       "after_unknown": {"tags": {"Environment": True}, "tags_all": {"Environment": True}}},
        }],
    }  # fmt: skip
    [finding] = audit_plan(plan, POLICY)
    assert (finding.kind, finding.keys) == ("undecidable", ("Environment",))
    assert audit_plan(plan, Policy(require=("Name",))) == []


def test_empty_state_is_clean() -> None:
    assert audit_plan({"format_version": "1.0", "terraform_version": "1.15.5"}, Policy()) == []


@pytest.mark.parametrize("doc", [{}, {"resources": []}, {"version": 3, "resources": []}, {"foo": 1}])
def test_not_a_plan_or_state(doc: dict[str, Any]) -> None:
    with pytest.raises(MlinfraError, match="not a Terraform plan or state"):
        audit_plan(doc, Policy())
