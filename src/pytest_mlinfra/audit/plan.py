"""Audit what Terraform will create (a plan) or has created (a state), from its JSON.

Accepts ``terraform show -json`` of a plan file or of the state, and the raw state file (format
v4). ``tags_all`` is used, so provider ``default_tags`` count as Terraform itself resolved them;
child modules are walked. Tags only known after apply make the keys involved ``undecidable``.
Every part the audit reads is type-checked: a document of the wrong shape is a :class:`MlinfraError`
naming the JSON path that is wrong, never an ``AttributeError`` from deep inside.
(``not-taggable`` cannot show up here: Terraform refuses to plan ``tags`` on a type without them,
so only the static audit finds it.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pytest_mlinfra.audit.findings import Finding, Source
from pytest_mlinfra.audit.policy import Policy
from pytest_mlinfra.audit.taggable import Taggable, load_taggable
from pytest_mlinfra.audit.tagset import TagSet
from pytest_mlinfra.errors import MlinfraError

_AFTER_APPLY = "tags are only known after apply"
_TODO = "give `terraform show -json PLANFILE` or `terraform show -json` output, or a terraform.tfstate"


@dataclass(frozen=True)
class PlannedResource:
    """One managed resource instance of a plan or state; ``unsure`` set when some tags are unknown."""

    address: str
    type: str
    values: dict[str, Any]
    unsure: TagSet | None = None

    @property
    def tags(self) -> dict[str, str | None]:
        """``tags_all`` (what Terraform sends to AWS, default_tags included), else ``tags``."""
        tags = self.values.get("tags_all")
        if tags is None:
            tags = self.values.get("tags")
        return dict(tags or {})


class BadShape(MlinfraError):
    """The document has the right top-level keys but something inside is not what Terraform writes."""


def audit_plan(
    plan_or_state_json: dict[str, Any], policy: Policy, taggable: Taggable | None = None
) -> list[Finding]:
    """Audit a plan or state document already loaded with ``json.load``."""
    table = taggable or load_taggable()
    source, resources = plan_resources(plan_or_state_json)
    findings: list[Finding] = []
    is_exempt = policy.is_exempt
    check = policy.check
    known_tags = TagSet.known
    for res in resources:
        address, rtype, values = res.address, res.type, res.values
        if is_exempt(address):
            continue
        can_tag = table.is_taggable(rtype)
        if can_tag is False:
            continue
        has_tags = "tags_all" in values or "tags" in values
        if can_tag is None and not (rtype.startswith("aws_") and has_tags):
            continue  # the plan carries every schema attribute: no tags attribute, not taggable
        if res.unsure is not None:
            findings.extend(check(address, rtype, res.unsure, source))
            continue
        findings.extend(check(address, rtype, known_tags(res.tags), source))
    findings.sort()
    return findings


def plan_resources(doc: Any) -> tuple[Source, list[PlannedResource]]:
    """The managed resource instances of a plan or state document (any of the three shapes)."""
    if not isinstance(doc, dict):
        raise _not_plan()
    if "planned_values" in doc or "resource_changes" in doc:
        return "plan", list(_from_plan(doc))
    if "values" in doc and "format_version" in doc:
        values = _map(doc["values"], "values", optional=True)
        return "state", list(_walk_module(_map(values.get("root_module"), "values.root_module", True), ""))
    if "format_version" in doc and "terraform_version" in doc and len(doc) <= 3:
        return "state", []  # `terraform show -json` with no state yet
    if doc.get("version") == 4 and isinstance(doc.get("resources"), list):
        return "state", list(_from_raw_state(doc["resources"]))
    raise _not_plan()


def _not_plan() -> BadShape:
    return BadShape("the JSON is not a Terraform plan or state", _TODO)


def _bad(where: str, expected: str, got: Any) -> BadShape:
    kind = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    what = kind.get(type(got), "a number")
    return BadShape(f"the JSON is not a Terraform plan or state: {where} is {what}, not {expected}", _TODO)


def _map(value: Any, where: str, optional: bool = False) -> dict[str, Any]:
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise _bad(where, "an object", value)
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(where, "a list", value)
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _bad(where, "a string", value)
    return value


def _tag_map(values: dict[str, Any], where: str) -> None:
    for attr in ("tags", "tags_all"):
        tags = values.get(attr)
        if tags is None:
            continue
        if not isinstance(tags, dict):
            raise _bad(f"{where}.{attr}", "a map of strings", tags)
        for key, value in tags.items():
            if value is not None and not isinstance(value, str):
                raise _bad(f"{where}.{attr}[{json.dumps(key)}]", "a string", value)


def _walk_module(
    module: dict[str, Any], where: str, unsure: dict[str, TagSet] | None = None
) -> Iterator[PlannedResource]:
    at = where or "root_module"
    for i, res in enumerate(_list(module.get("resources"), f"{at}.resources")):
        here = f"{at}.resources[{i}]"
        res = _map(res, here)
        if _text(res.get("mode", "managed"), f"{here}.mode") == "managed":
            address = _text(res.get("address"), f"{here}.address")
            values = _map(res.get("values"), f"{here}.values", optional=True)
            _tag_map(values, f"{here}.values")
            yield PlannedResource(
                address, _text(res.get("type"), f"{here}.type"), values, (unsure or {}).get(address)
            )
    for i, child in enumerate(_list(module.get("child_modules"), f"{at}.child_modules")):
        yield from _walk_module(_map(child, f"{at}.child_modules[{i}]"), f"{at}.child_modules[{i}]", unsure)


def _unknown_tags(values: dict[str, Any], after_unknown: dict[str, Any]) -> TagSet | None:
    """The tags of a planned resource when some are unknown until apply, else None."""
    whole = after_unknown.get("tags") is True or after_unknown.get("tags_all") is True
    partial = {
        key
        for attr in ("tags", "tags_all")
        if isinstance(after_unknown.get(attr), dict)
        for key, flag in after_unknown[attr].items()
        if flag is True
    }
    if not whole and not partial:
        return None
    known = TagSet.known(values.get("tags_all") or values.get("tags"))
    if whole:  # any key may be added or overridden by the unknown map
        return TagSet(dict.fromkeys(known.values, None), open=True, reason=_AFTER_APPLY)
    merged = {**known.values, **dict.fromkeys(partial, None)}
    return TagSet(merged, open=False, reason=_AFTER_APPLY, why=dict.fromkeys(partial, _AFTER_APPLY))


def _from_plan(doc: dict[str, Any]) -> Iterator[PlannedResource]:
    """Planned values; resources whose tags are partly unknown until apply carry that uncertainty."""
    unsure: dict[str, TagSet] = {}
    for i, change in enumerate(_list(doc.get("resource_changes"), "resource_changes")):
        here = f"resource_changes[{i}]"
        change = _map(change, here)
        address = _text(change.get("address"), f"{here}.address")
        body = _map(change.get("change"), f"{here}.change", optional=True)
        after = _map(body.get("after"), f"{here}.change.after", optional=True)
        _tag_map(after, f"{here}.change.after")
        after_unknown = body.get("after_unknown")
        if isinstance(after_unknown, dict) and ("tags" in after_unknown or "tags_all" in after_unknown):
            tags = _unknown_tags(after, after_unknown)
            if tags is not None:
                unsure[address] = tags
    planned = _map(doc.get("planned_values"), "planned_values", optional=True)
    root = _map(planned.get("root_module"), "planned_values.root_module", optional=True)
    yield from _walk_module(root, "planned_values.root_module", unsure)


def _from_raw_state(resources: list[Any]) -> Iterator[PlannedResource]:
    for i, res in enumerate(resources):
        here = f"resources[{i}]"
        res = _map(res, here)
        if _text(res.get("mode", "managed"), f"{here}.mode") != "managed":
            continue
        rtype = _text(res.get("type"), f"{here}.type")
        module = res.get("module")
        base = f"{_text(module, f'{here}.module')}." if module else ""
        base += f"{rtype}.{_text(res.get('name'), f'{here}.name')}"
        for j, instance in enumerate(_list(res.get("instances"), f"{here}.instances")):
            at = f"{here}.instances[{j}]"
            instance = _map(instance, at)
            key = instance.get("index_key")
            if key is None:
                suffix = ""
            elif isinstance(key, int) and not isinstance(key, bool):
                suffix = f"[{key}]"
            elif isinstance(key, str):
                suffix = f"[{json.dumps(key)}]"
            else:
                raise _bad(f"{at}.index_key", "a number or a string", key)
            attributes = _map(instance.get("attributes"), f"{at}.attributes", optional=True)
            _tag_map(attributes, f"{at}.attributes")
            yield PlannedResource(base + suffix, rtype, attributes)
