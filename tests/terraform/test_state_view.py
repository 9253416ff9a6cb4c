"""``show -json``'s document built from a state file: addresses, module nesting, outputs.

The real-path comparison with Terraform's own ``show -json`` is in ``test_reattach.py``; here the
shapes Terraform writes for modules, count and for_each, on a hand-written version 4 state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_mlinfra.audit.plan import audit_plan
from pytest_mlinfra.audit.policy import Policy
from pytest_mlinfra.report.summary import tag_rows
from pytest_mlinfra.terraform.state import show_json

PROVIDER = 'provider["registry.terraform.io/hashicorp/aws"]'
STATE = {
    "version": 4,
    "terraform_version": "1.11.4",
    "outputs": {
        "bucket": {"value": "b", "type": "string"},
        "key": {"value": "k", "type": "string", "sensitive": True},
    },
    "resources": [
        {
            "mode": "managed",
            "type": "aws_s3_bucket",
            "name": "a",
            "provider": PROVIDER,
            "instances": [{"schema_version": 0, "attributes": {"id": "b", "tags_all": {"Owner": "me"}}}],
        },
        {
            "mode": "data",
            "type": "aws_region",
            "name": "here",
            "provider": PROVIDER,
            "instances": [{"schema_version": 0, "attributes": {"name": "us-east-1"}}],
        },
        {
            "module": "module.net",
            "mode": "managed",
            "type": "aws_subnet",
            "name": "s",
            "provider": PROVIDER,
            "instances": [
                {"index_key": 0, "attributes": {"id": "s0"}},
                {"index_key": 1, "attributes": {"id": "s1"}},
            ],
        },
        {
            "module": 'module.net.module.sg["web"]',
            "mode": "managed",
            "type": "aws_security_group",
            "name": "g",
            "provider": PROVIDER,
            "instances": [{"index_key": "x", "attributes": {"id": "g", "tags": {}}}],
        },
    ],
}


def test_addresses_modules_and_outputs(tmp_path: Path) -> None:
    path = tmp_path / "terraform.tfstate"
    path.write_text(json.dumps(STATE))
    doc = show_json(path)
    assert doc is not None
    root = doc["values"]["root_module"]
    assert [r["address"] for r in root["resources"]] == ["aws_s3_bucket.a", "data.aws_region.here"]
    (net,) = root["child_modules"]
    assert net["address"] == "module.net"
    assert [r["address"] for r in net["resources"]] == [
        "module.net.aws_subnet.s[0]",
        "module.net.aws_subnet.s[1]",
    ]
    (sg,) = net["child_modules"]
    assert sg["resources"][0]["address"] == 'module.net.module.sg["web"].aws_security_group.g["x"]'
    assert sg["resources"][0]["provider_name"] == "registry.terraform.io/hashicorp/aws"
    assert doc["values"]["outputs"]["key"] == {"sensitive": True, "value": "k", "type": "string"}
    assert tag_rows(doc, ("Owner",))[0] == {
        "address": "aws_s3_bucket.a",
        "tags": {"Owner": "me"},
        "taggable": True,
    }
    assert audit_plan(doc, Policy(require=("Owner",))) == audit_plan(STATE, Policy(require=("Owner",)))


def test_not_a_state_file(tmp_path: Path) -> None:
    assert show_json(tmp_path / "missing.tfstate") is None
    (tmp_path / "other.json").write_text('{"version": 3}')
    assert show_json(tmp_path / "other.json") is None


def _view(doc: dict[str, Any]) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    found: list[tuple[Any, ...]] = []
    todo = [doc["values"]["root_module"]]
    while todo:
        module = todo.pop()
        for r in module.get("resources", []):
            values = json.dumps(r["values"], sort_keys=True)
            found.append((r["address"], r["mode"], r["type"], r.get("index"), r["provider_name"], values))
        todo += module.get("child_modules", [])
    return sorted(found), {k: v["value"] for k, v in doc["values"].get("outputs", {}).items()}


def test_same_as_terraforms_show_json_of_the_same_state() -> None:
    """The audit fixture holds a real state file and Terraform's own ``show -json`` of it."""
    data = Path(__file__).parents[1] / "audit" / "data" / "planstack"
    built = show_json(data / "terraform.tfstate.json")
    assert built is not None
    assert _view(built) == _view(json.loads((data / "state.json").read_text()))
