"""Audit what Terraform will create (a plan) or has created (a state), from its JSON.

Accepts ``terraform show -json`` of a plan file or of the state, and the raw state file (format
v4). ``tags_all`` is used, so provider ``default_tags`` count as Terraform itself resolved them;
child modules are walked. Tags only known after apply make the keys involved ``undecidable``.
(``not-taggable`` cannot show up here: Terraform refuses to plan ``tags`` on a type without them,
so only the static audit finds it.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pytest_mlinfra.audit.findings import Finding, Source
from pytest_mlinfra.audit.policy import Policy
from pytest_mlinfra.audit.taggable import Taggable, load_taggable
from pytest_mlinfra.audit.tagset import TagSet
from pytest_mlinfra.errors import MlinfraError

# (address, type, attribute values, effective tags when the plan leaves some of them unknown)
_Resource = tuple[str, str, dict[str, Any], TagSet | None]
_AFTER_APPLY = "tags are only known after apply"


def audit_plan(
    plan_or_state_json: dict[str, Any], policy: Policy, taggable: Taggable | None = None
) -> list[Finding]:
    """Audit a plan or state document already loaded with ``json.load``."""
    table = taggable or load_taggable()
    source, resources = _resources(plan_or_state_json)
    findings: list[Finding] = []
    is_exempt = policy.is_exempt
    check = policy.check
    known_tags = TagSet.known
    for address, rtype, values, unsure in resources:
        if is_exempt(address):
            continue
        can_tag = table.is_taggable(rtype)
        if can_tag is False:
            continue
        has_tags = "tags_all" in values or "tags" in values
        if can_tag is None and not (rtype.startswith("aws_") and has_tags):
            continue  # the plan carries every schema attribute: no tags attribute, not taggable
        if unsure is not None:
            findings.extend(check(address, rtype, unsure, source))
            continue
        tags = values.get("tags_all")
        if tags is None:
            tags = values.get("tags")
        findings.extend(check(address, rtype, known_tags(tags), source))
    findings.sort()
    return findings


def _resources(doc: dict[str, Any]) -> tuple[Source, list[_Resource]]:
    if not isinstance(doc, dict):
        raise _not_plan()
    if "planned_values" in doc or "resource_changes" in doc:
        return "plan", list(_from_plan(doc))
    if "values" in doc and "format_version" in doc:
        return "state", list(_walk_module((doc.get("values") or {}).get("root_module") or {}))
    if "format_version" in doc and "terraform_version" in doc and len(doc) <= 3:
        return "state", []  # `terraform show -json` with no state yet
    if doc.get("version") == 4 and isinstance(doc.get("resources"), list):
        return "state", list(_from_raw_state(doc["resources"]))
    raise _not_plan()


def _not_plan() -> MlinfraError:
    return MlinfraError(
        "the JSON is not a Terraform plan or state",
        "give `terraform show -json PLANFILE` or `terraform show -json` output, or a terraform.tfstate",
    )


def _walk_module(module: dict[str, Any], unsure: dict[str, TagSet] | None = None) -> Iterator[_Resource]:
    for res in module.get("resources") or ():
        if res.get("mode", "managed") == "managed":
            address = res["address"]
            yield address, res["type"], res.get("values") or {}, (unsure or {}).get(address)
    for child in module.get("child_modules") or ():
        yield from _walk_module(child, unsure)


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


def _from_plan(doc: dict[str, Any]) -> Iterator[_Resource]:
    """Planned values; resources whose tags are partly unknown until apply carry that uncertainty."""
    unsure: dict[str, TagSet] = {}
    for change in doc.get("resource_changes") or ():
        body = change.get("change") or {}
        after_unknown = body.get("after_unknown")
        if isinstance(after_unknown, dict) and ("tags" in after_unknown or "tags_all" in after_unknown):
            tags = _unknown_tags(body.get("after") or {}, after_unknown)
            if tags is not None:
                unsure[change["address"]] = tags
    root = (doc.get("planned_values") or {}).get("root_module") or {}
    yield from _walk_module(root, unsure)


def _from_raw_state(resources: list[dict[str, Any]]) -> Iterator[_Resource]:
    for res in resources:
        if res.get("mode", "managed") != "managed":
            continue
        base = f"{res['module']}." if res.get("module") else ""
        base += f"{res['type']}.{res['name']}"
        for instance in res.get("instances") or ():
            key = instance.get("index_key")
            suffix = "" if key is None else (f"[{key}]" if isinstance(key, int) else f'["{key}"]')
            yield base + suffix, res["type"], instance.get("attributes") or {}, None
